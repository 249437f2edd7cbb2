//! Typed domain values: each parses on construction, so holding one proves it is valid.

mod client_id;
mod password;
mod pkce;
mod principal;
mod redirect_uri;
mod resource;
pub mod scope;
pub mod secret;
mod slug;
mod upstream_url;
mod user_id;
mod username;

pub use client_id::{ClientId, ClientIdError};
pub use password::{Password, PasswordError};
pub use pkce::{CodeChallenge, PkceError, PkceVerifier};
pub use principal::{Principal, Via};
pub use redirect_uri::{RedirectKind, RedirectUri, RedirectUriError};
pub use resource::{ResourceError, ResourceUri, AGGREGATE};
pub use scope::ScopeSet;
pub use secret::{SecretHash, SecretToken};
pub use slug::{ServerSlug, SlugError};
pub use upstream_url::{UpstreamUrl, UpstreamUrlError};
pub use user_id::UserId;
pub use username::{Username, UsernameError};

/// Seconds since the Unix epoch, the unit every stored timestamp uses.
pub type UnixTime = i64;
