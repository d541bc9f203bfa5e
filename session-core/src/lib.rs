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
//! - [`catalog`]: users, roles, spaces and passwords shared by many processes through a fenced
//!   register, changed one turn at a time ([`catalog::CatalogTurns`]).
//!
//! # Feature `corruption`
//!
//! Off by default. `SessionManager::corrupt`, `GraphNode::corrupt` and `SessionMachine::corrupt`
//! break exactly one invariant of a live machine (`server::ManagerCorruption`,
//! `node::NodeCorruption`, `client::ClientCorruption`, each naming the property
//! `check_invariants` must report, or none for a bound met exactly); the registry and the node
//! put it back with `undo_corruption`, the client's is meant for a clone. The simulator enables
//! it to show that every checker reports what it should on the states its runs reach: a checker
//! made weaker is otherwise invisible to it.

pub mod catalog;
pub mod client;
pub mod cluster;
pub mod node;
pub mod server;

/// What every `check_invariants()` of this crate returns (the workspace's one violation type).
pub use graphsession_base::Violation;
