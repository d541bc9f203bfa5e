//! Session management for graph database engines, sans-I/O.
//!
//! - [`client`]: the client-side session lifecycle (connect, authenticate, USE, execute, ping, sign-out that
//!   always happens, reconnect, zombie detection) and a session pool on top of it.
//! - [`server`]: the session registry of one graph node: login, find+touch, queries, USE, SHOW/KILL
//!   SESSIONS and QUERIES, idle expiry, audit events, snapshots.
//! - [`node`]: one graph node as a machine: the registry, the sync and every rule a graph server
//!   follows between its connections and meta ([`node::GraphNode`]).
//! - [`cluster`]: sessions shared by many graph nodes through a meta store: the meta-side store and the
//!   node-side sync machine, exchanging plain serde values over the host's transport.

pub mod client;
pub mod cluster;
pub mod node;
pub mod server;

/// What every `check_invariants()` of this crate returns (the workspace's one violation type).
pub use graphsession_base::Violation;
