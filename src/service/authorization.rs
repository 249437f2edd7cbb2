//! The authorization endpoint and the consent decision: load → decide (oauth::authorize) →
//! write. Errors before sign-in are pages; the handle of a stored request is the only thing
//! that travels through sign-in and consent.

use super::accounts::Account;
use super::cimd::{self, CimdError};
use super::{activity, activity::About, ServiceError};
use crate::clock;
use crate::domain::{ClientId, RedirectKind, RedirectUri, SecretHash, SecretToken, AGGREGATE};
use crate::oauth::authorize::{self, AuthorizeError, AuthorizeParams, ClientView};
use crate::oauth::client_registration::preset_label;
use crate::oauth::consent::{self, ConsentDecision};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::state::Core;
use crate::store::{self, clients, grants, servers};

/// A pending request lives 10 minutes; a code `GATEHOUSE_CODE_TTL` (10 minutes, as RFC 6749
/// §4.1.2 recommends at most).
pub const REQUEST_TTL_SECS: i64 = 600;

/// Parses the query pairs; every parameter but `resource` appears at most once (§3.1).
pub fn params_from_pairs(pairs: Vec<(String, String)>) -> Result<AuthorizeParams, OAuthError> {
    let mut p = AuthorizeParams::default();
    for (key, value) in pairs {
        let slot = match key.as_str() {
            "resource" => {
                p.resources.push(value);
                continue;
            }
            "response_type" => &mut p.response_type,
            "client_id" => &mut p.client_id,
            "redirect_uri" => &mut p.redirect_uri,
            "scope" => &mut p.scope,
            "state" => &mut p.state,
            "code_challenge" => &mut p.code_challenge,
            "code_challenge_method" => &mut p.code_challenge_method,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(OAuthError::new(
                ErrorCode::InvalidRequest,
                format!("parameter '{key}' is repeated"),
            ));
        }
    }
    Ok(p)
}

/// The client named by `client_id`: a registered one, or the one its metadata document
/// describes (fetched now unless cached), and whether it is a metadata-document client (its
/// identity verified by the host serving it). `Ok(None)`: no such client.
async fn client_view(
    core: &Core,
    client_id: Option<&str>,
    ip: Option<std::net::IpAddr>,
) -> Result<Option<(ClientView, bool)>, StartError> {
    let Some(id) = client_id.filter(|id| !id.is_empty()) else {
        return Ok(None);
    };
    let row = match ClientId::parse(id) {
        Ok(ClientId::MetadataDocument(url)) => match cimd::resolve(core, &url, ip).await {
            Ok(row) => Some(row),
            Err(CimdError::Invalid(e)) => return Err(StartError::Page(e)),
            Err(CimdError::RateLimited(wait)) => return Err(StartError::RateLimited(wait)),
            Err(CimdError::Service(e)) => return Err(StartError::Service(e)),
        },
        Ok(ClientId::Registered(id)) => clients::get(&core.pool, &id).await?,
        Err(_) => None,
    };
    Ok(row.map(|row| {
        let redirect_uris = row
            .redirect_uri_list()
            .iter()
            .filter_map(|r| RedirectUri::parse(r).ok())
            .collect();
        let cimd = row.kind == "cimd";
        let view = ClientView {
            client_id: row.client_id,
            redirect_uris,
        };
        (view, cimd)
    }))
}

pub enum StartError {
    /// Unknown client or redirect: an error page, never a redirect.
    Page(OAuthError),
    /// The client and redirect are valid: the error may go back to the client.
    Redirect(ErrorRedirect),
    /// Too many metadata documents fetched for this visitor.
    RateLimited(crate::rate_limit::RetryAfter),
    Service(ServiceError),
}

/// An `/authorize` error the client's redirect URI may receive (RFC 6749 §4.1.2.1).
pub struct ErrorRedirect {
    pub error: OAuthError,
    /// The redirect URI with `error`, `state` and `iss`.
    pub location: String,
    /// A metadata-document client or a known client's redirect: its destination is vouched
    /// for, so a signed-in user may be sent there at once. Anyone can register (DCR) any
    /// redirect URI: those need the user to see the host first (RFC 9700 §4.11.2).
    pub verified: bool,
    /// The redirect URI's host, as the user sees it.
    pub host: String,
}

impl From<sqlx::Error> for StartError {
    fn from(e: sqlx::Error) -> Self {
        StartError::Service(e.into())
    }
}

