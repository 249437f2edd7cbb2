//! Discovery: RFC 8414 metadata (also at the OpenID path), RFC 9728 protected-resource
//! documents, and Gatehouse's own Client ID Metadata Document (as a client of upstreams). Any syntactically valid slug answers: slugs resolve per user after sign-in, so
//! an unauthenticated caller learns nothing about which servers exist.

use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::domain::{ResourceUri, ServerSlug};
use crate::oauth::metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};
use crate::service::upstream::native;
use crate::state::SharedCore;

pub fn routes<S>() -> Router<S>
where
    SharedCore: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(server_metadata),
        )
        .route("/.well-known/openid-configuration", get(server_metadata))
        .route("/.well-known/oauth-protected-resource", get(root_resource))
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(aggregate_resource),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp/{slug}",
            get(server_resource),
        )
        .route("/oauth/client-metadata.json", get(client_metadata))
}

/// Gatehouse's own Client ID Metadata Document, for upstream authorization servers that
/// accept a URL as client id (it is only used as such with an https public URL).
async fn client_metadata(State(core): State<SharedCore>) -> Response {
    (
        [(axum::http::header::CACHE_CONTROL, "public, max-age=3600")],
        Json(native::client_metadata_document(&core)),
    )
        .into_response()
}

async fn server_metadata(State(core): State<SharedCore>) -> Json<AuthorizationServerMetadata> {
    Json(AuthorizationServerMetadata::for_issuer(
        &core.public_url.issuer(),
    ))
}

async fn root_resource(State(core): State<SharedCore>) -> Json<ProtectedResourceMetadata> {
    let issuer = core.public_url.issuer();
    Json(ProtectedResourceMetadata::new(
        &issuer,
        issuer.clone(),
        "Gatehouse MCP gateway".into(),
    ))
}

async fn aggregate_resource(State(core): State<SharedCore>) -> Json<ProtectedResourceMetadata> {
    let issuer = core.public_url.issuer();
    let resource = ResourceUri::Aggregate.url(&issuer);
    Json(ProtectedResourceMetadata::new(
        &issuer,
        resource,
        "Gatehouse: all your servers".into(),
    ))
}

async fn server_resource(State(core): State<SharedCore>, Path(slug): Path<String>) -> Response {
    let Ok(slug) = ServerSlug::parse(&slug) else {
        return (StatusCode::NOT_FOUND, "no such resource").into_response();
    };
    let issuer = core.public_url.issuer();
    let resource = ResourceUri::for_slug(slug.clone()).url(&issuer);
    Json(ProtectedResourceMetadata::new(
        &issuer,
        resource,
        format!("Gatehouse: {slug}"),
    ))
    .into_response()
}

/// Where the protected-resource document of `/mcp/{slug}` or `/mcp` lives (RFC 9728 §3.1:
/// the well-known segment goes between the host and the resource's path).
pub fn resource_metadata_url(issuer: &str, resource: &ResourceUri) -> String {
    match resource {
        ResourceUri::Server(slug) => {
            format!("{issuer}/.well-known/oauth-protected-resource/mcp/{slug}")
        }
        ResourceUri::Aggregate => format!("{issuer}/.well-known/oauth-protected-resource/mcp"),
    }
}
