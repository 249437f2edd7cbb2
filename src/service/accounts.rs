//! Accounts: first-run setup, sign-in, sign-up, invites and passwords.

use super::{activity, Actor, ServiceError};
use crate::clock::{self, UnixTime};
use crate::domain::{Password, SecretHash, SecretToken, UserId, Username};
use crate::password;
use crate::state::Core;
use crate::store::{self, invites, users};

/// An invite link is valid for 7 days.
pub const INVITE_TTL_SECS: UnixTime = 7 * 86400;

/// A signed-in account, as the web layer keeps it in the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: UserId,
    pub username: String,
    pub is_admin: bool,
    /// Changes with every password change: sessions signed in with another version end.
    pub password_version: i64,
    /// A disabled account is signed out everywhere and its tokens and keys stop.
    pub disabled: bool,
}

impl Account {
    pub fn actor(&self, ip: Option<std::net::IpAddr>) -> Actor {
        Actor {
            user: Some(self.id),
            name: self.username.clone(),
            is_admin: self.is_admin,
            ip,
        }
    }
}

impl From<users::UserRow> for Account {
    fn from(row: users::UserRow) -> Self {
        Self {
            id: row.id,
            username: row.username,
            is_admin: row.is_admin,
            password_version: row.password_version,
            disabled: row.disabled,
        }
    }
}

pub(super) fn parse_credentials(
    username: &str,
    password: String,
) -> Result<(Username, Password), ServiceError> {
    let name = Username::parse(username).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let password = Password::parse(password).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    Ok((name, password))
}

