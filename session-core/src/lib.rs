//! Session management for graph database engines, sans-I/O.
//!
//! - [`client`]: the client-side session lifecycle (connect, authenticate, USE, execute, ping, sign-out that
//!   always happens, reconnect, zombie detection) and a session pool on top of it.
//!
//! The server-side registry (issue 5) and cluster sync through a meta store (issue 7) are not built yet.

pub mod client;
