//! The liveness phase: the network heals (every cut link, every clock keeps its skew but stops
//! stepping), faults and workload stop; every open client must get a session again, and then
//! hold no zombie (every session it holds is live at meta) and leak nothing (every session live
//! at meta that a running, open process was given is one its client still accounts for). Then
//! every running client closes, and after the idle timeout and a few sync rounds nothing may be
//! left: no sign-out pending, no id in a closed client's ledger, no session at meta or on any
//! node, and every session a client held at its close ended by sign-out.

use std::collections::BTreeMap;

use graphsession_core::client::Idempotency;
use graphsession_core::cluster::GoneReason;
use graphsession_id_gen::SessionId;

use crate::world::client::Life;
use crate::world::node::EndKind;
use crate::world::{Checked, ClusterWorld, LIVENESS_STEPS_MAX};

/// Authenticates a client of an unknown user may send after the network healed: its
/// application's one open, and one in flight from before.
const STRANGER_AUTHENTICATES_MAX: u64 = 2;

/// The recovery step's statements refused as busy (-1005), waiting to run again.
#[derive(Debug, Default)]
pub(super) struct RecoveryRetries {
    /// Whether the recovery step runs (outside it the workload moves on after a refusal).
    running: bool,
    /// When each client's refused statement runs again, by client slot.
    due_ms: BTreeMap<u16, u64>,
}

/// How long the recovery step's application waits before it runs a statement again that a node
/// refused as busy (too many requests wait on meta).
const RECOVERY_BUSY_BACKOFF_MS: u64 = 100;

impl ClusterWorld {
    /// Heals everything: every open client must get a session and a result within a bound; then
    /// closes every running client, lets time pass, and checks that nothing leaked.
    pub(super) fn liveness(&mut self) -> Checked {
        self.healed = true;
        self.heal_ms = self.now_ms;
        self.heal_all();
        self.recover()?;
        self.check_no_zombie_no_leak()?;
        self.check_converged()?;
        let start_ms = self.now_ms;
        self.liveness_start_ms = start_ms;
        for slot in 0..self.clients.len() {
            if self.clients[slot].is_open() {
                let slot_id = u16::try_from(slot).unwrap_or(0);
                self.closed_in_liveness.insert(slot_id);
                // The held session was used moments ago (recovery, keepalives): its sign-out must
                // win. Sessions already waiting in the outbox may be near their expiry, and lose.
                let held: Vec<SessionId> = self.clients[slot]
                    .sessions()
                    .into_iter()
                    .filter(|&(session, held)| held && self.meta.session(session).is_some())
                    .map(|(session, _)| session)
                    .collect();
                self.owned_at_close.push((slot_id, held));
                self.clients[slot].close(self.now_ms, false);
                self.pump_client(slot)?;
            }
        }
        // A query still running keeps its session alive (fix 3): the idle timeout starts when
        // the last one ends, which may be up to twice the idle timeout after the close.
        let queries_end_ms = (self.nodes.iter())
            .flat_map(|node| node.running.iter().map(|query| query.finish_at_ms))
            .max()
            .unwrap_or(start_ms);
        let settle_ms = queries_end_ms.saturating_sub(start_ms)
            + 5_000
            + self.config.idle_timeout_ms
            + 6 * self.config.sync_interval_ms
            + 4 * self.config.latency_max_ms
            + 2_000;
        self.run_healed(start_ms + settle_ms, |_| false)?;
        self.check_settled(settle_ms)
    }

