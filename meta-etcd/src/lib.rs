//! The cluster's meta store on etcd: graph nodes in many processes share sessions through a
//! real distributed store.
//!
//! # The design: every process applies one totally ordered log
//!
//! `MetaStore` (`graphsession_core::cluster`) is deterministic, so instead of electing a
//! leader that applies requests and writes the resulting state, every process keeps a
//! *replica* and applies one log: the history of the keys under `log/` in etcd, ordered by
//! etcd's revisions (state-machine replication over etcd's Raft log; the contract's item 7 in
//! docs/cluster-protocol.md). A node's request is one entry, appended by its own process in one
//! transaction fenced by the node's slot key (`slots.rs`); it is answered by the node's own
//! replica once the watch delivers it, so an answer never leaves before its entry is committed.
//! One leader, elected with the process lease and fenced by its leader key's create revision,
//! appends the meta store's timer ticks, writes chunked snapshots and compacts etcd below the
//! lowest revision still needed (`leader.rs`, `snapshot.rs`). A new process restores from the
//! newest snapshot in one consistent read and follows the log from there (`replica.rs`).
//! ARCHITECTURE.md gives the reasons and the failure cases.
//!
//! Leases for ids: each node's id-generator slot is claimed in etcd with its durable floors
//! (`slots.rs`), so session and plan ids stay unique across restarts and hand-overs. The seal
//! key that makes session ids unguessable is the cluster's one key, written once next to the
//! configuration (`seal.rs`): processes sealing with different keys could issue one id.
//!
//! The catalog register (`catalog.rs`): one opaque value (graphd's users, roles, spaces and
//! password hashes) that processes change one at a time under a lock bound to the process
//! lease, each write fenced by the lock and the revision it read, and that every process
//! follows ([`Delivery::Catalog`]).
//!
//! etcd's limits hold by design: a log entry is one request, whose largest encoding under the
//! meta configuration's limits is bounded ([`entry_bytes_bound`]) and checked against
//! `entry_bytes_max` at start; a snapshot is split into chunks of at most `chunk_bytes_max`;
//! no transaction has more than three operations.

mod addrs;
mod call;
mod catalog;
mod clock;
mod config;
mod entry;
mod error;
mod host;
mod keys;
mod leader;
mod lease;
mod record;
mod replica;
mod seal;
mod slots;
mod snapshot;
mod snapshot_pace;

/// Real etcd for the crate's own tests (the integration tests' support).
#[cfg(test)]
#[path = "../tests/support/etcd.rs"]
mod test_etcd;

pub use catalog::{CatalogRegister, CatalogTurn};
pub use config::{ETCD_REQUEST_BYTES_MAX, EtcdConfig};
pub use entry::{LogEntry, check_limits, entry_bytes_bound, etcd_meta_config};
pub use error::MetaEtcdError;
pub use host::MetaEtcd;
pub use keys::Keys;
pub use record::{LOG_FORMAT_VERSION, LOG_FORMAT_VERSION_OLDEST};
pub use replica::{Applied, Delivery};
pub use slots::{IdLeaseConfig, SlotGrant, SlotRecord};
pub use snapshot::Manifest;
