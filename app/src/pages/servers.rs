//! Servers: the user's upstream MCP servers, with add and delete.

use leptos::prelude::*;

use crate::api::servers::servers_page;
use crate::components::{page_view, CsrfField, Layout, PostButton};
use crate::dto::{ServerView, ServersData};

#[component]
pub fn ServersPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| servers_page());
    page_view(data, |d: ServersData| {
        let csrf = d.ctx.csrf.clone();
        view! {
            <Layout ctx=d.ctx.clone() title="Servers">
                <p class="lede">
                    "Upstream MCP servers you use through Gatehouse. Authenticate connects each server's account "
                    "(tokens are stored encrypted and refreshed before they expire); give an AI client the Gatehouse URL."
                </p>
                <ServerList servers=d.servers.clone() csrf=csrf.clone() options=d.provider_options.clone()/>
                <AddServer csrf/>
            </Layout>
        }
    })
}

#[component]
fn ServerList(
    servers: Vec<ServerView>,
    csrf: String,
    options: Vec<(String, String)>,
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
                    .map(|s| view! { <ServerRow s=s csrf=csrf.clone() options=options.clone()/> })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn ServerRow(s: ServerView, csrf: String, options: Vec<(String, String)>) -> impl IntoView {
    let c = s.connection.clone();
    let slug = s.slug.clone();
    let connect_label = if c.connected {
        "Reconnect"
    } else {
        "Authenticate"
    };
    view! {
        <tr data-slug=slug.clone() data-state=c.state.clone()>
            <th scope="row">
                {s.name.clone()}<br/><code>{slug.clone()}</code>
                <br/><small>"Gatehouse URL: "</small><code class="url">{s.mcp_url.clone()}</code>
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
            </td>
            <td><code class="url">{s.url.clone()}</code>{s.static_credential.then(|| view! { <br/><small>"static credential stored (encrypted)"</small> })}</td>
            <td><div class="actions">
                {c.can_authenticate.then(|| view! {
                    <PostButton action=format!("/servers/{slug}/authenticate") csrf=csrf.clone() label=connect_label aria_label=format!("{connect_label} {slug}")/>
                })}
                {c.connected.then(|| view! {
                    <PostButton action=format!("/servers/{slug}/disconnect") csrf=csrf.clone() label="Revoke" class="danger" aria_label=format!("Revoke {slug}")/>
                    {(!c.shares_grant_with.is_empty()).then(|| view! {
                        <small class="shared-grant">{format!("Revoking ends Google access for {} too.", c.shares_grant_with.join(", "))}</small>
                    })}
                })}
                <details class="provider-choice">
                    <summary>"Provider"</summary>
                    <form method="post" action=format!("/servers/{slug}/provider")>
                        <CsrfField token=csrf.clone()/>
                        <label for=format!("provider-{slug}") class="sr-only">"Provider for " {slug.clone()}</label>
                        <select id=format!("provider-{slug}") name="provider">
                            {options
                                .into_iter()
                                .map(|(key, label)| {
                                    let selected = key == s.provider_choice;
                                    view! { <option value=key selected=selected>{label}</option> }
                                })
                                .collect_view()}
                        </select>
                        <button type="submit">"Save"</button>
                    </form>
                </details>
                <PostButton action=format!("/servers/{slug}/delete") csrf=csrf label="Delete" class="danger" aria_label=format!("Delete {slug}")/>
            </div></td>
        </tr>
    }
}

#[component]
fn AddServer(csrf: String) -> impl IntoView {
    view! {
        <section aria-labelledby="add-server">
            <h2 id="add-server">"Add server"</h2>
            <form method="post" action="/servers" class="stack">
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
            </form>
        </section>
    }
}
