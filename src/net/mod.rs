//! Outbound HTTP: one guarded client for every request Gatehouse makes (DESIGN.md §6).

pub mod classify;
pub mod client;

pub use client::{GuardedClient, Lookup, NetError, SystemLookup};
