//! What the Servers page and `gatehouse status` show per server: provider, account, scopes
//! and the connection's state.

use crate::clock::UnixTime;
use crate::domain::UserId;
use crate::service::servers::{self, ServerEntry};
use crate::service::ServiceError;
use crate::state::Core;
use crate::store::connections::{self, ConnectionRow};
use crate::vault::provider::{endpoints, Choice, Kind, Resolved};

use super::native::{self, Discovery, Outcome};

/// A token expiring within this long is shown as *Expires soon*.
pub const EXPIRES_SOON_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Connected,
    ExpiresSoon,
    /// The access token has expired; the next use refreshes it.
    Expired,
    NeedsReauth,
    NotConnected,
    /// No OAuth connection, and none needed: the server's static credential is sent.
    StaticCredential,
    /// No connection, and the last probe found the server needs none.
    Open,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Connected => "Connected",
            State::ExpiresSoon => "Expires soon",
            State::Expired => "Expired",
            State::NeedsReauth => "Needs re-authentication",
            State::NotConnected => "Not connected",
            State::StaticCredential => "Static credential",
            State::Open => "Open",
        }
    }

    pub fn of(connection: Option<&ConnectionRow>, now: UnixTime) -> Self {
        match connection {
            None => State::NotConnected,
            Some(c) if c.status == connections::NEEDS_REAUTH => State::NeedsReauth,
            Some(c) => match c.expires_at {
                Some(at) if at <= now => State::Expired,
                Some(at) if at - now <= EXPIRES_SOON_SECS => State::ExpiresSoon,
                _ => State::Connected,
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServerStatus {
    pub server: ServerEntry,
    /// `None` when the URL cannot be decrypted.
    pub provider: Option<Resolved>,
    /// Whose account the server needs, as the page shows it ("Google (Gmail)", "Static
    /// credential", "Unknown").
    pub provider_label: String,
    /// The stored provider choice's key ("detect" when none), for the chooser.
    pub provider_choice: String,
    pub connection: Option<ConnectionRow>,
    pub state: State,
    /// Other servers connected with the same Google account (one grant for all of them).
    pub shares_grant_with: Vec<String>,
    /// Whether *Authenticate* can start (a provider is configured for this server).
    pub can_authenticate: bool,
    /// Why not, when it cannot.
    pub cannot_because: Option<String>,
    /// The server signs in through its own authorization server (so it can be checked).
    pub own_sign_in: bool,
    /// What the last probe found (servers with their own sign-in, or probed open ones).
    pub discovery: Option<Discovery>,
}

pub async fn list(
    core: &Core,
    user: UserId,
    now: UnixTime,
) -> Result<Vec<ServerStatus>, ServiceError> {
    let entries = servers::list_of(core, user).await?;
    let rows = connections::list_for_user(&core.pool, user).await?;
    let discoveries = native::discoveries(core, user).await?;
    let google_accounts: Vec<(i64, Option<String>)> = rows
        .iter()
        .filter(|c| c.provider == "google")
        .map(|c| (c.id, c.account.clone()))
        .collect();
    let slug_of = |id: i64| entries.iter().find(|e| e.id == id).map(|e| e.slug.clone());
    let mut out = Vec::with_capacity(entries.len());
    for server in &entries {
        let connection = rows.iter().find(|c| c.id == server.id).cloned();
        let provider = server.provider(&core.config);
        let shares_grant_with = match &connection {
            Some(c) if c.provider == "google" => google_accounts
                .iter()
                .filter(|(id, account)| *id != c.id && *account == c.account)
                .filter_map(|(id, _)| slug_of(*id))
                .collect(),
            _ => Vec::new(),
        };
        let discovery = discoveries
            .iter()
            .find(|(id, _)| *id == server.id)
            .map(|(_, d)| d.clone());
        let blocked = match &provider {
            None => Some("the upstream URL cannot be decrypted".to_owned()),
            Some(p) if p.kind == Kind::Native => match &discovery {
                Some(d) if d.outcome == Outcome::OAuth => None,
                Some(d) if d.outcome == Outcome::Open => {
                    Some("the server answered without authorization: it needs no sign-in".into())
                }
                Some(d) => Some(format!(
                    "{}. Fix it and use Check, store a static credential, or choose a provider",
                    d.message
                        .as_deref()
                        .unwrap_or("its sign-in could not be found")
                )),
                None => Some("its sign-in has not been looked for yet: use Check".into()),
            },
            Some(p) => endpoints(&core.config, &p.kind)
                .err()
                .map(|e| e.to_string()),
        };
        let can_authenticate = blocked.is_none();
        let probed_open = discovery
            .as_ref()
            .is_some_and(|d| d.outcome == Outcome::Open);
        // A static credential is what the gateway sends when there is no connection; then
        // there is nothing to explain. Nor for a server found to be open.
        let (state, blocked) = match State::of(connection.as_ref(), now) {
            State::NotConnected if server.has_static_credential => (State::StaticCredential, None),
            State::NotConnected if probed_open => (State::Open, None),
            state => (state, blocked),
        };
        let provider_label = match &provider {
            Some(p) if p.kind == Kind::None && server.has_static_credential => {
                "Static credential".to_owned()
            }
            Some(p) => p.label.clone(),
            None => "Unknown".to_owned(),
        };
        let provider_choice = Choice::parse(server.provider_choice.as_deref(), &core.config)
            .and_then(|c| c.key())
            .unwrap_or_else(|| "detect".into());
        let own_sign_in = provider.as_ref().is_some_and(|p| p.kind == Kind::Native);
        out.push(ServerStatus {
            provider_label,
            provider_choice,
            state,
            can_authenticate,
            cannot_because: blocked,
            server: server.clone(),
            provider,
            connection,
            shares_grant_with,
            own_sign_in,
            discovery,
        });
    }
    Ok(out)
}

/// Every provider choice offered for a server: (key, label).
pub fn provider_options(core: &Core) -> Vec<(String, String)> {
    Choice::options(&core.config)
}

/// "in 59 min", "in 2 h", "3 min ago": a short relative time for pages and the CLI.
pub fn relative(at: UnixTime, now: UnixTime) -> String {
    let delta = at - now;
    let amount = |secs: i64| match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 86400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86400),
    };
    if delta == 0 {
        "just now".to_owned()
    } else if delta > 0 {
        format!("in {}", amount(delta))
    } else {
        format!("{} ago", amount(-delta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: &str, expires_at: Option<UnixTime>) -> ConnectionRow {
        ConnectionRow {
            id: 1,
            user_id: UserId::new(1),
            provider: "google".into(),
            account: None,
            scopes: String::new(),
            access_token: String::new(),
            refresh_token: None,
            expires_at,
            status: status.into(),
            last_refresh_at: None,
            last_error: None,
            lease_owner: None,
            lease_until: None,
            connected_at: 0,
        }
    }

    #[test]
    fn states() {
        let now = 1_000_000;
        assert_eq!(State::of(None, now), State::NotConnected);
        assert_eq!(
            State::of(Some(&row("connected", None)), now),
            State::Connected
        );
        assert_eq!(
            State::of(Some(&row("connected", Some(now + 3600))), now),
            State::Connected
        );
        assert_eq!(
            State::of(Some(&row("connected", Some(now + 299))), now),
            State::ExpiresSoon
        );
        assert_eq!(
            State::of(Some(&row("connected", Some(now))), now),
            State::Expired
        );
        assert_eq!(
            State::of(Some(&row("needs_reauth", Some(now + 3600))), now),
            State::NeedsReauth
        );
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative(100 + 59 * 60 + 30, 100), "in 59 min");
        assert_eq!(relative(100, 100 + 180), "3 min ago");
        assert_eq!(relative(100 + 7200, 100), "in 2 h");
        assert_eq!(relative(100, 100), "just now");
    }
}
