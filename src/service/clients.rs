//! Dynamic client registration (RFC 7591): validate, store, answer once with the secret.

pub use crate::oauth::client_registration::preset_label;
use serde::Serialize;

use super::{activity, Actor, ServiceError};
use crate::clock;
use crate::domain::SecretToken;
use crate::oauth::client_registration::{self, RegistrationRequest};
use crate::oauth::error::OAuthError;
use crate::state::Core;
use crate::store::{self, clients};

#[derive(Debug, Serialize)]
pub struct RegistrationResponse {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// RFC 7591 §3.2.1: required with a secret; 0 means it does not expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    pub client_id_issued_at: i64,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: &'static str,
    pub grant_types: [&'static str; 2],
    pub response_types: [&'static str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    pub application_type: String,
    pub scope: &'static str,
}

pub enum RegisterError {
    Invalid(OAuthError),
    Service(ServiceError),
}

impl From<sqlx::Error> for RegisterError {
    fn from(e: sqlx::Error) -> Self {
        RegisterError::Service(e.into())
    }
}

pub async fn register(
    core: &Core,
    ip: Option<std::net::IpAddr>,
    req: RegistrationRequest,
) -> Result<RegistrationResponse, RegisterError> {
    let valid = client_registration::validate(req).map_err(RegisterError::Invalid)?;
    let client_id = SecretToken::generate("gh_client_")
        .expose()
        .chars()
        .take(34)
        .collect::<String>();
    let secret = valid
        .auth_method
        .is_confidential()
        .then(|| SecretToken::generate("gh_cs_"));
    let redirect_uris: Vec<String> = valid
        .redirect_uris
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    let now = clock::now();
    let hash = secret.as_ref().map(SecretToken::hash);
    let mut tx = store::begin_write(&core.pool).await?;
    clients::insert(
        &mut *tx,
        &clients::NewClient {
            client_id: &client_id,
            secret_hash: hash.as_ref(),
            auth_method: valid.auth_method.as_str(),
            client_name: valid.client_name.as_deref(),
            client_uri: valid.client_uri.as_deref(),
            redirect_uris: &redirect_uris,
            application_type: &valid.application_type,
        },
        now,
    )
    .await?;
    let hosts: Vec<String> = valid
        .redirect_uris
        .iter()
        .map(|r| r.display_host())
        .collect();
    let detail = format!(
        "{} ({}) → {}",
        valid.client_name.as_deref().unwrap_or("unnamed"),
        client_id,
        hosts.join(", ")
    );
    activity::record(
        &mut tx,
        &Actor::anonymous(ip),
        None,
        "client.registered",
        detail,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(RegistrationResponse {
        client_secret_expires_at: secret.as_ref().map(|_| 0),
        client_secret: secret.map(|s| s.expose().to_owned()),
        client_id,
        client_id_issued_at: now,
        redirect_uris,
        token_endpoint_auth_method: valid.auth_method.as_str(),
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        client_name: valid.client_name,
        client_uri: valid.client_uri,
        application_type: valid.application_type,
        scope: crate::domain::scope::MCP_SCOPE,
    })
}