    /// On the healed network every open client runs a statement: each must see a ready session
    /// or a result within the time its leftovers from the faults (phantoms in its budget,
    /// backoffs) take to clear.
    fn recover(&mut self) -> Checked {
        self.converge()?;
        let start_ms = self.now_ms;
        let authenticates_at_heal = self.authenticates_sent.clone();
        let busy_at_heal = self.authenticates_busy.clone();
        for slot in 0..self.clients.len() {
            if self.clients[slot].is_open() {
                self.clients[slot].open(self.now_ms);
                let statement = "RETURN 1".to_owned();
                self.clients[slot].execute(self.now_ms, statement, Idempotency::Idempotent);
                self.pump_client(slot)?;
            }
        }
        let recover_ms = 2 * self.config.idle_timeout_ms
            + 4 * self.config.sync_interval_ms
            + 2 * (2_000 + 4 * self.config.sync_interval_ms)
            + 2_000;
        self.recovery_retries.running = true;
        let healed = self.run_healed(start_ms + recover_ms, ClusterWorld::all_recovered);
        self.recovery_retries = RecoveryRetries::default();
        healed?;
        for (slot, client) in self.clients.iter().enumerate() {
            let slot_id = u16::try_from(slot).unwrap_or(0);
            if self.is_stranger(slot) {
                // Refused (-1001) for good: one authenticate for the application's open, none
                // after it. A client that loops on a refusal floods the server. A node busy or
                // full (-1002, -1010) has not judged the user yet: each such refusal allows the
                // retry it calls for.
                let sent = self.authenticates_sent[slot] - authenticates_at_heal[slot];
                let busy = self.authenticates_busy[slot] - busy_at_heal[slot];
                let allowed = STRANGER_AUTHENTICATES_MAX + busy;
                if sent > allowed {
                    return Err(format!(
                        "[auth_loop] liveness: client {slot}, a user the server does not know, \
                         sent {sent} authenticates in {recover_ms} ms after healing, {busy} of \
                         them refused as busy or full; expected at most {allowed} (give up \
                         cleanly)"
                    ));
                }
                continue;
            }
            if client.is_open() && !self.recovered.contains(&slot_id) {
                return Err(format!(
                    "liveness: client {slot} expected a ready session or a result within {recover_ms} ms \
                     of healing, is {}",
                    client.describe()
                ));
            }
        }
        Ok(())
    }

    /// On the healed network, within a few sync rounds, every node learns what meta decided
    /// during the faults: no node may still hold a session meta had ended when the network
    /// healed. (Sessions that expire during the window are not counted: their "gone" may still
    /// be in flight.)
    fn converge(&mut self) -> Checked {
        let ended_at_heal: Vec<(usize, SessionId)> = self
            .nodes
            .iter()
            .enumerate()
            .flat_map(|(index, node)| {
                node.registry()
                    .cluster_sessions()
                    .into_iter()
                    .map(move |view| (index, view.session))
            })
            .filter(|(_, session)| self.meta.gone_reason(*session).is_some())
            .collect();
        // A node whose clock stepped back waits that much longer for its next round (its
        // timers run on its own clock, which the machines clamp, never rewind).
        let converge_ms = 3 * self.config.sync_interval_ms
            + 20 * self.config.latency_max_ms
            + 500
            + 2 * self.config.clock_skew_max_ms;
        self.run_healed(self.now_ms + converge_ms, |_| false)?;
        for (index, session) in ended_at_heal {
            let node = &self.nodes[index];
            if node.registry().session_stats(session.get()).is_some() {
                return Err(format!(
                    "liveness: node {index} still holds session {session} {converge_ms} ms after \
                     healing; expected it gone (meta ended it before the healing: {:?})",
                    self.meta.gone_reason(session)
                ));
            }
        }
        Ok(())
    }

