//! The admin actor and the query oracles. The admin is root (GOD) and calls a node's API directly:
//! KILL SESSION (local, or through meta for a session held elsewhere), KILL QUERY (local, or
//! relayed by meta to the node running it), GRANT/REVOKE of a role for the workload user (the
//! role table is shared by all nodes, as the host shares it), and USE for a session.
//!
//! The oracles: no long query keeps running on a node that no longer holds its session, nor (on
//! the healed network) longer than the staleness bound after meta ended its session; every KILL
//! QUERY that succeeded, locally or through meta, names a query that was asked to be killed and
//! existed, and no query is stopped without a cause; the per-(user, ip) count on each node stays
//! within the server's limit; a USE succeeds only while the user holds a role in the space.

use graphsession_core::node::{CommandError, KillQueryOutcome};
use graphsession_id_gen::SessionId;
use graphsession_permission::Role;
use graphsession_query_plan::{KillOutcome, QueryKey};

use crate::world::client::USER;
use crate::world::node::CLIENT_IP;
use crate::world::{Checked, ClusterWorld};

/// The space the admin grants the workload user a role in, and sessions USE.
const SPACE: &str = "nba";

impl ClusterWorld {
    /// One admin action, chosen by the seed's generator.
    pub(super) fn admin_step(&mut self) -> Checked {
        match self.choose.below(5) {
            0 => self.admin_kill_session(),
            1 | 2 => self.admin_kill_query(),
            3 => {
                self.admin_grant();
                Ok(())
            }
            _ => self.admin_use(),
        }
    }

    fn pick_node(&mut self) -> usize {
        usize::try_from(self.choose.below(u64::from(self.config.nodes))).unwrap_or(0)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        let count = u64::try_from(items.len()).ok()?;
        if count == 0 {
            return None;
        }
        items.get(usize::try_from(self.choose.below(count)).unwrap_or(0)).copied()
    }

    /// KILL SESSION of a random session (live at meta or held by a node) from a random node: ends
    /// it there if held there, and removes it at meta in any case (NodeSync::remove).
    fn admin_kill_session(&mut self) -> Checked {
        let mut candidates: Vec<SessionId> = self.meta.live_sessions().collect();
        for node in &self.nodes {
            candidates.extend(node.registry().cluster_sessions().iter().map(|view| view.session));
        }
        candidates.sort_unstable();
        candidates.dedup();
        let Some(session) = self.pick(&candidates) else { return Ok(()) };
        let index = self.pick_node();
        let now = self.node_now(index);
        self.stats.events += 1;
        self.note("kill_session", || format!("{session} on node {index}"));
        self.trace(0xad01);
        self.trace(u64::from_ne_bytes(session.get().to_ne_bytes()));
        let (killed, sends) = self.nodes[index]
            .kill_session(now, &mut self.table, &self.root, session, &mut self.choose)
            .map_err(|error| format!("node {index}: {error}"))?;
        self.stats.kill_sessions_issued += 1;
        self.stats.kill_sessions_applied += u64::from(killed);
        self.admin_killed.insert(session);
        self.touch_candidate(session);
        // Oracle: a local kill stops the session's queries at once.
        let survivor = self.nodes[index]
            .running
            .iter()
            .find(|query| query.key.session == session && query.handle.check().is_ok());
        if let Some(query) = survivor {
            return Err(format!(
                "node {index}: query {:?} still runs after KILL SESSION {session} there \
                 (killed {killed}); expected it killed at once",
                query.key
            ));
        }
        self.apply_sends(index, sends)
    }

    /// KILL QUERY of a random running long query (or, now and then, of one that finished) from a
    /// random node: locally if that node holds the session, else through meta.
    fn admin_kill_query(&mut self) -> Checked {
        let from = self.pick_node();
        let running: Vec<QueryKey> =
            self.nodes.iter().flat_map(|node| node.running.iter().map(|query| query.key)).collect();
        let finished: Vec<QueryKey> = self.nodes[from]
            .started
            .iter()
            .filter(|key| !self.nodes[from].running.iter().any(|query| query.key == **key))
            .copied()
            .collect();
        let key = if running.is_empty() || self.choose.chance(1, 5) {
            self.pick(&finished)
        } else {
            self.pick(&running)
        };
        let Some(key) = key else { return Ok(()) };
        self.trace(0xad02);
        self.trace(key.plan.get());
        self.stats.kill_queries_issued += 1;
        self.kills_asked.insert(key);
        self.stats.events += 1;
        self.note("kill_query", || format!("{key:?} from node {from}"));
        let now = self.node_now(from);
        let done =
            self.nodes[from].kill_query(now, &mut self.table, &self.root, key, &mut self.choose);
        let result = match done.result {
            Ok(KillQueryOutcome::Forwarded) => return self.apply_sends(from, done.sends),
            Ok(KillQueryOutcome::Local(outcome)) => Ok(outcome),
            Err(CommandError::Sync(error)) => {
                return Err(format!("node {from}: KILL QUERY {key:?} refused: {error}"));
            }
            Err(error) => {
                let message = error.to_string();
                super::show::check_command_code(
                    from,
                    "the admin's KILL QUERY",
                    error.code(),
                    &message,
                )?;
                Err(error)
            }
        };
        match (result, done.still_runs) {
            (Ok(outcome), Some(still_runs)) => {
                if still_runs {
                    return Err(format!(
                        "node {from}: KILL QUERY {key:?} returned {outcome:?}, the query still runs"
                    ));
                }
                if outcome == KillOutcome::Requested {
                    self.stats.kill_queries_applied += 1;
                }
            }
            (Ok(outcome), None) => {
                return Err(format!(
                    "node {from}: KILL QUERY {key:?} returned {outcome:?}; expected an error, \
                     no such query runs here (fix 5: never the wrong query)"
                ));
            }
            (Err(error), Some(true)) => {
                return Err(format!(
                    "node {from}: KILL QUERY by root of running query {key:?} refused: {error}"
                ));
            }
            (Err(_), None) => self.marks.hit(crate::world::Mark::KillAfterFinish),
            (Err(_), Some(false)) => {}
        }
        self.apply_sends(from, done.sends)?;
        // The listing oracle on the node that decided the kill, at once: its query listed as
        // KILLING (the periodic look may fall where no long query runs).
        self.check_queries(from)
    }

