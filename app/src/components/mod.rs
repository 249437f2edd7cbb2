//! Shared UI pieces: the signed-in layout, the CSRF field, flash messages, loading/error.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use serde::{de::DeserializeOwned, Serialize};

use crate::dto::{FlashView, PageContext};
use crate::error::AppError;

/// The hidden field every state-changing form carries.
#[component]
pub fn CsrfField(token: String) -> impl IntoView {
    view! { <input type="hidden" name="_csrf" value=token/> }
}

/// A one-button form posting to `action` with the CSRF token (and one optional hidden
/// field): Delete, Revoke, Disable… Works with and without JavaScript.
#[component]
pub fn PostButton(
    action: String,
    csrf: String,
    #[prop(into)] label: String,
    #[prop(optional)] class: &'static str,
    #[prop(optional, into)] aria_label: Option<String>,
    #[prop(optional)] field: Option<(&'static str, String)>,
) -> impl IntoView {
    view! {
        <form method="post" action=action>
            <CsrfField token=csrf/>
            {field.map(|(name, value)| view! { <input type="hidden" name=name value=value/> })}
            <button type="submit" class=class aria-label=aria_label>{label}</button>
        </form>
    }
}

#[component]
pub fn Flash(flash: Option<FlashView>) -> impl IntoView {
    flash.map(|f| {
        let class = if f.success {
            "flash success"
        } else {
            "flash error"
        };
        let role = if f.success { "status" } else { "alert" };
        view! { <p class=class role=role>{f.text}</p> }
    })
}

/// The signed-in layout: header with navigation and the account menu, then the page.
#[component]
pub fn Layout(ctx: PageContext, title: &'static str, children: Children) -> impl IntoView {
    let user = ctx.user.clone();
    let is_admin = user.as_ref().is_some_and(|u| u.is_admin);
    view! {
        <Title text=format!("{title} · Gatehouse")/>
        <a class="skip" href="#main">"Skip to content"</a>
        <header class="top">
            <a class="brand" href="/servers">"Gatehouse"</a>
            <nav aria-label="Main">
                <ul>
                    <li><A href="/servers">"Servers"</A></li>
                    <li><A href="/clients">"AI clients"</A></li>
                    <li><A href="/keys">"API keys"</A></li>
                    <li><A href="/activity">"Activity"</A></li>
                    {is_admin.then(|| view! { <li><A href="/admin">"Admin"</A></li> })}
                </ul>
            </nav>
            {user.map(|u| view! {
                <details class="account">
                    <summary>
                        <span class="sr-only">"Account: "</span>{u.username.clone()}
                        {u.is_admin.then(|| view! { <span class="badge">"admin"</span> })}
                    </summary>
                    <form method="post" action="/logout">
                        <CsrfField token=ctx.csrf.clone()/>
                        <button type="submit">"Sign out"</button>
                    </form>
                </details>
            })}
        </header>
        <main id="main">
            <h1>{title}</h1>
            <Flash flash=ctx.flash.clone()/>
            {children()}
        </main>
    }
}

/// The layout of the anonymous pages (sign-in, setup, invite): one narrow card.
#[component]
pub fn AuthLayout(ctx: PageContext, title: &'static str, children: Children) -> impl IntoView {
    view! {
        <Title text=format!("{title} · Gatehouse")/>
        <main id="main" class="narrow">
            <p class="brand">"Gatehouse"</p>
            <h1>{title}</h1>
            <Flash flash=ctx.flash.clone()/>
            {children()}
        </main>
    }
}

#[component]
pub fn ErrorView(err: AppError) -> impl IntoView {
    let sign_in = matches!(err, AppError::SignInRequired);
    view! {
        <main id="main" class="narrow">
            <p class="flash error" role="alert">{err.to_string()}</p>
            {sign_in.then(|| view! { <p><a href="/login">"Sign in"</a></p> })}
        </main>
    }
}

/// Renders a page from its one server-function resource, with loading and error states.
pub fn page_view<T, V>(
    resource: Resource<Result<T, AppError>>,
    render: impl Fn(T) -> V + Clone + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    V: IntoView + 'static,
{
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let render = render.clone();
                Suspend::new(async move {
                    match resource.await {
                        Ok(data) => render(data).into_any(),
                        Err(err) => view! { <ErrorView err/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}
