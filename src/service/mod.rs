//! Use cases: load (store) → decide → write in one transaction. Called by `http/` handlers,
//! the app's server functions and the CLI alike.

pub mod accounts;
pub mod activity;
pub mod api_keys;
pub mod authorization;
mod bearer;
mod cimd;
pub mod client_admin;
pub mod clients;
pub mod doctor;
pub mod maintenance;
pub mod mcp_sessions;
pub mod servers;
pub mod setup;
pub mod startup;
pub mod stats;
pub mod token_admin;
pub mod tokens;
pub mod upstream;

use std::net::IpAddr;

use crate::domain::UserId;

/// What went wrong, in terms a caller can map to a response once.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input was refused; the message is safe to show the user.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error("wrong username or password")]
    BadCredentials,
    #[error("not allowed")]
    Forbidden,
    /// Too much work at once (password hashing): try again in a moment.
    #[error("Gatehouse is busy; try again in a moment")]
    Busy,
    /// An internal failure: logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for ServiceError {
    fn from(err: sqlx::Error) -> Self {
        ServiceError::Internal(format!("database: {err}"))
    }
}

impl From<crate::password::HashError> for ServiceError {
    fn from(err: crate::password::HashError) -> Self {
        match err {
            crate::password::HashError::Busy => ServiceError::Busy,
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

/// Who is acting, for authorization and the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: Option<UserId>,
    pub name: String,
    pub is_admin: bool,
    pub ip: Option<IpAddr>,
}

impl Actor {
    /// The operator at the command line.
    pub fn cli() -> Self {
        Self {
            user: None,
            name: "cli".into(),
            is_admin: true,
            ip: None,
        }
    }

    /// The signed-in account acting on its own things; anyone else is refused.
    pub fn own_account(&self) -> Result<UserId, ServiceError> {
        self.user.ok_or(ServiceError::Forbidden)
    }

    /// Whether the actor may act on `user`'s things: the user itself, or the operator at
    /// the command line.
    pub fn may_act_for(&self, user: UserId) -> bool {
        self.user == Some(user) || (self.is_admin && self.user.is_none())
    }

    /// Gatehouse itself acting in the background (e.g. the vault refreshing a token).
    pub fn system(name: &str) -> Self {
        Self {
            user: None,
            name: name.into(),
            is_admin: false,
            ip: None,
        }
    }

    /// A visitor who has not signed in (e.g. first-run setup, sign-in attempts).
    pub fn anonymous(ip: Option<IpAddr>) -> Self {
        Self {
            user: None,
            name: "anonymous".into(),
            is_admin: false,
            ip,
        }
    }
}
