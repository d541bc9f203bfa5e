//! The query-timeout oracles of a simulated node: every query's deadline is its start plus a
//! timeout the seed configured (the node's `query_timeout_ms` or a value clients set for their
//! session); the node's timer names every running query's deadline; no query runs on at or past
//! its deadline once the node has taken an input then (the executor sees the kill at that
//! input); a query stopped at its deadline was due, and its reply is -1005 "Execution had been
//! killed: query timed out" (or its session's end, never a success: `killed_plans` holds it
//! for the success oracles); that text answers nothing else. A SET SESSION of a timeout the
//! seed allows (a few bytes, within `QUERY_TIMEOUT_MS_MAX`) is accepted: answered with success,
//! or with its session's end, never refused.

use graphsession_core::client::{ConnectionId, E_EXECUTION_ERROR};
use graphsession_core::node::{Reply, SessionStatement, Statement};
use graphsession_core::server::QUERY_TIMED_OUT;
use graphsession_query_plan::QueryKey;

use super::{RunningQuery, SimNode};

/// What a query stopped at its deadline may be answered besides "timed out": its session ended
/// before its executor returned (-2069 session, -2073 query not found, -1002 session invalid).
const SESSION_GONE_CODES: [i32; 3] = [-2069, -2073, -1002];

impl SimNode {
    /// A query handed to the executor with `deadline_ms`: it is the node's clock plus one of
    /// the timeouts the seed configured, or none where a timeout of 0 applies.
    pub(super) fn judge_deadline(&mut self, key: QueryKey, deadline_ms: Option<u64>) {
        let started_ms = self.graph.registry().now_unix_ms();
        let timeout_ms = deadline_ms.map_or(0, |deadline| deadline.saturating_sub(started_ms));
        if deadline_ms.is_some_and(|deadline| deadline <= started_ms)
            || !self.query_timeouts_ms.contains(&timeout_ms)
        {
            self.violations.push(format!(
                "[query_deadline_wrong] node {} gave query {key:?} started at {started_ms} the \
                 deadline {deadline_ms:?}; expected the start plus one of {:?} ms (0: none)",
                self.id.0, self.query_timeouts_ms
            ));
        }
    }

    /// After every drain: each query the executor still runs has its deadline ahead of the
    /// node's clock, and the node's timer is due no later than it.
    pub(super) fn judge_running_deadlines(&mut self) {
        let now_ms = self.graph.registry().now_unix_ms();
        let timer = self.graph.poll_timeout();
        for query in &self.running {
            let Some(deadline) = query.deadline_ms else { continue };
            if deadline <= now_ms {
                self.violations.push(format!(
                    "[query_outlived_deadline] node {}: query {:?} still runs at {now_ms}, its \
                     deadline was {deadline}; expected its executor stopped at the first input \
                     at or after the deadline",
                    self.id.0, query.key
                ));
            } else if timer.is_none_or(|at| at > deadline) {
                self.violations.push(format!(
                    "[query_deadline_not_polled] node {}: query {:?} has its deadline at \
                     {deadline} but the node's timer says {timer:?}; expected a wake-up by then",
                    self.id.0, query.key
                ));
            }
        }
    }

    /// The executor stopped `query` at a kill with cause timeout: it must have been due.
    pub(super) fn timed_out(&mut self, query: &RunningQuery) {
        self.counters.long_queries_timed_out += 1;
        self.timed_out_replies.insert(query.connection);
        let now_ms = self.graph.registry().now_unix_ms();
        if query.deadline_ms.is_none_or(|deadline| deadline > now_ms) {
            self.violations.push(format!(
                "[early_timeout] node {}: query {:?} was killed for its timeout at {now_ms}, \
                 its deadline is {:?}",
                self.id.0, query.key, query.deadline_ms
            ));
        }
    }

    /// A request on `connection` runs `statement`: a SET SESSION of one of the seed's timeouts
    /// awaits its acceptance.
    pub(super) fn note_set(&mut self, connection: ConnectionId, statement: &Statement) {
        if let Statement::Session(SessionStatement::SetVariable { value, .. }) = statement {
            if value.parse::<u64>().is_ok_and(|ms| self.query_timeouts_ms.contains(&ms)) {
                self.set_replies.insert(connection);
            }
        }
    }

    /// The reply to a SET SESSION of an allowed timeout accepts it (or says its session ended).
    pub(super) fn judge_set_reply(&mut self, connection: ConnectionId, reply: &Reply) {
        if !self.set_replies.remove(&connection) {
            return;
        }
        if let Reply::ExecuteFailed { code, message, .. } = reply {
            // Or refused while too many wait on meta (a SET of a session held elsewhere waits
            // for its pick-up).
            if !SESSION_GONE_CODES.contains(code) && !super::limits::is_busy(reply) {
                self.violations.push(format!(
                    "[set_refused] node {} refused a SET SESSION of an allowed query timeout \
                     ({code}: {message}); expected it accepted",
                    self.id.0
                ));
            }
        }
    }

    /// The reply on `connection` after its query timed out says so (or that its session is
    /// gone); "timed out" answers only such a query.
    pub(super) fn judge_timeout_reply(&mut self, connection: ConnectionId, reply: &Reply) {
        let says_timed_out = matches!(
            reply,
            Reply::ExecuteFailed { code: E_EXECUTION_ERROR, message, .. } if message == QUERY_TIMED_OUT
        );
        let awaited = self.timed_out_replies.remove(&connection);
        let session_gone = matches!(
            reply,
            Reply::ExecuteFailed { code, .. } if SESSION_GONE_CODES.contains(code)
        );
        if awaited && !says_timed_out && !session_gone {
            self.violations.push(format!(
                "[timed_out_query_misreported] node {} answered a query stopped at its deadline \
                 with {reply:?}; expected -1005 \"{QUERY_TIMED_OUT}\"",
                self.id.0
            ));
        }
        if says_timed_out && !awaited {
            self.violations.push(format!(
                "[timeout_reply_unexplained] node {} answered \"{QUERY_TIMED_OUT}\" on \
                 {connection:?}, where no query was stopped at its deadline",
                self.id.0
            ));
        }
    }
}
