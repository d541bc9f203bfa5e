//! The values a graph node and the meta store exchange: one [`Request`] per sync round and its
//! [`Answer`]. The host serializes them (serde) and carries them over its own transport.
//!
//! Every request carries a [`RequestId`] that grows with every request a node sends, across
//! restarts too (its `incarnation` comes from the host). The meta store refuses a request whose id
//! is not above the last one it handled from that node ([`Refusal::Stale`]), so a duplicated or
//! delayed request is never applied twice or out of order; the node applies only the answer to
//! the request it has in flight, so duplicated, delayed and reordered answers are ignored. Every
//! request is complete: whatever an unanswered request asked is asked again by the next one.

use graphsession_id_gen::SessionId;
use graphsession_query_plan::{QueryKey, QueryStatus};

/// A graph node's id, chosen by the host (the id-gen slot is a good choice).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct NodeId(pub u16);

/// The id of one request: ordered by `incarnation`, then `round`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct RequestId {
    /// Grows with every start of the node process (the host's choice, e.g. its lease bound).
    pub incarnation: u64,
    /// Grows with every request of this incarnation, from 1.
    pub round: u64,
}

/// Why a session is removed at a node's request.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum RemoveReason {
    /// The client signed out.
    SignedOut,
    /// KILL SESSION (on any node).
    Killed,
}

/// Why a session is gone from the cluster.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum GoneReason {
    /// Signed out (on any node).
    SignedOut,
    /// KILL SESSION (on any node).
    Killed,
    /// Idle on every node for the idle timeout, with no running query anywhere.
    Expired,
    /// Meta refused to register it: its `sessions_max`, or the id is already another node's
    /// session (a collision of ids from graph servers sealing with different keys).
    Refused,
    /// Meta does not know it (its tombstone was collected, or it never reached meta).
    Unknown,
}

impl From<RemoveReason> for GoneReason {
    fn from(reason: RemoveReason) -> GoneReason {
        match reason {
            RemoveReason::SignedOut => GoneReason::SignedOut,
            RemoveReason::Killed => GoneReason::Killed,
        }
    }
}

/// One session as a node reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionReport {
    /// The session.
    pub session: SessionId,
    /// Its user.
    pub user: String,
    /// The client's ip.
    pub client_ip: String,
    /// The current space on this node ("" before USE).
    pub space: String,
    /// When `space` was set (by USE here, or adopted from meta), Unix ms: the newest wins.
    pub space_set_unix_ms: u64,
    /// Creation time, Unix ms.
    pub created_unix_ms: u64,
    /// The newest activity on this node, Unix ms.
    pub last_activity_unix_ms: u64,
    /// Queries running on this node; any counts as activity (fix 3, see docs/fixes.md).
    pub running_queries: u32,
}

impl SessionReport {
    /// The first report of a session that logged in on this node at `now_unix_ms`: no space
    /// yet, active since its creation, no query running.
    ///
    /// ```
    /// use graphsession_core::cluster::SessionReport;
    /// use graphsession_id_gen::SessionId;
    ///
    /// let session = SessionId::new(42).unwrap();
    /// let report = SessionReport::logged_in(session, "alice", "10.0.0.1", 1_763_900_000_000);
    /// assert_eq!((report.space.as_str(), report.space_set_unix_ms), ("", 0));
    /// assert_eq!(report.last_activity_unix_ms, report.created_unix_ms);
    /// ```
    #[must_use]
    pub fn logged_in(
        session: SessionId,
        user: &str,
        client_ip: &str,
        now_unix_ms: u64,
    ) -> SessionReport {
        SessionReport {
            session,
            user: user.to_owned(),
            client_ip: client_ip.to_owned(),
            space: String::new(),
            space_set_unix_ms: 0,
            created_unix_ms: now_unix_ms,
            last_activity_unix_ms: now_unix_ms,
            running_queries: 0,
        }
    }
}

/// One query running on a node, as the node reports it for SHOW QUERIES (NebulaGraph's graph
/// service reports each session's queries to meta with the session; SHOW QUERIES lists them from
/// there).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueryReport {
    /// The query: its (session, plan) pair.
    pub key: QueryKey,
    /// When it started, Unix microseconds.
    pub start_time_unix_us: u64,
    /// RUNNING, or KILLING once a kill won.
    pub status: QueryStatus,
    /// Its statement, cut to the node's `reported_statement_bytes_max` at a character boundary.
    pub statement: String,
}

/// One row of a cluster-wide SHOW QUERIES from meta: a query some live node last reported, of a
/// live session.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListedQuery {
    /// The node running it (the Host column is its address).
    pub node: NodeId,
    /// The session's user.
    pub user: String,
    /// The query as its node reported it; KILLING also when meta holds a kill mark for it.
    pub query: QueryReport,
}

