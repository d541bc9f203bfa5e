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

use crate::world::candidates::{Candidate, Candidates};
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

/// Steps between two full passes of the accounting oracle.
pub(super) const ACCOUNTING_FULL_EVERY_STEPS: u64 = 256;

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
    pub(super) candidates: Candidates,
    /// The candidates a pass judges (kept to reuse its allocation).
    judged: Vec<SessionId>,
    /// Sessions given to a client, released, killed by the admin or created since the last
    /// pass: the changes that can change the verdict of a candidate of no known owner.
    pub(super) touched: Vec<SessionId>,
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
    /// The client slots flushing their sign-outs after their application closed them, as of
    /// their last input (bits by slot): the only ones whose path watch runs.
    flushing: u64,
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
        // watch starts afresh at their close, in the step of the close). Whether a client
        // flushes changes only with its inputs: the watch looks at the flushing ones and at
        // those that took an input in the step.
        let mut nodes_up = None;
        let slots = self.clients.len().min(64);
        let in_world = if slots == 64 { u64::MAX } else { (1 << slots) - 1 };
        for slot in super::bits((self.accounting.flushing | self.last_step.clients) & in_world) {
            let client = &self.clients[slot];
            if !client.close_requested || client.life != Life::Running || client.is_closed() {
                self.accounting.flushing &= !(1 << slot);
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
            self.accounting.flushing |= 1 << slot;
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
            self.touch_candidate(session);
        }
    }

    /// The accounting oracle (see the module docs), incremental with the verdicts of a full
    /// pass ([`check_accounting_full`](Self::check_accounting_full)). A candidate's verdict
    /// (`account`) depends on the sets `released`, `admin_killed` and `killed_processes`, on its
    /// owner's client (process, life, ledger and outbox), on the nodes' pending removals and,
    /// for one nobody accounts for, on whether it exists at meta or on a node. So:
    ///
    /// - A candidate meta tombstoned leaves the candidates. Tombstones come only with meta's
    ///   inputs and each is written at a new change-log position, so only steps after which
    ///   meta's log moved look for them, and only among the sessions at the new positions.
    /// - One accounted for by a rule that holds for good (released, killed by the admin, an
    ///   orphan of a killed process: those sets only grow) leaves them too.
    /// - One its client held at the last pass is judged again only once that client took an
    ///   input: whatever the servers do, a session in a live client's ledger is accounted for,
    ///   and only the client's own inputs change its ledger, life or process (the grow-only sets
    ///   can only settle it). Every input to a client goes through `pump_client` or a kill,
    ///   which mark its slot.
    /// - One of a known owner not held (accounted for by the servers, a removal waiting for
    ///   meta, a killed process; or by nobody but existing nowhere) is judged again once a
    ///   server or its client took an input, since its verdict and existence depend on both.
    /// - One of no known owner (a phantom: its creation reply reached no client) is accounted
    ///   for until it is given to a client, released or killed by the admin, and those are the
    ///   only changes that can change its verdict: each of them notes the session
    ///   (`touch_candidate`), and only the noted ones are judged again. A new candidate is
    ///   noted too. A judged candidate whose owner became known records it, so that from then
    ///   on the rules above apply to it.
    ///
    /// A leak is therefore found at the step that caused it, as a full pass would find it; the
    /// candidates are judged in id order, so the first leak reported is the full pass's first.
    pub(super) fn check_accounting(&mut self) -> Checked {
        if let Some(violation) = self.accounting.pending.take() {
            return Err(violation);
        }
        let seq = self.meta.changes_seq();
        let seen = self.accounting.tombstones_seen_seq;
        if std::mem::take(&mut self.accounting.meta_changed) && seen != Some(seq) {
            self.accounting.tombstones_seen_seq = Some(seq);
            self.settle_tombstoned(seen.filter(|&seen| seen <= seq));
        }
        let all = std::mem::take(&mut self.accounting.servers_changed);
        let clients = std::mem::take(&mut self.accounting.clients_changed);
        let mut judged = std::mem::take(&mut self.accounting.judged);
        judged.clear();
        judged.append(&mut self.accounting.touched);
        let candidates = &self.accounting.candidates;
        for slot in super::bits(clients) {
            judged.extend_from_slice(candidates.of_slot(slot));
        }
        if all {
            judged.extend(candidates.unheld());
        }
        judged.sort_unstable();
        judged.dedup();
        let verdict = self.judge_candidates(&judged);
        self.accounting.judged = judged;
        verdict
    }

    /// The full pass: every candidate tombstoned at meta leaves, every other is judged. At the
    /// end of each phase and every [`ACCOUNTING_FULL_EVERY_STEPS`] steps: with the incremental
    /// passes exact it finds nothing new; it is there so that a change of a client or a server
    /// the world failed to mark cannot hide a leak for long.
    pub(super) fn check_accounting_full(&mut self) -> Checked {
        if let Some(violation) = self.accounting.pending.take() {
            return Err(violation);
        }
        debug_assert!(self.accounting.candidates.indexes_agree());
        self.accounting.meta_changed = false;
        self.accounting.servers_changed = false;
        self.accounting.clients_changed = 0;
        self.accounting.touched.clear();
        self.accounting.tombstones_seen_seq = Some(self.meta.changes_seq());
        self.settle_tombstoned(None);
        let mut judged = std::mem::take(&mut self.accounting.judged);
        judged.clear();
        judged.extend(self.accounting.candidates.all());
        let verdict = self.judge_candidates(&judged);
        self.accounting.judged = judged;
        verdict
    }

    /// Removes from the candidates those meta tombstoned: among the sessions meta's change log
    /// moved after position `after`, or among all candidates when `None`.
    fn settle_tombstoned(&mut self, after: Option<u64>) {
        let tombstoned = |session: SessionId| {
            self.meta.session(session).is_none() && self.meta.gone_reason(session).is_some()
        };
        let settled: Vec<SessionId> = match after {
            Some(seq) => (self.meta.sessions_changed_after(seq))
                .filter(|&session| self.accounting.candidates.contains(session))
                .filter(|&session| tombstoned(session))
                .collect(),
            None => {
                self.accounting.candidates.all().filter(|&session| tombstoned(session)).collect()
            }
        };
        for session in settled {
            self.accounting.candidates.remove(session);
        }
    }

    /// Judges the candidates `judged` (by id): the first that exists and nobody accounts for is
    /// a leak; what is learned of the others is recorded.
    fn judge_candidates(&mut self, judged: &[SessionId]) -> Checked {
        for &session in judged {
            let Some(candidate) = self.accounting.candidates.get(session) else { continue };
            let owner = candidate.owner.or_else(|| {
                let &(slot, process, _) = self.given_on.get(&session)?;
                Some((slot, process))
            });
            let why = match self.account(session, owner) {
                Ok(Accounted::ForGood) => {
                    self.accounting.candidates.remove(session);
                    continue;
                }
                Ok(accounted) => {
                    let held = accounted == Accounted::Held;
                    if held != candidate.held || owner != candidate.owner {
                        self.accounting.candidates.learn(session, Candidate { owner, held });
                    }
                    continue;
                }
                Err(why) => why,
            };
            if candidate.held || owner != candidate.owner {
                self.accounting.candidates.learn(session, Candidate { owner, held: false });
            }
            let at_meta = self.meta.session(session).is_some();
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
        Ok(())
    }

    /// Notes a change that may change the verdict of `session` if its owner is not known yet:
    /// it was given to a client, released, killed by the admin, or created.
    pub(super) fn touch_candidate(&mut self, session: SessionId) {
        self.accounting.touched.push(session);
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
