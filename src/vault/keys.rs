//! Where the encryption keys come from, and the start-up checks of DESIGN.md §6:
//! `GATEHOUSE_ENCRYPTION_KEYS`, else `<data dir>/encryption.key`, else a key generated there —
//! but only while nothing has been encrypted yet. A key-check value per key id proves at every
//! start that a configured key is the key that encrypted the data.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::{engine::general_purpose::STANDARD, Engine};
use rand::RngCore;
use secrecy::SecretBox;
use sqlx::AnyPool;

use super::cipher::Cipher;
use crate::config::{Config, ConfigError, EncryptionKey};
use crate::store::encryption as stored;

pub const KEY_FILE: &str = "encryption.key";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Environment,
    File(PathBuf),
    /// Generated now: the operator must back it up, apart from the database.
    Generated(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("cannot write the new encryption key to {path}: {source}. Fix: make the data directory writable or set GATEHOUSE_ENCRYPTION_KEYS")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "cannot read {path}: {source}. Fix: restore the key file or set GATEHOUSE_ENCRYPTION_KEYS"
    )]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("GATEHOUSE_ENCRYPTION_KEYS: key '{0}' is not the key this database was encrypted with. Fix: configure the original key (a new key goes first in the list, the old ones stay after it)")]
    WrongKey(String),
    #[error("GATEHOUSE_ENCRYPTION_KEYS: stored values are encrypted with key '{0}', which is not configured. Fix: add that key to the list")]
    MissingKey(String),
    #[error("GATEHOUSE_ENCRYPTION_KEYS: no key is configured but encrypted values exist. Fix: set GATEHOUSE_ENCRYPTION_KEYS or restore {0}")]
    Lost(String),
    #[error("database error while checking keys: {0}")]
    Database(#[from] sqlx::Error),
}

/// The configured keys, the key file's, or a new one (when `anything_encrypted` is false).
pub fn load_or_generate(
    config: &Config,
    anything_encrypted: bool,
) -> Result<(Vec<EncryptionKey>, KeySource), KeyError> {
    if let Some(keys) = &config.encryption_keys {
        return Ok((clone_keys(keys), KeySource::Environment));
    }
    let path = config.data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let keys = crate::config::parse_keys(text.trim()).map_err(|mut e| {
                e.setting = path.display().to_string();
                e
            })?;
            Ok((keys, KeySource::File(path)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if anything_encrypted {
                return Err(KeyError::Lost(path.display().to_string()));
            }
            let key = generate(&path)?;
            Ok((vec![key], KeySource::Generated(path)))
        }
        Err(source) => Err(KeyError::Read {
            path: path.display().to_string(),
            source,
        }),
    }
}

fn clone_keys(keys: &[EncryptionKey]) -> Vec<EncryptionKey> {
    use secrecy::ExposeSecret;
    keys.iter()
        .map(|k| EncryptionKey {
            id: k.id.clone(),
            key: SecretBox::new(Box::new(*k.key.expose_secret())),
        })
        .collect()
}

/// Writes a new random key, readable by the owner only, refusing to overwrite one.
fn generate(path: &Path) -> Result<EncryptionKey, KeyError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let line = format!("k1:{}\n", STANDARD.encode(bytes));
    let err = |source| KeyError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(err)?;
    file.write_all(line.as_bytes()).map_err(err)?;
    file.sync_all().map_err(err)?;
    Ok(EncryptionKey {
        id: "k1".into(),
        key: SecretBox::new(Box::new(bytes)),
    })
}

/// Everything start-up needs, for the server and the CLI alike: the keys (loaded or
/// generated), the cipher, and the check against the database.
pub async fn open(pool: &AnyPool, config: &Config) -> Result<(Cipher, KeySource), KeyError> {
    let encrypted = stored::anything_encrypted(pool).await?;
    let (keys, source) = load_or_generate(config, encrypted)?;
    let cipher = Cipher::new(&keys)
        .map_err(|_| KeyError::Lost(config.data_dir.join(KEY_FILE).display().to_string()))?;
    verify(pool, &cipher, crate::clock::now()).await?;
    Ok((cipher, source))
}

/// Start-up check: every configured key matches its stored check value (new ids get one),
/// and no stored ciphertext names a key that is not configured.
pub async fn verify(pool: &AnyPool, cipher: &Cipher, now: i64) -> Result<(), KeyError> {
    for id in cipher.key_ids() {
        match stored::check_value(pool, id).await? {
            Some(check) if cipher.verify_check_value(id, &check) => {}
            Some(_) => return Err(KeyError::WrongKey(id.to_owned())),
            None => {
                let check = cipher
                    .check_value(id)
                    .map_err(|_| KeyError::WrongKey(id.to_owned()))?;
                stored::insert_check_value(pool, id, &check, now).await?;
                // Another instance may have stored its own key's value first.
                match stored::check_value(pool, id).await? {
                    Some(stored) if cipher.verify_check_value(id, &stored) => {}
                    _ => return Err(KeyError::WrongKey(id.to_owned())),
                }
            }
        }
    }
    let configured: Vec<&str> = cipher.key_ids().collect();
    if let Some(missing) = stored::key_ids_in_use(pool)
        .await?
        .into_iter()
        .find(|id| !configured.contains(&id.as_str()))
    {
        return Err(KeyError::MissingKey(missing));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn config(dir: &Path, keys: Option<&str>) -> Config {
        let mut env = BTreeMap::new();
        env.insert("GATEHOUSE_DATA_DIR".to_owned(), dir.display().to_string());
        if let Some(k) = keys {
            env.insert("GATEHOUSE_ENCRYPTION_KEYS".to_owned(), k.to_owned());
        }
        Config::from_sources(None, &env).unwrap()
    }

    #[test]
    fn generates_a_private_key_file_once_then_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, source) = load_or_generate(&config(dir.path(), None), false).unwrap();
        assert_eq!(keys[0].id, "k1");
        let path = dir.path().join(KEY_FILE);
        assert_eq!(source, KeySource::Generated(path.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let (again, source) = load_or_generate(&config(dir.path(), None), true).unwrap();
        assert_eq!(source, KeySource::File(path));
        use secrecy::ExposeSecret;
        assert_eq!(again[0].key.expose_secret(), keys[0].key.expose_secret());
    }

    #[test]
    fn never_generates_when_ciphertexts_exist() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            load_or_generate(&config(dir.path(), None), true),
            Err(KeyError::Lost(_))
        ));
        assert!(!dir.path().join(KEY_FILE).exists());
    }

    #[test]
    fn environment_keys_win() {
        let dir = tempfile::tempdir().unwrap();
        let k = STANDARD.encode([3u8; 32]);
        let (keys, source) =
            load_or_generate(&config(dir.path(), Some(&format!("env1:{k}"))), false).unwrap();
        assert_eq!(
            (keys[0].id.as_str(), source),
            ("env1", KeySource::Environment)
        );
        assert!(!dir.path().join(KEY_FILE).exists());
    }

    #[test]
    fn a_corrupt_key_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), "garbage").unwrap();
        let err = load_or_generate(&config(dir.path(), None), false)
            .unwrap_err()
            .to_string();
        assert!(err.contains(KEY_FILE) && err.contains("Fix:"), "{err}");
    }
}
