//! `Password`: a candidate password held as a secret, with the length policy applied.

use secrecy::{ExposeSecret, SecretString};

/// NIST SP 800-63B: at least 8 characters, long passphrases allowed, no composition rules.
pub struct Password(SecretString);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("a password needs at least 8 characters")]
    TooShort,
    #[error("a password can have at most 256 characters")]
    TooLong,
}

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 256;

    pub fn parse(input: String) -> Result<Self, PasswordError> {
        let chars = input.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(PasswordError::TooShort);
        }
        if chars > Self::MAX_CHARS {
            return Err(PasswordError::TooLong);
        }
        Ok(Self(SecretString::from(input)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_length_policy() {
        assert_eq!(
            Password::parse("short".into()).err(),
            Some(PasswordError::TooShort)
        );
        assert!(Password::parse("long enough".into()).is_ok());
        assert_eq!(
            Password::parse("x".repeat(257)).err(),
            Some(PasswordError::TooLong)
        );
    }

    #[test]
    fn debug_never_shows_the_password() {
        let p = Password::parse("hunter22hunter".into()).ok();
        assert!(!format!("{p:?}").contains("hunter"));
    }
}
