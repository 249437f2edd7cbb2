//! Shared UI pieces: the signed-in layout, the CSRF field, flash messages (from the session,
//! or from the page's latest action when JavaScript runs), loading/error.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use serde::{de::DeserializeOwned, Serialize};

use crate::api::auth::SignOut;
use crate::dto::{FlashView, PageContext};
use crate::error::AppError;

/// What a dashboard action returns: the message to show, or why it failed.
pub type Outcome = Option<Result<String, AppError>>;

/// The flash of a page whose actions run in place (JavaScript on): the latest outcome of
/// any of `outcomes`. Without JavaScript the server flashes through the session instead.
pub fn live_flash(outcomes: Vec<Signal<Outcome>>) -> RwSignal<Option<FlashView>> {
    let flash = RwSignal::new(None);
    for outcome in outcomes {
        Effect::new(move |_| {
            if let Some(result) = outcome.get() {
                flash.set(Some(match result {
                    Ok(text) => FlashView {
                        success: true,
                        text,
                    },
                    Err(err) => FlashView {
                        success: false,
                        text: err.to_string(),
                    },
                }));
            }
        });
    }
    flash
}

/// The hidden field every state-changing form carries.
#[component]
pub fn CsrfField(token: String) -> impl IntoView {
    view! { <input type="hidden" name="_csrf" value=token/> }
}

/// A button copying the text of element `target` to the clipboard (with JavaScript; without
/// it the text is there to select).
#[component]
pub fn CopyButton(#[prop(into)] target: String) -> impl IntoView {
    #[cfg(not(feature = "hydrate"))]
    let _ = &target;
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let text = document()
                .get_element_by_id(&target)
                .and_then(|e| e.text_content())
                .unwrap_or_default();
            let _ = window().navigator().clipboard().write_text(&text);
        }
    };
    view! { <button type="button" class="copy secondary" on:click=copy>"Copy"</button> }
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

/// The signed-in layout: header with navigation and the account menu, then the page. `live`
/// is the page's action flash (see [`live_flash`]); it wins over the session's.
#[component]
pub fn Layout(
    ctx: PageContext,
    title: &'static str,
    #[prop(optional)] live: Option<RwSignal<Option<FlashView>>>,
    children: Children,
) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    let user = ctx.user.clone();
    let session_flash = ctx.flash.clone();
    let flash = move || live.and_then(|l| l.get()).or_else(|| session_flash.clone());
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
                    <ActionForm action=sign_out>
                        <CsrfField token=ctx.csrf.clone()/>
                        <button type="submit">"Sign out"</button>
                    </ActionForm>
                </details>
            })}
        </header>
        <main id="main">
            <h1>{title}</h1>
            {move || view! { <Flash flash=flash()/> }}
            {children()}
        </main>
    }
}

/// The layout of the anonymous pages (sign-in, setup, invite): one narrow card.
#[component]
pub fn AuthLayout(
    ctx: PageContext,
    title: &'static str,
    #[prop(optional)] live: Option<RwSignal<Option<FlashView>>>,
    children: Children,
) -> impl IntoView {
    let session_flash = ctx.flash.clone();
    let flash = move || live.and_then(|l| l.get()).or_else(|| session_flash.clone());
    view! {
        <Title text=format!("{title} · Gatehouse")/>
        <main id="main" class="narrow">
            <p class="brand">"Gatehouse"</p>
            <h1>{title}</h1>
            {move || view! { <Flash flash=flash()/> }}
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

/// Renders a page from its one server-function resource, with loading and error states. A
/// refetch (after an action) keeps the current content until the new data is there.
pub fn page_view<T, V>(
    resource: Resource<Result<T, AppError>>,
    render: impl Fn(T) -> V + Clone + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    V: IntoView + 'static,
{
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let render = render.clone();
                Suspend::new(async move {
                    match resource.await {
                        Ok(data) => render(data).into_any(),
                        Err(err) => view! { <ErrorView err/> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}
