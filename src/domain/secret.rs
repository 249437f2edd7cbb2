//! Gatehouse-issued secrets: ≥ 256 random bits, shown once, stored only as SHA-256 hashes.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A freshly generated secret (`<prefix><base64url of 32 random bytes>`), held only long enough
/// to show it once. `Debug` prints the prefix and nothing more.
pub struct SecretToken {
    value: String,
    prefix_len: usize,
}

/// The SHA-256 of a secret, hex encoded: what the database stores and looks up by.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash(String);

impl SecretToken {
    pub fn generate(prefix: &str) -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self {
            value: format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)),
            prefix_len: prefix.len(),
        }
    }

    /// Wraps a secret generated elsewhere (e.g. a human-readable setup code).
    pub(crate) fn from_display(secret: String) -> Self {
        Self {
            value: secret,
            prefix_len: 0,
        }
    }

    pub fn expose(&self) -> &str {
        &self.value
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.value)
    }
}

impl std::fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretToken({}…)", &self.value[..self.prefix_len])
    }
}

impl SecretHash {
    pub fn of(secret: &str) -> Self {
        // Hashed on every gateway call (the bearer's cache key): no `format!` per byte.
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let digest = Sha256::digest(secret.as_bytes());
        let mut hex = String::with_capacity(64);
        for byte in digest {
            hex.push(DIGITS[usize::from(byte >> 4)] as char);
            hex.push(DIGITS[usize::from(byte & 0xf)] as char);
        }
        Self(hex)
    }

    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time: a secret's hash is compared without leaking how many bytes matched.
    pub fn matches(&self, candidate: &str) -> bool {
        let other = Self::of(candidate);
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretHash({}…)", &self.0[..8.min(self.0.len())])
    }
}

/// Constant-time equality of two secret strings (e.g. a CSRF token against the session's).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Tokens and handles Gatehouse puts in URLs are base64url: checking the shape before one
/// goes back into a `Location` header keeps a crafted path (CR/LF, `//host`) out of it.
pub fn is_token_shaped(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_have_prefix_and_256_bits() {
        let t = SecretToken::generate("gh_sk_");
        let body = t.expose().strip_prefix("gh_sk_").unwrap_or_default();
        assert_eq!(URL_SAFE_NO_PAD.decode(body).map(|b| b.len()).ok(), Some(32));
        assert_ne!(t.expose(), SecretToken::generate("gh_sk_").expose());
    }

    #[test]
    fn hash_matches_only_its_secret() {
        let t = SecretToken::generate("x_");
        let h = t.hash();
        assert!(h.matches(t.expose()));
        assert!(!h.matches("x_other"));
        assert_eq!(h.as_str().len(), 64);
    }

    #[test]
    fn the_hash_is_sha256_in_lowercase_hex_as_stored() {
        // Stored hashes of existing databases must still match.
        assert_eq!(
            SecretHash::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn debug_shows_prefix_only() {
        let t = SecretToken::generate("gh_at_");
        let shown = format!("{t:?}");
        assert!(shown.contains("gh_at_"));
        assert!(!shown.contains(&t.expose()[6..]));
    }

    #[test]
    fn constant_time_eq_compares_content() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
