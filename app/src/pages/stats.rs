//! Stats (administrators): counts of users, clients, grants, tokens, keys and connections;
//! gateway traffic per server over the last hour and day; a server-rendered SVG of calls per
//! hour (no chart library: the bars are rectangles).

use leptos::prelude::*;

use crate::api::admin::stats_page;
use crate::components::{page_view, Layout};
use crate::dto::{StatsData, TrafficRow};

#[component]
pub fn StatsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| stats_page());
    page_view(data, |d: StatsData| {
        view! {
            <Layout ctx=d.ctx.clone() title="Stats">
                <p class="lede">"Everything here is read from the database, so every instance shows the same numbers. "
                    <a href="/metrics">"Prometheus metrics"</a>" · "<a href="/admin">"Admin"</a></p>
                <table class="list" id="counts">
                    <tbody>
                        {d.counts.iter().cloned().map(|(label, n)| view! {
                            <tr><th scope="row">{label.clone()}</th><td class="count" data-label=label>{n}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
                <h2>"Gateway calls per hour (24 h, UTC)"</h2>
                <Chart hourly=d.hourly.clone()/>
                <h2>"Last hour"</h2>
                <Traffic rows=d.last_hour.clone() id="last-hour"/>
                <h2>"Last 24 hours"</h2>
                <Traffic rows=d.last_day.clone() id="last-day"/>
            </Layout>
        }
    })
}

#[component]
fn Traffic(rows: Vec<TrafficRow>, id: &'static str) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="empty">"No calls."</p> }.into_any();
    }
    view! {
        <table class="list" id=id>
            <thead><tr><th scope="col">"Server"</th><th scope="col">"Calls"</th><th scope="col">"Errors"</th><th scope="col">"Error rate"</th><th scope="col">"p50"</th><th scope="col">"p95"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|r| { let name = r.server.clone(); view! {
                    <tr data-server=r.server><th scope="row">{name}</th><td class="calls">{r.calls}</td><td>{r.failed}</td><td>{r.error_rate}</td><td>{r.p50}</td><td>{r.p95}</td></tr>
                }}).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// Bars of calls per hour, failed calls in red at their foot.
#[component]
fn Chart(hourly: Vec<(String, i64, i64)>) -> impl IntoView {
    const W: i64 = 720;
    const H: i64 = 160;
    let most = hourly.iter().map(|(_, c, _)| *c).max().unwrap_or(0).max(1);
    let step = W / (hourly.len().max(1) as i64);
    let bars = hourly
        .iter()
        .enumerate()
        .map(|(i, (label, calls, failed))| {
            let x = i as i64 * step;
            let h = calls * (H - 20) / most;
            let f = failed * (H - 20) / most;
            let title = format!("{label}: {calls} calls, {failed} failed");
            view! {
                <g>
                    <title>{title}</title>
                    <rect x=x + 2 y=H - 20 - h width=step - 4 height=h class="bar"/>
                    <rect x=x + 2 y=H - 20 - f width=step - 4 height=f class="bar failed"/>
                    {(i % 4 == 0).then(|| view! { <text x=x + 2 y=H - 4 class="axis">{label.clone()}</text> })}
                </g>
            }
        })
        .collect_view();
    view! {
        <svg viewBox=format!("0 0 {W} {H}") class="chart" role="img" aria-label="Gateway calls per hour over the last 24 hours">
            {bars}
        </svg>
    }
}
