//! Oracles on a node's limits, judged at the edge from what the simulator sees of the node's
//! connections (never from the node's own counts, which a bug would skew alike):
//!
//! - `waiting_connections_max`: a request that the node queues to wait on meta (an
//!   authenticate's registration, an execute's pick-up, SHOW SESSIONS, a forwarded kill) is
//!   admitted only while fewer connections wait; one refused with "too many requests wait for
//!   the meta service" is refused only when that many could be waiting. The simulator's count
//!   of waiting connections is a lower bound (connections with a delivered, unanswered request
//!   that is not a long query the executor runs) for the first rule and an upper bound (every
//!   such request, plus every connection that signed out, whose wait the simulator cannot see
//!   end) for the second; sign-outs are admitted past the limit, and requests queued behind one
//!   are not checked.
//! - `waiting_requests_per_connection_max` and each reply answering one request: see
//!   `behind.rs`, which builds on the delivered, unanswered requests counted here.
//! - The query registry's own `sessions_max` is overridden by the registry's: a session the
//!   node holds is never refused a query for the number of sessions running queries.

use std::collections::{BTreeMap, BTreeSet};

use graphsession_core::client::ConnectionId;
use graphsession_core::node::Reply;
use graphsession_id_gen::SessionId;

use super::SimNode;
use crate::world::config::ClusterConfig;

/// The message of a refusal for the count of sessions running queries (the query registry's
/// `SessionsFull`), up to its count.
const QUERY_SESSIONS_FULL: &str = "Too many sessions on this node: at most ";

/// The message of a request refused because too many wait on meta (an execute's; an
/// authenticate's says the same in lower case after "Create session failed: ").
pub(crate) const BUSY_EXECUTE: &str = "Too many requests wait for the meta service; try again";
pub(super) const BUSY_AUTHENTICATE: &str =
    "Create session failed: too many requests wait for the meta service";

/// What the simulator sees of the requests a node holds.
#[derive(Debug)]
pub(crate) struct WaitingWatch {
    /// The node's `waiting_connections_max`.
    limit: usize,
    /// The connection the last reply refused as too many waiting, if any.
    busy: Option<ConnectionId>,
    /// Delivered requests (not sign-outs) not yet answered, by connection.
    pub(super) outstanding: BTreeMap<ConnectionId, u32>,
    /// Closed connections' requests still owed a reply the host drops (a query the executor
    /// still runs answers when it returns), by connection: a reply past them answers nothing.
    closed_owed: BTreeMap<ConnectionId, u32>,
    /// The node's `waiting_requests_per_connection_max`.
    pub(super) per_connection_limit: usize,
    /// Connections held behind a sign-out, with what is queued behind it (`behind.rs`).
    pub(super) behind: BTreeMap<ConnectionId, super::behind::Held>,
    /// The node's sync's `pending_removals_max` (a sign-out past it is not sent to meta).
    pub(super) removals_max: usize,
    /// The connection of the request being handled, whose replies are collected.
    pub(super) focus: Option<ConnectionId>,
    /// Replies written on `focus` while its request is handled.
    pub(super) focus_replies: Vec<Reply>,
    /// Sessions whose authenticate waits for meta's registration, and its connection: a
    /// session that ends meanwhile drops the wait without an answer.
    registering: BTreeMap<SessionId, ConnectionId>,
    /// Connections whose sign-out was delivered: they may wait on meta's acknowledgement (the
    /// simulator cannot see it end), and their later requests may be queued behind it.
    signed_out: BTreeSet<ConnectionId>,
}

/// Whether `reply` refuses its request because too many wait on meta (with a small
/// `waiting_connections_max`, any request that would wait may be refused so).
pub(super) fn is_busy(reply: &Reply) -> bool {
    match reply {
        Reply::ExecuteFailed { message, .. } => message == BUSY_EXECUTE,
        Reply::AuthenticateFailed { message, .. } => message == BUSY_AUTHENTICATE,
        _ => false,
    }
}

impl WaitingWatch {
    /// A node of `config` (its `waiting_connections_max` and
    /// `waiting_requests_per_connection_max`) with nothing delivered yet.
    pub(crate) fn new(config: &ClusterConfig) -> WaitingWatch {
        let waiting_requests_per_connection_max = config.waiting_requests_per_connection_max;
        WaitingWatch {
            limit: usize::try_from(config.waiting_connections_max).unwrap_or(usize::MAX),
            busy: None,
            outstanding: BTreeMap::new(),
            closed_owed: BTreeMap::new(),
            per_connection_limit: usize::try_from(waiting_requests_per_connection_max)
                .unwrap_or(usize::MAX),
            behind: BTreeMap::new(),
            removals_max: usize::try_from(super::sync_config(config).pending_removals_max)
                .unwrap_or(usize::MAX),
            focus: None,
            focus_replies: Vec::new(),
            registering: BTreeMap::new(),
            signed_out: BTreeSet::new(),
        }
    }
}

/// A request about to be handled: what the watch knew before it.
pub(crate) struct Before {
    connection: ConnectionId,
    /// Whether the request is a sign-out (never refused, never answered).
    sign_out: bool,
    /// Whether the request is an execute (which a pick-up's own queue may refuse).
    execute: bool,
    /// Whether the connection may be held behind its sign-out.
    behind_sign_out: bool,
    /// Requests of `connection` waiting on meta before it.
    waiting_here: u32,
    /// Connections surely waiting on meta before it (lower bound).
    waiting_at_least: usize,
    /// Entries possibly waiting on meta before it (upper bound).
    waiting_at_most: usize,
}