    /// After recovery, within the time a zombie check takes: every session an open client holds
    /// is live at meta (no zombie), and every session live at meta that a running, open process
    /// was given is still in its client's accounting, held or waiting for its sign-out (no
    /// leak). A sign-out already delivered to a node whose removal is on its way to meta is not
    /// a leak.
    fn check_no_zombie_no_leak(&mut self) -> Checked {
        let window_ms = 3_000 + 3 * self.config.sync_interval_ms + 10 * self.config.latency_max_ms;
        self.run_healed(self.now_ms + window_ms, |_| false)?;
        for (slot, client) in self.clients.iter().enumerate() {
            if !client.is_open() {
                continue;
            }
            for (session, held) in client.sessions() {
                if held && self.meta.gone_reason(session).is_some() {
                    return Err(format!(
                        "[zombie] liveness: client {slot} holds session {session} as live {window_ms} ms \
                         after recovering on the healed network; meta ended it ({:?})",
                        self.meta.gone_reason(session)
                    ));
                }
            }
        }
        let live: Vec<SessionId> = self.meta.live_sessions().collect();
        for session in live {
            let Some(&(slot, process, _)) = self.given_on.get(&session) else { continue };
            let client = &self.clients[usize::from(slot)];
            if client.process != process || !client.is_open() {
                continue;
            }
            let removing = self
                .nodes
                .iter()
                .any(|node| node.sync().pending_removals().any(|id| id == session));
            // Let go for a reason the rules allow (accounting.rs): it expires.
            let released = self.accounting.released.contains_key(&session);
            if removing || released || client.sessions().iter().any(|&(id, _)| id == session) {
                continue;
            }
            self.stats.leaked += 1;
            return Err(format!(
                "[leak] liveness: session {session} is live at meta, given to client {slot} \
                 (process {process}, running and open), which no longer accounts for it: it was \
                 forgotten without a sign-out and lives until the idle timeout"
            ));
        }
        Ok(())
    }

    /// A node refused client `slot`'s statement because too many requests wait on meta, which
    /// asks the caller to try again: in the recovery step the application runs it again after
    /// [`RECOVERY_BUSY_BACKOFF_MS`] (at once would spin: a refusal takes no simulated time on an
    /// idle network). Outside the recovery step the workload moves on to its next statement.
    pub(super) fn recovery_refused_busy(&mut self, slot: u16) {
        if self.recovery_retries.running && !self.recovered.contains(&slot) {
            let due_ms = self.now_ms + RECOVERY_BUSY_BACKOFF_MS;
            self.recovery_retries.due_ms.insert(slot, due_ms);
        }
    }

    /// The first recovery statement due to run again, if any.
    pub(super) fn next_recovery_retry_ms(&self) -> Option<u64> {
        self.recovery_retries.due_ms.values().copied().min()
    }

    /// Runs again each recovery statement whose backoff is over.
    fn retry_recovery_statements(&mut self) -> Checked {
        let due: Vec<u16> = (self.recovery_retries.due_ms.iter())
            .filter(|&(_, &at_ms)| at_ms <= self.now_ms)
            .map(|(&slot, _)| slot)
            .collect();
        for slot_id in due {
            self.recovery_retries.due_ms.remove(&slot_id);
            let slot = usize::from(slot_id);
            let client = &mut self.clients[slot];
            if client.life != Life::Running || !client.is_open() {
                continue;
            }
            self.stats.recovery_busy_retries += 1;
            client.execute(self.now_ms, "RETURN 1".to_owned(), Idempotency::Idempotent);
            self.pump_client(slot)?;
        }
        Ok(())
    }

    fn all_recovered(&self) -> bool {
        self.clients.iter().enumerate().all(|(slot, client)| {
            !client.is_open()
                || self.is_stranger(slot)
                || self.recovered.contains(&u16::try_from(slot).unwrap_or(0))
        })
    }

    /// Whether client slot `slot` logs in as a user the role table does not know: it can never
    /// recover, and is judged by giving up cleanly instead.
    fn is_stranger(&self, slot: usize) -> bool {
        self.config.stranger_client && slot == 0
    }

    /// Runs the healed network (deliveries and timers only) until `deadline_ms` or `done`.
    fn run_healed(&mut self, deadline_ms: u64, done: fn(&ClusterWorld) -> bool) -> Checked {
        let start_ms = self.now_ms;
        let mut steps = 0_u32;
        while self.now_ms < deadline_ms && !done(self) {
            steps += 1;
            if steps > LIVENESS_STEPS_MAX {
                return Err(format!(
                    "liveness: not settled within {LIVENESS_STEPS_MAX} steps (at {} ms of {} ms)",
                    self.now_ms - start_ms,
                    deadline_ms - start_ms
                ));
            }
            self.step += 1;
            self.stats.liveness_steps += 1;
            let next = self.next_due_ms().unwrap_or(deadline_ms).min(deadline_ms);
            self.now_ms = self.now_ms.max(next);
            self.trace(self.now_ms);
            while let Some(message) = self.network.pop_due(self.now_ms) {
                self.deliver(message)?;
            }
            self.fire_timers()?;
            self.retry_recovery_statements()?;
            self.check_all()?;
            self.check_oracles()?;
        }
        Ok(())
    }

