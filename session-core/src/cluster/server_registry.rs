//! [`ServerRegistry`]: the node's real registry, [`SessionManager`], as cluster sync's
//! [`LocalSessions`], through the server's public cluster methods only.
//!
//! `LocalSessions` passes neither the role table nor the time, which installing a session and
//! ending one need, so the adapter carries them: the host builds one per sync call,
//! `ServerRegistry::new(now, &sessions, &table)`, and passes it to
//! [`NodeSync::handle_timeout`](crate::cluster::NodeSync::handle_timeout) or
//! [`NodeSync::handle_answer`](crate::cluster::NodeSync::handle_answer).
//!
//! # What the host does besides
//!
//! - **No local idle expiry.** In a cluster a node never ends a session on its own idle timer
//!   (NebulaGraph issue 5094, see docs/fixes.md): meta expires it from every holder's votes and the
//!   node drops it through [`LocalSessions::drop_session`]. So the host does not call
//!   [`SessionManager::handle_timeout`]. (If it does, the expired copy is only released at meta, as
//!   the trait allows; the session lives on elsewhere.)
//! - **Login:** after [`SessionManager::login`],
//!   [`NodeSync::announce`](crate::cluster::NodeSync::announce).
//! - **Sign-out and KILL SESSION:** end it locally ([`SessionManager::sign_out`],
//!   [`SessionManager::kill_sessions`]) and [`NodeSync::remove`](crate::cluster::NodeSync::remove)
//!   it; KILL SESSION of a session not held here is the `remove` alone.
//! - **A request for a session not held here** (-1002 from the registry):
//!   [`NodeSync::pick_up`](crate::cluster::NodeSync::pick_up), then retry the request after
//!   [`NodeEvent::PickedUp`](crate::cluster::NodeEvent::PickedUp).
//! - **KILL QUERY of a query not running here:**
//!   [`NodeSync::kill_query`](crate::cluster::NodeSync::kill_query).
//! - **SHOW QUERIES:** [`NodeSync::show_queries`](crate::cluster::NodeSync::show_queries); the
//!   rows of other nodes come in [`NodeEvent::Queries`](crate::cluster::NodeEvent::Queries)
//!   (each node reports its running queries through [`LocalSessions::queries`]).

use graphsession_id_gen::SessionId;
use graphsession_permission::RoleTable;
use graphsession_query_plan::QueryKey;

use crate::cluster::local::{LocalSessions, SessionState};
use crate::cluster::messages::{GoneReason, QueryReport, SessionRecord, SessionReport};
use crate::server::{ClusterEnd, ClusterSessionView, InstalledSession, SessionManager};

/// The user a kill mark from meta is recorded under: meta's kill marks carry only the query's
/// key (it checked the caller where KILL QUERY ran).
pub const CLUSTER_KILL_USER: &str = "(cluster)";

/// A [`SessionManager`] seen as cluster sync's [`LocalSessions`] at one instant, with the role
/// table installed sessions take their roles from.
#[derive(Debug)]
pub struct ServerRegistry<'a> {
    sessions: &'a SessionManager,
    table: &'a RoleTable,
    now_unix_ms: u64,
    installs_refused: u32,
    changed: bool,
}

impl<'a> ServerRegistry<'a> {
    /// The registry `sessions`, with roles from `table`, at `now_unix_ms`.
    #[must_use]
    pub fn new(
        now_unix_ms: u64,
        sessions: &'a SessionManager,
        table: &'a RoleTable,
    ) -> ServerRegistry<'a> {
        ServerRegistry { sessions, table, now_unix_ms, installs_refused: 0, changed: false }
    }

    /// Whether sync called a method through this adapter that may change the registry
    /// (`install`, `adopt_space`, `drop_session`, `kill_query`), whatever it decided: a host that
    /// checks the registry's invariants after each input may skip the check when this is false,
    /// since reading the sessions changes nothing.
    #[must_use]
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Installs the registry refused through this adapter (its `sessions_max`, a user the role
    /// table no longer knows, bad input). A refused session is not held here, so the next round
    /// releases it at meta; a refused pick-up's request gets -1002 when the host retries it.
    #[must_use]
    pub fn installs_refused(&self) -> u32 {
        self.installs_refused
    }
}

