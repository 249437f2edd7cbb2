//! AI clients: the apps the user approved, what they may use, and Revoke.

use leptos::prelude::*;

use crate::api::clients::{clients_page, RevokeGrant, SetGrantServers};
use crate::components::{live_flash, page_view, CsrfField, Layout};
use crate::dto::ClientsData;

#[component]
pub fn ClientsPage() -> impl IntoView {
    let revoke = ServerAction::<RevokeGrant>::new();
    let change = ServerAction::<SetGrantServers>::new();
    let live = live_flash(vec![
        Signal::derive(move || revoke.value().get()),
        Signal::derive(move || change.value().get()),
    ]);
    let data = Resource::new(
        move || (revoke.version().get(), change.version().get()),
        |_| clients_page(),
    );
    page_view(data, move |d: ClientsData| {
        let csrf = d.ctx.csrf.clone();
        view! {
            <Layout ctx=d.ctx.clone() title="AI clients" live>
                <p class="lede">"Apps you approved to use your servers through Gatehouse. Revoking ends an app's access at once; other people using the same app are not affected."</p>
                {if d.grants.is_empty() {
                    view! { <p class="empty">"No AI client has access yet. Give an app a Gatehouse URL from the Servers page; you will be asked to approve it here."</p> }.into_any()
                } else {
                    view! {
                        <table class="list" id="grants">
                            <thead><tr><th scope="col">"App"</th><th scope="col">"Redirects to"</th><th scope="col">"Servers"</th><th scope="col">"Approved"</th><th scope="col">"Last token"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                            <tbody>
                                {d.grants.iter().cloned().map(|g| {
                                    let csrf = csrf.clone();
                                    let change_csrf = csrf.clone();
                                    let label = format!("Revoke {}", g.client);
                                    let choices = d.servers.iter().cloned().map(|(slug, name)| {
                                        let ticked = g.slugs.contains(&slug);
                                        view! { <label class="check"><input type="checkbox" name="servers[]" value=slug.clone() checked=ticked/>" " {name} " " <code>{slug}</code></label> }
                                    }).collect_view();
                                    let change_label = format!("Change the servers of {}", g.client);
                                    view! {
                                        <tr data-grant=g.id.to_string()>
                                            <th scope="row">{g.client}{(!g.verified).then(|| view! { " " <span class="badge warn">"unverified"</span> })}</th>
                                            <td>{g.redirect_host}</td>
                                            <td>
                                                <code>{g.servers}</code>
                                                <details class="change-servers">
                                                    <summary aria-label=change_label>"Change"</summary>
                                                    <ActionForm action=change>
                                                        <CsrfField token=change_csrf/>
                                                        <input type="hidden" name="grant" value=g.id.to_string()/>
                                                        {choices}
                                                        <button type="submit">"Save servers"</button>
                                                    </ActionForm>
                                                </details>
                                            </td>
                                            <td>{g.granted}</td>
                                            <td>{g.last_used}</td>
                                            <td>
                                                <ActionForm action=revoke>
                                                    <CsrfField token=csrf/>
                                                    <input type="hidden" name="grant" value=g.id.to_string()/>
                                                    <button type="submit" class="danger" aria-label=label>"Revoke"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
                <section aria-labelledby="keys-title">
                    <h2 id="keys-title">"API keys"</h2>
                    {if d.keys.is_empty() {
                        view! { <p class="empty">"No API keys. Clients without OAuth use one: " <a href="/keys">"create a key"</a> "."</p> }.into_any()
                    } else {
                        view! {
                            <table class="list" id="client-keys">
                                <thead><tr><th scope="col">"Key"</th><th scope="col">"Servers"</th><th scope="col">"Created"</th><th scope="col">"Last used"</th><th scope="col">"Expires"</th></tr></thead>
                                <tbody>
                                    {d.keys.iter().cloned().map(|k| view! {
                                        <tr><th scope="row">{k.name} " " <code>{k.prefix}</code></th><td>{k.servers}</td><td>{k.created}</td><td>{k.last_used}</td><td>{k.expires}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <p><a href="/keys">"Manage API keys"</a></p>
                        }.into_any()
                    }}
                </section>
            </Layout>
        }
    })
}
