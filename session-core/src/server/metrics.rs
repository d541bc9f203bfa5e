//! Statistics per node and per session, serde-serializable for a host's metrics.

use graphsession_base::sync::{AtomicU64, Ordering};

/// The node's counters since start (or restore).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct NodeStats {
    /// Sessions open now.
    pub active: u64,
    /// Sessions created by login.
    pub opened: u64,
    /// Sessions reclaimed after their idle timeout.
    pub expired: u64,
    /// Sessions ended by KILL SESSION.
    pub killed: u64,
    /// Sessions ended by sign-out.
    pub signed_out: u64,
    /// Sessions ended because their user was dropped.
    pub user_dropped: u64,
    /// Logins refused by the per-(user, ip) limit.
    pub refused_by_limit: u64,
    /// Logins refused by `sessions_max`.
    pub refused_by_node_max: u64,
    /// Logins refused by the password check or the lockout.
    pub refused_by_password: u64,
    /// Logins refused for any other reason.
    pub refused_other: u64,
    /// Queries started.
    pub queries_started: u64,
    /// Events waiting in the queue.
    pub events_queued: u64,
    /// Events dropped because the queue was full.
    pub events_dropped: u64,
}

/// One session's statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionStats {
    /// Created, Unix milliseconds.
    pub created_unix_ms: u64,
    /// Last activity, Unix milliseconds.
    pub last_activity_unix_ms: u64,
    /// Queries started in it.
    pub queries_run: u64,
    /// Queries running now.
    pub queries_active: u32,
    /// Queries of it that ended killed.
    pub queries_killed: u64,
}

/// The node's counters as atomics. Sessions opened and ended are counted per shard under the
/// shard's lock (`ShardCounts`); here they hold only what a restored snapshot counted before.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) opened: AtomicU64,
    pub(crate) expired: AtomicU64,
    pub(crate) killed: AtomicU64,
    pub(crate) signed_out: AtomicU64,
    pub(crate) user_dropped: AtomicU64,
    pub(crate) refused_by_limit: AtomicU64,
    pub(crate) refused_by_node_max: AtomicU64,
    pub(crate) refused_by_password: AtomicU64,
    pub(crate) refused_other: AtomicU64,
    pub(crate) queries_started: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> NodeStats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        NodeStats {
            active: 0,
            opened: get(&self.opened),
            expired: get(&self.expired),
            killed: get(&self.killed),
            signed_out: get(&self.signed_out),
            user_dropped: get(&self.user_dropped),
            refused_by_limit: get(&self.refused_by_limit),
            refused_by_node_max: get(&self.refused_by_node_max),
            refused_by_password: get(&self.refused_by_password),
            refused_other: get(&self.refused_other),
            queries_started: get(&self.queries_started),
            events_queued: 0,
            events_dropped: 0,
        }
    }

    pub(crate) fn restore(stats: &NodeStats) -> Counters {
        Counters {
            opened: AtomicU64::new(stats.opened),
            expired: AtomicU64::new(stats.expired),
            killed: AtomicU64::new(stats.killed),
            signed_out: AtomicU64::new(stats.signed_out),
            user_dropped: AtomicU64::new(stats.user_dropped),
            refused_by_limit: AtomicU64::new(stats.refused_by_limit),
            refused_by_node_max: AtomicU64::new(stats.refused_by_node_max),
            refused_by_password: AtomicU64::new(stats.refused_by_password),
            refused_other: AtomicU64::new(stats.refused_other),
            queries_started: AtomicU64::new(stats.queries_started),
        }
    }
}
