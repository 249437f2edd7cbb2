//! The Gatehouse web app: Leptos pages rendered on the server and hydrated in the browser.
//! Server-only code (`ssr`) reaches the core crate; the wasm build (`hydrate`) never does.
#![recursion_limit = "256"]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod api;
pub mod components;
pub mod dto;
pub mod error;
#[cfg(feature = "ssr")]
mod export;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod responses;
#[cfg(feature = "ssr")]
mod serve;
#[cfg(feature = "ssr")]
pub mod server;
pub mod snippets;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use pages::{
    activity::ActivityPage, admin::AdminPage, auth, checks, clients, consent, keys::ApiKeysPage,
    not_found::NotFound, servers::ServersPage,
};

/// The HTML document around the app. On the server it also sets the page's CSP, whose
/// nonce is the one Leptos puts on its inline hydration script.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_page_csp();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[cfg(feature = "ssr")]
fn set_page_csp() {
    use axum::http::{header, HeaderValue};
    let (Some(nonce), Some(res)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(&gatehouse::http::headers::page_csp(&nonce)) {
        res.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Async SSR everywhere: pages must be complete without JavaScript. `/` is an axum
    // redirect (see `responses::home`).
    let ssr = SsrMode::Async;
    view! {
        <Stylesheet id="gatehouse" href="/pkg/gatehouse.css"/>
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/login") view=auth::LoginPage ssr=ssr.clone()/>
                <Route path=path!("/setup") view=auth::SetupPage ssr=ssr.clone()/>
                <Route path=path!("/signup") view=auth::SignupPage ssr=ssr.clone()/>
                <Route path=path!("/invite/:token") view=auth::InvitePage ssr=ssr.clone()/>
                <Route path=path!("/consent/:handle") view=consent::ConsentPage ssr=ssr.clone()/>
                <Route path=path!("/servers") view=ServersPage ssr=ssr.clone()/>
                <Route path=path!("/clients") view=clients::ClientsPage ssr=ssr.clone()/>
                <Route path=path!("/keys") view=ApiKeysPage ssr=ssr.clone()/>
                <Route path=path!("/activity") view=ActivityPage ssr=ssr.clone()/>
                <Route path=path!("/admin") view=AdminPage ssr=ssr.clone()/>
                <Route path=path!("/admin/checks") view=checks::ChecksPage ssr=ssr.clone()/>
                <Route path=path!("/admin/stats") view=pages::stats::StatsPage ssr/>
            </Routes>
        </Router>
    }
}

/// Entry point of the wasm bundle: hydrate the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
    // Lets end-to-end tests prove hydration really ran under the CSP, and finished: set on
    // the next frame, after the page's resolved resources have hydrated their content (a
    // hydration error panics before this).
    leptos::prelude::request_animation_frame(|| {
        if let Some(body) = leptos::prelude::document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}
