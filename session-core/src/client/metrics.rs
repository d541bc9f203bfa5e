//! Metrics of a machine: gauges read from the ledger, counters kept by the machine. A serde value so a
//! host can export it as it is.

use graphsession_id_gen::SessionId;
use serde::{Deserialize, Serialize};

/// Monotonic counters kept by the machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Counters {
    pub(crate) sessions_created: u64,
    pub(crate) sessions_resumed: u64,
    pub(crate) zombies: u64,
    pub(crate) sign_outs_sent: u64,
    pub(crate) sign_out_overflows: u64,
    pub(crate) sign_outs_abandoned: u64,
    pub(crate) authenticate_outcome_unknown: u64,
    pub(crate) authenticate_refused: u64,
    pub(crate) budget_refusals: u64,
    pub(crate) outcome_unknown: u64,
    pub(crate) reruns: u64,
    pub(crate) reconnects: u64,
}

/// A snapshot of a machine's (or, summed, a pool's) sessions and what happened to them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    /// Sessions held for the user now (0 or 1 per machine).
    pub sessions_live: u32,
    /// Sessions awaiting sign-out now (queued, written without proof, or overflowed).
    pub sessions_pending_sign_out: u32,
    /// Authenticates whose reply was lost and that have not certainly expired.
    pub sessions_unknown: u32,
    /// Sessions created.
    pub sessions_created: u64,
    /// Sessions resumed after a reconnect.
    pub sessions_resumed: u64,
    /// Sign-outs delivered (proved by a later reply).
    pub sessions_signed_out: u64,
    /// Sessions the server answered -1002 for.
    pub sessions_invalidated: u64,
    /// Sessions that left the ledger because the server's idle timeout certainly passed.
    pub sessions_expired: u64,
    /// Zombies found: held sessions the server said were gone, held too long without transport, or
    /// held past the idle timeout.
    pub sessions_zombie: u64,
    /// Sessions whose sign-out could not be delivered before close (plus, in a pool, handles dropped
    /// unreleased).
    pub sessions_leaked: u64,
    /// Sign-out requests written.
    pub sign_outs_sent: u64,
    /// Times the sign-out outbox was full.
    pub sign_out_overflows: u64,
    /// Authenticates whose reply was lost.
    pub authenticate_outcome_unknown: u64,
    /// Authenticates refused by the server (-1002, -1010).
    pub authenticate_refused: u64,
    /// Authenticates not sent because the local budget was full.
    pub budget_refusals: u64,
    /// Requests reported with an unknown outcome.
    pub outcome_unknown: u64,
    /// Statements re-sent (after -1002, or idempotent after a lost reply).
    pub reruns: u64,
    /// Sockets dialled after the first.
    pub reconnects: u64,
    /// Every session id owned: held, awaiting sign-out or abandoned.
    pub session_ids_owned: Vec<SessionId>,
}

impl Metrics {
    /// Adds `other` into `self` (for a pool).
    pub fn absorb(&mut self, other: &Metrics) {
        self.sessions_live = self.sessions_live.saturating_add(other.sessions_live);
        self.sessions_pending_sign_out =
            self.sessions_pending_sign_out.saturating_add(other.sessions_pending_sign_out);
        self.sessions_unknown = self.sessions_unknown.saturating_add(other.sessions_unknown);
        let pairs: [(&mut u64, u64); 15] = [
            (&mut self.sessions_created, other.sessions_created),
            (&mut self.sessions_resumed, other.sessions_resumed),
            (&mut self.sessions_signed_out, other.sessions_signed_out),
            (&mut self.sessions_invalidated, other.sessions_invalidated),
            (&mut self.sessions_expired, other.sessions_expired),
            (&mut self.sessions_zombie, other.sessions_zombie),
            (&mut self.sessions_leaked, other.sessions_leaked),
            (&mut self.sign_outs_sent, other.sign_outs_sent),
            (&mut self.sign_out_overflows, other.sign_out_overflows),
            (&mut self.authenticate_outcome_unknown, other.authenticate_outcome_unknown),
            (&mut self.authenticate_refused, other.authenticate_refused),
            (&mut self.budget_refusals, other.budget_refusals),
            (&mut self.outcome_unknown, other.outcome_unknown),
            (&mut self.reruns, other.reruns),
            (&mut self.reconnects, other.reconnects),
        ];
        for (mine, theirs) in pairs {
            *mine = mine.saturating_add(theirs);
        }
        self.session_ids_owned.extend(other.session_ids_owned.iter().copied());
        self.session_ids_owned.sort_unstable();
    }
}
