//! SHOW SESSIONS, SHOW LOCAL SESSIONS and SHOW SESSION: NebulaGraph's columns, GOD only.

use std::collections::BTreeMap;

use graphsession_base::sync::{Ordering, lock};
use graphsession_id_gen::SessionId;
use graphsession_permission::{Caller, RoleTable, check_show_sessions};

use crate::server::audit::HistoryEntry;
use crate::server::error::ServerError;
use crate::server::manager::SessionManager;
use crate::server::metrics::SessionStats;
use crate::server::table::Found;

/// NebulaGraph's session columns, the result header of SHOW SESSIONS.
pub const SESSION_COLUMNS: [&str; 8] = [
    "SessionId",
    "UserName",
    "SpaceName",
    "CreateTime",
    "UpdateTime",
    "GraphAddr",
    "Timezone",
    "ClientIp",
];

/// One row of SHOW SESSIONS, in [`SESSION_COLUMNS`] order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionRow {
    /// SessionId.
    pub session_id: SessionId,
    /// UserName.
    pub user_name: String,
    /// SpaceName: "" until USE.
    pub space_name: String,
    /// CreateTime, microseconds since the Unix epoch.
    pub create_time_unix_us: u64,
    /// UpdateTime (last activity), microseconds since the Unix epoch.
    pub update_time_unix_us: u64,
    /// GraphAddr: this node's "host:port".
    pub graph_addr: String,
    /// Timezone: always 0, as in NebulaGraph.
    pub timezone: i32,
    /// ClientIp.
    pub client_ip: String,
}

/// SHOW SESSION `id`: the row plus what this registry knows beyond NebulaGraph's columns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionDetail {
    /// The SHOW SESSIONS row.
    pub row: SessionRow,
    /// Its statistics.
    pub stats: SessionStats,
    /// Its variables, by name.
    pub variables: BTreeMap<String, String>,
    /// Its newest changes, oldest first (at most `session_history_max`).
    pub history: Vec<HistoryEntry>,
    /// Older changes no longer kept.
    pub history_dropped: u32,
}

impl SessionManager {
    /// SHOW LOCAL SESSIONS: every session of this node, by id. GOD only (-1008 "No permission
    /// to show users/snapshots/serviceClients"; passes with authorization off).
    pub fn show_local_sessions(&self, caller: &Caller) -> Result<Vec<SessionRow>, ServerError> {
        check_show_sessions(caller, self.config.policy)?;
        let mut rows = Vec::new();
        for shard in &self.shards {
            let sessions = shard.read();
            rows.extend(sessions.iter().map(|found| self.row(found)));
        }
        rows.sort_by_key(|row| row.session_id);
        Ok(rows)
    }

    /// SHOW SESSIONS. NebulaGraph reads meta (one sync interval stale); without a cluster this
    /// node's registry is the whole truth, so it is SHOW LOCAL SESSIONS.
    pub fn show_sessions(&self, caller: &Caller) -> Result<Vec<SessionRow>, ServerError> {
        self.show_local_sessions(caller)
    }

    /// SHOW SESSION `session_id`: GOD only; a missing id is -1005
    /// [`ServerError::ShowSessionNotFound`].
    pub fn show_session(
        &self,
        caller: &Caller,
        session_id: i64,
    ) -> Result<SessionDetail, ServerError> {
        check_show_sessions(caller, self.config.policy)?;
        let missing = ServerError::ShowSessionNotFound { session: session_id };
        let id = SessionId::new(session_id).ok_or(missing.clone())?;
        let sessions = self.shard(id).read();
        let found = sessions.get(id).ok_or(missing)?;
        let row = self.row(found);
        let inner = lock(&found.entry.inner);
        Ok(SessionDetail {
            row,
            stats: stats(found, inner.extras().queries_killed),
            variables: (inner.extras().variables.iter())
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            history: inner.extras().history.entries.iter().cloned().collect(),
            history_dropped: inner.extras().history.dropped,
        })
    }

