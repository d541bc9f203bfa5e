//! The simulator's oracles over a real run: the events graphd processes on etcd and the test
//! driving them recorded ([`Recorded`], one JSON object a line), judged by [`judge`] with the
//! same code the cluster world runs ([`crate::oracles`], `MetaStore::check_invariants`).
//!
//! What a real run records: each graphd process its start (the meta configuration its replica
//! applies with), every log entry its replica applied (revision, the entry, meta's answer), the
//! session and plan ids its nodes issued, the sessions they began and stopped holding; the
//! test the processes it stopped, the logins, kills and listings its clients were answered, and
//! at the end the sessions it still holds.
//!
//! What [`judge`] checks:
//! - **unique ids**: no session or plan id issued twice over all processes ([`UniqueIds`]),
//!   and every id a client was given was issued by a node;
//! - **one log, replicas agree**: every process that applied the entry at a revision applied
//!   the same entry and computed the same answer; the log replayed from an empty `MetaStore`
//!   passes `check_invariants` after every entry and gives every recorded answer;
//! - **no session lost or duplicated**: a session meta ended was ended by the test (a KILL
//!   SESSION it was answered); no listing shows a session twice or one nobody issued; at the end
//!   meta's live sessions are exactly the ones the test holds (none leaked, none lost);
//! - **kills land within the bound**: no node holds a session longer than the bound after meta
//!   ended it, unless its process stopped first, and a query meta recorded a KILL QUERY for is
//!   answered within the bound ([`kill_within_bound`]);
//! - **what parties are told**: a query meta recorded a kill for is never answered a success.
//!
//! [`UniqueIds`]: crate::oracles::UniqueIds
//! [`kill_within_bound`]: crate::oracles::kill_within_bound

mod judge;

use graphsession_core::cluster::{Answer, MetaConfig, Request};
pub use judge::{Verdict, judge};

/// One recorded event. A process is named by its pid (unique within one test run).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recorded {
    /// A graphd process started with this meta configuration (its replica's).
    Started {
        /// The process.
        process: u32,
        /// When, Unix ms.
        at_ms: u64,
        /// The meta configuration every replica applies the log with.
        meta: MetaConfig,
    },
    /// A process's replica applied the log entry at `revision`.
    Applied {
        /// The process.
        process: u32,
        /// The entry's etcd revision (the log's order).
        revision: i64,
        /// The entry.
        entry: Entry,
        /// Meta's answer to a request (none for a tick).
        answer: Option<Box<Answer>>,
    },
    /// A node issued session id `session` (a login).
    SessionIssued {
        /// The process.
        process: u32,
        /// The node (its meta id).
        node: u16,
        /// The id.
        session: i64,
        /// When, Unix ms.
        at_ms: u64,
    },
    /// A node issued plan id `plan` for a query of `session`.
    PlanIssued {
        /// The process.
        process: u32,
        /// The node.
        node: u16,
        /// The query's session.
        session: i64,
        /// The id.
        plan: u64,
        /// When, Unix ms.
        at_ms: u64,
    },
    /// A node began to hold a session it did not create (picked up, reloaded, restored).
    SessionHeld {
        /// The process.
        process: u32,
        /// The node.
        node: u16,
        /// The session.
        session: i64,
        /// When, Unix ms.
        at_ms: u64,
    },
    /// A node stopped holding a session (it ended there, for `reason`).
    SessionEnded {
        /// The process.
        process: u32,
        /// The node.
        node: u16,
        /// The session.
        session: i64,
        /// When, Unix ms.
        at_ms: u64,
        /// Why, as the node's audit trail says it.
        reason: String,
    },
    /// The test stopped a process (`kill -9`, or the process exited).
    ProcessStopped {
        /// The process.
        process: u32,
        /// When, Unix ms.
        at_ms: u64,
    },
    /// A client of the test logged in and was given `session`.
    LoggedIn {
        /// The session.
        session: i64,
        /// When, Unix ms.
        at_ms: u64,
    },
    /// A client of the test ran KILL SESSION `session` and was told it was removed.
    KilledByClient {
        /// The session.
        session: i64,
        /// When, Unix ms.
        at_ms: u64,
    },
    /// A client of the test was answered `code` for the statement that ran as query
    /// (`session`, `plan`) (0: a success).
    QueryAnswered {
        /// The query's session.
        session: i64,
        /// The query's plan id.
        plan: u64,
        /// The reply's code.
        code: i32,
        /// When, Unix ms.
        at_ms: u64,
    },
    /// A client of the test was answered this SHOW SESSIONS listing (ids in its order).
    Listed {
        /// The session ids listed.
        sessions: Vec<i64>,
        /// When, Unix ms.
        at_ms: u64,
    },
    /// The end of the run: the sessions the test still holds as live.
    End {
        /// The sessions.
        live: Vec<i64>,
        /// When, Unix ms.
        at_ms: u64,
    },
}

/// One entry of the meta log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Entry {
    /// A node's request, with its appender's clock.
    Request {
        /// The appender's clock, Unix ms.
        now_ms: u64,
        /// The node.
        node: u16,
        /// The request.
        request: Box<Request>,
    },
    /// The leader's timer tick.
    Tick {
        /// The leader's clock, Unix ms.
        now_ms: u64,
    },
}

impl Entry {
    /// The entry's clock.
    #[must_use]
    pub fn now_ms(&self) -> u64 {
        match self {
            Entry::Request { now_ms, .. } | Entry::Tick { now_ms } => *now_ms,
        }
    }
}