/// One session as meta knows it: the newest copy across nodes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionRecord {
    /// The session.
    pub session: SessionId,
    /// Its user.
    pub user: String,
    /// The client's ip.
    pub client_ip: String,
    /// The space of the newest USE on any node.
    pub space: String,
    /// When that USE happened, Unix ms.
    pub space_set_unix_ms: u64,
    /// Creation time, Unix ms.
    pub created_unix_ms: u64,
    /// The newest activity reported by any node, Unix ms (NebulaGraph's `update_time`).
    pub last_activity_unix_ms: u64,
    /// The node that created or last picked it up (NebulaGraph's `graph_addr`).
    pub owner: NodeId,
}

/// A node's vote to expire a session: idle here since `last_activity_unix_ms`, at least the idle
/// timeout before `voted_unix_ms`, with no running query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdleVote {
    /// The session.
    pub session: SessionId,
    /// Its newest activity on this node, Unix ms.
    pub last_activity_unix_ms: u64,
    /// When the node voted (its clock), Unix ms.
    pub voted_unix_ms: u64,
}

/// A removal a node asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Removal {
    /// The session.
    pub session: SessionId,
    /// Why.
    pub reason: RemoveReason,
}

/// KILL QUERY of a query that may run on another node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct QueryKill {
    /// The query: its (session, plan) pair, unique across nodes and restarts (fix 5, see
    /// docs/fixes.md).
    pub key: QueryKey,
    /// The caller's user.
    pub caller_user: String,
    /// Whether the caller holds the GOD role.
    pub caller_is_god: bool,
}

/// One page of the start-up reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReloadFrom {
    /// Sessions after this id; `None` for the first page (which also resets the node's cursor).
    pub after: Option<SessionId>,
}

/// One sync round of one node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Request {
    /// The request's id.
    pub id: RequestId,
    /// The newest change-log position the node has applied.
    pub changes_seen_seq: u64,
    /// The start-up reload page wanted, if the node is reloading.
    pub reload: Option<ReloadFrom>,
    /// Sessions created on this node that meta has not acknowledged.
    pub created: Vec<SessionReport>,
    /// Sessions that changed here since meta last acknowledged them.
    pub updated: Vec<SessionReport>,
    /// Sessions idle on this node for the idle timeout with no running query: expiry votes.
    pub idle: Vec<IdleVote>,
    /// Removals not yet acknowledged.
    pub removals: Vec<Removal>,
    /// Sessions this node no longer holds though meta counts it as a holder (the registry ended
    /// them on its own): the node stops counting for their expiry. Not a removal.
    pub released: Vec<SessionId>,
    /// KILL QUERY requests not yet acknowledged.
    pub query_kills: Vec<QueryKill>,
    /// Sessions the node wants to pick up.
    pub pick_ups: Vec<SessionId>,
    /// Whether the node wants a SHOW SESSIONS page.
    pub show_sessions: bool,
    /// Every query running on this node (at most the node's `reported_queries_max`), when the
    /// list differs from the one meta acknowledged last; `None` when it does not. Replaces the
    /// node's list at meta.
    #[serde(default)]
    pub queries: Option<Vec<QueryReport>>,
    /// Whether the node wants the cluster's queries (SHOW QUERIES).
    #[serde(default)]
    pub show_queries: bool,
    /// Sessions not held here that a SHOW SESSION names: meta answers the live records among
    /// them in [`Reply::shown`] (NebulaGraph's SHOW SESSION reads meta). Not written when
    /// empty, so a request without it encodes as before it existed (meta-etcd's log entries).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub show_session_ids: Vec<SessionId>,
}

impl Request {
    /// A round that reports nothing and asks for nothing: the shape of a node's idle round at
    /// change-log position 0, and where a test or a fuzz target starts before filling the lists
    /// it is about.
    ///
    /// ```
    /// use graphsession_core::cluster::{Request, RequestId};
    ///
    /// let mut request = Request::empty(RequestId { incarnation: 1, round: 0 });
    /// request.show_sessions = true;
    /// assert!(request.created.is_empty() && request.reload.is_none());
    /// ```
    pub fn empty(id: RequestId) -> Request {
        Request {
            id,
            changes_seen_seq: 0,
            reload: None,
            created: Vec::new(),
            updated: Vec::new(),
            idle: Vec::new(),
            removals: Vec::new(),
            released: Vec::new(),
            query_kills: Vec::new(),
            pick_ups: Vec::new(),
            show_sessions: false,
            queries: None,
            show_queries: false,
            show_session_ids: Vec::new(),
        }
    }
}

/// What meta did with a removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemovalOutcome {
    /// The session.
    pub session: SessionId,
    /// Whether this node's removal ended it (also when a lost answer's removal is retried);
    /// false if it was already gone for another cause or unknown.
    pub removed: bool,
}

