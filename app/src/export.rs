//! `/activity.csv` and `/activity.json`: the Activity page's filtered view as a file (the
//! signed-in user's own events; an administrator's: everyone's).

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse::http::session;
use gatehouse::service::activity::{self, Query as Filter};
use gatehouse::service::ServiceError;
use gatehouse::state::SharedCore;
use tower_sessions::Session;

pub async fn csv(
    State(core): State<SharedCore>,
    session: Session,
    Query(q): Query<Filter>,
) -> Response {
    export(&core, &session, &q, Format::Csv).await
}

pub async fn json(
    State(core): State<SharedCore>,
    session: Session,
    Query(q): Query<Filter>,
) -> Response {
    export(&core, &session, &q, Format::Json).await
}

enum Format {
    Csv,
    Json,
}

async fn export(core: &SharedCore, session: &Session, q: &Filter, format: Format) -> Response {
    let account = match session::current_account(core, session).await {
        Ok(Some(account)) => account,
        Ok(None) => return (StatusCode::UNAUTHORIZED, "sign in first").into_response(),
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let rows = match activity::export(core, &account.actor(None), q).await {
        Ok(rows) => rows,
        Err(ServiceError::Invalid(why)) => return (StatusCode::BAD_REQUEST, why).into_response(),
        Err(err) => {
            tracing::error!(%err, "activity export failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let records: Vec<[String; 11]> = rows
        .into_iter()
        .map(|r| {
            [
                r.id.to_string(),
                gatehouse::clock::format_utc(r.at),
                r.username.unwrap_or_default(),
                r.actor,
                r.kind,
                r.server.unwrap_or_default(),
                r.client.unwrap_or_default(),
                r.outcome,
                r.duration_ms.map(|d| d.to_string()).unwrap_or_default(),
                r.detail,
                r.ip.unwrap_or_default(),
            ]
        })
        .collect();
    const COLUMNS: [&str; 11] = [
        "id",
        "at",
        "account",
        "by",
        "kind",
        "server",
        "client",
        "outcome",
        "duration_ms",
        "detail",
        "ip",
    ];
    let (body, content_type, name) = match format {
        Format::Csv => {
            let mut out = String::new();
            out.push_str(&COLUMNS.join(","));
            out.push_str("\r\n");
            for record in &records {
                let cells: Vec<String> = record.iter().map(|c| csv_cell(c)).collect();
                out.push_str(&cells.join(","));
                out.push_str("\r\n");
            }
            (out, "text/csv; charset=utf-8", "activity.csv")
        }
        Format::Json => {
            let objects: Vec<serde_json::Value> = records
                .iter()
                .map(|record| {
                    let map: serde_json::Map<String, serde_json::Value> = COLUMNS
                        .iter()
                        .zip(record.iter())
                        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone())))
                        .collect();
                    serde_json::Value::Object(map)
                })
                .collect();
            (
                serde_json::to_string_pretty(&objects).unwrap_or_default(),
                "application/json",
                "activity.json",
            )
        }
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}

/// One CSV field (RFC 4180 quoting). A cell a spreadsheet would run as a formula (`=`, `+`,
/// `-`, `@`, tab, CR first) gets a leading `'`: details hold text from clients and upstreams.
fn csv_cell(value: &str) -> String {
    let value = match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_owned(),
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1"), "'-1");
    }
}
