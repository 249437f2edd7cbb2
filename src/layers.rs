//! The layering of the core, checked from the source so it stays true (STYLE.md): which
//! top-level module may import which, no import cycle between them, SQL only in `store/`, and
//! only the protocol surface routed in `http/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/`, with its top-level module (`src/vault/keys.rs` → `vault`).
fn sources() -> Vec<(String, PathBuf, String)> {
    // At run time: a test binary can be reused by another clone sharing the target directory.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or(env!("CARGO_MANIFEST_DIR").into());
    let root = Path::new(&manifest).join("src");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(&root).unwrap();
                let first = rel.components().next().unwrap().as_os_str();
                let module = first.to_string_lossy().trim_end_matches(".rs").to_owned();
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((module, path, text));
            }
        }
    }
    out
}

/// The code of a file without its `//` comments (doc comments name modules freely).
fn code(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(text: &str) -> String {
    text.trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The top-level modules a piece of code names through `crate::` (grouped imports included).
fn imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(ident(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            found.insert(ident(&item));
        } else {
            found.insert(ident(rest));
        }
    }
    found.retain(|m| !m.is_empty() && m != "self");
    found
}

/// Module → the other top-level modules it imports.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, _, text) in sources() {
        if module == "lib" || module == "layers" {
            continue;
        }
        let deps = graph.entry(module.clone()).or_default();
        deps.extend(imports(&code(&text)).into_iter().filter(|d| *d != module));
    }
    graph
}

/// A cycle through `start`, if any (depth-first search).
fn cycle_from(
    graph: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    for next in graph.get(path.last()?).into_iter().flatten() {
        if next == start {
            let mut found = path.clone();
            found.push(next.clone());
            return Some(found);
        }
        if !path.contains(next) {
            path.push(next.clone());
            if let Some(found) = cycle_from(graph, start, path) {
                return Some(found);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn imports_are_read_from_grouped_and_nested_paths() {
    let found = imports("use crate::{store::{self, x}, vault};\nlet a = crate::clock::now();");
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["clock", "store", "vault"]
    );
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    let graph = graph();
    for module in graph.keys() {
        let found = cycle_from(&graph, module, &mut vec![module.clone()]);
        assert!(
            found.is_none(),
            "import cycle: {}",
            found.unwrap().join(" → ")
        );
    }
}

#[test]
fn each_layer_imports_only_what_it_may() {
    // module → modules it must never import.
    let forbidden: &[(&str, &[&str])] = &[
        (
            "oauth",
            &[
                "clock", "config", "store", "service", "state", "vault", "net", "http", "gateway",
            ],
        ),
        (
            "domain",
            &[
                "store", "service", "state", "vault", "net", "http", "gateway", "oauth",
            ],
        ),
        (
            "store",
            &["service", "state", "vault", "http", "gateway", "oauth"],
        ),
        ("vault", &["service", "state", "http", "gateway"]),
        ("state", &["service", "gateway", "http"]),
        ("service", &["http", "gateway"]),
        ("gateway", &["http", "store", "vault"]),
        ("http", &["store", "vault"]),
    ];
    let graph = graph();
    for (module, never) in forbidden {
        let deps = graph.get(*module).cloned().unwrap_or_default();
        for bad in *never {
            assert!(!deps.contains(*bad), "{module} imports {bad}");
        }
    }
}

#[test]
fn sql_only_in_store() {
    for (module, path, text) in sources() {
        let code = code(&text);
        let health = path.ends_with("http/health.rs"); // `SELECT 1` is the readiness probe
        if module == "store" || module == "layers" || health {
            continue;
        }
        for needle in ["sqlx::query", "query_as(", "query_scalar("] {
            assert!(
                !code.contains(needle),
                "{} runs SQL ({needle}); move it to store/",
                path.display()
            );
        }
    }
}

#[test]
fn http_routes_only_the_protocol_surface() {
    const PROTOCOL: &[&str] = &[
        "/.well-known/",
        "/authorize",
        "/consent/",
        "/login",
        "/token",
        "/register",
        "/revoke",
        "/introspect",
        "/mcp/",
        "/vault/callback",
        // `gatehouse connect`'s one-time link: the start of an upstream OAuth flow.
        "/vault/connect/",
        // Gatehouse's own Client ID Metadata Document, as a client of upstreams.
        "/oauth/client-metadata.json",
        "/healthz",
        "/readyz",
        // Prometheus metrics (administrators; the metrics listener has its own router).
        "/metrics",
    ];
    for (module, path, text) in sources() {
        if module != "http" {
            continue;
        }
        for (at, _) in text.match_indices(".route(\"") {
            let route: String = text[at + 8..].chars().take_while(|c| *c != '"').collect();
            assert!(
                PROTOCOL.iter().any(|p| route.starts_with(p)),
                "{} routes {route}: dashboard paths belong to the app's server functions",
                path.display()
            );
        }
    }
}
