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

use crate::world::client::{Life, SimClient};
use crate::world::node::SimNode;
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
    /// Each with what the oracle learned of it (`Candidate`).
    pub(super) candidates: BTreeMap<SessionId, Candidate>,
    /// Per client slot.
    paths: Vec<PathWatch>,
    /// Client processes killed (their sessions are orphans).
    pub(super) killed_processes: BTreeSet<u32>,
    /// A violation found while events were drained, reported at the step's checks.
    pub(super) pending: Option<String>,
    /// Sign-outs abandoned where the rules allow it.
    pub(super) abandoned_allowed: u64,
    /// Whether meta took an input since the last pass (only then can a candidate have been
    /// tombstoned).
    pub(super) meta_changed: bool,
    /// Meta's change-log position at the last look for tombstones.
    tombstones_seen_seq: Option<u64>,
    /// Whether meta or a node took an input since the last pass: only then can a candidate's
    /// existence or pending removal have changed, so every candidate is judged; otherwise only
    /// those of the clients in `clients_changed` (bits by slot) and those of no known owner.
    pub(super) servers_changed: bool,
    /// Client slots that took an input (or were replaced) since the last pass.
    pub(super) clients_changed: u64,
    /// Each node's and each client's next timer as of its last input: a pure machine's
    /// `poll_timeout` changes only with its inputs, so the path watch asks again only the
    /// machines that took one (bits in `timers_stale`, set by `check_all`).
    node_timeouts: Vec<Option<u64>>,
    client_timeouts: Vec<Option<u64>>,
    /// Machines whose timer must be asked again: nodes, and client slots.
    pub(super) timers_stale: (u64, u64),
}

/// What the oracle learned of a candidate.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Candidate {
    /// The client slot and process its creation reply reached, once known.
    owner: Option<(u16, u32)>,
    /// At the last pass its owner held it (ledger or outbox): it stays accounted for until
    /// that client takes an input, whatever the servers do.
    held: bool,
}

