//! Admin: accounts and invites.

use leptos::prelude::*;

use crate::api::admin::{admin_page, ClientAction, InviteUser};
use crate::components::{live_flash, page_view, CsrfField, Layout};
use crate::dto::AdminData;

#[component]
pub fn AdminPage() -> impl IntoView {
    let invite = ServerAction::<InviteUser>::new();
    let client = ServerAction::<ClientAction>::new();
    let live = live_flash(vec![
        Signal::derive(move || invite.value().get()),
        Signal::derive(move || client.value().get()),
    ]);
    let data = Resource::new(
        move || (invite.version().get(), client.version().get()),
        |_| admin_page(),
    );
    page_view(data, move |d: AdminData| {
        view! {
            <Layout ctx=d.ctx.clone() title="Admin" live>
                <p class="lede">{format!("{} accounts, {} servers registered.", d.users.len(), d.server_count)}
                    " " <a href="/admin/stats">"Stats"</a>" · "<a href="/admin/checks">"Run the deployment checks"</a>" (as "<code>"gatehouse doctor"</code>")."</p>
                <table class="list" id="users">
                    <thead><tr><th scope="col">"User"</th><th scope="col">"Role"</th><th scope="col">"Status"</th><th scope="col">"Created"</th></tr></thead>
                    <tbody>
                        {d.users.iter().cloned().map(|u| view! {
                            <tr>
                                <td>{u.username}</td>
                                <td>{if u.is_admin { "administrator" } else { "user" }}</td>
                                <td>{if u.active { "active" } else { "invited" }}</td>
                                <td>{u.created}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                <section aria-labelledby="all-clients">
                    <h2 id="all-clients">"AI clients (everyone's)"</h2>
                    <p>"Disabling a client stops its tokens at once and refuses new authorizations for everyone; deleting it also removes its grants."</p>
                    {if d.clients.is_empty() {
                        view! { <p class="empty">"No client has registered yet."</p> }.into_any()
                    } else {
                        let csrf = d.ctx.csrf.clone();
                        view! {
                            <table class="list" id="clients">
                                <thead><tr><th scope="col">"Client"</th><th scope="col">"Kind"</th><th scope="col">"Redirects to"</th><th scope="col">"Active grants"</th><th scope="col">"Registered"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                                <tbody>
                                    {d.clients.iter().cloned().map(|c| {
                                        let toggle = if c.disabled { "enable" } else { "disable" };
                                        let toggle_label = if c.disabled { "Enable" } else { "Disable" };
                                        let (csrf1, csrf2, id1, id2) = (csrf.clone(), csrf.clone(), c.client_id.clone(), c.client_id.clone());
                                        view! {
                                            <tr data-client=c.client_id.clone()>
                                                <th scope="row">{c.name}{c.disabled.then(|| view! { " " <span class="badge warn">"disabled"</span> })}<br/><code class="url">{c.client_id.clone()}</code></th>
                                                <td>{c.kind}</td>
                                                <td>{c.redirect_hosts}</td>
                                                <td>{c.active_grants}</td>
                                                <td>{c.created}</td>
                                                <td class="actions">
                                                    <ActionForm action=client>
                                                        <CsrfField token=csrf1/>
                                                        <input type="hidden" name="client_id" value=id1/>
                                                        <input type="hidden" name="action" value=toggle/>
                                                        <button type="submit" class="secondary">{toggle_label}</button>
                                                    </ActionForm>
                                                    <ActionForm action=client>
                                                        <CsrfField token=csrf2/>
                                                        <input type="hidden" name="client_id" value=id2/>
                                                        <input type="hidden" name="action" value="delete"/>
                                                        <button type="submit" class="danger">"Delete"</button>
                                                    </ActionForm>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }}
                </section>
                <section aria-labelledby="invite">
                    <h2 id="invite">"Invite a user"</h2>
                    <p>"Creates the account and shows a one-time link for them to choose a password."</p>
                    <ActionForm action=invite attr:class="stack">
                        <CsrfField token=d.ctx.csrf.clone()/>
                        <label for="username">"Username"</label>
                        <input id="username" name="username" type="text" required autocapitalize="none" spellcheck="false"/>
                        <label class="check"><input type="checkbox" name="is_admin" value="on"/>" Administrator"</label>
                        <button type="submit">"Create invite"</button>
                    </ActionForm>
                </section>
            </Layout>
        }
    })
}
