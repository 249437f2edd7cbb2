//! The `gatehouse` binary: `serve` (the default) and the operator commands of DESIGN.md §8.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Before the runtime starts its threads.
    return_freed_memory();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(cli::main()),
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            ExitCode::FAILURE
        }
    }
}

/// glibc keeps freed memory: a sign-in's 19 MiB argon2 buffer stayed resident once its
/// dynamic mmap threshold had grown past it, and each worker thread's arena kept the peak of
/// the last load. A fixed threshold makes such buffers mmap'd (unmapped when freed), and a
/// trim every 30 s hands back what the arenas no longer use (BENCHMARKS.md, issue 18).
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: allocator settings (MT-safe in glibc), set before other threads exist.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 4 << 20);
        }
        #[allow(clippy::disallowed_methods)] // a periodic timer, not synchronisation
        let _ = std::thread::Builder::new()
            .name("malloc-trim".into())
            .spawn(|| loop {
                std::thread::sleep(std::time::Duration::from_secs(30));
                // SAFETY: malloc_trim only releases free pages; safe from any thread.
                unsafe {
                    libc::malloc_trim(0);
                }
            });
    }
}
