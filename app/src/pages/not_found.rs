//! 404.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found · Gatehouse"/>
        <main id="main" class="narrow">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. " <a href="/servers">"Go to your servers"</a></p>
        </main>
    }
}
