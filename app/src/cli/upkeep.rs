//! `cleanup`, `rotate-key` and `doctor`.

use gatehouse::config::Config;

use super::{open, service_err};

pub(super) async fn cleanup(config: Config) -> Result<(), String> {
    let core = open(config).await?;
    let (swept, cleaned) = gatehouse::service::token_admin::cleanup(&core)
        .await
        .map_err(service_err)?;
    println!(
        "Deleted {} authorization requests, {} codes, {} access tokens, {} refresh tokens, {} token families, {} invites, {} vault sign-in states, {} connect links, {} gateway sessions, {} sessions, {} clients never used, {} activity events past retention.",
        swept.requests, swept.codes, swept.access_tokens, swept.refresh_tokens, swept.families, swept.invites, swept.vault_states, swept.connect_links, swept.gateway_sessions, cleaned.sessions, swept.unused_clients, cleaned.events
    );
    core.pool.close().await;
    Ok(())
}

pub(super) async fn rotate_key(config: Config) -> Result<(), String> {
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

pub(super) async fn doctor(config: Config) -> Result<(), String> {
    use gatehouse::service::doctor::{self, Verdict};
    let core = open(config).await?;
    let checks = doctor::run(&core).await;
    core.pool.close().await;
    for check in &checks {
        println!("{}", check.line());
    }
    let failed = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
    match failed {
        0 => Ok(()),
        n => Err(format!("{n} check(s) failed")),
    }
}
