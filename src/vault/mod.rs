//! The token vault: encryption of upstream secrets (and, later, providers, discovery and
//! refresh).

pub mod cipher;
pub mod detect;
pub mod keys;
pub mod rotation;