impl SimNode {
    /// Requests of `connection` that wait on meta: delivered, unanswered, not running.
    fn waiting_on(&self, connection: ConnectionId) -> u32 {
        let outstanding = self.waiting_watch.outstanding.get(&connection).copied().unwrap_or(0);
        let running = self.running.iter().filter(|query| query.connection == connection).count();
        outstanding.saturating_sub(u32::try_from(running).unwrap_or(u32::MAX))
    }

    /// Notes a request on `connection` before the node handles it.
    pub(super) fn waiting_before(
        &mut self,
        connection: ConnectionId,
        sign_out: bool,
        execute: bool,
    ) -> Before {
        let waiting: Vec<u32> = (self.waiting_watch.outstanding.keys())
            .map(|connection| self.waiting_on(*connection))
            .collect();
        let waiting_at_least = waiting.iter().filter(|count| **count > 0).count();
        let requests: usize = waiting.iter().map(|count| *count as usize).sum();
        let before = Before {
            connection,
            sign_out,
            execute,
            behind_sign_out: self.waiting_watch.signed_out.contains(&connection),
            waiting_here: self.waiting_on(connection),
            waiting_at_least,
            waiting_at_most: requests + self.waiting_watch.signed_out.len(),
        };
        // Only a refusal written while this request is handled is its own: one written
        // before, outside any request (a waiting execute refused when its wait ended), is not.
        self.waiting_watch.busy = None;
        if sign_out {
            self.waiting_watch.signed_out.insert(connection);
        } else {
            *self.waiting_watch.outstanding.entry(connection).or_default() += 1;
        }
        before
    }

    /// Judges the handled request: queued to wait on meta only below the limit.
    pub(super) fn waiting_after(&mut self, before: &Before) {
        let busy = self.waiting_watch.busy.take();
        if before.sign_out || before.behind_sign_out {
            return;
        }
        let limit = self.waiting_watch.limit;
        let queued = self.waiting_on(before.connection) > before.waiting_here;
        if queued && before.waiting_at_least >= limit {
            self.violations.push(format!(
                "[waiting_connections_max] node {} queued a request of {:?} to wait on meta \
                 while at least {} connections waited; expected \"too many requests wait for \
                 the meta service\" at its waiting_connections_max {limit}",
                self.id.0, before.connection, before.waiting_at_least
            ));
        }
        // An execute of a session held elsewhere is also refused past its pick-up's queue
        // (`waiting_requests_per_connection_max` executes of one session): only when that
        // many could wait is the refusal not the waiting connections' to judge.
        let pick_up_full =
            before.execute && before.waiting_at_most >= self.waiting_watch.per_connection_limit;
        if busy == Some(before.connection) && before.waiting_at_most < limit && !pick_up_full {
            self.violations.push(format!(
                "[waiting_connections_max] node {} refused a request of {:?} as too many \
                 waiting on meta while at most {} could wait; expected it admitted below its \
                 waiting_connections_max {limit}",
                self.id.0, before.connection, before.waiting_at_most
            ));
        }
    }

    /// One request of `connection` is answered by `reply`: one must have been owed.
    fn waiting_released(&mut self, connection: ConnectionId, reply: &Reply) {
        let watch = &mut self.waiting_watch;
        for owed in [&mut watch.outstanding, &mut watch.closed_owed] {
            if let Some(count) = owed.get_mut(&connection) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    owed.remove(&connection);
                }
                return;
            }
        }
        self.violations.push(format!(
            "[reply_unasked] node {} wrote {reply:?} on {connection:?}, every request delivered \
             on it already answered (sign-outs are never answered); expected exactly one reply \
             per request",
            self.id.0
        ));
    }

    /// A login created `session` and its authenticate on `connection` waits for meta.
    pub(super) fn waiting_registering(&mut self, session: SessionId, connection: ConnectionId) {
        self.waiting_watch.registering.insert(session, connection);
    }

    /// A reply on `connection`: one of its requests is answered.
    pub(super) fn waiting_replied(&mut self, connection: ConnectionId, reply: &Reply) {
        self.waiting_released(connection, reply);
        if self.waiting_watch.focus == Some(connection) {
            self.waiting_watch.focus_replies.push(reply.clone());
        }
        if matches!(reply, Reply::Authenticated { .. } | Reply::AuthenticateFailed { .. }) {
            self.waiting_watch.registering.retain(|_, waiting| *waiting != connection);
        }
        if is_busy(reply) {
            self.waiting_watch.busy = Some(connection);
        }
    }

    /// `connection` closed: nothing of it waits any more.
    pub(super) fn waiting_closed(&mut self, connection: ConnectionId) {
        if let Some(owed) = self.waiting_watch.outstanding.remove(&connection) {
            self.waiting_watch.closed_owed.insert(connection, owed);
        }
        self.waiting_watch.behind.remove(&connection);
        self.waiting_watch.signed_out.remove(&connection);
        self.waiting_watch.registering.retain(|_, waiting| *waiting != connection);
    }

    /// A refusal for the count of sessions running queries: the query registry's own
    /// `sessions_max` is overridden, so a session the node holds always may run one.
    pub(super) fn judge_query_sessions_reply(&mut self, reply: &Reply) {
        let Reply::ExecuteFailed { code, message, .. } = reply else { return };
        if message.starts_with(QUERY_SESSIONS_FULL) {
            self.violations.push(format!(
                "[query_sessions_refused] node {} refused a query of a session it holds with \
                 ({code}: {message}) while holding {} sessions; expected the query run (the \
                 registry's sessions_max {} bounds sessions, the query registry's {} is \
                 overridden)",
                self.id.0,
                self.graph.registry().session_count(),
                self.server.sessions_max,
                self.server.queries.sessions_max
            ));
        }
    }
}
