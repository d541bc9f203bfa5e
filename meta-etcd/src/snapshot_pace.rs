//! When the leader writes the next snapshot: often enough that the log a replica replays stays
//! small next to the state, rarely enough that snapshots cost at most a fixed share of what the
//! log itself costs.
//!
//! A snapshot is the whole state (about 330 bytes a session as JSON: 327 MB at meta's default
//! `sessions_max` of a million). Written at every interval while the log moved, as the leader
//! once did, a cluster of a million idle sessions wrote 327 MB into etcd every 10 s for nothing
//! but the leader's own timer ticks. So the next snapshot waits until the log applied since the
//! last one is at least `snapshot_log_percent` of that snapshot's bytes (the rule of thumb of
//! Raft implementations: a snapshot's cost, amortized over the log it replaces, is then at most
//! `100 / snapshot_log_percent` bytes per logged byte), and never for longer than
//! `snapshot_interval_max_ms`, so a quiet cluster's log is still compacted.

/// How the leader paces its snapshots (from [`EtcdConfig`](crate::EtcdConfig)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SnapshotPace {
    /// The shortest time between two snapshots.
    pub interval_ms: u64,
    /// The longest time between two snapshots while the log moves.
    pub interval_max_ms: u64,
    /// The log bytes applied since the last snapshot that call for the next one, as a
    /// percentage of that snapshot's bytes; 0 writes one at every interval while the log moves.
    pub log_percent: u32,
}

/// The last snapshot this leader wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LastSnapshot {
    /// When it was taken, Unix ms (the leader's clock).
    pub at_unix_ms: u64,
    /// The log revision it holds the state at.
    pub revision: i64,
    /// Its size, in bytes.
    pub bytes: u64,
    /// The replica's count of log bytes applied when it was taken.
    pub log_bytes_applied: u64,
}

/// Where the replica is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReplicaPosition {
    /// The revision of the last entry applied.
    pub applied_revision: i64,
    /// Log bytes applied by this process so far (never decreases).
    pub log_bytes_applied: u64,
}

impl SnapshotPace {
    /// Whether a snapshot is due at `now_unix_ms`. The first of a cluster (`last` is `None`: no
    /// manifest in etcd when this leader took over) is due at once; none is due while nothing
    /// new was applied.
    pub(crate) fn is_due(
        &self,
        now_unix_ms: u64,
        position: ReplicaPosition,
        last: Option<&LastSnapshot>,
    ) -> bool {
        let Some(last) = last else { return true };
        if position.applied_revision <= last.revision {
            return false;
        }
        let since_ms = now_unix_ms.saturating_sub(last.at_unix_ms);
        if since_ms < self.interval_ms {
            return false;
        }
        if since_ms >= self.interval_max_ms {
            return true;
        }
        let logged = position.log_bytes_applied.saturating_sub(last.log_bytes_applied);
        let wanted = u128::from(last.bytes) * u128::from(self.log_percent) / 100;
        u128::from(logged) >= wanted
    }
}

#[cfg(test)]
mod tests {
    //! Each condition of the pace alone, at its edge.

    use super::{LastSnapshot, ReplicaPosition, SnapshotPace};

    const PACE: SnapshotPace =
        SnapshotPace { interval_ms: 10_000, interval_max_ms: 600_000, log_percent: 100 };
    const LAST: LastSnapshot =
        LastSnapshot { at_unix_ms: 1_000_000, revision: 50, bytes: 1_000, log_bytes_applied: 7 };

    fn at(applied_revision: i64, log_bytes_applied: u64) -> ReplicaPosition {
        ReplicaPosition { applied_revision, log_bytes_applied }
    }

    #[test]
    fn a_clusters_first_snapshot_is_due_at_once() {
        assert!(PACE.is_due(0, at(0, 0), None));
    }

    #[test]
    fn nothing_new_applied_is_never_due() {
        let much_later = LAST.at_unix_ms + 10 * PACE.interval_max_ms;
        assert!(!PACE.is_due(much_later, at(50, 1 << 40), Some(&LAST)));
        assert!(PACE.is_due(much_later, at(51, 7), Some(&LAST)));
    }

    #[test]
    fn the_log_must_reach_its_share_of_the_last_snapshot() {
        let after_interval = LAST.at_unix_ms + PACE.interval_ms;
        assert!(!PACE.is_due(after_interval, at(60, 7 + 999), Some(&LAST)));
        assert!(PACE.is_due(after_interval, at(60, 7 + 1_000), Some(&LAST)));
        let half = SnapshotPace { log_percent: 50, ..PACE };
        assert!(!half.is_due(after_interval, at(60, 7 + 499), Some(&LAST)));
        assert!(half.is_due(after_interval, at(60, 7 + 500), Some(&LAST)));
    }

    #[test]
    fn no_snapshot_before_the_interval_however_long_the_log() {
        let before = LAST.at_unix_ms + PACE.interval_ms - 1;
        assert!(!PACE.is_due(before, at(60, u64::MAX), Some(&LAST)));
    }

    #[test]
    fn the_longest_interval_writes_one_whatever_the_log() {
        let max = LAST.at_unix_ms + PACE.interval_max_ms;
        assert!(!PACE.is_due(max - 1, at(60, 8), Some(&LAST)));
        assert!(PACE.is_due(max, at(60, 8), Some(&LAST)));
    }

    #[test]
    fn a_zero_percent_pace_snapshots_at_every_interval_while_the_log_moves() {
        let every = SnapshotPace { log_percent: 0, ..PACE };
        assert!(every.is_due(LAST.at_unix_ms + PACE.interval_ms, at(51, 7), Some(&LAST)));
    }

    #[test]
    fn a_clock_that_stepped_back_waits_for_the_interval() {
        assert!(!PACE.is_due(LAST.at_unix_ms - 5_000, at(60, 1 << 30), Some(&LAST)));
    }
}
