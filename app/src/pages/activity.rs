//! Activity: the audit log of the user's account (administrators: everyone's).

use leptos::prelude::*;

use crate::api::activity::activity_page;
use crate::components::{page_view, Layout};
use crate::dto::ActivityData;

#[component]
pub fn ActivityPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| activity_page());
    page_view(data, |d: ActivityData| {
        let scope = if d.all_users {
            "All accounts (you are an administrator)."
        } else {
            "Your account."
        };
        view! {
            <Layout ctx=d.ctx.clone() title="Activity">
                <p class="lede">{scope} " Newest first."</p>
                {if d.events.is_empty() {
                    view! { <p class="empty">"Nothing yet."</p> }.into_any()
                } else {
                    view! {
                        <table class="list" id="activity">
                            <thead>
                                <tr><th scope="col">"When"</th><th scope="col">"Event"</th><th scope="col">"Account"</th><th scope="col">"By"</th><th scope="col">"Details"</th><th scope="col">"IP"</th></tr>
                            </thead>
                            <tbody>
                                {d.events.iter().cloned().map(|e| { let kind = e.kind.clone(); view! {
                                    <tr data-kind=kind>
                                        <td>{e.at}</td>
                                        <td><code>{e.kind}</code></td>
                                        <td>{e.user.unwrap_or_default()}</td>
                                        <td>{e.actor}</td>
                                        <td>{e.detail}</td>
                                        <td>{e.ip.unwrap_or_default()}</td>
                                    </tr>
                                }}).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            </Layout>
        }
    })
}
