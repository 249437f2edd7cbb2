//! Gatehouse core: configuration, domain types, storage, use cases, the gateway and the HTTP
//! protocol surface. The Leptos app (`app/`) depends on this crate; never the other way.
//!
//! What the app (and its tests) may use is public: `config`, `domain`, `clock`, `state`,
//! `service` (the use cases), `gateway` (its state, built beside `Core`) and `http` (the
//! protocol routes, sessions and security headers). Storage, the protocol rules, the vault's
//! primitives and the outbound client stay inside: the app reaches them through `service`.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod cache;
pub mod clock;
pub mod config;
pub mod domain;
pub mod gateway;
pub mod http;
mod net;
mod oauth;
mod password;
mod rate_limit;
pub mod service;
pub mod state;
mod store;
mod telemetry;
mod vault;

#[cfg(test)]
mod layers;
