//! AES-256-GCM for upstream tokens and URLs (DESIGN.md §6): a random 96-bit nonce per value,
//! associated data binding the value to its row and user, and the key id stored with every
//! ciphertext so keys can rotate. The first key encrypts; every key decrypts.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use secrecy::ExposeSecret;

use crate::config::EncryptionKey;
use crate::domain::UserId;

/// Ciphertexts read `gh1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`.
const PREFIX: &str = "gh1";

/// What a ciphertext is bound to: decrypting it for another row, column or user fails.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row_id: i64,
    pub user: UserId,
}

impl Binding<'_> {
    fn aad(&self) -> Vec<u8> {
        format!(
            "gatehouse:{PREFIX}:{}:{}:{}:{}",
            self.table, self.column, self.row_id, self.user
        )
        .into_bytes()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error("no encryption key is configured")]
    NoKey,
    #[error("the value is not a Gatehouse ciphertext")]
    Malformed,
    #[error("the value was encrypted with key '{0}', which is not configured")]
    UnknownKey(String),
    #[error(
        "the value cannot be decrypted with key '{0}' (wrong key, or it belongs to another row)"
    )]
    Invalid(String),
}

pub struct Cipher {
    keys: Vec<(String, Aes256Gcm)>,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        write!(f, "Cipher(keys: {ids:?})")
    }
}

impl Cipher {
    pub fn new(keys: &[EncryptionKey]) -> Result<Self, CipherError> {
        if keys.is_empty() {
            return Err(CipherError::NoKey);
        }
        let keys = keys
            .iter()
            .map(|k| {
                (
                    k.id.clone(),
                    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(k.key.expose_secret())),
                )
            })
            .collect();
        Ok(Self { keys })
    }

    /// The id of the key that encrypts new values.
    pub fn current_key_id(&self) -> &str {
        self.keys
            .first()
            .map(|(id, _)| id.as_str())
            .unwrap_or_default()
    }

    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(id, _)| id.as_str())
    }

    pub fn encrypt(&self, plaintext: &[u8], binding: Binding<'_>) -> Result<String, CipherError> {
        let (id, key) = self.keys.first().ok_or(CipherError::NoKey)?;
        self.encrypt_with(id, key, plaintext, &binding.aad())
    }

    fn encrypt_with(
        &self,
        id: &str,
        key: &Aes256Gcm,
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<String, CipherError> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = key
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| CipherError::Invalid(id.to_owned()))?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}.{id}.{}", URL_SAFE_NO_PAD.encode(blob)))
    }

    pub fn decrypt(&self, stored: &str, binding: Binding<'_>) -> Result<Vec<u8>, CipherError> {
        self.decrypt_aad(stored, &binding.aad())
    }

    /// Like [`Cipher::decrypt`], for values stored as text (URLs, tokens, credentials).
    pub fn decrypt_text(&self, stored: &str, binding: Binding<'_>) -> Result<String, CipherError> {
        String::from_utf8(self.decrypt(stored, binding)?).map_err(|_| CipherError::Malformed)
    }

    fn decrypt_aad(&self, stored: &str, aad: &[u8]) -> Result<Vec<u8>, CipherError> {
        let id = key_id_of(stored).ok_or(CipherError::Malformed)?;
        let blob = stored
            .rsplit('.')
            .next()
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .ok_or(CipherError::Malformed)?;
        if blob.len() < 12 + 16 {
            return Err(CipherError::Malformed);
        }
        let (_, key) = self
            .keys
            .iter()
            .find(|(k, _)| k == id)
            .ok_or_else(|| CipherError::UnknownKey(id.to_owned()))?;
        let (nonce, sealed) = blob.split_at(12);
        key.decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad })
            .map_err(|_| CipherError::Invalid(id.to_owned()))
    }

    /// Re-encrypts a value under the current key if another key sealed it (key rotation).
    pub fn reencrypt(
        &self,
        stored: &str,
        binding: Binding<'_>,
    ) -> Result<Option<String>, CipherError> {
        if key_id_of(stored) == Some(self.current_key_id()) {
            return Ok(None);
        }
        let plaintext = self.decrypt(stored, binding)?;
        self.encrypt(&plaintext, binding).map(Some)
    }

    /// A key-check value for `id`: proves later that a configured key is the same key.
    pub fn check_value(&self, id: &str) -> Result<String, CipherError> {
        let (_, key) = self
            .keys
            .iter()
            .find(|(k, _)| k == id)
            .ok_or_else(|| CipherError::UnknownKey(id.to_owned()))?;
        self.encrypt_with(id, key, CHECK_PLAINTEXT, &check_aad(id))
    }

    /// True iff the stored check value for `id` opens with the configured key of that id.
    pub fn verify_check_value(&self, id: &str, stored: &str) -> bool {
        key_id_of(stored) == Some(id)
            && self
                .decrypt_aad(stored, &check_aad(id))
                .is_ok_and(|p| p == CHECK_PLAINTEXT)
    }
}

