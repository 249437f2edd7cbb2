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
    #[error("Not found.")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    #[error("Something went wrong on the server. It has been logged.")]
    Internal,
    #[error("Could not reach the server ({0}).")]
    Transport(String),
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
            E::Invalid(msg) | E::Conflict(msg) => AppError::Invalid(msg),
            E::NotFound => AppError::NotFound,
            E::BadCredentials => AppError::Invalid(err.to_string()),
            E::Forbidden => AppError::Forbidden,
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