/// What meta did with a KILL QUERY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum QueryKillResult {
    /// The kill mark is recorded; the nodes holding the session apply it at their next sync.
    Recorded,
    /// No live session with that id (-2069).
    SessionNotFound,
    /// The caller is neither the session's user nor GOD (-1008).
    PermissionDenied,
    /// No holder of the session runs that plan, as their last reports tell (-2073,
    /// `"ExecutionPlanId[p] does not exist in Session[s]."`).
    QueryNotFound,
    /// `kill_marks_max` marks are kept (-1005).
    KillMarksFull,
}

impl QueryKillResult {
    /// NebulaGraph's code: 0 for recorded.
    #[must_use]
    pub fn code(self) -> i32 {
        use crate::cluster::error::error_code;
        match self {
            QueryKillResult::Recorded => 0,
            QueryKillResult::SessionNotFound => error_code::E_SESSION_NOT_FOUND,
            QueryKillResult::PermissionDenied => error_code::E_BAD_PERMISSION,
            QueryKillResult::QueryNotFound => error_code::E_QUERY_NOT_FOUND,
            QueryKillResult::KillMarksFull => error_code::E_EXECUTION_ERROR,
        }
    }
}

/// A session the node must drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Gone {
    /// The session.
    pub session: SessionId,
    /// Why it is gone.
    pub reason: GoneReason,
}

/// One page of records (start-up reload or SHOW SESSIONS).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Page {
    /// The records, by id.
    pub records: Vec<SessionRecord>,
    /// The last id of a full page, to continue after; `None` when this is the last page.
    pub next_after: Option<SessionId>,
}

/// Meta's answer to a request it handled.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reply {
    /// The id of the request answered.
    pub id: RequestId,
    /// The change-log position this answer brings the node to.
    pub changes_seen_seq: u64,
    /// Whether the change log has more for the node (it should sync again at once).
    pub more_changes: bool,
    /// The node's position is older than the oldest change kept: it must report all its
    /// sessions again, and meta answers "gone" for those it no longer knows.
    pub resync: bool,
    /// Sessions to drop.
    pub gone: Vec<Gone>,
    /// Sessions picked up by this request, and sessions this node holds that changed
    /// elsewhere (space of a newer USE).
    pub records: Vec<SessionRecord>,
    /// Pick-ups of sessions meta has no live record of (-1002).
    pub not_found: Vec<SessionId>,
    /// Queries to kill on this node, if they run here.
    pub kills: Vec<QueryKey>,
    /// Outcomes of the request's removals.
    pub removals: Vec<RemovalOutcome>,
    /// Outcomes of the request's KILL QUERY requests, in request order.
    pub query_kills: Vec<(QueryKey, QueryKillResult)>,
    /// The reload page asked for.
    pub reload: Option<Page>,
    /// The SHOW SESSIONS page asked for.
    pub sessions: Option<Page>,
    /// The cluster's queries asked for (SHOW QUERIES): every query the live nodes last reported
    /// of a live session, by node, then (session, plan).
    #[serde(default)]
    pub queries: Option<Vec<ListedQuery>>,
    /// The live records among the request's `show_session_ids`, by id (an id missing here is
    /// not a live session). Not written when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shown: Vec<SessionRecord>,
}

/// Why meta refused a request. Nothing was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Refusal {
    /// The request's id is not above the last one handled from this node: a duplicate, a
    /// delayed request, or a node restarted with an incarnation that did not grow.
    Stale {
        /// The last id handled.
        last: RequestId,
    },
    /// A list is longer than `request_items_max`.
    TooManyItems {
        /// Its length.
        count: u64,
        /// The limit.
        items_max: u32,
    },
    /// A user name, client ip or space is longer than `text_bytes_max`.
    TextTooLong {
        /// Its length in bytes.
        bytes: u64,
        /// The limit.
        bytes_max: u32,
    },
    /// The store tracks `nodes_max` nodes already.
    NodesFull {
        /// The limit.
        nodes_max: u32,
    },
}

/// Meta's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[expect(
    clippy::large_enum_variant,
    reason = "one answer per round, moved once to its node: boxing the reply would cost an \
              allocation per round to save bytes on the rare refusal"
)]
pub enum Answer {
    /// The request was applied.
    Reply(Reply),
    /// The request was refused.
    Refused {
        /// The id of the request refused.
        id: RequestId,
        /// Why.
        refusal: Refusal,
    },
}

impl Answer {
    /// The id of the request this answers.
    #[must_use]
    pub fn id(&self) -> RequestId {
        match self {
            Answer::Reply(reply) => reply.id,
            Answer::Refused { id, .. } => *id,
        }
    }
}
