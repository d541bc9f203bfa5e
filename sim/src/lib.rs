//! Deterministic simulation for the graphsession workspace: everything in a run follows from one seed.
//!
//! Three worlds, all on the same [`prng::Prng`]:
//!
//! - [`ids::IdWorld`] (`--world ids`): graph nodes issuing session and plan ids through
//!   restarts, lease hand-overs, split-brain take-overs, clock steps and bursts, with every id checked for
//!   global uniqueness.
//! - [`world::ClusterWorld`] (`--world cluster`, the default; issue 8, first version): real client machines, graph-node
//!   registries with their cluster sync, and one meta store, under socket resets, client kills, lost
//!   node-meta messages and failover, with a safety phase and a liveness phase.
//! - [`catalog::CatalogWorld`] (`--world catalog`): graph processes sharing users and roles through one
//!   fenced register, each following session-core's `CatalogTurns` around a real role table, under
//!   crashes, lost writes, failed takes, lost leases, closing connections and late watch deliveries,
//!   with no lost update, acknowledged-means-committed and no uncommitted right used checked at every
//!   step, and a liveness phase.
//!
//! The library is pure like the crates it tests; the driver binary (`src/main.rs`) is the edge that reads the
//! wall clock and spreads seeds over threads.

pub mod catalog;
pub mod chooser;
pub mod ids;
pub mod oracles;
pub mod prng;
pub mod property;
pub mod recorded;
pub mod replay;
pub mod shrink;
pub mod world;