/// Validates `/authorize` and stores the request; returns the handle for `/consent/{handle}`.
/// `ip`: the visitor's address, for the limit on metadata-document fetches.
pub async fn start(
    core: &Core,
    params: AuthorizeParams,
    ip: Option<std::net::IpAddr>,
) -> Result<SecretToken, StartError> {
    let client = client_view(core, params.client_id.as_deref(), ip).await?;
    let cimd = client.as_ref().is_some_and(|(_, cimd)| *cimd);
    let view = client.map(|(view, _)| view);
    let valid = authorize::validate(&params, view.as_ref(), &core.public_url.issuer()).map_err(
        |e| match e {
            AuthorizeError::Page(error) => StartError::Page(error),
            AuthorizeError::Redirect {
                redirect_uri,
                state,
                error,
            } => StartError::Redirect(ErrorRedirect {
                location: error_redirect(core, &redirect_uri, state.as_deref(), &error),
                verified: cimd || preset_label(&redirect_uri).is_some(),
                host: RedirectUri::parse(&redirect_uri)
                    .map(|r| r.display_host())
                    .unwrap_or_default(),
                error,
            }),
        },
    )?;
    let handle = SecretToken::generate("");
    let slugs: Vec<String> = valid.resources.iter().map(|r| r.key().to_owned()).collect();
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    let request = grants::NewRequest {
        client_id: &valid.client_id,
        redirect_uri: &valid.redirect_uri,
        state: valid.state.as_deref(),
        code_challenge: valid.challenge.as_str(),
        scope: &valid.scope.to_scope_string(),
        resources: &slugs,
    };
    grants::insert_request(
        &mut *tx,
        &handle.hash(),
        &request,
        now,
        now + REQUEST_TTL_SECS,
    )
    .await?;
    tx.commit().await?;
    Ok(handle)
}

/// The redirect for an error after sign-in (RFC 6749 §4.1.2.1 plus `iss`, RFC 9207).
pub fn error_redirect(
    core: &Core,
    redirect_uri: &str,
    state: Option<&str>,
    error: &OAuthError,
) -> String {
    let issuer = core.public_url.issuer();
    let mut params = vec![
        ("error", error.code.as_str()),
        ("error_description", error.description.as_str()),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", &issuer));
    authorize::redirect_url(redirect_uri, &params)
}

#[derive(Debug, Clone)]
pub struct ConsentServer {
    pub slug: String,
    pub name: String,
    pub selected: bool,
}

#[derive(Debug, Clone)]
pub struct ConsentView {
    pub client_id: String,
    pub client_name: Option<String>,
    /// DCR clients are self-described: shown as unverified.
    pub verified: bool,
    /// For a metadata-document client: the host serving the document, its verified identity.
    pub identity_host: Option<String>,
    pub label: Option<&'static str>,
    pub redirect_host: String,
    pub redirect_kind: RedirectKind,
    pub servers: Vec<ConsentServer>,
    /// The client asked for the aggregated endpoint `/mcp`: the ticked servers behind one URL.
    pub aggregate: bool,
    /// Requested resources the user has no server for (the request must be refused).
    pub unknown_resources: Vec<String>,
}

/// The requested server slugs, and whether the aggregated endpoint was requested too.
fn split_requested(resources: &str) -> (Vec<String>, bool) {
    let mut requested = store::parse_list(resources);
    let before = requested.len();
    requested.retain(|key| key != AGGREGATE);
    let aggregate = requested.len() != before;
    (requested, aggregate)
}

/// What the consent page shows; `None` when the handle is unknown or expired.
pub async fn consent_view(
    core: &Core,
    handle: &str,
    account: &Account,
) -> Result<Option<ConsentView>, ServiceError> {
    let Some(req) = grants::get_request(&core.pool, &SecretHash::of(handle), clock::now()).await?
    else {
        return Ok(None);
    };
    let Some(client) = clients::get(&core.pool, &req.client_id).await? else {
        return Ok(None);
    };
    let (requested, aggregate) = split_requested(&req.resources);
    let mine = servers::list_for_user(&core.pool, account.id).await?;
    let unknown_resources = requested
        .iter()
        .filter(|slug| !mine.iter().any(|s| &s.slug == *slug))
        .cloned()
        .collect();
    let identity_host = match client.kind.as_str() {
        "cimd" => url::Url::parse(&client.client_id)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned)),
        _ => None,
    };
    let redirect =
        RedirectUri::parse(&req.redirect_uri).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let servers = mine
        .into_iter()
        .map(|s| ConsentServer {
            // Asked for everything: all ticked, the user unticks what the client may not use.
            selected: aggregate || requested.contains(&s.slug),
            slug: s.slug,
            name: s.name,
        })
        .collect();
    Ok(Some(ConsentView {
        client_id: client.client_id,
        client_name: client.client_name,
        identity_host,
        verified: client.kind == "cimd",
        label: preset_label(&req.redirect_uri),
        redirect_host: redirect.display_host(),
        redirect_kind: redirect.kind(),
        servers,
        aggregate,
        unknown_resources,
    }))
}