const CHECK_PLAINTEXT: &[u8] = b"gatehouse key check";

fn check_aad(id: &str) -> Vec<u8> {
    format!("gatehouse:{PREFIX}:key-check:{id}").into_bytes()
}

/// The key id a ciphertext names, if it is one.
pub fn key_id_of(stored: &str) -> Option<&str> {
    let mut parts = stored.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(PREFIX), Some(id), Some(_)) if !id.is_empty() => Some(id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretBox;

    fn key(id: &str, byte: u8) -> EncryptionKey {
        EncryptionKey {
            id: id.into(),
            key: SecretBox::new(Box::new([byte; 32])),
        }
    }

    fn at(row_id: i64, user: i64) -> Binding<'static> {
        Binding {
            table: "connections",
            column: "access_token",
            row_id,
            user: UserId::new(user),
        }
    }

    #[test]
    fn round_trip_with_fresh_nonces() {
        let c = Cipher::new(&[key("k1", 1)]).unwrap();
        let a = c.encrypt(b"ya29.secret", at(1, 7)).unwrap();
        let b = c.encrypt(b"ya29.secret", at(1, 7)).unwrap();
        assert_ne!(a, b, "a new nonce every time");
        assert!(a.starts_with("gh1.k1.") && !a.contains("secret"));
        assert_eq!(c.decrypt(&a, at(1, 7)).unwrap(), b"ya29.secret");
    }

    #[test]
    fn wrong_key_wrong_binding_and_unknown_key_fail() {
        let c = Cipher::new(&[key("k1", 1)]).unwrap();
        let sealed = c.encrypt(b"secret", at(1, 7)).unwrap();
        assert_eq!(
            c.decrypt(&sealed, at(2, 7)),
            Err(CipherError::Invalid("k1".into())),
            "another row"
        );
        assert_eq!(
            c.decrypt(&sealed, at(1, 8)),
            Err(CipherError::Invalid("k1".into())),
            "another user"
        );
        let other_column = Binding {
            column: "refresh_token",
            ..at(1, 7)
        };
        assert!(c.decrypt(&sealed, other_column).is_err());
        let impostor = Cipher::new(&[key("k1", 2)]).unwrap();
        assert_eq!(
            impostor.decrypt(&sealed, at(1, 7)),
            Err(CipherError::Invalid("k1".into())),
            "same id, other key"
        );
        let stranger = Cipher::new(&[key("k9", 1)]).unwrap();
        assert_eq!(
            stranger.decrypt(&sealed, at(1, 7)),
            Err(CipherError::UnknownKey("k1".into()))
        );
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(c.decrypt(&tampered, at(1, 7)).is_err());
        assert_eq!(
            c.decrypt("plaintext", at(1, 7)),
            Err(CipherError::Malformed)
        );
    }

    #[test]
    fn rotation_first_key_encrypts_all_decrypt() {
        let old = Cipher::new(&[key("old", 1)]).unwrap();
        let sealed = old.encrypt(b"token", at(3, 1)).unwrap();
        let both = Cipher::new(&[key("new", 2), key("old", 1)]).unwrap();
        assert_eq!(both.current_key_id(), "new");
        assert_eq!(both.decrypt(&sealed, at(3, 1)).unwrap(), b"token");
        let rotated = both.reencrypt(&sealed, at(3, 1)).unwrap().unwrap();
        assert_eq!(key_id_of(&rotated), Some("new"));
        assert_eq!(
            both.reencrypt(&rotated, at(3, 1)).unwrap(),
            None,
            "already current: nothing to do"
        );
        let only_new = Cipher::new(&[key("new", 2)]).unwrap();
        assert_eq!(only_new.decrypt(&rotated, at(3, 1)).unwrap(), b"token");
    }

    #[test]
    fn check_values_detect_a_wrong_key() {
        let c = Cipher::new(&[key("k1", 1)]).unwrap();
        let check = c.check_value("k1").unwrap();
        assert!(c.verify_check_value("k1", &check));
        assert!(!Cipher::new(&[key("k1", 9)])
            .unwrap()
            .verify_check_value("k1", &check));
        assert!(!c.verify_check_value("k2", &check));
    }

    #[test]
    fn debug_shows_ids_only() {
        let c = Cipher::new(&[key("k1", 1)]).unwrap();
        assert_eq!(format!("{c:?}"), "Cipher(keys: [\"k1\"])");
        assert!(Cipher::new(&[]).is_err());
    }
}
