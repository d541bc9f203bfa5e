//! What cluster sync needs from the registry, as plain methods: read every session's state
//! ([`SessionManager::cluster_sessions`]), install a session picked up or reloaded from meta,
//! adopt a newer space, end a session meta says is gone, and kill a query meta marked. The
//! registry knows nothing of the cluster's types; `cluster::ServerRegistry` adapts these methods
//! to `cluster::LocalSessions`.
//!
//! None of them counts as activity or checks a caller: the cluster decided (meta checked KILL
//! QUERY's caller, a pick-up follows a request the host will touch the session for). Each keeps
//! every invariant of [`check_invariants`](SessionManager::check_invariants): the node and
//! per-(user, ip) counts equal the live sessions, each session has one idle check, and every
//! state change comes out as an [`Event`](crate::server::Event).

use graphsession_base::sync::{Arc, Ordering, lock};
use graphsession_id_gen::SessionId;
use graphsession_permission::{Caller, Rights, RoleTable, USER_NAME_BYTES_MAX};
use graphsession_query_plan::{Kill, KillOutcome, QueryKey};

use crate::server::audit::{Change, EndReason};
use crate::server::config::CLIENT_IP_BYTES_MAX;
use crate::server::error::ServerError;
use crate::server::execute::check_space_name;
use crate::server::limits::UserIp;
use crate::server::manager::SessionManager;
use crate::server::session::{NewSession, Origin, SessionEntry};
use crate::server::table::{Found, NotInserted};

/// One session as cluster sync reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSessionView {
    /// The session.
    pub session: SessionId,
    /// Its user.
    pub user: String,
    /// The client's ip.
    pub client_ip: String,
    /// The current space, "" before USE.
    pub space: String,
    /// When the space was set (USE here, or adopted), Unix ms; 0 before USE.
    pub space_set_unix_ms: u64,
    /// Creation time, Unix ms.
    pub created_unix_ms: u64,
    /// The newest activity on this node, Unix ms.
    pub last_activity_unix_ms: u64,
    /// Queries running on this node.
    pub running_queries: u32,
}

/// One session as cluster sync's full round scans it: [`ClusterSessionView`] without the names,
/// the space shared with the session's caller, so listing every session copies no string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSessionState {
    /// The session.
    pub session: SessionId,
    /// The newest activity on this node, Unix ms.
    pub last_activity_unix_ms: u64,
    /// Queries running on this node.
    pub running_queries: u32,
    /// When the space was set (USE here, or adopted), Unix ms; 0 before USE.
    pub space_set_unix_ms: u64,
    /// The current space, `None` before USE.
    pub space: Option<std::sync::Arc<str>>,
}

/// A session to install from the cluster (picked up, or reloaded at start-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstalledSession<'a> {
    /// Its id (kept: the client already holds it).
    pub session: SessionId,
    /// Its user.
    pub user: &'a str,
    /// The client's ip.
    pub client_ip: &'a str,
    /// Its space, "" for none.
    pub space: &'a str,
    /// When that space was set, Unix ms.
    pub space_set_unix_ms: u64,
    /// Creation time, Unix ms.
    pub created_unix_ms: u64,
    /// The newest activity any node reported, Unix ms.
    pub last_activity_unix_ms: u64,
}

/// Why the cluster ends a session here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterEnd {
    /// Meta expired it (idle on every node holding it): queries killed with
    /// `KillCause::SessionExpired`, ended as [`EndReason::Expired`].
    Expired,
    /// Signed out or killed on another node, or unknown to meta: queries killed with
    /// `KillCause::SessionKilled`, ended as [`EndReason::EndedElsewhere`].
    EndedElsewhere,
}

impl SessionManager {
    /// Every session on this node with the state cluster sync reports, by id. Neither activity
    /// nor a permission check. Costs O(n): one read lock per shard, one session mutex per
    /// session (cluster sync calls it once per round).
    #[must_use]
    pub fn cluster_sessions(&self) -> Vec<ClusterSessionView> {
        let mut views = Vec::new();
        for shard in &self.shards {
            views.extend(shard.read().iter().map(view));
        }
        views.sort_by_key(|view| view.session);
        views
    }

    /// Every session on this node in the light form cluster sync's full round scans, by id: what
    /// [`cluster_sessions`](Self::cluster_sessions) reads, without copying a name (the space is
    /// shared). O(n) as it is, without its three strings per session.
    #[must_use]
    pub fn cluster_session_states(&self) -> Vec<ClusterSessionState> {
        let held = usize::try_from(self.session_count()).unwrap_or(0);
        let mut states = Vec::with_capacity(held);
        for shard in &self.shards {
            states.extend(shard.read().iter().map(state));
        }
        states.sort_unstable_by_key(|state| state.session);
        states
    }