pub use crate::oauth::consent::Answer;

/// Applies the user's answer; returns where to send the browser (the client's redirect URI
/// with `code` or `error`, plus `state` and `iss`).
pub async fn decide(
    core: &Core,
    handle: &str,
    account: &Account,
    ip: Option<std::net::IpAddr>,
    answer: Answer,
) -> Result<String, ServiceError> {
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    let req = grants::take_request(&mut *tx, &SecretHash::of(handle), now)
        .await?
        .ok_or_else(|| ServiceError::Invalid("this authorization request has expired or was already answered; start again from your app".into()))?;
    let (requested, aggregate) = split_requested(&req.resources);
    let mine = servers::list_for_user(&mut *tx, account.id).await?;
    let owned: Vec<String> = mine.iter().map(|s| s.slug.clone()).collect();
    let actor = account.actor(ip);
    let slugs = match consent::decide(&requested, &owned, &answer) {
        ConsentDecision::Grant(slugs) => slugs,
        // Dropping the transaction keeps the request: the user chooses again.
        ConsentDecision::ChooseAgain(why) => return Err(ServiceError::Invalid(why.into())),
        ConsentDecision::Refuse(error) => {
            activity::record_about(
                &mut tx,
                &actor,
                Some(account.id),
                "consent.denied",
                About {
                    client: Some(req.client_id.as_str()),
                    ..About::default()
                },
                format!("client {} ({})", req.client_id, error.code.as_str()),
                now,
            )
            .await?;
            tx.commit().await?;
            return Ok(error_redirect(
                core,
                &req.redirect_uri,
                req.state.as_deref(),
                &error,
            ));
        }
    };
    let ids: Vec<i64> = mine
        .iter()
        .filter(|s| slugs.contains(&s.slug))
        .map(|s| s.id)
        .collect();
    let grant_id = grants::insert_grant(
        &mut tx,
        account.id,
        &req.client_id,
        &req.scope,
        &req.redirect_uri,
        &ids,
        now,
    )
    .await?;
    let code = SecretToken::generate("gh_ac_");
    // The code's resources (RFC 8707): `/mcp` alone when only it was asked for (the grant's
    // servers are what it presents; its token must not open `/mcp/{slug}` too); otherwise
    // the granted servers, and `/mcp` beside them when it was asked for as well.
    let resources = match (aggregate, requested.is_empty()) {
        (true, true) => vec![AGGREGATE.to_owned()],
        (true, false) => slugs
            .iter()
            .cloned()
            .chain([AGGREGATE.to_owned()])
            .collect(),
        (false, _) => slugs.clone(),
    };
    let new_code = grants::NewCode {
        grant_id,
        client_id: &req.client_id,
        redirect_uri: &req.redirect_uri,
        code_challenge: &req.code_challenge,
        resources: &resources,
    };
    let code_ttl = core.config.code_ttl.as_secs() as i64;
    grants::insert_code(&mut *tx, &code.hash(), &new_code, now + code_ttl).await?;
    activity::record_about(
        &mut tx,
        &actor,
        Some(account.id),
        "consent.granted",
        About {
            client: Some(req.client_id.as_str()),
            ..About::default()
        },
        format!("client {} → {}", req.client_id, slugs.join(", ")),
        now,
    )
    .await?;
    tx.commit().await?;
    let issuer = core.public_url.issuer();
    let mut params = vec![("code", code.expose())];
    if let Some(state) = req.state.as_deref() {
        params.push(("state", state));
    }
    params.push(("iss", &issuer));
    Ok(authorize::redirect_url(&req.redirect_uri, &params))
}

/// True when the handle names a pending request (used to route sign-in back to consent).
pub async fn request_exists(core: &Core, handle: &str) -> Result<bool, ServiceError> {
    Ok(
        grants::get_request(&core.pool, &SecretHash::of(handle), clock::now())
            .await?
            .is_some(),
    )
}
