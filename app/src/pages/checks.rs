//! Deployment checks (administrators): `gatehouse doctor` run from the server itself, one line
//! per check, failures first naming the setting and the fix.

use leptos::prelude::*;

use crate::api::admin::deployment_checks;
use crate::components::{page_view, Layout};
use crate::dto::ChecksData;

#[component]
pub fn ChecksPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| deployment_checks());
    page_view(data, move |d: ChecksData| {
        let failed = d.checks.iter().filter(|c| c.verdict == "FAIL").count();
        let summary = match failed {
            0 => "Every check passed (warnings name what users may still need).".to_owned(),
            n => format!("{n} check(s) failed: each says which setting to change."),
        };
        view! {
            <Layout ctx=d.ctx.clone() title="Deployment checks">
                <p class="lede">
                    "Gatehouse as a connecting client sees it, through its public URL (the same as "
                    <code>"gatehouse doctor"</code>"). " {summary}
                </p>
                <table class="list" id="checks">
                    <thead><tr><th scope="col">"Result"</th><th scope="col">"Check"</th><th scope="col">"Details"</th></tr></thead>
                    <tbody>
                        {d.checks.iter().cloned().map(|c| {
                            let tone = match c.verdict.as_str() { "PASS" => "ok", "WARN" => "warn", _ => "bad" };
                            let verdict = c.verdict.clone();
                            view! {
                                <tr data-verdict=verdict>
                                    <td><span class=format!("state {tone}")>{c.verdict}</span></td>
                                    <th scope="row">{c.name}</th>
                                    <td>{c.detail}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
                <p><a href="/admin/checks">"Run again"</a>" · "<a href="/admin">"Back to Admin"</a></p>
            </Layout>
        }
    })
}
