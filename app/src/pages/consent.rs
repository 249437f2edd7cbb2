//! Consent: always shown, one click. Says who asks (unverified for self-registered clients),
//! where the answer goes, and which of the user's servers it may use.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::consent::consent_page;
use crate::components::{page_view, AuthLayout, CsrfField};
use crate::dto::{ConsentData, ConsentState, ConsentView};

#[component]
pub fn ConsentPage() -> impl IntoView {
    let params = use_params_map();
    let handle = move || params.read().get("handle").unwrap_or_default();
    let data = Resource::new(handle, consent_page);
    page_view(data, move |d: ConsentData| {
        let handle = params.read_untracked().get("handle").unwrap_or_default();
        match d.state {
            ConsentState::Expired => view! {
                <AuthLayout ctx=d.ctx.clone() title="Request expired">
                    <p>"This authorization request has expired or was already answered. Go back to your app and connect again."</p>
                </AuthLayout>
            }
            .into_any(),
            ConsentState::SignIn => view! {
                <AuthLayout ctx=d.ctx.clone() title="Sign in to continue">
                    <p>"An app wants to use your MCP servers through Gatehouse. Sign in to see what it asks for."</p>
                    <form method="post" action="/login" class="stack">
                        <CsrfField token=d.ctx.csrf.clone()/>
                        <input type="hidden" name="authz" value=handle/>
                        <label for="username">"Username"</label>
                        <input id="username" name="username" type="text" autocomplete="username" required autocapitalize="none" spellcheck="false"/>
                        <label for="password">"Password"</label>
                        <input id="password" name="password" type="password" autocomplete="current-password" required/>
                        <button type="submit">"Sign in"</button>
                    </form>
                </AuthLayout>
            }
            .into_any(),
            ConsentState::Ask(v) => view! {
                <AuthLayout ctx=d.ctx.clone() title="Allow access?">
                    <Ask v=v csrf=d.ctx.csrf.clone() handle=handle user=d.ctx.user.map(|u| u.username).unwrap_or_default()/>
                </AuthLayout>
            }
            .into_any(),
        }
    })
}

#[component]
fn Ask(v: ConsentView, csrf: String, handle: String, user: String) -> impl IntoView {
    let who = v
        .label
        .clone()
        .or(v.client_name.clone())
        .unwrap_or_else(|| "An unnamed app".into());
    // A known-client label comes from the redirect URI; the self-chosen name is shown beside it.
    let claimed = v
        .label
        .as_ref()
        .and(v.client_name.clone())
        .filter(|n| Some(n) != v.label.as_ref());
    let can_approve = v.unknown_resources.is_empty() && !v.servers.is_empty();
    view! {
        <div class="consent">
            <p class="client">
                <strong id="client-name">{who}</strong>
                {(!v.verified).then(|| view! { <span class="badge warn" title="The app described itself when it registered; Gatehouse could not verify it">"unverified"</span> })}
                {v.identity_host.clone().map(|host| view! { <span class="badge ok" title="Identified by the metadata document this site publishes">"verified: " <span id="identity-host">{host}</span></span> })}
                <br/>
                <span class="muted">"redirects to "</span><strong id="redirect-host">{v.redirect_host.clone()}</strong>
            </p>
            {claimed.map(|n| view! { <p class="muted">"Calls itself “" {n} "”."</p> })}
            <p>"wants to use your servers through Gatehouse, signed in as " <strong>{user}</strong> "."</p>
            {v.loopback.then(|| view! { <p class="warning" role="note">"This app runs on your own computer (it receives the answer on a local address). Approve only if you just started it."</p> })}
            {v.aggregate.then(|| view! { <p class="muted" id="aggregate-note">"It connects to all your servers at once: it will see the tools of the servers ticked below, and no others."</p> })}
            {v.private_use.then(|| view! { <p class="warning" role="note">"The answer goes to an app-specific address that any app installed on this device could claim. Approve only if you just started this app here."</p> })}
            {(!v.unknown_resources.is_empty()).then(|| view! {
                <p class="flash error" role="alert">{format!("The app asks for a server you do not have: {}.", v.unknown_resources.join(", "))}</p>
            })}
            {v.servers.is_empty().then(|| view! { <p class="empty">"You have no servers yet. " <a href="/servers">"Add one"</a> " first, then connect again."</p> })}
            <form method="post" action=format!("/consent/{handle}") class="stack">
                <CsrfField token=csrf/>
                {(can_approve).then(|| view! {
                    <fieldset>
                        <legend>"Servers it may use"</legend>
                        {v.servers.iter().cloned().map(|s| view! {
                            <label class="check"><input type="checkbox" name="server" value=s.slug.clone() checked=s.selected/>{s.name}" "<code>{s.slug}</code></label>
                        }).collect_view()}
                    </fieldset>
                })}
                <div class="actions">
                    {can_approve.then(|| view! { <button type="submit" name="decision" value="approve">"Approve"</button> })}
                    <button type="submit" name="decision" value="deny" class="secondary">{if can_approve { "Deny" } else { "Return to the app" }}</button>
                </div>
            </form>
            <p class="muted small">"You can revoke this access at any time under AI clients."</p>
        </div>
    }
}
