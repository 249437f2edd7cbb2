//! Servers: the user's upstream MCP servers — add, delete, *Authenticate*, *Revoke*, the
//! provider choice. Every action is a server function: a plain form post without JavaScript,
//! an in-place update with it.

use leptos::prelude::*;

use crate::api::servers::{
    servers_page, AddServer, Authenticate, DeleteServer, Disconnect, ProbeServer, SetProvider,
};
use crate::components::{live_flash, page_view, CopyButton, CsrfField, Layout};
use crate::dto::{DiscoveryView, ServerView, ServersData};
use crate::snippets::CONNECTOR_STEPS;

/// The page's actions, shared by every row.
#[derive(Clone, Copy)]
struct Actions {
    add: ServerAction<AddServer>,
    delete: ServerAction<DeleteServer>,
    authenticate: ServerAction<Authenticate>,
    disconnect: ServerAction<Disconnect>,
    provider: ServerAction<SetProvider>,
    probe: ServerAction<ProbeServer>,
}

#[component]
pub fn ServersPage() -> impl IntoView {
    let a = Actions {
        add: ServerAction::new(),
        delete: ServerAction::new(),
        authenticate: ServerAction::new(),
        disconnect: ServerAction::new(),
        provider: ServerAction::new(),
        probe: ServerAction::new(),
    };
    let live = live_flash(vec![
        Signal::derive(move || a.add.value().get()),
        Signal::derive(move || a.delete.value().get()),
        Signal::derive(move || a.authenticate.value().get()),
        Signal::derive(move || a.disconnect.value().get()),
        Signal::derive(move || a.provider.value().get()),
        Signal::derive(move || a.probe.value().get()),
    ]);
    let data = Resource::new(
        move || {
            (
                a.add.version().get(),
                a.delete.version().get(),
                a.disconnect.version().get(),
                a.provider.version().get(),
                a.probe.version().get(),
            )
        },
        |_| servers_page(),
    );
    page_view(data, move |d: ServersData| {
        let csrf = d.ctx.csrf.clone();
        view! {
            <Layout ctx=d.ctx.clone() title="Servers" live>
                <p class="lede">
                    "Upstream MCP servers you use through Gatehouse. Authenticate connects each server's account "
                    "(tokens are stored encrypted and refreshed before they expire); give an AI client the Gatehouse URL."
                </p>
                <ServerList servers=d.servers.clone() csrf=csrf.clone() options=d.provider_options.clone() a/>
                <AddServer csrf a/>
            </Layout>
        }
    })
}

