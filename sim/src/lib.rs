//! Deterministic simulation for the graphsession workspace: everything in a run follows from one seed.
//!
//! Today the simulator has one world, [`ids::IdWorld`]: graph nodes issuing session and plan ids through
//! restarts, lease hand-overs, split-brain take-overs, clock steps and bursts, with every id checked for
//! global uniqueness. The full world of clients, graph nodes and the meta store (issue 8) builds on the same
//! [`prng::Prng`].
//!
//! The library is pure like the crates it tests; the driver binary (`src/main.rs`) is the edge that reads the
//! wall clock and spreads seeds over threads.

pub mod ids;
pub mod prng;
