//! Data for the Activity page.

use leptos::prelude::*;

use crate::dto::ActivityData;
use crate::error::AppError;

#[server(endpoint = "activity_page")]
pub async fn activity_page() -> Result<ActivityData, AppError> {
    use crate::dto::EventView;
    let core = crate::ssr::core()?;
    let (ctx, account, actor) = crate::ssr::signed_in_context().await?;
    let rows = gatehouse::service::activity::list(&core, &actor, 200).await?;
    let events = rows
        .into_iter()
        .map(|row| EventView {
            id: row.id,
            at: gatehouse::clock::format_utc(row.at),
            user: row.username,
            actor: row.actor,
            kind: row.kind,
            detail: row.detail,
            ip: row.ip,
        })
        .collect();
    Ok(ActivityData {
        ctx,
        all_users: account.is_admin,
        events,
    })
}
