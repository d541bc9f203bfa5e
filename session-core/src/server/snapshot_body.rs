//! The snapshot's body as plain values: what a registry persists of itself, its sessions and its
//! lockouts. `snapshot.rs` takes, checks and restores it, `snapshot_codec.rs` encodes it; both
//! depend on this file and not on each other's values.

use std::collections::BTreeMap;

use graphsession_id_gen::SessionId;

use crate::server::audit::HistoryEntry;
use crate::server::metrics::NodeStats;
use crate::server::session::Origin;

/// The registry's persisted state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SnapshotBody {
    /// The newest time the registry had been told, Unix milliseconds.
    pub newest_unix_ms: u64,
    /// The node's counters (`active`, `events_*` are recomputed on restore).
    pub stats: NodeStats,
    /// Every session, by id.
    pub sessions: Vec<SessionRecord>,
    /// Users with failed login attempts, by name.
    pub lockouts: Vec<LockoutRecord>,
}

/// One persisted session.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionRecord {
    /// Its id.
    pub id: SessionId,
    /// Its user.
    pub user: String,
    /// Its client's ip.
    pub client_ip: String,
    /// Its current space.
    pub space: Option<String>,
    /// When the space was set (USE here, or adopted from the cluster), Unix ms; 0 for none.
    pub space_set_unix_ms: u64,
    /// How it came to this node (its (user, ip) pair may exceed the limit by installed ones).
    pub origin: Origin,
    /// Created, Unix milliseconds.
    pub created_unix_ms: u64,
    /// Last activity, Unix milliseconds.
    pub last_activity_unix_ms: u64,
    /// Queries started in it.
    pub queries_run: u64,
    /// Queries of it that ended killed.
    pub queries_killed: u64,
    /// Its variables.
    pub variables: BTreeMap<String, String>,
    /// Its history, oldest first.
    pub history: Vec<HistoryEntry>,
    /// Older history no longer kept.
    pub history_dropped: u32,
}

/// One user's failed login attempts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LockoutRecord {
    /// The user.
    pub user: String,
    /// Wrong passwords still allowed before a lock (0 when locked).
    pub remaining_attempts: u32,
    /// Locked until, Unix milliseconds; `None` when not locked.
    pub locked_until_unix_ms: Option<u64>,
}
