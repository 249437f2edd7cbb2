//! The OAuth protocol rules, pure: parsed inputs + loaded records + `now` → a decision.
//! No I/O, no clock, no axum: `http/` and `service/` reach these rules, tests need nothing.

pub mod authorize;
pub mod cimd;
pub mod client_registration;
pub mod consent;
pub mod error;
pub mod metadata;
pub mod rotation;
pub mod token;