    /// GRANT (or, when granted, REVOKE) role USER in [`SPACE`] for the workload user.
    fn admin_grant(&mut self) {
        let policy = self.nodes[0].registry().config().policy;
        let result = if self.granted {
            self.table.revoke(&self.root, policy, Role::User, SPACE, USER)
        } else {
            self.table.grant(&self.root, policy, Role::User, SPACE, USER)
        };
        self.trace(0xad03);
        let granted = self.granted;
        self.note("grant", || format!("granted before: {granted}"));
        if result.is_ok() {
            self.granted = !self.granted;
            self.stats.grants += 1;
        }
    }

    /// USE [`SPACE`] for a random session held by a random node: must succeed only while the
    /// workload user holds a role there.
    fn admin_use(&mut self) -> Checked {
        let index = self.pick_node();
        let sessions: Vec<SessionId> = self.nodes[index]
            .registry()
            .cluster_sessions()
            .iter()
            .map(|view| view.session)
            .collect();
        let Some(session) = self.pick(&sessions) else { return Ok(()) };
        self.trace(0xad04);
        self.stats.events += 1;
        self.note("admin_use", || format!("{session} on node {index}"));
        let now = self.node_now(index);
        let (result, sends) =
            self.nodes[index].use_space(now, &mut self.table, session, SPACE, &mut self.choose);
        self.stats.uses += 1;
        if result.is_ok() && !self.granted && self.config.authorization_enabled {
            return Err(format!(
                "node {index}: USE {SPACE} in session {session} succeeded; expected a permission \
                 error, {USER} holds no role there"
            ));
        }
        self.apply_sends(index, sends)
    }

    /// The query oracles, after every step.
    pub(super) fn check_oracles(&mut self) -> Checked {
        self.watch_paths();
        if self.step % super::accounting::ACCOUNTING_FULL_EVERY_STEPS == 0 {
            self.check_accounting_full()?;
        } else if self.last_step.changed || self.accounting.pending.is_some() {
            self.check_accounting()?;
        }
        self.check_time()?;
        // What a node told, relayed or stopped is noted only while it takes an input, and
        // checked (and cleared) after that very step.
        if self.last_step.servers {
            self.check_nodes_told()?;
            self.check_kills_relayed()?;
            self.check_stopped_with_cause()?;
        }
        // A running query's session (held here, ended at meta) and its kill change only with
        // a server's input; between those only time passes, which matters only to a query
        // whose session meta ended (the bound on the healed network).
        if self.last_step.servers || self.running_after_gone {
            self.check_running_queries()?;
        }
        self.check_show()?;
        Ok(())
    }

    /// What nodes wrote that an oracle forbids (a killed query answered as a success, a plan id
    /// twice).
    fn check_nodes_told(&mut self) -> Checked {
        for node in &mut self.nodes {
            if let Some(violation) = node.violations.pop() {
                return Err(violation);
            }
        }
        Ok(())
    }

    /// The per-(user, ip) count on each node given stays within the server's limit and the
    /// node's session count (checked for every node that took an input in the step).
    pub(super) fn check_user_ip_counts(&self, nodes: impl Iterator<Item = usize>) -> Checked {
        for index in nodes {
            let node = &self.nodes[index];
            let count = node.registry().user_ip_session_count(USER, CLIENT_IP);
            // Sessions installed from meta count without a limit (as in NebulaGraph), so the
            // pair may pass its limit; a login never does (checked at each login, node.rs).
            if u64::from(count) > node.registry().session_count() {
                return Err(format!(
                    "[user_ip_count] node {index}: ({USER}, {CLIENT_IP}) counts {count} sessions; \
                     expected at most the node's {} sessions",
                    node.registry().session_count()
                ));
            }
        }
        Ok(())
    }

