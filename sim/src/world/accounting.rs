//! The accounting oracle, at every step: every session that exists at meta or on any node is
//! accounted for by exactly one of: held by a live client (in its ledger), queued for sign-out in
//! a live client's outbox (its ledger too), owned by a client process that crashed (it may expire),
//! let go by its client for a reason the rules allow (a -1002, certain expiry, a proven sign-out, an
//! outbox overflow, or a sign-out abandoned while every path was down for the whole close), or
//! being removed (meta tombstoned it, a node's removal waits for meta, or the admin killed it).
//! Anything else is a leak at that step: the oracle runs after every step in which anything
//! changed, so the step it reports is the one that orphaned the session.
//!
//! A session whose creation reply never reached a client (lost with its socket) is a phantom:
//! its client counts it and it expires; it is not judged here.

use std::collections::{BTreeMap, BTreeSet};

use graphsession_id_gen::SessionId;

use crate::world::client::Life;
use crate::world::{Checked, ClusterWorld, Link};

/// Why a client let a session go that may still exist (it ends by expiry or removal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Release {
    /// Its sign-out was proven: meta removed it (node copies lag one round).
    SignedOut,
    /// The server said -1002 for it.
    Lost,
    /// The client's clock says it certainly expired.
    Expired,
    /// The outbox was full: its sign-out was dropped, it is left to expire.
    Overflow,
    /// Its sign-out was abandoned at the close deadline with every path down meanwhile.
    Abandoned,
}

/// One client slot's view of its paths to meta (client-node and node-meta links): the runs of
/// time some path was up, the newest last.
#[derive(Debug, Clone, Default)]
pub(super) struct PathWatch {
    /// Since when (true time) some path has been up without a break; `None`: none is up.
    up_since_ms: Option<u64>,
    /// Earlier runs (start, end), the newest last, at most [`UP_RUNS_MAX`] of them.
    runs: std::collections::VecDeque<(u64, u64)>,
}

/// Up-runs remembered per client (older ones end before any close deadline that may still come).
const UP_RUNS_MAX: usize = 32;

/// What the oracle keeps between steps.
#[derive(Debug, Default)]
pub(super) struct Accounting {
    /// Sessions their client let go, and why.
    pub(super) released: BTreeMap<SessionId, Release>,
    /// Every session created and not yet tombstoned at meta: the only ones that can exist
    /// unaccounted (a tombstoned one is being removed; node copies follow within a round).
    pub(super) candidates: BTreeSet<SessionId>,
    /// Per client slot.
    paths: Vec<PathWatch>,
    /// Client processes killed (their sessions are orphans).
    pub(super) killed_processes: BTreeSet<u32>,
    /// A violation found while events were drained, reported at the step's checks.
    pub(super) pending: Option<String>,
    /// Sign-outs abandoned where the rules allow it.
    pub(super) abandoned_allowed: u64,
}

impl ClusterWorld {
    /// The time a path must stay up for a sign-out to get through: the client's sign-out and
    /// reconnect backoffs, the node's retry backoff and request timeout, and the messages.
    fn sign_out_window_ms(&self) -> u64 {
        2_000 + 2 * self.config.sync_interval_ms + 12 * self.config.latency_max_ms + 200
    }

    /// Whether client slot `slot` has a path to meta now: a node it may dial whose links to it
    /// and to meta are up, with the network and every party on the way keeping time. The world's
    /// steps may let time pass without delivering what is due or firing what is due (an
    /// asynchronous network, paused processes): while anything is overdue, no path counts as up.
    fn path_up(&self, slot: usize) -> bool {
        let now = self.now_ms;
        if self.network.next_at_ms().is_some_and(|at| at < now) {
            return false;
        }
        let client = &self.clients[slot];
        if client.life != Life::Running || client.poll_timeout().is_some_and(|at| at < now) {
            return false;
        }
        let slot_id = u16::try_from(slot).unwrap_or(0);
        let up = |node: u16| {
            let index = usize::from(node);
            !self.partitions.contains(&Link::ClientNode { client: slot_id, node })
                && !self.partitions.contains(&Link::NodeMeta { node })
                && self.nodes[index].poll_timeout().is_none_or(|at| at >= self.node_now(index))
        };
        if self.config.failover { (0..self.config.nodes).any(up) } else { up(client.node) }
    }

