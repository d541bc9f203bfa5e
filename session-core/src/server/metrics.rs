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

/// Counts of sessions opened and ended. Each shard keeps its own, written only under the shard's
/// write lock by a load and a store that the lock makes exact (see `Shard`), so the login and
/// sign-out paths pay no locked instruction for them and no thread writes another's cache line;
/// the node's [`Counters`] keep what a restored snapshot counted before. `stats` adds them all.
#[derive(Debug, Default)]
pub(crate) struct SessionCounts {
    // The two a login and a sign-out write first, next to each other.
    pub(crate) opened: AtomicU64,
    pub(crate) signed_out: AtomicU64,
    pub(crate) expired: AtomicU64,
    pub(crate) killed: AtomicU64,
    pub(crate) user_dropped: AtomicU64,
}

impl SessionCounts {
    /// The counts `stats` reports.
    fn restore(stats: &NodeStats) -> SessionCounts {
        SessionCounts {
            opened: AtomicU64::new(stats.opened),
            signed_out: AtomicU64::new(stats.signed_out),
            expired: AtomicU64::new(stats.expired),
            killed: AtomicU64::new(stats.killed),
            user_dropped: AtomicU64::new(stats.user_dropped),
        }
    }

    /// Adds these counts to `stats`.
    pub(crate) fn add_to(&self, stats: &mut NodeStats) {
        let get = |count: &AtomicU64| count.load(Ordering::Relaxed);
        stats.opened = stats.opened.wrapping_add(get(&self.opened));
        stats.signed_out = stats.signed_out.wrapping_add(get(&self.signed_out));
        stats.expired = stats.expired.wrapping_add(get(&self.expired));
        stats.killed = stats.killed.wrapping_add(get(&self.killed));
        stats.user_dropped = stats.user_dropped.wrapping_add(get(&self.user_dropped));
    }
}

/// The node's counters as atomics: logins refused and queries started, and the session counts of
/// a restored snapshot (new ones are counted per shard).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) restored_sessions: SessionCounts,
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

    /// The node's statistics but its gauges and the shards' session counts.
    pub(crate) fn stats(&self) -> NodeStats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut stats = NodeStats {
            refused_by_limit: get(&self.refused_by_limit),
            refused_by_node_max: get(&self.refused_by_node_max),
            refused_by_password: get(&self.refused_by_password),
            refused_other: get(&self.refused_other),
            queries_started: get(&self.queries_started),
            ..NodeStats::default()
        };
        self.restored_sessions.add_to(&mut stats);
        stats
    }

    pub(crate) fn restore(stats: &NodeStats) -> Counters {
        Counters {
            restored_sessions: SessionCounts::restore(stats),
            refused_by_limit: AtomicU64::new(stats.refused_by_limit),
            refused_by_node_max: AtomicU64::new(stats.refused_by_node_max),
            refused_by_password: AtomicU64::new(stats.refused_by_password),
            refused_other: AtomicU64::new(stats.refused_other),
            queries_started: AtomicU64::new(stats.queries_started),
        }
    }
}
