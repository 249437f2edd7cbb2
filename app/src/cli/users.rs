//! `gatehouse user …`: accounts.

use clap::Subcommand;
use gatehouse::config::Config;
use gatehouse::service::{accounts, Actor};

use super::{open, read_password, service_err};

#[derive(Subcommand)]
pub(super) enum UserCommand {
    /// Create an account (asks for the password, or reads it from stdin).
    Add {
        name: String,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
    /// Disable an account: it is signed out everywhere and its tokens and keys stop.
    Disable { name: String },
    /// Enable a disabled account again.
    Enable { name: String },
    /// Set an account's password.
    SetPassword {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

pub(super) async fn run(config: Config, cmd: UserCommand) -> Result<(), String> {
    let core = open(config).await?;
    let actor = Actor::cli();
    match cmd {
        UserCommand::Add {
            name,
            admin,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let account = accounts::add_with_password(&core, &actor, &name, password, admin)
                .await
                .map_err(service_err)?;
            let role = if account.is_admin {
                "administrator"
            } else {
                "user"
            };
            println!("Created {role} '{}'.", account.username);
        }
        UserCommand::List => {
            let users = accounts::list(&core, &actor).await.map_err(service_err)?;
            println!("{:<32} {:<14} {:<8} CREATED", "USERNAME", "ROLE", "STATUS");
            for u in users {
                let role = if u.is_admin { "administrator" } else { "user" };
                let status = if u.password_hash.is_some() {
                    "active"
                } else {
                    "invited"
                };
                println!(
                    "{:<32} {:<14} {:<8} {}",
                    u.username,
                    role,
                    status,
                    gatehouse::clock::format_utc(u.created_at)
                );
            }
        }
        UserCommand::Disable { name } => {
            accounts::set_disabled(&core, &actor, &name, true)
                .await
                .map_err(service_err)?;
            println!("Disabled '{name}': signed out everywhere; its tokens and API keys stopped.");
        }
        UserCommand::Enable { name } => {
            accounts::set_disabled(&core, &actor, &name, false)
                .await
                .map_err(service_err)?;
            println!("Enabled '{name}'.");
        }
        UserCommand::SetPassword {
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            accounts::set_password(&core, &actor, &name, password)
                .await
                .map_err(service_err)?;
            println!("Password set for '{name}'.");
        }
    }
    core.pool.close().await;
    Ok(())
}
