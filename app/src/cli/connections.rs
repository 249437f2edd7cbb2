//! `gatehouse connect` and `disconnect`: a user's upstream sign-in from the command line.
//! `connect` cannot sign in for the user (that takes their browser): it prints a one-time
//! link that runs *Authenticate* once they are signed in, and waits for the outcome.

use std::sync::Arc;
use std::time::Duration;

use gatehouse::service::upstream::disconnect;
use gatehouse::service::upstream::link::{self, LinkState};
use gatehouse::service::Actor;

use super::{open, service_err, user_id};
use gatehouse::config::Config;

/// How often the command looks at the link while it waits.
const POLL: Duration = Duration::from_millis(500);

pub(super) async fn connect(config: Config, user: String, slug: String) -> Result<(), String> {
    let core = Arc::new(open(config).await?);
    let owner = user_id(&core, &user).await?;
    let made = link::create(&core, &Actor::cli(), owner, &slug)
        .await
        .map_err(service_err)?;
    println!(
        "Open this link in a browser signed in to Gatehouse as '{user}' (valid 10 minutes, once):"
    );
    println!("{}", made.url);
    println!("Waiting for the sign-in to finish…");
    // Bounded: the link's 10 minutes, then the flow's own 10 minutes at most.
    let outcome = loop {
        match link::state(&core, made.id).await.map_err(service_err)? {
            LinkState::Done { connected, message } => break (connected, message),
            LinkState::Expired => {
                break (
                    false,
                    "the link expired before the sign-in finished; run gatehouse connect again"
                        .into(),
                )
            }
            LinkState::Gone => break (false, "the link or its server was deleted".into()),
            LinkState::Unused | LinkState::InProgress => tokio::time::sleep(POLL).await,
        }
    };
    core.pool.close().await;
    match outcome {
        (true, message) => {
            println!("{message}");
            Ok(())
        }
        (false, message) => Err(message),
    }
}

pub(super) async fn disconnect(config: Config, user: String, slug: String) -> Result<(), String> {
    let core = open(config).await?;
    let owner = user_id(&core, &user).await?;
    let done = disconnect::disconnect(&core, &Actor::cli(), owner, &slug)
        .await
        .map_err(service_err);
    core.pool.close().await;
    println!("{}", done?.message());
    Ok(())
}
