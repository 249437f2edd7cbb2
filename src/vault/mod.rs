//! The token vault's primitives: encryption of upstream secrets (cipher, keys, rotation), the
//! provider table and detection, the upstream OAuth client, MCP-native discovery and client
//! registration, and credentials (seal/open, cache, single-flight). No use cases live here: connecting, refreshing and disconnecting are in
//! `service::upstream`, and nothing here imports `service`.

pub mod cipher;
pub mod credential;
pub mod detect;
pub mod discovery;
pub mod keys;
pub mod oauth;
pub mod provider;
pub mod registration;
pub mod rotation;
