//! Sign-in, first-run setup, sign-up and invite pages. Sign-in posts to the core's `/login`
//! (it also serves authorization requests); the others are server-function forms.

use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_params_map;

use crate::api::auth::{auth_page, invite_page, AcceptInvite, Setup, SignUp};
use crate::components::{live_flash, page_view, AuthLayout, CsrfField};
use crate::dto::{AuthPageData, InviteData};

#[component]
fn CredentialFields(
    #[prop(default = "current-password")] autocomplete: &'static str,
) -> impl IntoView {
    view! {
        <label for="username">"Username"</label>
        <input id="username" name="username" type="text" autocomplete="username" required autocapitalize="none" spellcheck="false"/>
        <label for="password">"Password"</label>
        <input id="password" name="password" type="password" autocomplete=autocomplete required minlength="8"/>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| auth_page());
    page_view(data, |d: AuthPageData| {
        if d.setup_pending {
            return view! { <Redirect path="/setup"/> }.into_any();
        }
        if d.ctx.user.is_some() {
            return view! { <Redirect path="/servers"/> }.into_any();
        }
        view! {
            <AuthLayout ctx=d.ctx.clone() title="Sign in">
                <form method="post" action="/login" class="stack">
                    <CsrfField token=d.ctx.csrf.clone()/>
                    <CredentialFields/>
                    <button type="submit">"Sign in"</button>
                </form>
                {d.open_signup.then(|| view! { <p>"No account? " <a href="/signup">"Create one"</a></p> })}
            </AuthLayout>
        }
        .into_any()
    })
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let setup = ServerAction::<Setup>::new();
    let live = live_flash(vec![Signal::derive(move || setup.value().get())]);
    let data = Resource::new(|| (), |_| auth_page());
    page_view(data, move |d: AuthPageData| {
        if !d.setup_pending {
            return view! {
                <AuthLayout ctx=d.ctx.clone() title="Setup complete">
                    <p>"The administrator account exists. " <a href="/login">"Sign in"</a></p>
                </AuthLayout>
            }
            .into_any();
        }
        view! {
            <AuthLayout ctx=d.ctx.clone() title="Welcome to Gatehouse" live>
                <p>
                    "Create the administrator account. The one-time setup code was printed when the server started "
                    "(or run " <code>"gatehouse user add <name> --admin"</code> " on the server)."
                </p>
                <ActionForm action=setup attr:class="stack">
                    <CsrfField token=d.ctx.csrf.clone()/>
                    <label for="code">"Setup code"</label>
                    <input id="code" name="code" type="text" required autocomplete="one-time-code" autocapitalize="characters" spellcheck="false"/>
                    <CredentialFields autocomplete="new-password"/>
                    <button type="submit">"Create administrator"</button>
                </ActionForm>
            </AuthLayout>
        }
        .into_any()
    })
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let sign_up = ServerAction::<SignUp>::new();
    let live = live_flash(vec![Signal::derive(move || sign_up.value().get())]);
    let data = Resource::new(|| (), |_| auth_page());
    page_view(data, move |d: AuthPageData| {
        if !d.open_signup || d.setup_pending {
            return view! {
                <AuthLayout ctx=d.ctx.clone() title="Sign-up is closed">
                    <p>"Ask an administrator for an invite. " <a href="/login">"Sign in"</a></p>
                </AuthLayout>
            }
            .into_any();
        }
        view! {
            <AuthLayout ctx=d.ctx.clone() title="Create an account" live>
                <ActionForm action=sign_up attr:class="stack">
                    <CsrfField token=d.ctx.csrf.clone()/>
                    <CredentialFields autocomplete="new-password"/>
                    <button type="submit">"Create account"</button>
                </ActionForm>
            </AuthLayout>
        }
        .into_any()
    })
}

#[component]
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(
        move || params.read().get("token").unwrap_or_default(),
        invite_page,
    );
    let token = move || params.read_untracked().get("token").unwrap_or_default();
    let accept = ServerAction::<AcceptInvite>::new();
    let live = live_flash(vec![Signal::derive(move || accept.value().get())]);
    page_view(data, move |d: InviteData| {
        match d.username {
        None => view! {
            <AuthLayout ctx=d.ctx.clone() title="Invite not valid">
                <p>"This invite link is invalid, used or expired. Ask your administrator for a new one."</p>
            </AuthLayout>
        }
        .into_any(),
        Some(username) => view! {
            <AuthLayout ctx=d.ctx.clone() title="Choose your password" live>
                <p>"You were invited as " <strong>{username}</strong> "."</p>
                <ActionForm action=accept attr:class="stack">
                    <CsrfField token=d.ctx.csrf.clone()/>
                    <input type="hidden" name="token" value=token()/>
                    <label for="password">"New password (at least 8 characters)"</label>
                    <input id="password" name="password" type="password" autocomplete="new-password" required minlength="8"/>
                    <button type="submit">"Set password and sign in"</button>
                </ActionForm>
            </AuthLayout>
        }
        .into_any(),
    }
    })
}