/// Creates an account with a password; the first account is always an administrator.
pub(super) async fn create_with_password(
    core: &Core,
    actor: &Actor,
    name: Username,
    password: Password,
    is_admin: bool,
    only_if_first: bool,
) -> Result<Account, ServiceError> {
    let hash = password::hash(password).await?;
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    let existing = users::count(&mut *tx).await?;
    if only_if_first && existing > 0 {
        return Err(ServiceError::Forbidden);
    }
    let is_admin = is_admin || existing == 0;
    let id = match users::insert(&mut *tx, &name, Some(&hash), is_admin, now).await {
        Ok(id) => id,
        Err(e) if store::is_unique_violation(&e) => {
            return Err(ServiceError::Conflict(format!(
                "the username '{name}' is taken"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let role = if is_admin { "administrator" } else { "user" };
    activity::record(
        &mut tx,
        actor,
        Some(id),
        "user.created",
        format!("{name} ({role})"),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Account {
        id,
        username: name.to_string(),
        is_admin,
        password_version: 0,
        disabled: false,
    })
}

/// Open sign-up (only when `GATEHOUSE_OPEN_SIGNUP=true` and an administrator exists).
pub async fn sign_up(
    core: &Core,
    ip: Option<std::net::IpAddr>,
    username: &str,
    password: String,
) -> Result<Account, ServiceError> {
    if !core.config.open_signup || super::setup::pending(core).await {
        return Err(ServiceError::Forbidden);
    }
    let (name, password) = parse_credentials(username, password)?;
    create_with_password(core, &Actor::anonymous(ip), name, password, false, false).await
}

/// Checks a password; unknown users cost the same argon2 work as known ones.
pub async fn sign_in(
    core: &Core,
    ip: Option<std::net::IpAddr>,
    username: &str,
    password: String,
) -> Result<Account, ServiceError> {
    let name = Username::parse(username).ok();
    let row = match &name {
        Some(name) => users::by_name(&core.pool, name).await?,
        None => None,
    };
    let stored = row.as_ref().and_then(|r| r.password_hash.clone());
    let ok = password::verify(password, stored).await?;
    match row {
        Some(row) if ok && !row.disabled => {
            let account = Account::from(row);
            activity::record_alone(
                core,
                &account.actor(ip),
                Some(account.id),
                "auth.sign_in",
                String::new(),
            )
            .await?;
            Ok(account)
        }
        row => {
            let shown = name
                .map(|n| n.to_string())
                .unwrap_or_else(|| "(invalid name)".into());
            let subject = row.map(|r| r.id);
            activity::record_alone(
                core,
                &Actor::anonymous(ip),
                subject,
                "auth.sign_in_failed",
                shown,
            )
            .await?;
            Err(ServiceError::BadCredentials)
        }
    }
}

pub async fn record_sign_out(
    core: &Core,
    account: &Account,
    ip: Option<std::net::IpAddr>,
) -> Result<(), ServiceError> {
    activity::record_alone(
        core,
        &account.actor(ip),
        Some(account.id),
        "auth.sign_out",
        String::new(),
    )
    .await?;
    Ok(())
}

/// The current state of a signed-in account (it may have been changed since sign-in).
pub async fn load(core: &Core, id: UserId) -> Result<Option<Account>, ServiceError> {
    Ok(users::by_id(&core.pool, id).await?.map(Account::from))
}

/// An administrator (or the CLI) creates an account; the returned invite token is shown once
/// and lets its holder choose the password.
pub async fn invite(
    core: &Core,
    actor: &Actor,
    username: &str,
    is_admin: bool,
) -> Result<(Account, SecretToken), ServiceError> {
    if !actor.is_admin {
        return Err(ServiceError::Forbidden);
    }
    let name = Username::parse(username).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let token = SecretToken::generate("gh_inv_");
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    let id = match users::insert(&mut *tx, &name, None, is_admin, now).await {
        Ok(id) => id,
        Err(e) if store::is_unique_violation(&e) => {
            return Err(ServiceError::Conflict(format!(
                "the username '{name}' is taken"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    invites::insert(
        &mut tx,
        &token.hash(),
        id,
        actor.user,
        now,
        now + INVITE_TTL_SECS,
    )
    .await?;
    let role = if is_admin { "administrator" } else { "user" };
    activity::record(
        &mut tx,
        actor,
        Some(id),
        "user.invited",
        format!("{name} ({role})"),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        Account {
            id,
            username: name.to_string(),
            is_admin,
            password_version: 0,
            disabled: false,
        },
        token,
    ))
}

/// The account an invite link is for, if the link is still valid.
pub async fn invite_account(core: &Core, token: &str) -> Result<Option<Account>, ServiceError> {
    let mut conn = core.pool.acquire().await?;
    let Some(id) = invites::peek(&mut conn, &SecretHash::of(token), clock::now()).await? else {
        return Ok(None);
    };
    load(core, id).await
}

/// Uses an invite: sets the password and consumes the link (single use).
pub async fn accept_invite(
    core: &Core,
    ip: Option<std::net::IpAddr>,
    token: &str,
    password: String,
) -> Result<Account, ServiceError> {
    let password = Password::parse(password).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let hash = password::hash(password).await?;
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    let Some(id) = invites::take(&mut tx, &SecretHash::of(token), now).await? else {
        return Err(ServiceError::Invalid(
            "this invite link is invalid, used or expired; ask your administrator for a new one"
                .into(),
        ));
    };
    users::set_password(&mut *tx, id, &hash, now).await?;
    let account = users::by_id(&mut *tx, id)
        .await?
        .map(Account::from)
        .ok_or(ServiceError::NotFound)?;
    activity::record(
        &mut tx,
        &account.actor(ip),
        Some(id),
        "user.invite_accepted",
        String::new(),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(account)
}

/// Operator commands: create an account with a password / reset a password.
pub async fn add_with_password(
    core: &Core,
    actor: &Actor,
    username: &str,
    password: String,
    is_admin: bool,
) -> Result<Account, ServiceError> {
    if !actor.is_admin {
        return Err(ServiceError::Forbidden);
    }
    let (name, password) = parse_credentials(username, password)?;
    let account = create_with_password(core, actor, name, password, is_admin, false).await?;
    super::setup::clear(core);
    Ok(account)
}

pub async fn set_password(
    core: &Core,
    actor: &Actor,
    username: &str,
    password: String,
) -> Result<(), ServiceError> {
    let name = Username::parse(username).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let password = Password::parse(password).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let row = users::by_name(&core.pool, &name)
        .await?
        .ok_or(ServiceError::NotFound)?;
    if !actor.is_admin && actor.user != Some(row.id) {
        return Err(ServiceError::Forbidden);
    }
    let hash = password::hash(password).await?;
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    users::set_password(&mut *tx, row.id, &hash, now).await?;
    invites::delete_for_user(&mut tx, row.id).await?;
    activity::record(
        &mut tx,
        actor,
        Some(row.id),
        "user.password_set",
        String::new(),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list(core: &Core, actor: &Actor) -> Result<Vec<users::UserRow>, ServiceError> {
    if !actor.is_admin {
        return Err(ServiceError::Forbidden);
    }
    Ok(users::list(&core.pool).await?)
}

pub use store::sessions::SessionStore;

/// The browser-session store (tower-sessions) on Gatehouse's database.
pub fn session_store(core: &Core) -> Result<SessionStore, String> {
    SessionStore::for_pool(&core.pool, Some(core.config.database_statement_timeout))
        .map_err(|e| e.to_string())
}

/// Computes argon2's dummy hash now, not on the first sign-in request.
pub fn warm_up() {
    password::warm_up();
}

/// The id of the account named `name` (the CLI names users).
pub async fn id_of(core: &Core, name: &str) -> Result<UserId, ServiceError> {
    let parsed = Username::parse(name).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    users::by_name(&core.pool, &parsed)
        .await?
        .map(|u| u.id)
        .ok_or_else(|| ServiceError::Invalid(format!("no account named '{name}'")))
}

/// Disables or enables an account (administrators, the CLI). Disabling signs it out
/// everywhere and stops its tokens and API keys at once (this process; others within 2 s).
pub async fn set_disabled(
    core: &Core,
    actor: &Actor,
    name: &str,
    disabled: bool,
) -> Result<(), ServiceError> {
    if !actor.is_admin {
        return Err(ServiceError::Forbidden);
    }
    let id = id_of(core, name).await?;
    if actor.user == Some(id) {
        return Err(ServiceError::Invalid(
            "you cannot disable your own account".into(),
        ));
    }
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    users::set_disabled(&mut *tx, id, disabled.then_some(now)).await?;
    let kind = if disabled {
        "user.disabled"
    } else {
        "user.enabled"
    };
    activity::record(&mut tx, actor, Some(id), kind, name.to_owned(), now).await?;
    tx.commit().await?;
    core.bearer_cache.clear();
    Ok(())
}
