//! Gatehouse core: configuration, domain types, storage, use cases and the HTTP surface that
//! needs no UI. The Leptos app (`app/`) depends on this crate; never the other way.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod clock;
pub mod config;
pub mod domain;
pub mod gateway;
pub mod http;
pub mod net;
pub mod oauth;
pub mod password;
pub mod rate_limit;
pub mod service;
pub mod state;
pub mod store;
pub mod vault;
