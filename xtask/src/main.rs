//! `cargo run -p xtask -- build [--release]`: builds the hydrate bundle (wasm-bindgen through
//! its library, so no tool binary is installed or downloaded), the CSS and public files into
//! the site directory, and the `gatehouse` server binary. `cargo leptos` stays the
//! development loop; this is what the README's two commands and CI use.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

const OUTPUT_NAME: &str = "gatehouse";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let release = args.iter().any(|a| a == "--release");
    match args.first().map(String::as_str) {
        Some("build") => build(release),
        Some("site-root") => {
            println!("{}", site_root()?.display());
            Ok(())
        }
        _ => bail!("usage: cargo run -p xtask -- build [--release] | site-root"),
    }
}

/// The workspace being built. Read at run time (`cargo run` sets `CARGO_MANIFEST_DIR`): cargo
/// reuses one xtask binary for every clone sharing a target directory, so a path compiled in
/// would point at whichever clone built it first.
fn workspace_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .and_then(|xtask| xtask.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| std::env::current_dir().unwrap_or_default())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn site_root() -> Result<PathBuf> {
    Ok(target_dir().join("site"))
}

fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(args)
        .current_dir(workspace_root())
        // Same value cargo-leptos sets, so both build pipelines share compiled crates.
        .env("LEPTOS_OUTPUT_NAME", OUTPUT_NAME)
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(())
}

fn build(release: bool) -> Result<()> {
    let site = site_root()?;
    let pkg = site.join("pkg");
    std::fs::create_dir_all(&pkg)?;

    // 1. The hydrate bundle.
    let wasm_profile = if release { "wasm-release" } else { "dev" };
    cargo(&[
        "build",
        "-p",
        "gatehouse-app",
        "--lib",
        "--target",
        "wasm32-unknown-unknown",
        "--no-default-features",
        "--features",
        "hydrate",
        "--profile",
        wasm_profile,
    ])?;
    let profile_dir = if release { "wasm-release" } else { "debug" };
    let wasm = target_dir()
        .join("wasm32-unknown-unknown")
        .join(profile_dir)
        .join("gatehouse_app.wasm");
    let mut bindgen = wasm_bindgen_cli_support::Bindgen::new();
    bindgen
        .input_path(&wasm)
        .out_name(OUTPUT_NAME)
        .web(true)?
        .debug(!release)
        .keep_debug(false);
    bindgen
        .generate(&pkg)
        .with_context(|| format!("wasm-bindgen on {}", wasm.display()))?;
    // Leptos built with LEPTOS_OUTPUT_NAME set loads `<name>.wasm` (not `<name>_bg.wasm`).
    let bg = pkg.join(format!("{OUTPUT_NAME}_bg.wasm"));
    let out = pkg.join(format!("{OUTPUT_NAME}.wasm"));
    std::fs::rename(&bg, &out).context("renaming the wasm bundle")?;
    if release {
        optimize(&out)?;
    }

    // 2. Styles and public files.
    std::fs::copy(
        workspace_root().join("style/main.css"),
        pkg.join(format!("{OUTPUT_NAME}.css")),
    )
    .context("copying style/main.css")?;
    copy_dir(&workspace_root().join("public"), &site)?;

    // 3. The server.
    let mut server = vec![
        "build",
        "-p",
        "gatehouse-app",
        "--bin",
        "gatehouse",
        "--features",
        "ssr",
    ];
    if release {
        server.push("--release");
    }
    cargo(&server)?;
    println!("site: {}", site.display());
    Ok(())
}

/// Runs `wasm-opt` when it is on PATH (the Makefile installs it from npm's binaryen package).
fn optimize(wasm: &Path) -> Result<()> {
    let Ok(status) = Command::new("wasm-opt")
        .arg("-Oz")
        .arg("--enable-bulk-memory")
        .arg("--enable-nontrapping-float-to-int")
        .arg(wasm)
        .arg("-o")
        .arg(wasm)
        .status()
    else {
        eprintln!("note: wasm-opt not found; the bundle is not size-optimized");
        return Ok(());
    };
    if !status.success() {
        bail!("wasm-opt failed");
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    if !from.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&dest)?;
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}