    /// Session `session` as cluster sync reports it, if held here: one read lock of its shard
    /// and its mutex ([`cluster_sessions`](Self::cluster_sessions) for all of them).
    #[must_use]
    pub fn cluster_session(&self, session: SessionId) -> Option<ClusterSessionView> {
        self.shard(session).read().get(session).map(view)
    }

    /// Whether session `session` is held here: one read lock of its shard.
    #[must_use]
    pub fn holds_session(&self, session: SessionId) -> bool {
        self.shard(session).read().contains(session)
    }

    /// Installs a session picked up or reloaded from the cluster, with its id, user, ip, space
    /// and times; roles come from `table`. Returns `Ok(false)` (and changes nothing) if the
    /// session is here already.
    ///
    /// No per-(user, ip) limit is checked, as in NebulaGraph's pick-up: the session counts in
    /// its pair (exactly), so the pair may hold more than the limit and later logins of it are
    /// refused until it is below again. The node's `sessions_max` does apply, unlike in
    /// NebulaGraph: it bounds the registry's memory and `check_invariants` holds it
    /// ([`ServerError::TooManyConnections`], -1010). Times from other nodes' clocks are clamped
    /// to this node's newest time; the idle check is scheduled from the last activity. Emits
    /// [`Change::PickedUp`].
    ///
    /// Errors, with nothing changed: -1010 as above, [`ServerError::UserNotFound`] for a user
    /// `table` does not know, [`ServerError::ClientIpTooLong`], a bad space name (-1009).
    pub fn install_session(
        &self,
        now_unix_ms: u64,
        install: InstalledSession<'_>,
        table: &RoleTable,
    ) -> Result<bool, ServerError> {
        let now = self.clock.observe(now_unix_ms);
        check_installed(install, table)?;
        if self.shard(install.session).read().contains(install.session) {
            return Ok(false);
        }
        if !self.node_count.try_reserve(self.config.sessions_max) {
            return Err(ServerError::TooManyConnections);
        }
        // An unlimited acquire cannot fail.
        let Ok(pair) = self.user_ip.try_acquire(install.user, install.client_ip, None) else {
            self.node_count.release();
            return Err(ServerError::TooManyConnections);
        };
        let installed = self.insert_installed(now, install, &pair, table);
        if installed != Ok(true) {
            // Installed meanwhile by another thread, or no room: give the counts back.
            self.user_ip.release(&pair);
            self.node_count.release();
        }
        installed
    }

    /// Inserts the session whose counts are reserved; false if its id is taken.
    fn insert_installed(
        &self,
        now: u64,
        install: InstalledSession<'_>,
        pair: &std::sync::Arc<UserIp>,
        table: &RoleTable,
    ) -> Result<bool, ServerError> {
        let last_activity_unix_ms = install.last_activity_unix_ms.min(now);
        let space = (!install.space.is_empty()).then_some(install.space);
        let new = NewSession {
            id: install.session,
            pair: std::sync::Arc::clone(pair),
            now_unix_ms: install.created_unix_ms.min(last_activity_unix_ms),
            caller: space.map(|space| self.callers.get(table, install.user, Some(space))),
            space_set_unix_ms: if space.is_some() { install.space_set_unix_ms } else { 0 },
            origin: Origin::Installed,
        };
        let entry = Arc::new(SessionEntry::new(new));
        let check_at_ms = last_activity_unix_ms.saturating_add(self.config.idle_timeout_ms);
        {
            let mut sessions = self.shard(install.session).write();
            match sessions.insert(Arc::clone(&entry), last_activity_unix_ms, check_at_ms) {
                Ok(()) => {}
                Err(NotInserted::AlreadyHere(_)) => return Ok(false),
                // A full table (hundreds of millions of sessions in one shard) is a full node.
                Err(NotInserted::NoRoom(_)) => return Err(ServerError::TooManyConnections),
            }
            // Under the shard lock, as in login: an expiry round that passed this shard keeps it.
            self.earliest_check_ms.fetch_min(check_at_ms, Ordering::AcqRel);
        }
        let change = Change::PickedUp { client_ip: install.client_ip.to_owned() };
        self.changed(now, &entry, change);
        Ok(true)
    }