/// How a session is accounted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accounted {
    /// For now, by its client holding it.
    Held,
    /// For now (its removal waits for meta, it is a phantom, its process was killed).
    Now,
    /// For good: by a rule that cannot stop holding.
    ForGood,
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
    /// `nodes_up` has bit `i` set when node `i`'s link to meta is up and its timers kept time.
    fn path_up(&self, slot: usize, nodes_up: u64) -> bool {
        let client = &self.clients[slot];
        let timeout = self.accounting.client_timeouts.get(slot).copied().flatten();
        if client.life != Life::Running || timeout.is_some_and(|at| at < self.now_ms) {
            return false;
        }
        let slot_id = u16::try_from(slot).unwrap_or(0);
        let up = |node: u16| {
            nodes_up & (1 << (node % 64)) != 0
                && (self.partitions.is_empty()
                    || !self.partitions.contains(&Link::ClientNode { client: slot_id, node }))
        };
        if self.config.failover { (0..self.config.nodes).any(up) } else { up(client.node) }
    }

    /// The nodes whose link to meta is up and whose timers kept time, as bits (`path_up`); none
    /// while the network holds an overdue message.
    fn nodes_up(&self) -> u64 {
        if self.network.next_at_ms().is_some_and(|at| at < self.now_ms) {
            return 0;
        }
        let mut bits = 0_u64;
        for index in 0..self.nodes.len() {
            let id = u16::try_from(index).unwrap_or(0);
            let timeout = self.accounting.node_timeouts.get(index).copied().flatten();
            if (self.partitions.is_empty()
                || !self.partitions.contains(&Link::NodeMeta { node: id }))
                && timeout.is_none_or(|at| at >= self.node_now(index))
            {
                bits |= 1 << (index % 64);
            }
        }
        bits
    }

    /// Asks again the timers of the machines that took an input since the last watch.
    fn refresh_timers(&mut self) {
        let (nodes, clients) = std::mem::take(&mut self.accounting.timers_stale);
        let accounting = &mut self.accounting;
        if accounting.node_timeouts.len() != self.nodes.len() {
            accounting.node_timeouts = self.nodes.iter().map(SimNode::poll_timeout).collect();
        } else {
            for index in super::bits(nodes) {
                accounting.node_timeouts[index] = self.nodes[index].poll_timeout();
            }
        }
        if accounting.client_timeouts.len() != self.clients.len() {
            accounting.client_timeouts = self.clients.iter().map(SimClient::poll_timeout).collect();
        } else {
            for slot in super::bits(clients) {
                accounting.client_timeouts[slot] = self.clients[slot].poll_timeout();
            }
        }
        debug_assert!(
            (self.nodes.iter().map(SimNode::poll_timeout))
                .eq(accounting.node_timeouts.iter().copied())
                && (self.clients.iter().map(SimClient::poll_timeout))
                    .eq(accounting.client_timeouts.iter().copied()),
            "a machine's timer changed without an input the simulator marked"
        );
    }

    /// Updates every client's path watch (after each step).
    pub(super) fn watch_paths(&mut self) {
        let now = self.now_ms;
        if self.accounting.paths.len() != self.clients.len() {
            self.accounting.paths.resize(self.clients.len(), PathWatch::default());
        }
        // Only a client flushing its sign-outs after its application closed it can abandon
        // them (it says so as it ends the flush, in a step before this watch), and only the
        // runs since that close count (`judge_abandoned`): the others are not watched (their
        // watch starts afresh at their close, in the step of the close).
        let mut nodes_up = None;
        for slot in 0..self.clients.len() {
            let client = &self.clients[slot];
            if !client.close_requested || client.life != Life::Running || client.is_closed() {
                let watch = &mut self.accounting.paths[slot];
                if watch.up_since_ms.is_some() || !watch.runs.is_empty() {
                    *watch = PathWatch::default();
                }
                continue;
            }
            let nodes_up = match nodes_up {
                Some(bits) => bits,
                None => {
                    self.refresh_timers();
                    *nodes_up.insert(self.nodes_up())
                }
            };
            let up = nodes_up != 0 && self.path_up(slot, nodes_up);
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

    /// The accounting oracle (see the module docs). Incremental, with the verdicts of a full
    /// pass: a candidate meta tombstoned leaves the candidates (tombstones come only with meta's
    /// inputs, so only those steps look for them); one accounted for by a rule that holds for
    /// good (released, killed by the admin, an orphan of a killed process: those sets only
    /// grow) leaves them too; one its client held at the last pass is judged again only once
    /// that client took an input; one accounted for by the servers (a removal waiting for meta)
    /// only once a server or its client did; and whether a candidate still exists is asked
    /// only of one nobody accounts for.
    pub(super) fn check_accounting(&mut self) -> Checked {
        if let Some(violation) = self.accounting.pending.take() {
            return Err(violation);
        }
        // Every tombstone moves meta's change log: while it stands still, none was added.
        let seq = Some(self.meta.changes_seq());
        let meta_changed = std::mem::take(&mut self.accounting.meta_changed)
            && std::mem::replace(&mut self.accounting.tombstones_seen_seq, seq) != seq;
        let all = std::mem::take(&mut self.accounting.servers_changed);
        let clients = std::mem::take(&mut self.accounting.clients_changed);
        let mut settled = Vec::new();
        let mut learned = Vec::new();
        for (&session, &candidate) in &self.accounting.candidates {
            let owner = candidate.owner.or_else(|| {
                let &(slot, process, _) = self.given_on.get(&session)?;
                Some((slot, process))
            });
            let at_meta = meta_changed && self.meta.session(session).is_some();
            if meta_changed && !at_meta && self.meta.gone_reason(session).is_some() {
                settled.push(session);
                continue;
            }
            let owner_changed = owner.is_none_or(|(slot, _)| clients & (1 << (slot % 64)) != 0);
            if !owner_changed && (candidate.held || !all) {
                continue; // nothing that could change its verdict changed
            }
            let why = match self.account(session, owner) {
                Ok(Accounted::ForGood) => {
                    settled.push(session);
                    continue;
                }
                Ok(accounted) => {
                    let held = accounted == Accounted::Held;
                    if held != candidate.held || owner != candidate.owner {
                        learned.push((session, Candidate { owner, held }));
                    }
                    continue;
                }
                Err(why) => why,
            };
            if candidate.held {
                learned.push((session, Candidate { owner, held: false }));
            }
            let at_meta = at_meta || (!meta_changed && self.meta.session(session).is_some());
            let exists = at_meta
                || (self.nodes.iter())
                    .any(|node| node.registry().session_stats(session.get()).is_some());
            if !exists {
                continue;
            }
            self.stats.leaked += 1;
            return Err(format!(
                "[leak] session {session} exists (at meta: {at_meta}, on nodes: {:?}) and nobody \
                 accounts for it since this step: {why}",
                self.holding_nodes(session),
            ));
        }
        for (session, candidate) in learned {
            self.accounting.candidates.insert(session, candidate);
        }
        for session in settled {
            self.accounting.candidates.remove(&session);
        }
        Ok(())
    }

    /// Whether `session`, given to `owner` (client slot, process) if known, is accounted for,
    /// and whether for good; why not if it is not.
    fn account(&self, session: SessionId, owner: Option<(u16, u32)>) -> Result<Accounted, String> {
        if self.accounting.released.contains_key(&session) || self.admin_killed.contains(&session) {
            return Ok(Accounted::ForGood);
        }
        let Some((slot, process)) = owner else {
            return Ok(Accounted::Now); // a phantom: its creation reply never reached a client
        };
        let slot = usize::from(slot);
        let client = &self.clients[slot];
        if client.process != process {
            if self.accounting.killed_processes.contains(&process) {
                return Ok(Accounted::ForGood); // an orphan of a crashed process
            }
            if self.removal_pending(session) {
                return Ok(Accounted::Now); // being removed
            }
            return Err(format!(
                "its owner, process {process} of client {slot}, closed and was replaced without \
                 signing it out or letting it go"
            ));
        }
        if client.life == Life::Killed {
            return Ok(Accounted::Now);
        }
        if client.accounts_for(session) {
            return Ok(Accounted::Held);
        }
        if self.removal_pending(session) {
            return Ok(Accounted::Now);
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
