//! Session management for graph database engines, sans-I/O.
//!
//! - [`client`]: the client-side session lifecycle (connect, authenticate, USE, execute, ping, sign-out that
//!   always happens, reconnect, zombie detection) and a session pool on top of it.
//!
//! - [`server`]: the session registry of one graph node (issue 5; being built).
//!
//! Cluster sync through a meta store (issue 7) is not built yet.

pub mod client;
pub mod server;
