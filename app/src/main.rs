//! The `gatehouse` binary: `serve` (the default) and the operator commands of DESIGN.md §8.

mod cli;

use std::process::ExitCode;

/// mimalloc, not glibc's malloc: per-thread heaps without the arena locks the gateway
/// contended on, and freed memory returned to the system (BENCHMARKS.md, issue 18).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    cli::main().await
}
