//! API keys: for clients that cannot do OAuth. A new key is shown once, with configuration
//! to paste into Claude Desktop, Claude Code, Cursor, VS Code or another client.

use leptos::prelude::*;

use crate::api::keys::{keys_page, CreateKey, RevokeKey};
use crate::components::{live_flash, page_view, CopyButton, CsrfField, Layout};
use crate::dto::{KeyView, KeysData, NewKeyView};
use crate::snippets::{self, Endpoint};

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let create = ServerAction::<CreateKey>::new();
    let revoke = ServerAction::<RevokeKey>::new();
    let live = live_flash(vec![
        Signal::derive(move || {
            create.value().get().map(|r| {
                r.map(|v| {
                    let name = v.map(|v| v.name).unwrap_or_default();
                    format!("Created key '{name}'. Copy it now: it is shown only once.")
                })
            })
        }),
        Signal::derive(move || revoke.value().get()),
    ]);
    // A key created with JavaScript on comes back in the action's answer.
    let fresh = Signal::derive(move || create.value().get().and_then(|r| r.ok().flatten()));
    let data = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| keys_page(),
    );
    page_view(data, move |d: KeysData| {
        let csrf = d.ctx.csrf.clone();
        let from_post = d.created.clone();
        view! {
            <Layout ctx=d.ctx.clone() title="API keys" live>
                <p class="lede">
                    "Keys let a client without OAuth use your servers through Gatehouse: it sends "
                    <code>"Authorization: Bearer gh_sk_…"</code>
                    ". A key is shown once and stored only as a hash; revoking it stops it at once."
                </p>
                {move || fresh.get().or_else(|| from_post.clone()).map(|k| view! { <NewKey k/> })}
                <KeyList keys=d.keys.clone() csrf=csrf.clone() revoke/>
                <CreateForm csrf servers=d.servers.clone() create/>
            </Layout>
        }
    })
}

#[component]
fn NewKey(k: NewKeyView) -> impl IntoView {
    let endpoints: Vec<Endpoint> = k
        .endpoints
        .iter()
        .map(|(slug, url)| Endpoint {
            slug: slug.clone(),
            url: url.clone(),
        })
        .collect();
    let snippets = snippets::all(&k.key, &endpoints);
    view! {
        <section class="new-key" aria-labelledby="new-key-title">
            <h2 id="new-key-title">{format!("Your new key '{}'", k.name)}</h2>
            <p role="alert">"Copy it now: Gatehouse shows it only this once. It reaches " {k.scope.clone()} "."</p>
            <p><code id="new-key" class="secret">{k.key.clone()}</code> " " <CopyButton target="new-key"/></p>
            {snippets
                .into_iter()
                .enumerate()
                .map(|(i, s)| {
                    let id = format!("snippet-{i}");
                    view! {
                        <h3>{s.client}</h3>
                        <p><small>{format!("Paste into {}:", s.place)}</small> " " <CopyButton target=id.clone()/></p>
                        <pre id=id data-client=s.client>{s.text}</pre>
                    }
                })
                .collect_view()}
        </section>
    }
}

#[component]
fn KeyList(keys: Vec<KeyView>, csrf: String, revoke: ServerAction<RevokeKey>) -> impl IntoView {
    if keys.is_empty() {
        return view! { <p class="empty">"No API keys yet."</p> }.into_any();
    }
    view! {
        <table class="list" id="keys">
            <caption class="sr-only">"Your API keys"</caption>
            <thead><tr>
                <th scope="col">"Name"</th><th scope="col">"Key"</th><th scope="col">"Servers"</th>
                <th scope="col">"Created"</th><th scope="col">"Last used"</th><th scope="col">"Expires"</th>
                <th scope="col"><span class="sr-only">"Actions"</span></th>
            </tr></thead>
            <tbody>
                {keys
                    .into_iter()
                    .map(|k| {
                        let csrf = csrf.clone();
                        let label = format!("Revoke {}", k.name);
                        view! {
                            <tr data-key=k.name.clone()>
                                <th scope="row">{k.name.clone()}</th>
                                <td><code>{k.prefix}</code></td>
                                <td>{k.servers}</td>
                                <td>{k.created}</td>
                                <td>{k.last_used}</td>
                                <td>{k.expires}</td>
                                <td>
                                    <ActionForm action=revoke>
                                        <CsrfField token=csrf/>
                                        <input type="hidden" name="key" value=k.id.to_string()/>
                                        <button type="submit" class="danger" aria-label=label>"Revoke"</button>
                                    </ActionForm>
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
fn CreateForm(
    csrf: String,
    servers: Vec<(String, String)>,
    create: ServerAction<CreateKey>,
) -> impl IntoView {
    let choices = servers
        .into_iter()
        .map(|(slug, name)| {
            view! {
                <label class="check">
                    <input type="checkbox" name="servers[]" value=slug.clone()/>
                    " " {name} " " <code>{slug}</code>
                </label>
            }
        })
        .collect_view();
    view! {
        <section aria-labelledby="create-key">
            <h2 id="create-key">"Create a key"</h2>
            <ActionForm action=create attr:class="stack">
                <CsrfField token=csrf/>
                <label for="key-name">"Name " <small>"(where it will be used, e.g. laptop Claude Desktop)"</small></label>
                <input id="key-name" name="name" type="text" required maxlength="64"/>
                <label for="key-expires">"Expires"</label>
                <select id="key-expires" name="expires">
                    <option value="never">"Never"</option>
                    <option value="7d">"In 7 days"</option>
                    <option value="30d" selected>"In 30 days"</option>
                    <option value="90d">"In 90 days"</option>
                    <option value="365d">"In a year"</option>
                </select>
                <fieldset>
                    <legend>"Servers " <small>"(none ticked: all your servers)"</small></legend>
                    {choices}
                </fieldset>
                <button type="submit">"Create key"</button>
            </ActionForm>
        </section>
    }
}
