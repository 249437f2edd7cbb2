//! The token endpoint's grants and bearer validation for `/mcp/{slug}`. Every token is
//! committed before it is returned; secrets are looked up by hash, never compared in SQL text.

use serde::Serialize;

use super::{activity, activity::About, Actor, ServiceError};
use crate::clock::{self, UnixTime};
use crate::domain::secret::constant_time_eq;
use crate::domain::{CodeChallenge, ResourceUri, SecretHash, SecretToken, UserId};
use crate::oauth::client_registration::AuthMethod;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::rotation::{self, RefreshDecision, RefreshRecord};
use crate::oauth::token::{self, CodeDecision, CodeRecord, TokenRequest};
use crate::state::Core;
use crate::store::audit::{self, NewEvent};
use crate::store::tokens::{self, NewPair};
use crate::store::{self, clients, grants, Backend, Batch};

/// Families end 90 days after the code was redeemed, however often they are refreshed.
pub const ABSOLUTE_REFRESH_CAP_SECS: i64 = 90 * 86400;

#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
    pub scope: String,
}

/// How the client authenticated: HTTP Basic wins over body parameters.
#[derive(Debug, Clone, Default)]
pub struct PresentedClient {
    pub client_id: Option<String>,
    pub secret: Option<String>,
    pub via_basic: bool,
}

#[derive(Debug)]
pub enum TokenError {
    OAuth(OAuthError),
    /// This client asked too often (`GATEHOUSE_RATE_TOKEN_PER_CLIENT`).
    RateLimited(crate::rate_limit::RetryAfter),
    Service(ServiceError),
}

impl From<sqlx::Error> for TokenError {
    fn from(e: sqlx::Error) -> Self {
        TokenError::Service(e.into())
    }
}

impl From<OAuthError> for TokenError {
    fn from(e: OAuthError) -> Self {
        TokenError::OAuth(e)
    }
}

fn oauth(code: ErrorCode, text: &str) -> TokenError {
    TokenError::OAuth(OAuthError::new(code, text))
}

/// RFC 6749 §2.3: public clients send only their id; confidential ones must prove the secret.
pub(crate) async fn authenticate(
    core: &Core,
    presented: &PresentedClient,
) -> Result<String, TokenError> {
    let id = presented
        .client_id
        .as_deref()
        .ok_or_else(|| oauth(ErrorCode::InvalidClient, "client authentication is missing"))?;
    let client = clients::get(&core.pool, id)
        .await?
        .ok_or_else(|| oauth(ErrorCode::InvalidClient, "unknown client"))?;
    let method = AuthMethod::parse(&client.auth_method).unwrap_or(AuthMethod::ClientSecretBasic);
    match (
        method.is_confidential(),
        &presented.secret,
        &client.secret_hash,
    ) {
        (false, None, _) => Ok(client.client_id),
        (true, Some(secret), Some(hash))
            if constant_time_eq(hash, SecretHash::of(secret).as_str()) =>
        {
            Ok(client.client_id)
        }
        _ => Err(oauth(
            ErrorCode::InvalidClient,
            "client authentication failed",
        )),
    }
}

fn resource_slugs(core: &Core, resources: &[String]) -> Result<Vec<String>, TokenError> {
    let issuer = core.public_url.issuer();
    resources
        .iter()
        .map(|r| {
            ResourceUri::parse(r, &issuer)
                .map(|u| u.key().to_owned())
                .map_err(|e| oauth(ErrorCode::InvalidTarget, &e.to_string()))
        })
        .collect()
}

pub async fn exchange(
    core: &Core,
    request: TokenRequest,
    presented: PresentedClient,
    ip: Option<std::net::IpAddr>,
) -> Result<TokenResponse, TokenError> {
    match request {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            verifier,
            resources,
            client,
        } => {
            let presented = merge(presented, client);
            let client_id = authenticate(core, &presented).await?;
            limit(core, &client_id)?;
            let requested = resource_slugs(core, &resources)?;
            redeem_code(
                core,
                &client_id,
                &code,
                &redirect_uri,
                &verifier,
                &requested,
                ip,
            )
            .await
        }
        TokenRequest::RefreshToken {
            refresh_token,
            resources,
            client,
        } => {
            let presented = merge(presented, client);
            let client_id = authenticate(core, &presented).await?;
            limit(core, &client_id)?;
            let requested = resource_slugs(core, &resources)?;
            refresh(core, &client_id, &refresh_token, &requested, ip).await
        }
    }
}

/// Per client as well as per address: many users of one client stay within its budget,
/// one client cannot use up a shared address's.
fn limit(core: &Core, client_id: &str) -> Result<(), TokenError> {
    core.limits
        .token_for_client(client_id)
        .map_err(TokenError::RateLimited)
}

fn merge(mut presented: PresentedClient, body: token::BodyClient) -> PresentedClient {
    if !presented.via_basic {
        presented.client_id = body.client_id;
        presented.secret = body.client_secret;
    }
    presented
}

