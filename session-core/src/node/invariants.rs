//! [`GraphNode::check_invariants`]: the node's own bookkeeping agrees with its registry and its
//! limits, besides the registry's and the sync's own checks.

use std::collections::BTreeSet;

use graphsession_base::Violation;
use graphsession_query_plan::QueryKey;

use crate::node::GraphNode;

/// The machine named in this module's violations.
const MACHINE: &str = "GraphNode";

impl GraphNode {
    /// Checks the node's invariants, its registry's and its sync's; tests, the simulator and
    /// the fuzzers call it after every step.
    pub fn check_invariants(&self) -> Result<(), Violation> {
        self.registry.check_invariants()?;
        self.sync.check_invariants()?;
        self.check_own()
    }

    /// The node's own bookkeeping alone (the registry and the sync have their own checks).
    pub fn check_own(&self) -> Result<(), Violation> {
        let per_connection_max = self.settings.waiting_requests_per_connection_max as usize;
        for (connection, (session, waiting)) in &self.waiting.sign_outs {
            if waiting.len() > per_connection_max {
                return Err(Violation::new(
                    MACHINE,
                    "requests_behind_sign_out_within_limit",
                    format!(
                        "connection {connection:?} holds {} requests behind the sign-out of \
                         {session}; expected at most {per_connection_max}",
                        waiting.len()
                    ),
                ));
            }
        }
        for (session, waiting) in &self.waiting.pick_ups {
            if waiting.is_empty() || waiting.len() > per_connection_max {
                return Err(Violation::new(
                    MACHINE,
                    "pick_up_waiters_within_limit",
                    format!(
                        "{} executes wait for the pick-up of {session}; expected 1 to \
                         {per_connection_max}",
                        waiting.len()
                    ),
                ));
            }
        }
        self.check_confirmation_waiters(per_connection_max)?;
        let waiting = self.waiting.connection_count();
        // Each waiting kind is bounded on insert; a request queued behind a sign-out does not
        // count, so the total may pass the limit by at most the sign-outs' queued requests. A
        // sign-out is admitted past the limit: each held one counts at least once, even where
        // nothing may queue behind it (`waiting_requests_per_connection_max` 0).
        let slack = self.waiting.sign_outs.len() * per_connection_max.max(1);
        let waiting_max = self.settings.waiting_connections_max as usize + slack;
        if waiting > waiting_max {
            return Err(Violation::new(
                MACHINE,
                "waiting_connections_within_limit",
                format!("{waiting} connections wait on meta; expected at most {waiting_max}"),
            ));
        }
        // Every query the registry runs is the executor's (handed out, not yet returned) or a
        // session statement's waiting on meta: one neither holds would never end, and its
        // session, counting a running query, would never idle out.
        let owned: BTreeSet<QueryKey> =
            self.running.keys().copied().chain(self.waiting.statement_queries()).collect();
        for row in self.registry.running_queries(self.now_unix_ms) {
            let key = QueryKey { session: row.session_id, plan: row.execution_plan_id };
            if !owned.contains(&key) {
                return Err(Violation::new(
                    MACHINE,
                    "every_query_owned",
                    format!(
                        "query {key:?} ({:?}) runs in the registry, but neither the executor \
                         nor a statement waiting on meta holds it",
                        row.query
                    ),
                ));
            }
        }
        // Every input ends with the timeout round, which kills every query due by `now` and
        // recomputes the earliest deadline left: none is due now.
        if let Some(at) = self.registry.poll_query_timeout()
            && at <= self.now_unix_ms
        {
            return Err(Violation::new(
                MACHINE,
                "no_query_deadline_overdue",
                format!(
                    "a query deadline at {at} is still pending at {}; expected every deadline \
                     due by now to have timed its query out",
                    self.now_unix_ms
                ),
            ));
        }
        Ok(())
    }

    /// The executes waiting for meta's confirmation of a restored session: within the
    /// per-connection limit, and only on a session still unconfirmed here (every input ends by
    /// running those whose session was settled).
    fn check_confirmation_waiters(&self, per_connection_max: usize) -> Result<(), Violation> {
        for (session, waiting) in &self.waiting.confirmations {
            if waiting.is_empty() || waiting.len() > per_connection_max {
                return Err(Violation::new(
                    MACHINE,
                    "confirmation_waiters_within_limit",
                    format!(
                        "{} executes wait for meta's confirmation of {session}; expected 1 to \
                         {per_connection_max}",
                        waiting.len()
                    ),
                ));
            }
            if !self.awaits_confirmation(*session) {
                return Err(Violation::new(
                    MACHINE,
                    "confirmation_waiters_only_on_unconfirmed_sessions",
                    format!(
                        "{} executes still wait for {session}, which meta confirmed or which is \
                         no longer held here",
                        waiting.len()
                    ),
                ));
            }
        }
        Ok(())
    }
}