    /// Updates every client's path watch (after each step).
    pub(super) fn watch_paths(&mut self) {
        let now = self.now_ms;
        self.accounting.paths.resize(self.clients.len(), PathWatch::default());
        for slot in 0..self.clients.len() {
            let up = self.path_up(slot);
            let watch = &mut self.accounting.paths[slot];
            match (up, watch.up_since_ms) {
                (true, None) => watch.up_since_ms = Some(now),
                (false, Some(since)) => {
                    watch.up_since_ms = None;
                    if watch.runs.len() == UP_RUNS_MAX {
                        watch.runs.pop_front();
                    }
                    watch.runs.push_back((since, now));
                }
                _ => {}
            }
        }
    }

    /// A client closed with sign-outs abandoned at its flush deadline: allowed only if no path
    /// to meta stayed up long enough for a sign-out since the flush began.
    pub(super) fn judge_abandoned(&mut self, slot: usize, abandoned: &[SessionId]) {
        let window_ms = self.sign_out_window_ms();
        let flush_ms = crate::world::client::CLOSE_FLUSH_TIMEOUT_MS;
        let (now, flush_start) = (self.now_ms, self.now_ms.saturating_sub(flush_ms));
        let Some(watch) = self.accounting.paths.get(slot) else { return };
        let current = watch.up_since_ms.map(|since| (since, now));
        let longest = (watch.runs.iter().copied().chain(current))
            .map(|(start, end)| end.saturating_sub(start.max(flush_start)))
            .max()
            .unwrap_or(0);
        if longest >= window_ms && self.accounting.pending.is_none() {
            self.accounting.pending = Some(format!(
                "[leak] client {slot} abandoned the sign-outs of {abandoned:?} at its close \
                 deadline; expected them delivered: a path to meta was up for {longest} ms \
                 without a break during the {flush_ms} ms flush (a sign-out needs {window_ms} ms)"
            ));
            return;
        }
        self.accounting.abandoned_allowed += u64::try_from(abandoned.len()).unwrap_or(0);
        for &session in abandoned {
            self.accounting.released.insert(session, Release::Abandoned);
        }
    }

    /// The accounting oracle (see the module docs).
    pub(super) fn check_accounting(&mut self) -> Checked {
        if let Some(violation) = self.accounting.pending.take() {
            return Err(violation);
        }
        let mut tombstoned = Vec::new();
        for &session in &self.accounting.candidates {
            let at_meta = self.meta.session(session).is_some();
            if !at_meta && self.meta.gone_reason(session).is_some() {
                tombstoned.push(session);
                continue;
            }
            let exists = at_meta
                || (self.nodes.iter())
                    .any(|node| node.registry().session_stats(session.get()).is_some());
            if !exists {
                continue;
            }
            if let Err(why) = self.account(session) {
                self.stats.leaked += 1;
                return Err(format!(
                    "[leak] session {session} exists (at meta: {}, on nodes: {:?}) and nobody \
                     accounts for it since this step: {why}",
                    self.meta.session(session).is_some(),
                    self.holding_nodes(session),
                ));
            }
        }
        for session in tombstoned {
            self.accounting.candidates.remove(&session);
        }
        Ok(())
    }

    /// Whether `session` is accounted for; why not if it is not.
    fn account(&self, session: SessionId) -> Result<(), String> {
        if self.accounting.released.contains_key(&session) || self.admin_killed.contains(&session) {
            return Ok(());
        }
        let Some(&(slot, process, _)) = self.given_on.get(&session) else {
            return Ok(()); // a phantom: its creation reply never reached a client
        };
        let slot = usize::from(slot);
        let client = &self.clients[slot];
        if client.process != process {
            if self.accounting.killed_processes.contains(&process) || self.removal_pending(session)
            {
                return Ok(()); // an orphan of a crashed process, or being removed
            }
            return Err(format!(
                "its owner, process {process} of client {slot}, closed and was replaced without \
                 signing it out or letting it go"
            ));
        }
        if client.life == Life::Killed {
            return Ok(());
        }
        if client.accounts_for(session) || self.removal_pending(session) {
            return Ok(());
        }
        Err(format!(
            "its owner, client {slot} (process {process}, {}), no longer has it in its ledger or \
             outbox",
            if client.is_closed() { "closed" } else { "open" }
        ))
    }

    /// Whether a node's removal of `session` waits for meta.
    fn removal_pending(&self, session: SessionId) -> bool {
        self.nodes.iter().any(|node| node.sync().pending_removals().any(|id| id == session))
    }

    fn holding_nodes(&self, session: SessionId) -> Vec<usize> {
        (self.nodes.iter().enumerate())
            .filter(|(_, node)| node.registry().session_stats(session.get()).is_some())
            .map(|(index, _)| index)
            .collect()
    }
}
