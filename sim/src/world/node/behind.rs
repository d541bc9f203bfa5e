//! Oracles on the requests a node holds behind a connection's sign-out, judged at the edge of
//! `waiting_requests_per_connection_max` from what the simulator sees of the connection:
//!
//! - A connection whose sign-out the node took (its removal is pending at meta) is held: each
//!   later request on it is queued while fewer than the limit are, and gets no reply then; at
//!   the limit it is refused at once with exactly the refusal of its kind ("too many requests
//!   wait for the meta service": an execute's -1005, an authenticate's -1002), and a sign-out
//!   gets no reply. The hold ends when meta acknowledged the removal: the queued requests go on
//!   in order, and a sign-out among them holds the connection again with the rest queued behind
//!   it. An answer acknowledges its removals in the order it lists them, and the node handles
//!   each acknowledgement in turn, so a queued sign-out of a session that the same answer
//!   acknowledges further on is held and released within the answer (the node asks meta to
//!   remove it again, harmlessly, and it stays pending), while one acknowledged earlier in
//!   the answer holds the connection until the next acknowledgement. Otherwise a hold ends
//!   when its removal is no longer pending at the node's sync.
//! - A sign-out past the queue is not lost (its client may take the refusal of a later request
//!   as proof that the node read it): its session is no longer held here, and its removal is
//!   pending at the node's sync unless the sync's removal queue is full.
//! - Each reply answers one request: `limits.rs` counts each connection's delivered,
//!   unanswered requests (sign-outs are never answered), and a reply with none owed is a
//!   reply that answers no request (a second reply to one request).

use std::collections::VecDeque;

use graphsession_core::client::{ConnectionId, E_EXECUTION_ERROR, E_SESSION_INVALID};
use graphsession_core::cluster::Answer;
use graphsession_core::node::{self, Reply};
use graphsession_id_gen::SessionId;

use super::SimNode;
use super::limits::{BUSY_AUTHENTICATE, BUSY_EXECUTE};

/// What a queued request is, as far as its refusal and its replay go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `verifyClientVersion`.
    Version,
    /// An authenticate.
    Authenticate,
    /// An execute.
    Execute,
    /// A sign-out of this wire id (never answered).
    SignOut(i64),
}

impl Kind {
    fn of(request: &node::Request) -> Kind {
        match request {
            node::Request::VerifyClientVersion { .. } => Kind::Version,
            node::Request::Authenticate { .. } => Kind::Authenticate,
            node::Request::Execute { .. } => Kind::Execute,
            node::Request::SignOut { session_id } => Kind::SignOut(*session_id),
        }
    }

    /// The code and message of the refusal of a request of this kind past the queue behind a
    /// sign-out (`None` for a sign-out, never answered).
    fn refusal(self) -> Option<(i32, &'static str)> {
        match self {
            Kind::Version | Kind::Execute => Some((E_EXECUTION_ERROR, BUSY_EXECUTE)),
            Kind::Authenticate => Some((E_SESSION_INVALID, BUSY_AUTHENTICATE)),
            Kind::SignOut(_) => None,
        }
    }
}

/// A connection the node holds behind the sign-out of `session`.
#[derive(Debug)]
pub(super) struct Held {
    session: SessionId,
    /// The requests queued behind it, in order.
    queued: Vec<Kind>,
}

/// A request about to be handled: what the watch knew of its connection before it.
pub(crate) struct BehindBefore {
    connection: ConnectionId,
    kind: Kind,
    /// Requests queued behind the connection's sign-out before this one, if it is held.
    queued: Option<usize>,
}

/// Whether `reply` is exactly the refusal `code` with `message`.
fn is_refusal(reply: &Reply, (code, message): (i32, &str)) -> bool {
    match reply {
        Reply::ExecuteFailed { code: got, message: text, .. }
        | Reply::AuthenticateFailed { code: got, message: text }
        | Reply::ClientVersion { code: got, message: text } => *got == code && text == message,
        Reply::Executed { .. } | Reply::Authenticated { .. } => false,
    }
}

impl SimNode {
    /// Notes a request on `connection` before the node handles it, and starts collecting the
    /// replies written on `connection` while it is handled.
    pub(super) fn behind_before(
        &mut self,
        connection: ConnectionId,
        request: &node::Request,
    ) -> BehindBefore {
        let watch = &mut self.waiting_watch;
        watch.focus = Some(connection);
        watch.focus_replies.clear();
        let queued = watch.behind.get(&connection).map(|held| held.queued.len());
        BehindBefore { connection, kind: Kind::of(request), queued }
    }

