//! `gatehouse server …`, `status`, `refresh`: users' upstream servers and connections.

use std::sync::Arc;

use clap::Subcommand;
use gatehouse::config::Config;
use gatehouse::domain::Username;
use gatehouse::service::upstream::{disconnect, native};
use gatehouse::service::{accounts, servers, Actor};

use super::{open, read_password, service_err, user_id};

#[derive(Subcommand)]
pub(super) enum ServerCommand {
    /// Register an upstream MCP server for a user.
    Add {
        user: String,
        slug: String,
        url: String,
        /// Display name (defaults to the slug).
        #[arg(long, default_value = "")]
        name: String,
        /// Read a static bearer credential for the upstream from standard input.
        #[arg(long)]
        bearer_stdin: bool,
    },
    /// List servers (of one user, or of everyone).
    List { user: Option<String> },
    /// Delete a user's server (a connected one has its upstream access revoked first).
    Delete { user: String, slug: String },
    /// Look for the server's own sign-in again (RFC 9728 / RFC 8414 discovery) and register
    /// Gatehouse there.
    Probe { user: String, slug: String },
}

pub(super) async fn run(config: Config, cmd: ServerCommand) -> Result<(), String> {
    let core = Arc::new(open(config).await?);
    match cmd {
        ServerCommand::Add {
            user,
            slug,
            url,
            name,
            bearer_stdin,
        } => {
            let credential = if bearer_stdin {
                let secret = read_password(true)?;
                if secret.trim().is_empty() {
                    return Err("--bearer-stdin: standard input held no credential".into());
                }
                Some(secrecy::SecretString::from(secret.trim().to_owned()))
            } else {
                None
            };
            let owner = user_id(&core, &user).await?;
            let new = servers::NewServer::parse(&slug, &name, &url).map_err(service_err)?;
            let row = servers::add(&core, &Actor::cli(), owner, new, credential)
                .await
                .map_err(service_err)?;
            println!(
                "Added server '{}' for '{user}': {}",
                row.slug,
                core.public_url.join(&format!("/mcp/{}", row.slug))
            );
            if let Some(found) = native::probe_if_native(&core, &Actor::cli(), &row)
                .await
                .map_err(service_err)?
            {
                println!("Sign-in: {}", found.line());
            }
        }
        ServerCommand::Delete { user, slug } => {
            let owner = user_id(&core, &user).await?;
            let done = disconnect::delete_server(&core, &Actor::cli(), owner, &slug)
                .await
                .map_err(service_err)?;
            println!("{done}");
        }
        ServerCommand::Probe { user, slug } => {
            let owner = user_id(&core, &user).await?;
            let found = native::probe(&core, &Actor::cli(), owner, &slug)
                .await
                .map_err(service_err)?;
            println!("{slug}: {}", found.line());
            if found.outcome == native::Outcome::Failed {
                core.pool.close().await;
                return Err(format!("no usable sign-in found for '{slug}'"));
            }
        }
        ServerCommand::List { user } => {
            let mut rows = servers::list_all(&core, &Actor::cli())
                .await
                .map_err(service_err)?;
            if let Some(name) = user {
                let name = Username::parse(&name).map_err(|e| e.to_string())?;
                rows.retain(|(owner, _)| owner == name.as_str());
            }
            println!("{:<24} {:<24} {:<24} URL", "USER", "SLUG", "NAME");
            for (owner, s) in rows {
                let url = s
                    .url
                    .as_ref()
                    .map(|u| u.redacted())
                    .unwrap_or_else(|| "(cannot be decrypted)".into());
                let credential = if s.has_static_credential {
                    "  [static credential]"
                } else {
                    ""
                };
                println!(
                    "{owner:<24} {:<24} {:<24} {url}{credential}",
                    s.slug, s.name
                );
            }
        }
    }
    core.pool.close().await;
    Ok(())
}

pub(super) async fn status(config: Config, only: Option<String>) -> Result<(), String> {
    use gatehouse::service::upstream::status::{self, relative};
    let core = open(config).await?;
    let accounts = accounts::list(&core, &Actor::cli())
        .await
        .map_err(service_err)?;
    let now = gatehouse::clock::now();
    println!(
        "{:<16} {:<16} {:<26} {:<24} {:<28} EXPIRES",
        "USER", "SLUG", "STATE", "PROVIDER", "ACCOUNT"
    );
    for account in accounts {
        if only.as_deref().is_some_and(|name| name != account.username) {
            continue;
        }
        for st in status::list(&core, account.id, now)
            .await
            .map_err(service_err)?
        {
            let c = st.connection.as_ref();
            println!(
                "{:<16} {:<16} {:<26} {:<24} {:<28} {}{}",
                account.username,
                st.server.slug,
                st.state.label(),
                st.provider.map(|p| p.label).unwrap_or_else(|| "?".into()),
                c.and_then(|c| c.account.clone())
                    .unwrap_or_else(|| "-".into()),
                c.and_then(|c| c.expires_at)
                    .map(|at| relative(at, now))
                    .unwrap_or_else(|| "-".into()),
                c.and_then(|c| c.last_error.clone())
                    .map(|e| format!("  (last error: {e})"))
                    .unwrap_or_default(),
            );
        }
    }
    core.pool.close().await;
    Ok(())
}

pub(super) async fn refresh(config: Config, user: String, slug: String) -> Result<(), String> {
    use gatehouse::service::upstream::refresh::{self, CredentialError};
    let core = Arc::new(open(config).await?);
    let owner = user_id(&core, &user).await?;
    let server = servers::get(&core, owner, &slug)
        .await
        .map_err(service_err)?;
    let outcome = refresh::refresh_now(&core, owner, server.id).await;
    core.pool.close().await;
    match outcome {
        Ok(c) => {
            println!(
                "Refreshed '{slug}' for '{user}'{}.",
                c.expires_at
                    .map(|at| format!(
                        ": expires {}",
                        gatehouse::service::upstream::status::relative(at, gatehouse::clock::now())
                    ))
                    .unwrap_or_default()
            );
            Ok(())
        }
        Err(CredentialError::NeedsReauth) => Err(format!(
            "'{slug}' needs re-authentication: the user must click Authenticate on the Servers page"
        )),
        Err(err) => Err(err.to_string()),
    }
}
