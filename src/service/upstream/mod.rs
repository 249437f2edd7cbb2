//! Use cases toward the upstream servers' accounts: *Authenticate* and its callback
//! (`connect`), fresh credentials with single-flight refresh (`refresh`), *Revoke* and
//! deleting a connected server (`disconnect`), what the Servers page shows (`status`), and
//! where the gateway sends a user's slug (`route`).

pub mod connect;
pub mod disconnect;
pub mod refresh;
pub mod route;
pub mod status;