struct Issued {
    access: SecretToken,
    refresh: SecretToken,
    access_hash: SecretHash,
    refresh_hash: SecretHash,
}

impl Issued {
    fn generate() -> Self {
        let access = SecretToken::generate("gh_at_");
        let refresh = SecretToken::generate("gh_rt_");
        Self {
            access_hash: access.hash(),
            refresh_hash: refresh.hash(),
            access,
            refresh,
        }
    }
}

/// The writes of a new access + refresh pair `issued` in `family_id` together with the event
/// reporting it, on rotation the presented refresh token (`parent`) marked used, and the
/// grant's last use when `touch` names it: one call to the database inside the caller's
/// transaction, which holds the only write lock meanwhile.
#[allow(clippy::too_many_arguments)]
fn pair_batch<'q>(
    backend: Backend,
    core: &Core,
    issued: &'q Issued,
    family_id: i64,
    parent: Option<&'q SecretHash>,
    touch: Option<i64>,
    resources: &'q [String],
    absolute_expiry: UnixTime,
    event: &'q NewEvent<'q>,
    now: UnixTime,
) -> Batch<'q> {
    let access_ttl = core.config.access_token_ttl.as_secs() as i64;
    let sliding = core.config.refresh_token_ttl.as_secs() as i64;
    let mut batch = Batch::new(backend);
    if let Some(parent) = parent {
        tokens::mark_refresh_used(&mut batch, parent, now);
    }
    if let Some(grant) = touch {
        grants::touch(&mut batch, grant, now);
    }
    tokens::insert_pair(
        &mut batch,
        &NewPair {
            access: &issued.access_hash,
            refresh: &issued.refresh_hash,
            family_id,
            parent,
            resources,
            now,
            access_expires_at: now + access_ttl,
            refresh_expires_at: rotation::next_expiry(now, sliding, absolute_expiry),
        },
    );
    audit::insert_into(&mut batch, event, now);
    batch
}

fn response(core: &Core, issued: Issued, scope: String) -> TokenResponse {
    TokenResponse {
        access_token: issued.access.expose().to_owned(),
        token_type: "Bearer",
        expires_in: core.config.access_token_ttl.as_secs(),
        refresh_token: issued.refresh.expose().to_owned(),
        scope,
    }
}

fn actor_for(user: UserId, client_id: &str, ip: Option<std::net::IpAddr>) -> Actor {
    Actor {
        user: Some(user),
        name: format!("client {client_id}"),
        is_admin: false,
        ip,
    }
}

async fn redeem_code(
    core: &Core,
    client_id: &str,
    code: &str,
    redirect_uri: &str,
    verifier: &crate::domain::PkceVerifier,
    requested: &[String],
    ip: Option<std::net::IpAddr>,
) -> Result<TokenResponse, TokenError> {
    let code_hash = SecretHash::of(code);
    let row = grants::get_code(&core.pool, &code_hash)
        .await?
        .ok_or_else(|| oauth(ErrorCode::InvalidGrant, "unknown authorization code"))?;
    let record = CodeRecord {
        client_id: row.client_id.clone(),
        redirect_uri: row.redirect_uri.clone(),
        challenge: CodeChallenge::from_stored(row.code_challenge.clone()),
        expires_at: row.expires_at,
        used: row.used_at.is_some() || row.grant_revoked,
        resources: store::parse_list(&row.resources),
    };
    let now = clock::now();
    // Generated before the write lock, which is then held only for the database calls.
    let issued = Issued::generate();
    let mut tx = store::begin_write(&core.pool).await?;
    let decision = match token::redeem(&record, client_id, redirect_uri, verifier, requested, now) {
        CodeDecision::Issue { resources }
            if grants::mark_code_used(&mut *tx, &code_hash, now).await? =>
        {
            CodeDecision::Issue { resources }
        }
        // Used between our read and the write lock: a concurrent redemption, i.e. a replay.
        CodeDecision::Issue { .. } => CodeDecision::ValidReplay,
        other => other,
    };
    let actor = actor_for(row.user_id, client_id, ip);
    match decision {
        CodeDecision::Issue { resources } => {
            let family = tokens::insert_family(
                &mut *tx,
                row.grant_id,
                &code_hash,
                &resources,
                now,
                now + ABSOLUTE_REFRESH_CAP_SECS,
            )
            .await?;
            let event = activity::event_about(
                &actor,
                Some(row.user_id),
                "token.issued",
                About {
                    client: Some(client_id),
                    ..About::default()
                },
                format!("client {client_id} → {}", resources.join(", ")),
            );
            let batch = pair_batch(
                Backend::of_connection(&tx),
                core,
                &issued,
                family,
                None,
                Some(row.grant_id),
                &resources,
                now + ABSOLUTE_REFRESH_CAP_SECS,
                &event,
                now,
            );
            batch.execute(&mut tx).await?;
            tx.commit().await?;
            crate::telemetry::token_issued("authorization_code");
            Ok(response(
                core,
                issued,
                crate::domain::scope::MCP_SCOPE.into(),
            ))
        }
        CodeDecision::ValidReplay => {
            let revoked = tokens::revoke_families_of_code(&mut *tx, &code_hash, now).await?;
            activity::record_about(
                &mut tx,
                &actor,
                Some(row.user_id),
                "token.code_replay",
                About {
                    client: Some(client_id),
                    ..About::default()
                },
                format!("client {client_id}: {revoked} token families revoked"),
                now,
            )
            .await?;
            tx.commit().await?;
            // After the commit: a request in between would re-cache a token about to die.
            core.bearer_cache.clear();
            Err(oauth(
                ErrorCode::InvalidGrant,
                "the authorization code was already used",
            ))
        }
        CodeDecision::Refuse(error) => Err(TokenError::OAuth(error)),
    }
}

