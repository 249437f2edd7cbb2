//! Outbound HTTP: one guarded client for every request Gatehouse makes (DESIGN.md §6).

pub mod body;
pub mod classify;
pub mod client;

pub use body::{cause, read_limited, BodyError};
pub use client::{GuardedClient, NetError, SystemLookup};
