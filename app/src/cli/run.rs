//! `serve` (the default) and `migrate`.

use std::io::Write;

use gatehouse::config::Config;
use gatehouse::service::startup::KeySource;
use gatehouse_app::server;

use super::open_counting;

pub(super) async fn serve(config: Config) -> Result<(), String> {
    let data_dir = config.data_dir.display().to_string();
    let database = config.database_label();
    let server = server::build(config).await.map_err(|e| e.to_string())?;
    let url = server.core.public_url.issuer();
    let addr = server.local_addr().map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "Gatehouse listening on {addr}, public URL {url}");
    let _ = writeln!(out, "Data directory: {data_dir}");
    let _ = writeln!(out, "Database: {database}");
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

pub(super) async fn migrate(config: Config) -> Result<(), String> {
    let (core, applied) = open_counting(config).await?;
    core.pool.close().await;
    println!("Database is up to date ({applied} migrations).");
    Ok(())
}
