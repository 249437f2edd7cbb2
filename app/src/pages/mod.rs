//! One file per page.

pub mod activity;
pub mod admin;
pub mod auth;
pub mod checks;
pub mod clients;
pub mod consent;
pub mod keys;
pub mod not_found;
pub mod servers;
pub mod stats;