async fn refresh(
    core: &Core,
    client_id: &str,
    presented: &str,
    requested: &[String],
    ip: Option<std::net::IpAddr>,
) -> Result<TokenResponse, TokenError> {
    let hash = SecretHash::of(presented);
    let now = clock::now();
    // Generated before the write lock, which is then held only for the database calls.
    let issued = Issued::generate();
    let (mut tx, row) = tokens::begin_refresh(&core.pool, &hash).await?;
    let Some(row) = row else {
        tx.rollback().await;
        return Err(oauth(ErrorCode::InvalidGrant, "unknown refresh token"));
    };
    let record = RefreshRecord {
        client_id: row.client_id.clone(),
        used_at: row.used_at,
        successor_used: row.successor_used,
        expires_at: row.expires_at,
        family_absolute_expiry: row.absolute_expires_at,
        revoked: row.revoked,
        superseded: row.superseded,
    };
    let grace = core.config.refresh_grace.as_secs() as i64;
    let actor = actor_for(row.user_id, client_id, ip);
    let decision = rotation::decide(&record, client_id, now, grace);
    match decision {
        RefreshDecision::Rotate | RefreshDecision::RetryWithinGrace => {
            // Narrowing with `resource` is allowed; widening is not (RFC 8707 §2.2).
            let family_resources = store::parse_list(&row.resources);
            let still_granted = store::parse_list(&row.granted);
            let allowed: Vec<String> = family_resources
                .into_iter()
                .filter(|s| still_granted.contains(s))
                .collect();
            if let Some(extra) = requested.iter().find(|r| !allowed.contains(r)) {
                tx.rollback().await;
                return Err(oauth(
                    ErrorCode::InvalidTarget,
                    &format!("resource for '{extra}' is not granted"),
                ));
            }
            let resources = if requested.is_empty() {
                allowed
            } else {
                requested.to_vec()
            };
            let superseded = match decision {
                RefreshDecision::RetryWithinGrace => {
                    tokens::supersede_unused_children(&mut tx, &hash, now).await?
                }
                _ => 0,
            };
            // "Last used" is shown to the minute: a client refreshing often writes it once.
            let touch = row
                .grant_used_at
                .is_none_or(|at| now - at >= 60)
                .then_some(row.grant_id);
            let event = activity::event_about(
                &actor,
                Some(row.user_id),
                "token.refreshed",
                About {
                    client: Some(client_id),
                    ..About::default()
                },
                match superseded {
                    0 => format!("client {client_id}"),
                    n => format!("client {client_id} (a retry: {n} unused pair superseded)"),
                },
            );
            let batch = pair_batch(
                tx.backend(),
                core,
                &issued,
                row.family_id,
                Some(&hash),
                touch,
                &resources,
                row.absolute_expires_at,
                &event,
                now,
            );
            tx.commit(batch).await?;
            crate::telemetry::token_issued("refresh_token");
            if superseded > 0 {
                // After the commit: a superseded access token may sit in the cache.
                core.bearer_cache.clear();
            }
            Ok(response(core, issued, row.scope))
        }
        RefreshDecision::ReuseDetected => {
            tokens::revoke_family(&mut *tx, row.family_id, now).await?;
            activity::record_about(
                &mut tx,
                &actor,
                Some(row.user_id),
                "token.reuse_detected",
                About {
                    client: Some(client_id),
                    ..About::default()
                },
                format!("client {client_id}: refresh token reused, family revoked"),
                now,
            )
            .await?;
            let nothing_more = Batch::new(tx.backend());
            tx.commit(nothing_more).await?;
            core.bearer_cache.clear();
            Err(oauth(
                ErrorCode::InvalidGrant,
                "refresh token was already used; all tokens of this grant are revoked",
            ))
        }
        RefreshDecision::Refuse => {
            tx.rollback().await;
            Err(oauth(
                ErrorCode::InvalidGrant,
                "refresh token is expired, revoked or not for this client",
            ))
        }
    }
}

pub use super::bearer::validate_bearer;
