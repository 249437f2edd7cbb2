//! Command line: clap definitions and the operator commands. Each prints one clear line on
//! failure and exits non-zero.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use gatehouse::config::Config;
use gatehouse::domain::Username;
use gatehouse::service::startup::{self, KeySource};
use gatehouse::service::{accounts, servers, Actor, ServiceError};
use gatehouse::state::Core;
use gatehouse_app::server;

#[derive(Parser)]
#[command(name = "gatehouse", version, about = "Self-hosted OAuth hub for MCP servers", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default command).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage users' upstream MCP servers.
    #[command(subcommand)]
    Server(ServerCommand),
    /// Show each server's upstream connection (of one user, or of everyone).
    Status { user: Option<String> },
    /// Refresh a user's upstream token for one server now.
    Refresh { user: String, slug: String },
    /// Delete expired codes, authorization requests, tokens, invites and sessions.
    Cleanup,
    /// Re-encrypt stored secrets with the first key of GATEHOUSE_ENCRYPTION_KEYS (resumable).
    RotateKey,
}

#[derive(Subcommand)]
enum UserCommand {
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
    /// Set an account's password.
    SetPassword {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum ServerCommand {
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
}

pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => return fail(&err.to_string()),
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => migrate(config).await,
        Command::User(cmd) => user(config, cmd).await,
        Command::Server(cmd) => server_cmd(config, cmd).await,
        Command::Status { user } => status(config, user).await,
        Command::Refresh { user, slug } => refresh(config, user, slug).await,
        Command::Cleanup => cleanup(config).await,
        Command::RotateKey => rotate_key(config).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn serve(config: Config) -> Result<(), String> {
    let data_dir = config.data_dir.display().to_string();
    let server = server::build(config).await.map_err(|e| e.to_string())?;
    let url = server.core.public_url.issuer();
    let addr = server.local_addr().map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "Gatehouse listening on {addr}, public URL {url}");
    let _ = writeln!(out, "Data directory: {data_dir}");
    if let Some(code) = &server.setup_code {
        let _ = writeln!(
            out,
            "First run: open {url}/setup and enter this one-time setup code: {}",
            code.expose()
        );
        let _ = writeln!(
            out,
            "(or create the administrator with: gatehouse user add <name> --admin)"
        );
    }
    if let KeySource::Generated(path) = &server.key_source {
        let _ = writeln!(
            out,
            "Generated an encryption key at {} (readable by you only). Back it up, separately from \
             the database: without it the stored upstream credentials cannot be decrypted.",
            path.display()
        );
    }
    // Scripts and tests wait for this line.
    let _ = writeln!(out, "Ready.");
    let _ = out.flush();
    drop(out);
    server.run().await.map_err(|e| e.to_string())
}

async fn open(config: Config) -> Result<Core, String> {
    Ok(open_counting(config).await?.0)
}

/// Opens the database (migrated) and the keys; also says how many migrations are applied.
async fn open_counting(config: Config) -> Result<(Core, usize), String> {
    let public_url = config.public_url_for(config.bind);
    let opened = startup::open(config, public_url)
        .await
        .map_err(|e| e.to_string())?;
    Ok((opened.core, opened.migrations))
}

async fn migrate(config: Config) -> Result<(), String> {
    let (core, applied) = open_counting(config).await?;
    core.pool.close().await;
    println!("Database is up to date ({applied} migrations).");
    Ok(())
}

fn service_err(err: ServiceError) -> String {
    match err {
        ServiceError::NotFound => "no such account or server".into(),
        other => other.to_string(),
    }
}

/// A password from stdin's first line, or asked twice on the terminal.
fn read_password(from_stdin: bool) -> Result<String, String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    if !std::io::stdin().is_terminal() {
        return Err("no terminal to ask for the password; pass --password-stdin".into());
    }
    let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
    let second = rpassword::prompt_password("Repeat password: ").map_err(|e| e.to_string())?;
    if first != second {
        return Err("the passwords do not match".into());
    }
    Ok(first)
}

async fn user(config: Config, cmd: UserCommand) -> Result<(), String> {
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

async fn user_id(core: &Core, name: &str) -> Result<gatehouse::domain::UserId, String> {
    accounts::id_of(core, name).await.map_err(service_err)
}

async fn server_cmd(config: Config, cmd: ServerCommand) -> Result<(), String> {
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

async fn status(config: Config, only: Option<String>) -> Result<(), String> {
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

async fn refresh(config: Config, user: String, slug: String) -> Result<(), String> {
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

async fn cleanup(config: Config) -> Result<(), String> {
    let core = open(config).await?;
    let (swept, sessions) = gatehouse::service::token_admin::cleanup(&core)
        .await
        .map_err(service_err)?;
    println!(
        "Deleted {} authorization requests, {} codes, {} access tokens, {} refresh tokens, {} token families, {} invites, {} vault sign-in states, {} gateway sessions, {} sessions, {} clients never used.",
        swept.requests, swept.codes, swept.access_tokens, swept.refresh_tokens, swept.families, swept.invites, swept.vault_states, swept.gateway_sessions, sessions, swept.unused_clients
    );
    core.pool.close().await;
    Ok(())
}

async fn rotate_key(config: Config) -> Result<(), String> {
    let core = open(config).await?;
    let (done, key) = gatehouse::service::maintenance::rotate_key(&core)
        .await
        .map_err(service_err)?;
    println!(
        "Re-encrypted {} values with key '{key}' ({} were already current). Once every process uses the new key list, the old keys can be removed from it.",
        done.rewritten, done.already_current
    );
    core.pool.close().await;
    Ok(())
}
