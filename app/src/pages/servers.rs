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
                    "Upstream MCP servers you use through Gatehouse. Give an AI client the Gatehouse URL; "
                    "connecting each server's account (Authenticate) arrives with the token vault."
                </p>
                <ServerList servers=d.servers.clone() csrf=csrf.clone()/>
                <AddServer csrf/>
            </Layout>
        }
    })
}

#[component]
fn ServerList(servers: Vec<ServerView>, csrf: String) -> impl IntoView {
    if servers.is_empty() {
        return view! { <p class="empty">"No servers yet. Add one below."</p> }.into_any();
    }
    view! {
        <table class="list">
            <caption class="sr-only">"Your servers"</caption>
            <thead>
                <tr><th scope="col">"Server"</th><th scope="col">"Account"</th><th scope="col">"Upstream URL"</th><th scope="col">"Gatehouse URL"</th><th scope="col">"Added"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr>
            </thead>
            <tbody>
                {servers
                    .into_iter()
                    .map(|s| {
                        let csrf = csrf.clone();
                        view! {
                            <tr data-slug=s.slug.clone()>
                                <th scope="row">{s.name.clone()}<br/><code>{s.slug.clone()}</code></th>
                                <td class="provider">{s.provider}</td>
                                <td><code class="url">{s.url}</code>{s.static_credential.then(|| view! { <br/><small>"static credential stored (encrypted)"</small> })}</td>
                                <td><code class="url">{s.mcp_url}</code></td>
                                <td>{s.added}</td>
                                <td>
                                    <PostButton action=format!("/servers/{}/delete", s.slug) csrf=csrf label="Delete" class="danger" aria_label=format!("Delete {}", s.slug)/>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
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