    /// Sets session `id`'s space to `space` if `(space_set_unix_ms, space)` is greater than the
    /// session's own (last writer wins; NebulaGraph issue 5585, see docs/fixes.md); returns
    /// whether it changed. Neither activity nor a permission check (the USE was checked where it
    /// ran); the session's rights in the new space come from the role table at its next
    /// request. Emits
    /// [`Change::SpaceChanged`]. False for an unknown session or an invalid space name.
    pub fn adopt_space(&self, id: SessionId, space: &str, space_set_unix_ms: u64) -> bool {
        if check_space_name(space).is_err() {
            return false;
        }
        let entry = {
            let sessions = self.shard(id).read();
            let Some(found) = sessions.get(id) else { return false };
            Arc::clone(found.entry)
        };
        let from = {
            let mut inner = lock(&entry.inner);
            let current = inner.caller.as_ref().and_then(|caller| caller.current_space());
            let own = (inner.space_set_unix_ms, current.unwrap_or(""));
            if (space_set_unix_ms, space) <= own {
                return false;
            }
            let from = current.map(str::to_owned);
            let caller = match inner.caller.as_deref() {
                Some(caller) => {
                    let mut caller = Caller::clone(caller);
                    caller.use_space(Some(space));
                    caller
                }
                // No request yet: a caller without rights, which is always stale, so the next
                // request resolves the user's rights from the role table (fix 4,
                // docs/fixes.md).
                None => Caller::from_rights(entry.user(), Rights::none(), Some(space)),
            };
            // The session's own until its next request after a role change shares one again.
            inner.caller = Some(std::sync::Arc::new(caller));
            inner.space_set_unix_ms = space_set_unix_ms;
            from
        };
        let now = self.clock.newest_ms();
        self.changed(now, &entry, Change::SpaceChanged { from, to: space.to_owned() });
        true
    }

    /// Ends session `id` because meta says it is gone; returns whether it was here. Its queries
    /// are killed (cause per `end`), the counts released, and the end comes out as an event
    /// ([`EndReason::Expired`] or [`EndReason::EndedElsewhere`]).
    ///
    /// Expiry here is meta's decision, taken when no holder reported a running query; a query
    /// begun on this node after its last report loses to it (cause `SessionExpired`). The
    /// registry's own timer ([`handle_timeout`](Self::handle_timeout)) still never expires a
    /// session with a running query.
    pub fn end_from_cluster(&self, now_unix_ms: u64, id: SessionId, end: ClusterEnd) -> bool {
        let now = self.clock.observe(now_unix_ms);
        let reason = |last_activity_ms: u64| match end {
            ClusterEnd::Expired => {
                EndReason::Expired { idle_ms: now.saturating_sub(last_activity_ms) }
            }
            ClusterEnd::EndedElsewhere => EndReason::EndedElsewhere,
        };
        let Some((entry, reason)) = self.take_session(id, reason) else { return false };
        let _killed = self.release_ended(now, self.shard(id), &entry, reason);
        true
    }

    /// Kills query `key` as KILL QUERY by `user` (`Kill::ByUser`), without a caller check: meta
    /// checked the caller where the statement ran. Returns whether this call killed it: false
    /// if the query does not run here, has ended, or an earlier kill won.
    pub fn kill_from_cluster(&self, key: QueryKey, user: &str) -> bool {
        let kill = Kill::ByUser { user: user.to_owned() };
        let outcome =
            lock(&self.shard(key.session).queries).request_kill(key.session, key.plan, kill);
        matches!(outcome, Ok(KillOutcome::Requested))
    }
}

/// The bounds a login checks, for a session installed from the cluster.
fn check_installed(install: InstalledSession<'_>, table: &RoleTable) -> Result<(), ServerError> {
    let bytes = install.client_ip.len();
    if bytes > CLIENT_IP_BYTES_MAX as usize {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        return Err(ServerError::ClientIpTooLong { bytes, bytes_max: CLIENT_IP_BYTES_MAX });
    }
    let user_fits = !install.user.is_empty() && install.user.len() <= USER_NAME_BYTES_MAX as usize;
    if !user_fits || !table.contains_user(install.user) {
        return Err(ServerError::UserNotFound { user: install.user.to_owned() });
    }
    if !install.space.is_empty() {
        check_space_name(install.space)?;
    }
    Ok(())
}

fn state(found: Found<'_>) -> ClusterSessionState {
    let entry = found.entry;
    let inner = lock(&entry.inner);
    ClusterSessionState {
        session: entry.id,
        last_activity_unix_ms: found.activity.last_ms(),
        running_queries: entry.running(),
        space_set_unix_ms: inner.space_set_unix_ms,
        space: inner.caller.as_ref().and_then(|caller| caller.current_space_shared().cloned()),
    }
}

fn view(found: Found<'_>) -> ClusterSessionView {
    let entry = found.entry;
    let inner = lock(&entry.inner);
    let space = inner.caller.as_ref().and_then(|caller| caller.current_space());
    ClusterSessionView {
        session: entry.id,
        user: entry.user().to_owned(),
        client_ip: entry.client_ip().to_owned(),
        space: space.unwrap_or_default().to_owned(),
        space_set_unix_ms: inner.space_set_unix_ms,
        created_unix_ms: entry.created_unix_ms,
        last_activity_unix_ms: found.activity.last_ms(),
        running_queries: entry.running(),
    }
}
