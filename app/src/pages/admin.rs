//! Admin: accounts and invites.

use leptos::prelude::*;

use crate::api::admin::admin_page;
use crate::components::{page_view, CsrfField, Layout};
use crate::dto::AdminData;

#[component]
pub fn AdminPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| admin_page());
    page_view(data, |d: AdminData| {
        view! {
            <Layout ctx=d.ctx.clone() title="Admin">
                <p class="lede">{format!("{} accounts, {} servers registered.", d.users.len(), d.server_count)}</p>
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
                <section aria-labelledby="invite">
                    <h2 id="invite">"Invite a user"</h2>
                    <p>"Creates the account and shows a one-time link for them to choose a password."</p>
                    <form method="post" action="/admin/users" class="stack">
                        <CsrfField token=d.ctx.csrf.clone()/>
                        <label for="username">"Username"</label>
                        <input id="username" name="username" type="text" required autocapitalize="none" spellcheck="false"/>
                        <label class="check"><input type="checkbox" name="is_admin" value="on"/>" Administrator"</label>
                        <button type="submit">"Create invite"</button>
                    </form>
                </section>
            </Layout>
        }
    })
}
