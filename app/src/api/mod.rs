//! Server functions, one file per page: thin — read the session, call the core, map errors.

pub mod activity;
pub mod admin;
pub mod auth;
pub mod clients;
pub mod consent;
pub mod keys;
pub mod servers;