    /// Judges the handled request against the queue behind its connection's sign-out: queued
    /// and unanswered below the limit, refused at once with its kind's refusal at it.
    pub(super) fn behind_after(&mut self, before: BehindBefore) {
        let watch = &mut self.waiting_watch;
        watch.focus = None;
        let replies = std::mem::take(&mut watch.focus_replies);
        let limit = watch.per_connection_limit;
        let connection = before.connection;
        let Some(queued) = before.queued else {
            if let Kind::SignOut(id) = before.kind {
                self.hold_if_pending(connection, id);
            }
            return;
        };
        if queued < limit {
            if let Some(held) = self.waiting_watch.behind.get_mut(&connection) {
                held.queued.push(before.kind);
            }
            if let Some(reply) = replies.first() {
                self.violations.push(format!(
                    "[requests_per_connection] node {} answered a {:?} on {connection:?}, held \
                     behind its sign-out with {queued} requests queued, with {reply:?}; expected \
                     it queued (no reply until meta acknowledged the sign-out) below its \
                     waiting_requests_per_connection_max {limit}",
                    self.id.0, before.kind
                ));
            }
            return;
        }
        let expected = before.kind.refusal();
        let refused = match (expected, replies.as_slice()) {
            (None, []) => true,
            (Some(refusal), [reply]) => is_refusal(reply, refusal),
            _ => false,
        };
        if let Kind::SignOut(id) = before.kind {
            self.judge_sign_out_past_queue(connection, id, queued);
        }
        if !refused {
            self.violations.push(format!(
                "[requests_per_connection] node {} wrote {replies:?} for a {:?} on \
                 {connection:?}, held behind its sign-out with {queued} requests queued (its \
                 waiting_requests_per_connection_max {limit}); expected {}",
                self.id.0,
                before.kind,
                match expected {
                    Some((code, message)) => format!("exactly one refusal ({code}: {message})"),
                    None => "no reply (a sign-out is never answered)".to_owned(),
                }
            ));
        }
    }

    /// A sign-out of wire id `id` past the queue of `queued` requests on `connection`: its
    /// session ended here and its removal is on its way to meta (or the sync's removal queue
    /// is full, as the node's own sign-out allows).
    fn judge_sign_out_past_queue(&mut self, connection: ConnectionId, id: i64, queued: usize) {
        let Some(session) = SessionId::new(id) else { return };
        let held_here = self.graph.registry().session_stats(id).is_some();
        let pending = self.graph.sync().pending_removals().count();
        let removing = self.graph.sync().pending_removals().any(|pending| pending == session);
        let full = pending >= self.waiting_watch.removals_max;
        if held_here || !(removing || full) {
            self.violations.push(format!(
                "[requests_per_connection] node {} took a sign-out of {session} on \
                 {connection:?} past its queue of {queued} (waiting_requests_per_connection_max \
                 {}) and left it {}; expected its session ended here and its removal pending at \
                 the node's sync (its client may hold the proof already)",
                self.id.0,
                self.waiting_watch.per_connection_limit,
                if held_here { "held here" } else { "with no removal pending" }
            ));
        }
    }

    /// A sign-out of wire id `id` on `connection` that is not held: the node holds the
    /// connection if it took the sign-out (its removal is now pending at meta).
    fn hold_if_pending(&mut self, connection: ConnectionId, id: i64) {
        let Some(session) = SessionId::new(id) else { return };
        if self.graph.sync().pending_removals().any(|pending| pending == session) {
            self.waiting_watch.behind.insert(connection, Held { session, queued: Vec::new() });
        }
    }

    /// The removals `answer` acknowledges if the node's sync awaits it, in the order the node
    /// handles them: its removal outcomes whose session is pending at the sync, each once.
    pub(super) fn removals_answered(&self, answer: &Answer) -> Vec<SessionId> {
        let Answer::Reply(reply) = answer else { return Vec::new() };
        if self.waiting_watch.behind.is_empty() {
            return Vec::new();
        }
        let pending: Vec<SessionId> = self.graph.sync().pending_removals().collect();
        let mut answered: Vec<SessionId> = Vec::new();
        for outcome in &reply.removals {
            if pending.contains(&outcome.session) && !answered.contains(&outcome.session) {
                answered.push(outcome.session);
            }
        }
        answered
    }

    /// After an input: connections whose sign-out meta acknowledged are released, their queued
    /// requests handled in order; a sign-out among them holds the connection again, the rest
    /// queued behind it. `acknowledged` are the removals the input's answer acknowledged, in
    /// the order the node handles them (empty for any other input); then any hold whose removal
    /// is no longer pending ends.
    pub(super) fn behind_released(&mut self, acknowledged: Vec<SessionId>) {
        if self.waiting_watch.behind.is_empty() {
            return;
        }
        let pending: Vec<SessionId> = self.graph.sync().pending_removals().collect();
        let mut acknowledged: VecDeque<SessionId> = acknowledged.into();
        while let Some(session) = acknowledged.pop_front() {
            let released: Vec<ConnectionId> = (self.waiting_watch.behind.iter())
                .filter(|(_, held)| held.session == session)
                .map(|(connection, _)| *connection)
                .collect();
            for connection in released {
                self.release(connection, &pending);
            }
        }
        let released: Vec<ConnectionId> = (self.waiting_watch.behind.iter())
            .filter(|(_, held)| !pending.contains(&held.session))
            .map(|(connection, _)| *connection)
            .collect();
        for connection in released {
            self.release(connection, &pending);
        }
    }

    /// `connection`'s hold ends: its queued requests go on in order, and the first sign-out
    /// among them whose removal the node took (`pending` after the input) holds it again with
    /// the rest queued behind it.
    fn release(&mut self, connection: ConnectionId, pending: &[SessionId]) {
        let Some(held) = self.waiting_watch.behind.remove(&connection) else { return };
        let mut again: Option<Held> = None;
        for kind in held.queued {
            if let Some(again) = again.as_mut() {
                again.queued.push(kind);
            } else if let Kind::SignOut(id) = kind
                && let Some(session) = SessionId::new(id)
                && pending.contains(&session)
            {
                again = Some(Held { session, queued: Vec::new() });
            }
        }
        if let Some(again) = again {
            self.waiting_watch.behind.insert(connection, again);
        }
    }
}