    /// Statistics of session `session_id`, `None` if it is not here. Does not mark activity.
    #[must_use]
    pub fn session_stats(&self, session_id: i64) -> Option<SessionStats> {
        let id = SessionId::new(session_id)?;
        let sessions = self.shard(id).read();
        let found = sessions.get(id)?;
        let queries_killed = lock(&found.entry.inner).extras().queries_killed;
        Some(stats(found, queries_killed))
    }

    /// Every session held here, with its last activity (Unix ms), by id. One read lock per shard
    /// and nothing else: no strings copied (a host's or the simulator's per-step accounting).
    #[must_use]
    pub fn session_activity(&self) -> Vec<(SessionId, u64)> {
        let mut sessions = Vec::new();
        for shard in &self.shards {
            let held = shard.read();
            sessions.extend(held.iter().map(|found| (found.entry.id, found.activity.last_ms())));
        }
        sessions.sort_unstable();
        sessions
    }

    /// The current space of session `session_id` ("" before its first USE), `None` if it is not
    /// here. Does not mark activity. (Replies carry it: clients resend USE when it differs.)
    #[must_use]
    pub fn session_space(&self, session_id: i64) -> Option<String> {
        let id = SessionId::new(session_id)?;
        let sessions = self.shard(id).read();
        Some(sessions.get(id)?.entry.space().unwrap_or_default())
    }

    /// The caller session `session_id` runs its statements as: its user's rights in its current
    /// space, read from `table`; `None` if it is not here. Does not mark activity. For a host that
    /// checks a statement the registry does not run, such as the pipe around a SHOW QUERIES
    /// (NebulaGraph's `kPipe`, checked after the pipe's source).
    ///
    /// ```
    /// # use graphsession_core::server::{Config, Login, PasswordCheck, SessionManager};
    /// # use graphsession_id_gen::{PlanIdGenerator, PlanLease, SealKey, SessionIdConfig, SessionIdGenerator, SessionLease};
    /// # use graphsession_permission::RoleTable;
    /// # let lease = SessionLease { slot: 1, floor_unix_ms: 0, bound_unix_ms: 3_000_000_000_000 };
    /// # let ids = SessionIdGenerator::new(lease, SealKey::from_bytes([1; 16]), SessionIdConfig::default()).unwrap();
    /// # let plans = PlanIdGenerator::new(PlanLease { slot: 1, floor_counter: 0, bound_counter: 1 << 20 }).unwrap();
    /// # let registry = SessionManager::new(Config::default(), ids, plans).unwrap();
    /// let table = RoleTable::new();
    /// let login = Login { user: "root", client_ip: "10.0.0.1", password: PasswordCheck::Verified };
    /// let session = registry.login(1_763_900_000_000, login, &table).unwrap();
    /// let caller = registry.session_caller(session.get(), &table).unwrap();
    /// assert!(caller.is_god() && caller.current_space().is_none());
    /// assert!(registry.session_caller(session.get() + 1, &table).is_none());
    /// ```
    #[must_use]
    pub fn session_caller(&self, session_id: i64, table: &RoleTable) -> Option<Caller> {
        let id = SessionId::new(session_id)?;
        let sessions = self.shard(id).read();
        Some(sessions.get(id)?.entry.current_caller(table, &self.callers))
    }

    fn row(&self, found: Found<'_>) -> SessionRow {
        let entry = found.entry;
        let space_name = entry.space().unwrap_or_default();
        SessionRow {
            session_id: entry.id,
            user_name: entry.user().to_owned(),
            space_name,
            create_time_unix_us: entry.created_unix_ms.saturating_mul(1_000),
            update_time_unix_us: found.activity.last_ms().saturating_mul(1_000),
            graph_addr: self.config.graph_addr.clone(),
            timezone: 0,
            client_ip: entry.client_ip().to_owned(),
        }
    }
}

fn stats(found: Found<'_>, queries_killed: u64) -> SessionStats {
    let entry = found.entry;
    SessionStats {
        created_unix_ms: entry.created_unix_ms,
        last_activity_unix_ms: found.activity.last_ms(),
        queries_run: entry.queries_run.load(Ordering::Relaxed),
        queries_active: entry.running(),
        queries_killed,
    }
}
