//! Command line: clap definitions and the operator commands (DESIGN.md §8). Each prints one
//! clear line on failure and exits non-zero.

mod connections;
mod keys;
mod run;
mod servers;
mod upkeep;
mod users;

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gatehouse::config::Config;
use gatehouse::service::startup;
use gatehouse::service::{accounts, ServiceError};
use gatehouse::state::Core;

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
    User(users::UserCommand),
    /// Manage users' upstream MCP servers.
    #[command(subcommand)]
    Server(servers::ServerCommand),
    /// Manage users' API keys (for clients without OAuth).
    #[command(subcommand)]
    Key(keys::KeyCommand),
    /// Show each server's upstream connection (of one user, or of everyone).
    Status { user: Option<String> },
    /// Refresh a user's upstream token for one server now.
    Refresh { user: String, slug: String },
    /// Print a one-time link (10 min) that runs Authenticate for the user's server once they
    /// are signed in, and wait for the result.
    Connect { user: String, slug: String },
    /// Revoke a user's upstream access for one server and delete the stored tokens.
    Disconnect { user: String, slug: String },
    /// Delete expired codes, authorization requests, tokens, invites and sessions.
    Cleanup,
    /// Re-encrypt stored secrets with the first key of GATEHOUSE_ENCRYPTION_KEYS (resumable).
    RotateKey,
    /// Check the deployment as a connecting client sees it, through the public URL: one
    /// PASS/WARN/FAIL line per check; exits non-zero when one fails.
    Doctor,
}

pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => return fail(&err.to_string()),
    };
    init_tracing(config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => run::serve(config).await,
        Command::Migrate => run::migrate(config).await,
        Command::User(cmd) => users::run(config, cmd).await,
        Command::Server(cmd) => servers::run(config, cmd).await,
        Command::Key(cmd) => keys::run(config, cmd).await,
        Command::Status { user } => servers::status(config, user).await,
        Command::Refresh { user, slug } => servers::refresh(config, user, slug).await,
        Command::Connect { user, slug } => connections::connect(config, user, slug).await,
        Command::Disconnect { user, slug } => connections::disconnect(config, user, slug).await,
        Command::Cleanup => upkeep::cleanup(config).await,
        Command::RotateKey => upkeep::rotate_key(config).await,
        Command::Doctor => upkeep::doctor(config).await,
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

/// Logs to stderr, as text or one JSON object per line (`GATEHOUSE_LOG_FORMAT`); `RUST_LOG`
/// filters (default `info`).
fn init_tracing(format: gatehouse::config::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        gatehouse::config::LogFormat::Text => builder.try_init(),
        gatehouse::config::LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

pub(crate) async fn open(config: Config) -> Result<Core, String> {
    Ok(open_counting(config).await?.0)
}

/// Opens the database (migrated) and the keys; also says how many migrations are applied.
pub(crate) async fn open_counting(config: Config) -> Result<(Core, usize), String> {
    let public_url = config.public_url_for(config.bind);
    let opened = startup::open(config, public_url)
        .await
        .map_err(|e| e.to_string())?;
    Ok((opened.core, opened.migrations))
}

pub(crate) fn service_err(err: ServiceError) -> String {
    match err {
        ServiceError::NotFound => "no such account or server".into(),
        other => other.to_string(),
    }
}

/// A password from stdin's first line, or asked twice on the terminal.
pub(crate) fn read_password(from_stdin: bool) -> Result<String, String> {
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

pub(crate) async fn user_id(core: &Core, name: &str) -> Result<gatehouse::domain::UserId, String> {
    accounts::id_of(core, name).await.map_err(service_err)
}