#[component]
fn ServerList(
    servers: Vec<ServerView>,
    csrf: String,
    options: Vec<(String, String)>,
    a: Actions,
) -> impl IntoView {
    if servers.is_empty() {
        return view! { <p class="empty">"No servers yet. Add one below."</p> }.into_any();
    }
    view! {
        <table class="list servers">
            <caption class="sr-only">"Your servers"</caption>
            <thead>
                <tr><th scope="col">"Server"</th><th scope="col">"Account"</th><th scope="col">"Upstream URL"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr>
            </thead>
            <tbody>
                {servers
                    .into_iter()
                    .map(|s| view! { <ServerRow s=s csrf=csrf.clone() options=options.clone() a/> })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn ServerRow(
    s: ServerView,
    csrf: String,
    options: Vec<(String, String)>,
    a: Actions,
) -> impl IntoView {
    let c = s.connection.clone();
    let slug = s.slug.clone();
    let connect_label = if c.connected {
        "Reconnect"
    } else {
        "Authenticate"
    };
    let authenticate = c.can_authenticate.then(|| {
        let (csrf, slug) = (csrf.clone(), slug.clone());
        let label = format!("{connect_label} {slug}");
        view! {
            <ActionForm action=a.authenticate>
                <CsrfField token=csrf/><input type="hidden" name="slug" value=slug.clone()/>
                <button type="submit" aria-label=label>{connect_label}</button>
            </ActionForm>
        }
    });
    let revoke = c.connected.then(|| {
        let (csrf, slug) = (csrf.clone(), slug.clone());
        let label = format!("Revoke {slug}");
        let shared = (!c.shares_grant_with.is_empty()).then(|| {
            format!(
                "Revoking ends Google access for {} too.",
                c.shares_grant_with.join(", ")
            )
        });
        view! {
            <ActionForm action=a.disconnect>
                <CsrfField token=csrf/><input type="hidden" name="slug" value=slug.clone()/>
                <button type="submit" class="danger" aria-label=label>"Revoke"</button>
            </ActionForm>
            {shared.map(|text| view! { <small class="shared-grant">{text}</small> })}
        }
    });
    let choice = {
        let (csrf, slug) = (csrf.clone(), slug.clone());
        let id = format!("provider-{slug}");
        let current = s.provider_choice.clone();
        let options = options
            .into_iter()
            .map(|(key, label)| {
                let selected = key == current;
                view! { <option value=key selected=selected>{label}</option> }
            })
            .collect_view();
        view! {
            <ActionForm action=a.provider>
                <label for=id.clone() class="sr-only">"Provider for " {slug.clone()}</label>
                <CsrfField token=csrf/><input type="hidden" name="slug" value=slug.clone()/>
                <select id=id name="provider">{options}</select>
                <button type="submit">"Save"</button>
            </ActionForm>
        }
    };
    // *Check* for servers that use (or may use) their own sign-in.
    let check = s.own_sign_in.then(|| {
        let (csrf, slug) = (csrf.clone(), slug.clone());
        let label = format!("Check {slug}");
        view! {
            <ActionForm action=a.probe>
                <CsrfField token=csrf/><input type="hidden" name="slug" value=slug.clone()/>
                <button type="submit" aria-label=label>"Check"</button>
            </ActionForm>
        }
    });
    let delete = {
        let (csrf, slug) = (csrf.clone(), slug.clone());
        let label = format!("Delete {slug}");
        view! {
            <ActionForm action=a.delete>
                <CsrfField token=csrf/><input type="hidden" name="slug" value=slug.clone()/>
                <button type="submit" class="danger" aria-label=label>"Delete"</button>
            </ActionForm>
        }
    };
    view! {
        <tr data-slug=slug.clone() data-state=c.state.clone()>
            <th scope="row">
                {s.name.clone()}<br/><code>{slug.clone()}</code>
                <br/><small>"Gatehouse URL: "</small><code class="url" id=format!("mcp-url-{slug}")>{s.mcp_url.clone()}</code>
                " " <CopyButton target=format!("mcp-url-{slug}")/>
                <details class="connect-steps">
                    <summary>"Connect an AI client"</summary>
                    <ul>
                        {CONNECTOR_STEPS.iter().map(|(client, step)| view! { <li><strong>{*client}</strong>": " {*step}</li> }).collect_view()}
                        <li>"Clients without OAuth: " <a href="/keys">"an API key"</a>" with ready-to-paste configuration."</li>
                    </ul>
                </details>
                <br/><small>{format!("Added {}", s.added)}</small>
            </th>
            <td class="connection">
                <span class="provider">{s.provider.clone()}</span>{s.provider_detected.then(|| view! { <small>" (detected from the URL)"</small> })}<br/>
                <span class=format!("state {}", c.tone)>{c.state.clone()}</span>
                {c.account.clone().map(|a| view! { " as " <strong class="account">{a}</strong> })}
                {c.expires.clone().map(|e| view! { <br/><small>{format!("Access token expires {e}")}</small> })}
                {c.last_refresh.clone().map(|e| view! { <br/><small>{format!("Last refresh {e}")}</small> })}
                {(!c.scopes.is_empty()).then(|| view! { <br/><small class="scopes">{format!("Scopes: {}", c.scopes.join(" "))}</small> })}
                {c.last_error.clone().map(|e| view! { <br/><small class="last-error">{format!("Last error: {e}")}</small> })}
                {c.blocked.clone().filter(|_| !c.connected).map(|b| view! { <br/><small class="blocked">{b}</small> })}
                {s.discovery.clone().map(|d| view! { <Discovered d/> })}
            </td>
            <td><code class="url">{s.url.clone()}</code>{s.static_credential.then(|| view! { <br/><small>"static credential stored (encrypted)"</small> })}</td>
            <td><div class="actions">
                {authenticate}
                {revoke}
                {check}
                <details class="provider-choice">
                    <summary>"Provider"</summary>
                    {choice}
                </details>
                {delete}
            </div></td>
        </tr>
    }
}

/// What the last *Check* found about a server's own sign-in.
#[component]
fn Discovered(d: DiscoveryView) -> impl IntoView {
    view! {
        <dl class="discovery">
            <dt>"Sign-in"</dt><dd class="outcome">{d.outcome}</dd>
            {d.authorization_server.map(|s| view! { <dt>"Authorization server"</dt><dd><code class="issuer">{s}</code></dd> })}
            {(!d.scopes.is_empty()).then(|| view! { <dt>"Scopes offered"</dt><dd class="offered">{d.scopes.join(" ")}</dd> })}
            {d.registration.map(|r| view! { <dt>"Registered by"</dt><dd class="registration">{r}</dd> })}
            <dt>"Last check"</dt><dd>{d.checked}</dd>
        </dl>
    }
}

#[component]
fn AddServer(csrf: String, a: Actions) -> impl IntoView {
    view! {
        <section aria-labelledby="add-server">
            <h2 id="add-server">"Add server"</h2>
            <ActionForm action=a.add attr:class="stack">
                <CsrfField token=csrf/>
                <label for="url">"Upstream MCP URL"</label>
                <input id="url" name="url" type="url" required placeholder="https://mcp.example.com/mcp"/>
                <label for="slug">"Slug " <small>"(lowercase letters, digits, hyphens; used in /mcp/<slug>)"</small></label>
                <input id="slug" name="slug" type="text" required pattern="[a-z]([a-z0-9\\-]*[a-z0-9])?" maxlength="40" autocapitalize="none" spellcheck="false"/>
                <label for="name">"Name " <small>"(optional)"</small></label>
                <input id="name" name="name" type="text" maxlength="80"/>
                <label for="credential">"Static credential " <small>"(optional; sent to the upstream as a bearer token, stored encrypted)"</small></label>
                <input id="credential" name="credential" type="password" autocomplete="off"/>
                <button type="submit">"Add server"</button>
            </ActionForm>
        </section>
    }
}
