//! First run: the one-time setup code that lets the first visitor create the administrator.
//! Its hash lives in `Core` only while no account exists.

use rand::Rng;

use super::accounts::{create_with_password, parse_credentials, Account};
use super::{Actor, ServiceError};
use crate::domain::SecretToken;
use crate::state::Core;
use crate::store::users;

/// Crockford base32 without look-alikes, grouped for reading off a terminal: 100 bits.
fn generate_setup_code() -> SecretToken {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut rng = rand::rngs::OsRng;
    let groups: Vec<String> = (0..4)
        .map(|_| {
            (0..5)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect()
        })
        .collect();
    SecretToken::from_display(groups.join("-"))
}

/// Setup codes are compared case-insensitively and ignoring spaces and hyphens.
fn normalize_setup_code(input: &str) -> String {
    let compact: String = input
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    compact
        .as_bytes()
        .chunks(5)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// Generates the one-time setup code when no account exists yet; the caller prints it.
pub async fn issue(core: &Core) -> Result<Option<SecretToken>, ServiceError> {
    if users::count(&core.pool).await? > 0 {
        return Ok(None);
    }
    let code = generate_setup_code();
    if let Ok(mut slot) = core.setup_code.lock() {
        *slot = Some(code.hash());
    }
    Ok(Some(code))
}

/// True iff `candidate` is the current setup code (constant-time).
fn matches(core: &Core, candidate: &str) -> bool {
    let normalized = normalize_setup_code(candidate);
    core.setup_code
        .lock()
        .ok()
        .and_then(|slot| slot.as_ref().map(|hash| hash.matches(&normalized)))
        .unwrap_or(false)
}

/// Ends setup (an account exists now).
pub(super) fn clear(core: &Core) {
    if let Ok(mut slot) = core.setup_code.lock() {
        *slot = None;
    }
}

/// True while the setup code is live. An account created meanwhile by another process
/// (`gatehouse user add --admin`) ends setup here too.
pub async fn pending(core: &Core) -> bool {
    let live = core
        .setup_code
        .lock()
        .map(|slot| slot.is_some())
        .unwrap_or(false);
    if !live {
        return false;
    }
    match users::count(&core.pool).await {
        Ok(0) => true,
        Ok(_) => {
            clear(core);
            false
        }
        Err(_) => false,
    }
}

/// First run: the visitor who knows the setup code creates the administrator.
pub async fn complete(
    core: &Core,
    ip: Option<std::net::IpAddr>,
    code: &str,
    username: &str,
    password: String,
) -> Result<Account, ServiceError> {
    if !matches(core, code) {
        return Err(ServiceError::Invalid(
            "that setup code is not right; copy it from the server's start-up output".into(),
        ));
    }
    let (name, password) = parse_credentials(username, password)?;
    let actor = Actor::anonymous(ip);
    let account = create_with_password(core, &actor, name, password, true, true).await?;
    clear(core);
    Ok(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_codes_normalize() {
        let code = generate_setup_code();
        assert_eq!(code.expose().len(), 23);
        assert_eq!(normalize_setup_code(code.expose()), code.expose());
        assert_eq!(
            normalize_setup_code(&code.expose().to_lowercase().replace('-', " ")),
            code.expose()
        );
    }
}
