//! Encryption keys at start-up (DESIGN.md §6): generated once into the data directory, and a
//! wrong key stops start-up with one clear line.

use base64::{engine::general_purpose::STANDARD, Engine};

use crate::helpers::*;

#[tokio::test]
async fn first_run_generates_a_private_key_file_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = gatehouse_app::server::build(test_config(dir.path(), &[]))
        .await
        .unwrap();
    assert!(matches!(
        server.key_source,
        gatehouse::vault::keys::KeySource::Generated(_)
    ));
    let path = dir.path().join("encryption.key");
    let first = std::fs::read_to_string(&path).unwrap();
    assert!(first.starts_with("k1:"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    drop(server);
    let again = gatehouse_app::server::build(test_config(dir.path(), &[]))
        .await
        .unwrap();
    assert!(matches!(
        again.key_source,
        gatehouse::vault::keys::KeySource::File(_)
    ));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        first,
        "never regenerated"
    );
}

#[tokio::test]
async fn restart_with_wrong_key_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let right = format!("k1:{}", STANDARD.encode([1u8; 32]));
    let wrong = format!("k1:{}", STANDARD.encode([2u8; 32]));
    drop(
        gatehouse_app::server::build(test_config(
            dir.path(),
            &[("GATEHOUSE_ENCRYPTION_KEYS", &right)],
        ))
        .await
        .unwrap(),
    );
    let err = match gatehouse_app::server::build(test_config(
        dir.path(),
        &[("GATEHOUSE_ENCRYPTION_KEYS", &wrong)],
    ))
    .await
    {
        Ok(_) => panic!("a wrong key must stop start-up"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("GATEHOUSE_ENCRYPTION_KEYS")
            && err.contains("key 'k1' is not the key")
            && err.contains("Fix:"),
        "{err}"
    );
    assert!(
        !err.contains(&wrong[3..]),
        "the key never appears in messages"
    );
    // Adding a new key in front of the right one is how rotation starts: accepted.
    let rotated = format!("k2:{},{right}", STANDARD.encode([9u8; 32]));
    assert!(gatehouse_app::server::build(test_config(
        dir.path(),
        &[("GATEHOUSE_ENCRYPTION_KEYS", &rotated)]
    ))
    .await
    .is_ok());
}