impl LocalSessions for ServerRegistry<'_> {
    fn sessions(&self) -> Vec<SessionReport> {
        // Most rounds of a quiet node find none, and reading them visits every shard. The
        // count is reserved before a session enters its shard and released after it left, so
        // a count of zero means no shard holds one.
        if self.sessions.session_count() == 0 {
            return Vec::new();
        }
        self.sessions.cluster_sessions().into_iter().map(report).collect()
    }

    fn session_states(&self) -> Vec<SessionState> {
        if self.sessions.session_count() == 0 {
            return Vec::new();
        }
        (self.sessions.cluster_session_states().into_iter())
            .map(|state| SessionState {
                session: state.session,
                last_activity_unix_ms: state.last_activity_unix_ms,
                running_queries: state.running_queries,
                space_set_unix_ms: state.space_set_unix_ms,
                space: state.space,
            })
            .collect()
    }

    fn session(&self, session: SessionId) -> Option<SessionReport> {
        self.sessions.cluster_session(session).map(report)
    }

    fn holds(&self, session: SessionId) -> bool {
        self.sessions.holds_session(session)
    }

    fn queries(&self, queries_max: usize, statement_bytes_max: usize) -> Vec<QueryReport> {
        if self.sessions.session_count() == 0 {
            return Vec::new();
        }
        let mut rows = self.sessions.running_queries(self.now_unix_ms);
        if rows.len() > queries_max {
            // The longest running: what SHOW QUERIES is for (finding the slow ones to kill).
            rows.sort_by_key(|row| (row.start_time_unix_us, row.session_id, row.execution_plan_id));
            rows.truncate(queries_max);
            rows.sort_by_key(|row| (row.session_id, row.execution_plan_id));
        }
        (rows.into_iter())
            .map(|row| QueryReport {
                key: QueryKey { session: row.session_id, plan: row.execution_plan_id },
                start_time_unix_us: row.start_time_unix_us,
                status: row.status,
                statement: cut(row.query, statement_bytes_max),
            })
            .collect()
    }

    fn install(&mut self, record: &SessionRecord) {
        self.changed = true;
        let install = InstalledSession {
            session: record.session,
            user: &record.user,
            client_ip: &record.client_ip,
            space: &record.space,
            space_set_unix_ms: record.space_set_unix_ms,
            created_unix_ms: record.created_unix_ms,
            last_activity_unix_ms: record.last_activity_unix_ms,
        };
        // Ok(false): held already, left as it is (the trait's idempotence).
        if self.sessions.install_session(self.now_unix_ms, install, self.table).is_err() {
            self.installs_refused = self.installs_refused.saturating_add(1);
        }
    }

    fn adopt_space(&mut self, record: &SessionRecord) -> bool {
        self.changed = true;
        self.sessions.adopt_space(record.session, &record.space, record.space_set_unix_ms)
    }

    fn drop_session(&mut self, session: SessionId, reason: GoneReason) {
        self.changed = true;
        let end = match reason {
            GoneReason::Expired => ClusterEnd::Expired,
            GoneReason::SignedOut
            | GoneReason::Killed
            | GoneReason::Refused
            | GoneReason::Unknown => ClusterEnd::EndedElsewhere,
        };
        let _was_here = self.sessions.end_from_cluster(self.now_unix_ms, session, end);
    }

    fn kill_query(&mut self, key: QueryKey) -> bool {
        self.changed = true;
        self.sessions.kill_from_cluster(key, CLUSTER_KILL_USER)
    }
}

/// `text` cut to at most `bytes_max` bytes, at a character boundary.
fn cut(mut text: String, bytes_max: usize) -> String {
    if text.len() > bytes_max {
        let end = (0..=bytes_max).rev().find(|&end| text.is_char_boundary(end)).unwrap_or(0);
        text.truncate(end);
    }
    text
}

fn report(view: ClusterSessionView) -> SessionReport {
    SessionReport {
        session: view.session,
        user: view.user,
        client_ip: view.client_ip,
        space: view.space,
        space_set_unix_ms: view.space_set_unix_ms,
        created_unix_ms: view.created_unix_ms,
        last_activity_unix_ms: view.last_activity_unix_ms,
        running_queries: view.running_queries,
    }
}
