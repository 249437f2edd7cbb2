//! The one integration-test binary: the real server on a random loopback port with a temp
//! SQLite file, driven over HTTP like a browser without JavaScript.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;
mod native_peer;
mod oauth_helpers;
mod provider_stub;

mod accounts;
mod aggregate;
mod api_keys;
mod cimd;
mod cli;
mod deploy;
mod durability;
mod gateway;
mod hardening_accounts;
mod hardening_connections;
mod hardening_gateway;
mod hardening_limits;
mod hardening_tokens;
mod hardening_vault;
mod instances;
mod keys;
mod oauth;
mod observability;
mod revocation;
mod security;
mod servers;
mod tls;
mod upstream;
mod upstream_oauth;
mod vault;
