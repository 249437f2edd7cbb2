//! The token vault: encryption of upstream secrets, providers, *Authenticate*, refresh and
//! disconnect of upstream connections.

pub mod cipher;
pub mod connect;
pub mod detect;
pub mod disconnect;
pub mod keys;
pub mod oauth;
pub mod provider;
pub mod refresh;
pub mod rotation;
pub mod status;