    /// The liveness properties, with expected and actual values.
    fn check_settled(&self, settle_ms: u64) -> Checked {
        for (slot, client) in self.clients.iter().enumerate() {
            if client.life != Life::Running {
                continue;
            }
            if !client.is_closed() {
                return Err(format!(
                    "liveness: client {slot} expected closed {settle_ms} ms after close, is {}",
                    client.describe()
                ));
            }
            let pending = client.sign_outs_pending();
            if pending != 0 {
                return Err(format!(
                    "liveness: client {slot} expected 0 sign-outs pending, has {pending}"
                ));
            }
            let closed_here = self.closed_in_liveness.contains(&u16::try_from(slot).unwrap_or(0));
            // Ids only: an authenticate whose reply was lost stays a phantom in a closed machine
            // (it cannot sign out an id it never learned; the server side expires it).
            if closed_here && !client.sessions().is_empty() {
                return Err(format!(
                    "liveness: client {slot} expected an empty ledger after close on a healed network, holds {:?}",
                    client.sessions()
                ));
            }
        }
        self.check_signed_out()?;
        let live: Vec<String> = (self.meta.live_sessions())
            .map(|id| {
                let activity = self.meta.session(id).map(|record| record.last_activity_unix_ms);
                format!(
                    "{id} (last activity {activity:?}, meta's clock {}, holders {:?})",
                    self.meta.now_unix_ms(),
                    self.meta.holders(id)
                )
            })
            .collect();
        if !live.is_empty() {
            return Err(format!(
                "liveness: meta expected 0 sessions {settle_ms} ms after every client closed or died \
                 (idle timeout {} ms), holds {}: {}",
                self.config.idle_timeout_ms,
                live.len(),
                live.join(", ")
            ));
        }
        for (index, node) in self.nodes.iter().enumerate() {
            let count = node.registry().session_count();
            if count != 0 {
                return Err(format!(
                    "liveness: node {index} expected 0 sessions after settling, holds {count}"
                ));
            }
            let removals = node.sync().pending_removals().count();
            if removals != 0 {
                return Err(format!(
                    "liveness: node {index} expected 0 removals pending at meta, has {removals}"
                ));
            }
        }
        Ok(())
    }

    /// Every session a client owned when the liveness phase closed it ended by sign-out (meta's
    /// tombstone says so), unless it had expired before: on a healed network, close must not leave
    /// sessions to expiry.
    fn check_signed_out(&self) -> Checked {
        for (slot, owned) in &self.owned_at_close {
            for &session in owned {
                let reason = self.meta.gone_reason(session);
                let ended_before =
                    self.nodes.iter().filter_map(|node| node.ended.get(&session)).any(
                        |(at_ms, kind)| {
                            *kind == EndKind::Expired && *at_ms < self.liveness_start_ms
                        },
                    );
                match reason {
                    Some(GoneReason::SignedOut) => {}
                    Some(GoneReason::Expired) if ended_before => {}
                    // The admin's KILL SESSION may win the race with the sign-out.
                    Some(_) if self.admin_killed.contains(&session) => {}
                    Some(other) => {
                        return Err(format!(
                            "liveness: session {session} of client {slot}, closed on a healed network, \
                             expected to end by sign-out, meta says {other:?}"
                        ));
                    }
                    None => {
                        let live = self.meta.session(session).is_some();
                        return Err(format!(
                            "liveness: session {session} of client {slot} expected to end by sign-out \
                             after close; at meta it is {}",
                            if live { "still live" } else { "unknown" }
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