    /// Every query kill meta relayed to a node names a query some admin asked to kill and that
    /// node started (fix 5 of docs/fixes.md: never the wrong query).
    fn check_kills_relayed(&mut self) -> Checked {
        for index in 0..self.nodes.len() {
            if self.nodes[index].query_kills_applied.is_empty() {
                continue;
            }
            for key in std::mem::take(&mut self.nodes[index].query_kills_applied) {
                if !self.kills_asked.contains(&key) || !self.nodes[index].started.contains(&key) {
                    return Err(format!(
                        "node {index}: meta relayed a kill of query {key:?}; expected only queries \
                         asked to be killed ({}) that ran there ({})",
                        self.kills_asked.contains(&key),
                        self.nodes[index].started.contains(&key)
                    ));
                }
                self.stats.kill_queries_applied += 1;
            }
        }
        Ok(())
    }

    /// Kill oracle, exact: once node `index` applied a complete answer (no more changes) to a
    /// request of its current process that meta produced at step `produced_step`, no query runs
    /// there whose session meta had ended (as the oracle saw) at an earlier step.
    pub(super) fn check_answer_applied_kills(&self, index: usize, produced_step: u64) -> Checked {
        for query in &self.nodes[index].running {
            let Some(&(seen_ms, seen_step)) = self.gone_seen.get(&query.key.session) else {
                continue;
            };
            if seen_step < produced_step && query.handle.check().is_ok() {
                return Err(format!(
                    "kill oracle: node {index}: query {:?} still runs after the node applied \
                     meta's answer of step {produced_step}; meta ended its session ({:?}) at step \
                     {seen_step} ({} ms ago)",
                    query.key,
                    self.meta.gone_reason(query.key.session),
                    self.now_ms - seen_ms
                ));
            }
        }
        Ok(())
    }

    /// Every long query whose executor stopped at a kill had a cause: a KILL QUERY naming it, a
    /// KILL SESSION of its session, or its session's end (here or at meta). A kill that stopped
    /// another query than the one named is caught here (fix 5, see docs/fixes.md).
    fn check_stopped_with_cause(&mut self) -> Checked {
        for index in 0..self.nodes.len() {
            if self.nodes[index].stopped.is_empty() {
                continue;
            }
            for key in std::mem::take(&mut self.nodes[index].stopped) {
                let node = &self.nodes[index];
                let session_ended = node.registry().session_stats(key.session.get()).is_none()
                    || node.ended.contains_key(&key.session)
                    || self.meta.gone_reason(key.session).is_some();
                if self.kills_asked.contains(&key)
                    || self.admin_killed.contains(&key.session)
                    || session_ended
                {
                    continue;
                }
                return Err(format!(
                    "node {index}: query {key:?} was stopped by a kill without a cause: no KILL \
                     QUERY named it, its session is held here and live at meta"
                ));
            }
        }
        Ok(())
    }

    /// No running query outlives its session on its node; on the healed network none outlives
    /// meta's end of its session by more than the staleness bound; none stops without a cause.
    fn check_running_queries(&mut self) -> Checked {
        let now = self.now_ms;
        let bound_ms = self.config.sync_interval_ms + 2 * self.config.latency_max_ms + 1;
        // A round lost before the healing is retried after its timeout and backoff.
        // A clock stepped back before the healing delays that node's next round by as much.
        let healed_from_ms = self.heal_ms
            + 4 * self.config.latency_max_ms
            + 100
            + self.config.sync_interval_ms
            + 2 * self.config.clock_skew_max_ms;
        self.running_after_gone = false;
        for (index, node) in self.nodes.iter().enumerate() {
            for query in &node.running {
                let session = query.key.session;
                let held = node.registry().session_stats(session.get()).is_some();
                let gone = self.meta.gone_reason(session);
                let alive = query.handle.check().is_ok();
                if !alive {
                    let asked = self.kills_asked.contains(&query.key);
                    if !held || gone.is_some() || asked || self.admin_killed.contains(&session) {
                        continue;
                    }
                    return Err(format!(
                        "node {index}: query {:?} was stopped ({:?}) without a cause: its \
                         session is held here and live at meta, no kill named it",
                        query.key,
                        query.handle.check()
                    ));
                }
                if !held {
                    return Err(format!(
                        "node {index}: query {:?} still runs, its session ended here; expected \
                         it killed with the session",
                        query.key
                    ));
                }
                let Some(reason) = gone else { continue };
                self.running_after_gone = true;
                let (seen_ms, _) = *self.gone_seen.entry(session).or_insert((now, self.step));
                if !self.healed {
                    continue;
                }
                let from_ms = seen_ms.max(healed_from_ms);
                // The description is written only for a failure (this runs at every step).
                if now > from_ms.saturating_add(bound_ms) {
                    crate::oracles::kill_within_bound(
                        &format!(
                            "node {index}: query {:?} ({reason:?}, healed network)",
                            query.key
                        ),
                        from_ms,
                        now,
                        bound_ms,
                        "sync interval + 2 x max one-way delay + 1",
                    )?;
                }
            }
        }
        Ok(())
    }
}
