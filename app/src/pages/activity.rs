//! Activity: the audit log of the user's account (administrators: everyone's), filtered by
//! server, client, event kind, outcome and time, paged newest first, exportable as CSV or
//! JSON. The filter form is a plain GET: it works without JavaScript.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::activity::activity_page;
use crate::components::{page_view, Layout};
use crate::dto::{ActivityData, ActivityFilter};

#[component]
pub fn ActivityPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        let q = query.get();
        let get = |name: &str| q.get(name).unwrap_or_default();
        ActivityFilter {
            server: get("server"),
            client: get("client"),
            kind: get("kind"),
            outcome: get("outcome"),
            since: get("since"),
            until: get("until"),
            before: get("before"),
        }
    };
    let data = Resource::new(filter, activity_page);
    page_view(data, |d: ActivityData| {
        let scope = if d.all_users {
            "All accounts (you are an administrator)."
        } else {
            "Your account."
        };
        let f = d.filter.clone();
        let kinds = d
            .kinds
            .iter()
            .cloned()
            .map(|(kind, words)| {
                let selected = kind == f.kind;
                let label = format!("{words} ({kind})");
                view! { <option value=kind selected=selected>{label}</option> }
            })
            .collect_view();
        let export = |ext: &str| match d.query.as_str() {
            "" => format!("/activity.{ext}"),
            q => format!("/activity.{ext}?{q}"),
        };
        let (csv, json) = (export("csv"), export("json"));
        view! {
            <Layout ctx=d.ctx.clone() title="Activity">
                <p class="lede">{scope} " Newest first."</p>
                <form method="get" action="/activity" class="filters" aria-label="Filter the activity">
                    <span><label for="f-server">"Server"</label><input id="f-server" name="server" value=f.server.clone() size="12"/></span>
                    <span><label for="f-client">"Client"</label><input id="f-client" name="client" value=f.client.clone() size="16"/></span>
                    <span><label for="f-kind">"Event"</label><select id="f-kind" name="kind"><option value="">"any"</option>{kinds}</select></span>
                    <span><label for="f-outcome">"Outcome"</label><select id="f-outcome" name="outcome">
                        <option value="" selected=f.outcome.is_empty()>"any"</option>
                        <option value="ok" selected=f.outcome == "ok">"ok"</option>
                        <option value="error" selected=f.outcome == "error">"error"</option>
                    </select></span>
                    <span><label for="f-since">"From (UTC)"</label><input id="f-since" type="datetime-local" name="since" value=f.since.clone()/></span>
                    <span><label for="f-until">"Until (UTC)"</label><input id="f-until" type="datetime-local" name="until" value=f.until.clone()/></span>
                    <button type="submit">"Filter"</button>
                    <a href="/activity">"Clear"</a>
                </form>
                <p class="small">"Export this view: "<a href=csv>"CSV"</a>" · "<a href=json>"JSON"</a>" (times are UTC)"</p>
                {d.problem.clone().map(|p| view! { <p class="flash error" role="alert">{p}</p> })}
                {if d.events.is_empty() {
                    view! { <p class="empty">"Nothing matches."</p> }.into_any()
                } else {
                    view! {
                        <table class="list" id="activity">
                            <thead>
                                <tr><th scope="col">"When"</th><th scope="col">"Event"</th><th scope="col">"Account"</th><th scope="col">"By"</th><th scope="col">"Server"</th><th scope="col">"Client"</th><th scope="col">"Details"</th><th scope="col">"IP"</th></tr>
                            </thead>
                            <tbody>
                                {d.events.iter().cloned().map(|e| { let (kind, outcome) = (e.kind.clone(), e.outcome.clone()); view! {
                                    <tr data-kind=kind data-outcome=outcome.clone() data-id=e.id>
                                        <td>{e.at}</td>
                                        <td>{e.what}<br/><code class="small">{e.kind}</code>{(outcome == "error").then(|| view! { " " <span class="state bad">"error"</span> })}</td>
                                        <td>{e.user.unwrap_or_default()}</td>
                                        <td>{e.actor}</td>
                                        <td>{e.server.unwrap_or_default()}</td>
                                        <td class="client">{e.client.unwrap_or_default()}</td>
                                        <td>{e.detail}</td>
                                        <td>{e.ip.unwrap_or_default()}</td>
                                    </tr>
                                }}).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
                {d.older.clone().map(|q| view! { <p><a href=format!("/activity?{q}") rel="next">"Older events"</a></p> })}
            </Layout>
        }
    })
}
