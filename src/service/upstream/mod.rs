//! Use cases toward the upstream servers' accounts: *Authenticate* and its callback
//! (`connect`), fresh credentials with single-flight refresh (`refresh`), *Revoke* and
//! deleting a connected server (`disconnect`), what the Servers page shows (`status`), and
//! where the gateway sends a user's slug (`route`). Upstreams with their own OAuth are
//! probed and registered with in `native`; `provider` puts both kinds behind one face;
//! `link` is `gatehouse connect`'s one-time link and `step_up` an upstream's request for
//! wider scopes.

pub mod connect;
pub mod disconnect;
pub mod link;
pub mod native;
pub mod provider;
pub mod refresh;
pub mod route;
pub mod status;
pub mod step_up;
