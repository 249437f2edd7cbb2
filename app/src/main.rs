//! The `gatehouse` binary: `serve` (the default) and the operator commands of DESIGN.md §8.

mod cli;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    keep_freed_memory_unmapped();
    cli::main().await
}

/// glibc's dynamic mmap threshold grows past the largest block freed: after a sign-in its
/// 19 MiB argon2 buffer came from an arena and stayed resident. A fixed threshold keeps such
/// buffers mmap'd (unmapped when freed); the server also trims the arenas periodically
/// (`server::spawn_housekeeping`). BENCHMARKS.md, issue 18.
fn keep_freed_memory_unmapped() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: allocator settings; mallopt is MT-safe in glibc.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 4 << 20);
    }
}
