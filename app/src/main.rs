//! The `gatehouse` binary: `serve` (the default) and the operator commands of DESIGN.md §8.

mod cli;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    cli::main().await
}
