//! Pages whose features arrive with later work; each says what will be there.

use leptos::prelude::*;

use crate::api::activity::activity_page;
use crate::components::{page_view, Layout};

#[component]
fn Coming(title: &'static str, text: &'static str) -> impl IntoView {
    // Reuses the activity data call only for the page context (sign-in check, CSRF, flash).
    let data = Resource::new(|| (), |_| activity_page());
    page_view(data, move |d| {
        view! {
            <Layout ctx=d.ctx.clone() title=title>
                <p class="lede">{text}</p>
                <p class="empty">"Not available yet."</p>
            </Layout>
        }
    })
}

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    view! {
        <Coming
            title="API keys"
            text="API keys for clients that cannot do OAuth will be created here. A key is shown once, stored hashed, and comes with ready-to-paste configuration for Claude Desktop, Cursor, VS Code and generic clients."
        />
    }
}
