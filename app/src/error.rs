//! `AppError`: what server functions return to pages. It never carries server internals.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Please sign in.")]
    SignInRequired,
    #[error("Your account may not do this.")]
    Forbidden,
    #[error("Not found")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    #[error("This form was not accepted because its security token is missing or stale. Reload the page and try again.")]
    Csrf,
    #[error("Too many attempts. Wait {0} seconds, then try again.")]
    RateLimited(u64),
    #[error("Gatehouse is busy. Try again in a moment.")]
    Busy,
    #[error("Something went wrong on the server. It has been logged.")]
    Internal,
    #[error("Could not reach the server ({0}).")]
    Transport(String),
}

impl AppError {
    /// The title of the page a browser without JavaScript sees for this error.
    pub fn title(&self) -> &'static str {
        match self {
            AppError::SignInRequired => "Sign-in required",
            AppError::Forbidden => "Not allowed",
            AppError::NotFound => "Not found",
            AppError::Invalid(_) => "Not accepted",
            AppError::Csrf => "Form expired",
            AppError::RateLimited(_) => "Too many attempts",
            AppError::Busy => "Busy",
            AppError::Internal | AppError::Transport(_) => "Something went wrong",
        }
    }

    /// The HTTP status a server function answers with this error.
    pub fn status(&self) -> u16 {
        match self {
            AppError::SignInRequired => 401,
            AppError::Forbidden | AppError::Csrf => 403,
            AppError::NotFound => 404,
            AppError::Invalid(_) => 400,
            AppError::RateLimited(_) => 429,
            AppError::Busy => 503,
            AppError::Internal | AppError::Transport(_) => 500,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<gatehouse::service::ServiceError> for AppError {
    fn from(err: gatehouse::service::ServiceError) -> Self {
        use gatehouse::service::ServiceError as E;
        match err {
            E::Invalid(msg) | E::Conflict(msg) => {
                AppError::Invalid(gatehouse::http::session::sentence(&msg))
            }
            E::NotFound => AppError::NotFound,
            E::BadCredentials => {
                AppError::Invalid(gatehouse::http::session::sentence(&err.to_string()))
            }
            E::Forbidden => AppError::Forbidden,
            E::Busy => AppError::Busy,
            E::Internal(cause) => {
                tracing::error!(%cause, "server function failed");
                AppError::Internal
            }
        }
    }
}

#[cfg(feature = "ssr")]
impl From<gatehouse::http::error::WebError> for AppError {
    fn from(err: gatehouse::http::error::WebError) -> Self {
        tracing::error!(%err, "session access failed");
        AppError::Internal
    }
}
