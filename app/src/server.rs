//! Assembly: bind (port 0 works), open and migrate the database, build the router with the
//! core's protocol routes, the Leptos pages and server functions, sessions and security
//! headers. Used by `main` and tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use axum::routing::get;
use axum::Router;
use gatehouse::config::Config;
use gatehouse::domain::SecretToken;
use gatehouse::gateway::{Gateway, SharedGateway};
use gatehouse::http;
use gatehouse::service::startup::{self, KeySource, OpenError};
use gatehouse::state::SharedCore;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::net::TcpListener;
use tower::ServiceBuilder;

use crate::{shell, App};

/// The state of the browser-facing routes: the core (use cases) and the Leptos options. The
/// gateway has its own (`http::gateway`).
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub core: SharedCore,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for SharedCore {
    fn from_ref(state: &AppState) -> Self {
        state.core.clone()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}. Fix: choose a free address with GATEHOUSE_BIND")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("{0}")]
    Other(String),
}

/// A bound, ready server. `setup_code` is set when no account exists yet (print it).
pub struct Server {
    listener: TcpListener,
    router: Router,
    pub core: SharedCore,
    pub gateway: SharedGateway,
    pub setup_code: Option<SecretToken>,
    /// Where the encryption keys came from (a generated key must be backed up).
    pub key_source: KeySource,
}

/// Where the built site (wasm bundle, CSS, public files) is: `LEPTOS_SITE_ROOT` (cargo-leptos
/// and the Makefile set it), else `site/` beside the build profile directory the binary runs
/// from (`<target>/debug/gatehouse` → `<target>/site`, where the xtask writes it), else
/// `target/site`. So the binary finds its pages whatever the working directory.
fn site_root() -> String {
    if let Ok(root) = std::env::var("LEPTOS_SITE_ROOT") {
        return root;
    }
    let beside_build = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("site")))
        .filter(|dir| dir.join("pkg").is_dir());
    match beside_build {
        Some(dir) => dir.display().to_string(),
        None => "target/site".into(),
    }
}

fn leptos_options() -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("gatehouse")
        .site_root(site_root())
        .site_pkg_dir("pkg")
        .build()
}

pub async fn build(config: Config) -> Result<Server, StartError> {
    let listener = TcpListener::bind(config.bind)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Other(e.to_string()))?;
    let public_url = config.public_url_for(addr);
    let opened = startup::open(config, public_url).await?;
    let core: SharedCore = Arc::new(opened.core);
    let gateway = Arc::new(
        Gateway::new(core.clone())
            .map_err(|e| StartError::Open(OpenError::ExtraCa(e.to_string())))?,
    );
    let setup_code = gatehouse::service::setup::issue(&core)
        .await
        .map_err(|e| StartError::Open(e.into()))?;
    let router = router(core.clone(), gateway.clone())?;
    if let Some(addr) = core.config.metrics_bind {
        serve_metrics(addr, core.clone()).await?;
    }
    tokio::task::spawn_blocking(gatehouse::service::accounts::warm_up);
    spawn_housekeeping(core.clone());
    Ok(Server {
        listener,
        router,
        core,
        gateway,
        setup_code,
        key_source: opened.key_source,
    })
}

pub fn router(core: SharedCore, gateway: SharedGateway) -> Result<Router, StartError> {
    let leptos_options = leptos_options();
    let state = AppState {
        leptos_options,
        core: core.clone(),
    };
    let routes = generate_route_list(App);
    let context = {
        let core = core.clone();
        move || provide_context(core.clone())
    };
    let sessions = http::session::layer(&core).map_err(StartError::Other)?;
    let [csp, frame, sniff, referrer] = http::headers::layers();
    // Pages and server functions (the dashboard): real redirects and the page CSP, form
    // errors as pages, the form body limit. The protocol routes set their own limits (MCP
    // bodies are larger).
    let pages = Router::<AppState>::new()
        .route("/", get(crate::responses::home))
        .route("/activity.csv", get(crate::export::csv))
        .route("/activity.json", get(crate::export::json))
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn(crate::responses::page_responses))
                .layer(axum::middleware::from_fn(crate::responses::form_errors))
                .layer(tower_http::limit::RequestBodyLimitLayer::new(
                    http::MAX_FORM_BYTES,
                )),
        );
    // A body that stops arriving ends the request (each read, this long at most). The
    // gateway reads its bodies under its own limit.
    let body_timeout = tower_http::timeout::RequestBodyTimeoutLayer::new(
        core.config.connection_limits.body_read_timeout,
    );
    // Only the browser-facing routes (pages, sign-in, consent) carry the session: no MCP
    // client call reads one, and the layer would cost every call.
    let app = http::browser_routes::<AppState>()
        .merge(pages)
        .layer(sessions)
        .merge(http::client_routes::<AppState>())
        .with_state(state)
        .layer(body_timeout)
        .merge(http::gateway(gateway))
        .layer(
            ServiceBuilder::new()
                .layer(csp)
                .layer(frame)
                .layer(sniff)
                .layer(referrer)
                .option_layer(http::headers::hsts(&core.public_url)),
        )
        // Outermost: every request, pages and protocol alike, gets its id and its metrics.
        .layer(axum::middleware::from_fn_with_state(
            core.clone(),
            http::request_id::middleware,
        ));
    Ok(app)
}

/// The `GATEHOUSE_METRICS_BIND` listener: `/metrics` only, no authentication.
async fn serve_metrics(addr: SocketAddr, core: SharedCore) -> Result<(), StartError> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        StartError::Other(format!(
            "GATEHOUSE_METRICS_BIND: cannot listen on {addr}: {e}. Fix: choose a free address"
        ))
    })?;
    tracing::info!(%addr, "metrics listener (no authentication: keep it private)");
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, http::metrics::listener(core)).await {
            tracing::error!(%err, "metrics listener stopped");
        }
    });
    Ok(())
}

/// Every 15 minutes: delete expired codes, requests, tokens, invites and sessions, and forget
/// idle rate-limit keys (`gatehouse cleanup` runs the same sweep once). Every 5 seconds: fold
/// the metrics' histogram samples; every 30: hand memory the allocator no longer uses back.
fn spawn_housekeeping(core: SharedCore) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(15 * 60));
        loop {
            tick.tick().await;
            core.limits.retain_recent();
            if let Err(err) = gatehouse::service::token_admin::cleanup(&core).await {
                tracing::warn!(%err, "housekeeping sweep failed");
            }
        }
    });
    every(Duration::from_secs(5), http::metrics::upkeep);
    every(Duration::from_secs(30), trim_allocator);
}

fn every(period: Duration, work: fn()) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            work();
        }
    });
}

/// glibc keeps what worker threads freed in their arenas (the peak of the last load).
fn trim_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages; safe from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl Server {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until Ctrl-C / SIGTERM, then finishes in-flight requests.
    pub async fn run(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` resolves (tests).
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let config = &self.core.config;
        let gateway = self.gateway.clone();
        let stop = async move {
            stop.await;
            gateway.close();
        };
        let served = crate::serve::serve(
            self.listener,
            self.router,
            config.connection_limits.clone(),
            config.trusted_proxies.clone(),
            stop,
        )
        .await;
        // The calls of the last moments are still in the activity writer's window.
        self.gateway.flush_activity().await;
        served
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
