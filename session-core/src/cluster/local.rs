//! [`LocalSessions`]: what the node-side sync machine needs from the node's own session
//! registry. It keeps [`NodeSync`](crate::cluster::NodeSync) free of the registry's locks and
//! types, so it can be tested against an in-memory fake and wired to any registry.

use std::sync::Arc;

use graphsession_id_gen::SessionId;
use graphsession_query_plan::QueryKey;

use crate::cluster::messages::{GoneReason, QueryReport, SessionRecord, SessionReport};

/// One session as a full sync round scans it: the part of its [`SessionReport`] that says
/// whether meta needs a new report, without the names (user, client ip) a report carries. A
/// full round reads every session held in this form and builds a whole report only for the
/// ones it sends (at most `sync_batch_sessions_max`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    /// The session.
    pub session: SessionId,
    /// The newest activity on this node, Unix ms.
    pub last_activity_unix_ms: u64,
    /// Queries running on this node.
    pub running_queries: u32,
    /// When `space` was set, Unix ms.
    pub space_set_unix_ms: u64,
    /// The current space on this node, `None` before USE (a report's "").
    pub space: Option<Arc<str>>,
}

impl SessionState {
    /// The state `report` tells.
    ///
    /// ```
    /// use graphsession_core::cluster::{SessionReport, SessionState};
    /// use graphsession_id_gen::SessionId;
    ///
    /// let session = SessionId::new(42).unwrap();
    /// let report = SessionReport::logged_in(session, "alice", "10.0.0.1", 1_763_900_000_000);
    /// let state = SessionState::of(&report);
    /// assert_eq!((state.session, state.space_name()), (session, ""));
    /// ```
    #[must_use]
    pub fn of(report: &SessionReport) -> SessionState {
        SessionState {
            session: report.session,
            last_activity_unix_ms: report.last_activity_unix_ms,
            running_queries: report.running_queries,
            space_set_unix_ms: report.space_set_unix_ms,
            space: (!report.space.is_empty()).then(|| Arc::from(report.space.as_str())),
        }
    }

    /// The current space as a report names it: "" before USE.
    #[must_use]
    pub fn space_name(&self) -> &str {
        self.space.as_deref().unwrap_or("")
    }
}

/// The node's session registry, as cluster sync sees it.
///
/// Implementations must make each call idempotent: the machine may repeat an install, a drop or
/// a kill when an answer is applied after a resync.
///
/// The registry may also end a copy on its own (a local idle timer, a limit): the next round
/// releases it at meta, so this node no longer counts for the session's expiry, and the session
/// lives on at meta and on other nodes. Changes of that copy not yet reported (a USE since the
/// last round) are lost with it. Sign-out and KILL SESSION are not that: they go through
/// [`NodeSync::remove`](crate::cluster::NodeSync::remove).
pub trait LocalSessions {
    /// Every session this node holds now, with its current state.
    fn sessions(&self) -> Vec<SessionReport>;

    /// Every session this node holds now, in the light form a full sync round scans. The
    /// default reads [`sessions`](Self::sessions); a registry that can list its sessions
    /// without copying their names overrides it (the server registry does: at 200,000 sessions
    /// held, a full round then copies no string but those of the reports it sends).
    fn session_states(&self) -> Vec<SessionState> {
        self.sessions().iter().map(SessionState::of).collect()
    }

    /// Session `session` with its current state, if this node holds it. An urgent round (a
    /// login to announce) looks up each session it reports with this. The default reads
    /// [`sessions`](Self::sessions), which costs O(n) per call; a registry that finds one session
    /// directly overrides it (the server registry does), so an urgent round costs nothing per
    /// session held.
    fn session(&self, session: SessionId) -> Option<SessionReport> {
        // Of two reports of one session, the later counts (as a map collected from them).
        self.sessions().into_iter().rev().find(|report| report.session == session)
    }

    /// Whether this node holds `session`. The default asks [`session`](Self::session).
    fn holds(&self, session: SessionId) -> bool {
        self.session(session).is_some()
    }

    /// The queries running on this node now, for SHOW QUERIES on other nodes: at most
    /// `queries_max` (the longest running ones when more run), each statement cut to
    /// `statement_bytes_max` bytes at a character boundary, in (session, plan) order.
    /// A registry without queries keeps the default: none.
    fn queries(&self, queries_max: usize, statement_bytes_max: usize) -> Vec<QueryReport> {
        let _ = (queries_max, statement_bytes_max);
        Vec::new()
    }

    /// Installs a session picked up or reloaded from meta: no queries, no limits checked (as in
    /// NebulaGraph), idle timer from now. A session already held is left as it is (the machine
    /// then offers the reloaded record to [`adopt_space`](Self::adopt_space)).
    fn install(&mut self, record: &SessionRecord);

    /// Adopts `record`'s space if this node holds the session and `(space_set_unix_ms, space)`
    /// of the record is greater than its own (last writer wins; NebulaGraph issue 5585, see
    /// docs/fixes.md). Returns whether the space changed.
    fn adopt_space(&mut self, record: &SessionRecord) -> bool;

    /// Drops a session meta says is gone. Its running queries are killed with
    /// `KillCause::SessionExpired` for [`GoneReason::Expired`], `KillCause::SessionKilled`
    /// otherwise. A session not held is ignored.
    fn drop_session(&mut self, session: SessionId, reason: GoneReason);

    /// Kills query `key` (cause `KillCause::User`) if it runs here; returns whether it did. Plan
    /// ids are unique across nodes and restarts (fix 5, see docs/fixes.md), so a mark can only
    /// hit its own query.
    fn kill_query(&mut self, key: QueryKey) -> bool;
}
