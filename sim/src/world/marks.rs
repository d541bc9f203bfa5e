//! Coverage marks ("sometimes" assertions): interesting branches the simulator must keep reaching.
//! A default run fails if any mark was never hit over all its seeds, so a change to the workload,
//! the fault mix or the machines cannot silently stop exercising a path.

/// An interesting branch of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A client's zombie check found a session the server no longer has (or cannot reach).
    ZombieDetected,
    /// A statement met -1002: the session expired or was killed under its client.
    SessionLostOnExecute,
    /// A sign-out went out on another socket than the one its session was created on (retried
    /// after a reconnect).
    SignOutAfterReconnect,
    /// A node picked up a session created on another node.
    PickUpOnAnotherNode,
    /// A long query's executor stopped at a kill.
    LongQueryKilled,
    /// KILL QUERY named a query that had already finished (the kill lost the race).
    KillAfterFinish,
    /// A session orphaned by a killed client process expired.
    OrphanExpired,
    /// A client gave up a sign-out at its close deadline (counted as leaked, expires).
    SignOutAbandoned,
    /// A login was refused (unknown user, limit).
    AuthenticateRefused,
    /// A node restarted from its snapshot with sessions in it.
    RestoredFromSnapshot,
    /// A pooled session got ready.
    PooledSessionReady,
    /// A cut link healed while traffic waited on it.
    HealedWithTrafficHeld,
    /// A node's clock stepped back.
    ClockSteppedBack,
    /// Meta's leader failed over with sessions live.
    MetaFailover,
    /// A long query's executor stopped at its deadline (query timeout).
    QueryTimedOut,
    /// Meta refused a KILL QUERY from another node as not found (-2073: no holder's report
    /// names the plan), which the refusal oracle judges (`kill_refusals.rs`).
    KillQueryNotFound,
}

impl Mark {
    /// Every mark, in index order.
    pub const ALL: [Mark; 16] = [
        Mark::ZombieDetected,
        Mark::SessionLostOnExecute,
        Mark::SignOutAfterReconnect,
        Mark::PickUpOnAnotherNode,
        Mark::LongQueryKilled,
        Mark::KillAfterFinish,
        Mark::OrphanExpired,
        Mark::SignOutAbandoned,
        Mark::AuthenticateRefused,
        Mark::RestoredFromSnapshot,
        Mark::PooledSessionReady,
        Mark::HealedWithTrafficHeld,
        Mark::ClockSteppedBack,
        Mark::MetaFailover,
        Mark::QueryTimedOut,
        Mark::KillQueryNotFound,
    ];

    /// Lower-case name for summaries.
    pub fn name(self) -> &'static str {
        match self {
            Mark::ZombieDetected => "zombie_detected",
            Mark::SessionLostOnExecute => "session_lost_on_execute",
            Mark::SignOutAfterReconnect => "sign_out_after_reconnect",
            Mark::PickUpOnAnotherNode => "pick_up_on_another_node",
            Mark::LongQueryKilled => "long_query_killed",
            Mark::KillAfterFinish => "kill_after_finish",
            Mark::OrphanExpired => "orphan_expired",
            Mark::SignOutAbandoned => "sign_out_abandoned",
            Mark::AuthenticateRefused => "authenticate_refused",
            Mark::RestoredFromSnapshot => "restored_from_snapshot",
            Mark::PooledSessionReady => "pooled_session_ready",
            Mark::HealedWithTrafficHeld => "healed_with_traffic_held",
            Mark::ClockSteppedBack => "clock_stepped_back",
            Mark::MetaFailover => "meta_failover",
            Mark::QueryTimedOut => "query_timed_out",
            Mark::KillQueryNotFound => "kill_query_not_found",
        }
    }
}

/// How often each mark was hit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    counts: [u64; 16],
}

impl Marks {
    /// Records one hit of `mark`.
    pub fn hit(&mut self, mark: Mark) {
        self.counts[mark as usize] += 1;
    }

    /// Hits of `mark`.
    pub fn count(&self, mark: Mark) -> u64 {
        self.counts[mark as usize]
    }

    /// Adds another run's hits.
    pub fn add(&mut self, other: &Marks) {
        for (total, count) in self.counts.iter_mut().zip(other.counts) {
            *total += count;
        }
    }

    /// Marks never hit.
    pub fn missed(&self) -> Vec<Mark> {
        Mark::ALL.into_iter().filter(|&mark| self.count(mark) == 0).collect()
    }
}
