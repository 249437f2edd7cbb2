//! Password hashing: argon2id with OWASP parameters, always off the async runtime.

use std::sync::LazyLock;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::domain::Password;

/// OWASP: m = 19 MiB, t = 2, p = 1.
fn hasher() -> Argon2<'static> {
    #[allow(clippy::unwrap_used)] // constant, valid parameters
    let params = Params::new(19_456, 2, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Verified against for unknown users, so "no such user" costs what "wrong password" costs.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(b"gatehouse-dummy-password", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

pub async fn hash(password: Password) -> Result<String, HashError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| HashError(e.to_string()))
    })
    .await
    .map_err(|e| HashError(e.to_string()))?
}

/// True iff `candidate` matches `stored`; with no stored hash it still spends the same work.
pub async fn verify(candidate: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let has_user = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let matches = PasswordHash::new(&phc)
            .map(|parsed| {
                hasher()
                    .verify_password(candidate.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        has_user && matches
    })
    .await
    .unwrap_or(false)
}

/// Computes the dummy hash ahead of the first sign-in so its cost is not on that request.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> Password {
        Password::parse(s.to_owned()).unwrap_or_else(|_| unreachable!())
    }

    #[tokio::test]
    async fn hash_then_verify() -> Result<(), HashError> {
        let stored = hash(pw("correct horse battery")).await?;
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("correct horse battery".into(), Some(stored.clone())).await);
        assert!(!verify("wrong horse battery".into(), Some(stored)).await);
        Ok(())
    }

    #[tokio::test]
    async fn unknown_user_never_verifies() {
        assert!(!verify("gatehouse-dummy-password".into(), None).await);
    }

    #[tokio::test]
    async fn garbage_hash_does_not_verify() {
        assert!(!verify("anything at all".into(), Some("not-a-phc-string".into())).await);
    }
}
