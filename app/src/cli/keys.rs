//! `gatehouse key …`: users' API keys. A new key is printed once, on standard output only.

use clap::Subcommand;
use gatehouse::config::Config;
use gatehouse::service::{accounts, api_keys, Actor};

use super::{open, service_err, user_id};

#[derive(Subcommand)]
pub(super) enum KeyCommand {
    /// Create a key for a user and print it (once: only its hash is stored).
    Create {
        user: String,
        name: String,
        /// Expire after this long (e.g. 30d, 12h); never by default.
        #[arg(long)]
        expires: Option<String>,
        /// Limit the key to this server (repeat for several); all of the user's by default.
        #[arg(long = "server", value_name = "SLUG")]
        servers: Vec<String>,
    },
    /// List live keys (of one user, or of everyone).
    List { user: Option<String> },
    /// Revoke a user's key by name; it stops working within 2 seconds everywhere.
    Revoke { user: String, name: String },
}

pub(super) async fn run(config: Config, cmd: KeyCommand) -> Result<(), String> {
    let core = std::sync::Arc::new(open(config).await?);
    let actor = Actor::cli();
    match cmd {
        KeyCommand::Create {
            user,
            name,
            expires,
            servers,
        } => {
            let lifetime = expires
                .as_deref()
                .map(|text| {
                    gatehouse::config::parse_duration_text(text)
                        .filter(|d| !d.is_zero())
                        .ok_or_else(|| {
                            format!("--expires: '{text}' is not a duration (e.g. 30d, 12h)")
                        })
                })
                .transpose()?;
            let owner = user_id(&core, &user).await?;
            let created = api_keys::create(&core, &actor, owner, &name, lifetime, &servers)
                .await
                .map_err(service_err)?;
            let scope = created
                .servers
                .map(|s| s.join(", "))
                .unwrap_or_else(|| "all servers".into());
            eprintln!(
                "Created key '{}' for '{user}' ({scope}). It is shown once:",
                created.name
            );
            println!("{}", created.key.expose());
        }
        KeyCommand::List { user } => {
            let owners = match user {
                Some(name) => vec![(name.clone(), user_id(&core, &name).await?)],
                None => accounts::list(&core, &actor)
                    .await
                    .map_err(service_err)?
                    .into_iter()
                    .map(|u| (u.username, u.id))
                    .collect(),
            };
            println!(
                "{:<16} {:<24} {:<12} {:<20} {:<18} {:<18} EXPIRES",
                "USER", "NAME", "PREFIX", "SERVERS", "CREATED", "LAST USED"
            );
            let show = |t: Option<i64>| t.map(gatehouse::clock::format_utc).unwrap_or("-".into());
            for (owner, id) in owners {
                for k in api_keys::list(&core, &actor, id)
                    .await
                    .map_err(service_err)?
                {
                    println!(
                        "{owner:<16} {:<24} {:<12} {:<20} {:<18} {:<18} {}",
                        k.name,
                        format!("{}…", k.prefix),
                        k.servers.unwrap_or_else(|| "all".into()),
                        gatehouse::clock::format_utc(k.created_at),
                        show(k.last_used_at),
                        k.expires_at
                            .map(gatehouse::clock::format_utc)
                            .unwrap_or_else(|| "never".into()),
                    );
                }
            }
        }
        KeyCommand::Revoke { user, name } => {
            let owner = user_id(&core, &user).await?;
            api_keys::revoke_named(&core, &actor, owner, &name)
                .await
                .map_err(|e| match e {
                    gatehouse::service::ServiceError::NotFound => {
                        format!("'{user}' has no key named '{name}'")
                    }
                    other => service_err(other),
                })?;
            println!("Revoked key '{name}' of '{user}'.");
        }
    }
    core.pool.close().await;
    Ok(())
}
