//! The [`SessionManager`]: construction, login, find + touch, sign-out, events and statistics.
//! The query path is in `execute.rs`, every kind of session end (KILL SESSION included) in
//! `ending.rs`, expiry in `expiry.rs`.

use graphsession_base::sync::{Arc, AtomicU64, Mutex, Ordering};
use graphsession_id_gen::{PlanIdGenerator, SessionId, SessionIdSource};
use graphsession_permission::{RoleTable, USER_NAME_BYTES_MAX};
use graphsession_query_plan::{QueryError, QueryRegistry};

use crate::server::audit::{Change, EndReason, Event, EventQueue, Refusal};
use crate::server::callers::CallerCache;
use crate::server::clock::Clock;
use crate::server::config::{CLIENT_IP_BYTES_MAX, Config};
use crate::server::error::{ConfigError, ServerError, TouchError};
use crate::server::hash::{hash_id, shard_index};
use crate::server::limits::{NodeCount, UserIp, UserIpCounts};
use crate::server::metrics::{Counters, NodeStats};
use crate::server::session::{NewSession, Origin, SessionEntry};
use crate::server::shard::Shard;
use crate::server::table::{FastTouch, NotInserted};
use crate::server::throttle::{PasswordCheck, Throttle};

/// A login the host has authenticated (or tried to): who, from where, and what its password
/// check said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Login<'a> {
    /// The user name.
    pub user: &'a str,
    /// The client's ip, as the host saw it.
    pub client_ip: &'a str,
    /// The outcome of the host's password check.
    pub password: PasswordCheck,
}

/// The session registry of one graph node. `Send + Sync`: share it by reference or `Arc`
/// among the host's threads (which is why its methods take `&self`, unlike the other machines').
/// `now` comes first in every input and command. See the [module docs](crate::server) for the
/// call order.
#[derive(Debug)]
pub struct SessionManager {
    pub(crate) config: Config,
    pub(crate) shard_mask: u64,
    pub(crate) shards: Box<[Shard]>,
    pub(crate) session_ids: Box<dyn SessionIdSource>,
    pub(crate) plan_ids: PlanIdGenerator,
    pub(crate) node_count: NodeCount,
    pub(crate) user_ip: UserIpCounts,
    pub(crate) throttle: Throttle,
    pub(crate) clock: Clock,
    /// No session's idle check is due before this (Unix ms); `u64::MAX` for none. Never later
    /// than the true earliest check outside an expiry round (see `expiry.rs`).
    pub(crate) earliest_check_ms: AtomicU64,
    pub(crate) expiry_round: Mutex<()>,
    /// No query's deadline comes before this (Unix ms); `u64::MAX` for none. Never later than
    /// the true earliest deadline outside a timeout round (see `timeouts.rs`).
    pub(crate) earliest_query_deadline_ms: AtomicU64,
    pub(crate) events: EventQueue,
    pub(crate) counters: Counters,
    /// Callers shared by the sessions of one user in one space.
    pub(crate) callers: CallerCache,
}

impl SessionManager {
    /// An empty registry. `session_ids` and `plan_ids` are this node's leased generators
    /// (sealed session ids by default, see `graphsession-id-gen`; any [`SessionIdSource`]
    /// works, which is how a test shows what a weaker source breaks).
    pub fn new(
        config: Config,
        session_ids: impl SessionIdSource + 'static,
        plan_ids: PlanIdGenerator,
    ) -> Result<SessionManager, ConfigError> {
        config.validate()?;
        let session_ids = Box::new(session_ids);
        Ok(SessionManager::build(config, session_ids, plan_ids, 0, Counters::default()))
    }

    /// [`new`](Self::new) with the id source already boxed.
    pub(crate) fn build_boxed(
        config: Config,
        session_ids: Box<dyn SessionIdSource>,
        plan_ids: PlanIdGenerator,
    ) -> Result<SessionManager, ConfigError> {
        config.validate()?;
        Ok(SessionManager::build(config, session_ids, plan_ids, 0, Counters::default()))
    }

    pub(crate) fn build(
        config: Config,
        session_ids: Box<dyn SessionIdSource>,
        plan_ids: PlanIdGenerator,
        newest_ms: u64,
        counters: Counters,
    ) -> SessionManager {
        let query_config = config.shard_query_config();
        let shards = (0..config.shard_count).map(|_| Shard::new(QueryRegistry::new(query_config)));
        SessionManager {
            shard_mask: u64::from(config.shard_count) - 1,
            shards: shards.collect(),
            session_ids,
            plan_ids,
            node_count: NodeCount::new(0),
            user_ip: UserIpCounts::new(),
            throttle: Throttle::new(
                config.failed_login_attempts,
                config.password_lock_time_secs,
                config.throttled_users_max,
            ),
            clock: Clock::new(newest_ms),
            earliest_check_ms: AtomicU64::new(u64::MAX),
            expiry_round: Mutex::new(()),
            earliest_query_deadline_ms: AtomicU64::new(u64::MAX),
            events: EventQueue::new(config.events_max),
            counters,
            callers: CallerCache::new(),
            config,
        }
    }

    #[inline]
    pub(crate) fn shard(&self, id: SessionId) -> &Shard {
        &self.shards[shard_index(hash_id(id), self.shard_mask)]
    }

    /// Creates a session for `login` at `now_unix_ms`, in NebulaGraph's order: the password
    /// outcome and lockout (-1001), the node's `sessions_max` (-1010), the (user, ip) limit
    /// (-1002), the user in `table` (-1002). The limit checks and the count changes are one
    /// atomic step each (fix 2, see docs/fixes.md). A refusal changes nothing (except the
    /// lockout's count) and comes out as an [`Event::LoginRefused`].
    pub fn login(
        &self,
        now_unix_ms: u64,
        login: Login<'_>,
        table: &RoleTable,
    ) -> Result<SessionId, ServerError> {
        let now = self.clock.observe(now_unix_ms);
        self.try_login(now, login, table).inspect_err(|error| self.refused(now, login, error))
    }

    fn try_login(
        &self,
        now: u64,
        login: Login<'_>,
        table: &RoleTable,
    ) -> Result<SessionId, ServerError> {
        let bytes = login.client_ip.len();
        if bytes > CLIENT_IP_BYTES_MAX as usize {
            let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
            return Err(ServerError::ClientIpTooLong { bytes, bytes_max: CLIENT_IP_BYTES_MAX });
        }
        // A name no role table can hold is an unknown user; checked first so the lockout table
        // only ever holds names of bounded length.
        if login.user.is_empty() || login.user.len() > USER_NAME_BYTES_MAX as usize {
            return Err(ServerError::UserNotExist);
        }
        self.throttle.check(login.user, login.password, now)?;
        if !self.node_count.try_reserve(self.config.sessions_max) {
            return Err(ServerError::TooManyConnections);
        }
        let limit = self.config.user_ip_limit();
        let pair = match self.user_ip.try_acquire(login.user, login.client_ip, limit) {
            Ok(pair) => pair,
            Err(threshold) => {
                self.node_count.release();
                return Err(ServerError::TooManySessionsFromIp {
                    client_ip: login.client_ip.to_owned(),
                    user: login.user.to_owned(),
                    threshold,
                });
            }
        };
        self.create(now, login, pair, table)
    }

    /// Creates the session whose counts are already reserved (`pair` is its share of the
    /// (user, ip) counts); a refusal releases them. The pair and the entry are moved, never
    /// cloned: each clone and drop of an `Arc` is a locked instruction on the login path.
    fn create(
        &self,
        now: u64,
        login: Login<'_>,
        pair: std::sync::Arc<UserIp>,
        table: &RoleTable,
    ) -> Result<SessionId, ServerError> {
        let unreserve = |pair: &UserIp, error: ServerError| {
            self.user_ip.release(pair);
            self.node_count.release();
            error
        };
        if !table.contains_user(login.user) {
            let error = ServerError::UserNotFound { user: login.user.to_owned() };
            return Err(unreserve(&pair, error));
        }
        let id = match self.session_ids.next_session_id(now) {
            Ok(id) => id,
            Err(error) => return Err(unreserve(&pair, error.into())),
        };
        let shard = self.shard(id);
        let check_at_ms = now.saturating_add(self.config.idle_timeout_ms);
        let mut sessions = shard.write();
        let new = NewSession {
            id,
            pair,
            now_unix_ms: now,
            caller: None,
            space_set_unix_ms: 0,
            origin: Origin::LoggedIn,
        };
        // An ended session's allocation when the shard kept one (`shard.rs`).
        let entry = sessions.new_entry(new);
        match sessions.insert(entry, now, check_at_ms) {
            Ok(()) => {}
            // A full table (hundreds of millions of sessions in one shard) is a full node.
            Err(NotInserted::NoRoom(entry)) => {
                drop(sessions);
                return Err(unreserve(&entry.pair, ServerError::TooManyConnections));
            }
            // Ids are unique by construction; a host whose lease overlaps the ids of a restored
            // snapshot would break that, and replacing a live session would corrupt its counts.
            Err(NotInserted::AlreadyHere(entry)) => {
                drop(sessions);
                let error = QueryError::SessionAlreadyOpen { session: id }.into();
                return Err(unreserve(&entry.pair, error));
            }
        }
        // Under the shard lock, so an expiry round that already passed this shard keeps it
        // (its reset happened before this lock, so the load sees it). Read first: the
        // earliest check is nearly always earlier already, and a load is no locked write.
        if self.earliest_check_ms.load(Ordering::Acquire) > check_at_ms {
            self.earliest_check_ms.fetch_min(check_at_ms, Ordering::AcqRel);
        }
        sessions.count_opened();
        drop(sessions);
        // An event, not a history entry: SHOW SESSION has the creation in its row already, and a
        // session that never changes allocates no history.
        self.announce_session(
            now,
            id,
            || login.user,
            || Change::Created { client_ip: login.client_ip.to_owned() },
        );
        Ok(id)
    }

    fn refused(&self, now: u64, login: Login<'_>, error: &ServerError) {
        let (refusal, counter) = match error {
            ServerError::UserNotExist
            | ServerError::InvalidPassword
            | ServerError::InvalidPasswordRemaining { .. }
            | ServerError::Locked { .. } => {
                (Refusal::BadPassword, &self.counters.refused_by_password)
            }
            ServerError::TooManyConnections => {
                (Refusal::NodeFull, &self.counters.refused_by_node_max)
            }
            ServerError::TooManySessionsFromIp { .. } => {
                (Refusal::UserIpLimit, &self.counters.refused_by_limit)
            }
            _ => (Refusal::Other, &self.counters.refused_other),
        };
        Counters::bump(counter);
        self.events.push_with(|| Event::LoginRefused {
            user: login.user.to_owned(),
            client_ip: login.client_ip.to_owned(),
            at_unix_ms: now,
            refusal,
            code: error.code(),
            message: error.to_string(),
        });
    }

    /// Records `change` in the session's history and emits it as an event.
    pub(crate) fn changed(&self, now: u64, entry: &SessionEntry, change: Change) {
        entry.record(change.clone(), now, self.config.session_history_max);
        self.announce(now, entry, change);
    }

    /// Emits `change` as an event.
    pub(crate) fn announce(&self, now: u64, entry: &SessionEntry, change: Change) {
        self.announce_with(now, entry, || change);
    }

    /// Emits the change `make` builds as an event, building it only if the queue has room.
    pub(crate) fn announce_with(
        &self,
        now: u64,
        entry: &SessionEntry,
        make: impl FnOnce() -> Change,
    ) {
        self.announce_session(now, entry.id, || entry.user(), make);
    }

    /// Emits the change `make` builds to session `session` of the user `user` names as an
    /// event, building it (and reading the name) only if the queue has room.
    fn announce_session<'a>(
        &self,
        now: u64,
        session: SessionId,
        user: impl FnOnce() -> &'a str,
        make: impl FnOnce() -> Change,
    ) {
        self.events.push_with(|| Event::Session {
            session,
            user: user().to_owned(),
            at_unix_ms: now,
            change: make(),
        });
    }

    /// The execute path's first step: finds session `session_id` (NebulaGraph's wire value)
    /// and marks activity at `now_unix_ms`. Takes no lock: a probe of the session's shard's
    /// slot table and one compare-and-swap on its activity (the shard's read lock only when
    /// the session is missing or a writer is moving it). Id 0 is
    /// [`ServerError::InvalidSessionId`] (-1002, a client's ping); an unknown, signed-out,
    /// killed or expired id is [`ServerError::SessionNotFound`] (-1002); both come as the
    /// `Copy` [`TouchError`], which converts into them.
    #[inline]
    pub fn touch(&self, now_unix_ms: u64, session_id: i64) -> Result<(), TouchError> {
        let now = self.clock.observe(now_unix_ms);
        let id = parse_id(session_id)?;
        let hash = hash_id(id);
        let shard = &self.shards[shard_index(hash, self.shard_mask)];
        if shard.table.touch_unlocked(id, hash, now) == FastTouch::Touched {
            return Ok(());
        }
        let sessions = shard.read();
        let found = sessions.get(id).ok_or(TouchError::SessionNotFound { session: session_id })?;
        found.activity.touch(now);
        Ok(())
    }

    /// Finds a live session, touches it, and returns its entry.
    pub(crate) fn find(
        &self,
        now: u64,
        session_id: i64,
    ) -> Result<(SessionId, Arc<SessionEntry>), ServerError> {
        let id = parse_id(session_id)?;
        let sessions = self.shard(id).read();
        let found = sessions.get(id).ok_or(ServerError::SessionNotFound { session: session_id })?;
        found.activity.touch(now);
        Ok((id, Arc::clone(found.entry)))
    }

    /// Sign-out: ends session `session_id` and kills its queries. No owner check and an unknown
    /// id is ignored, as in NebulaGraph; returns whether a session ended.
    pub fn sign_out(&self, now_unix_ms: u64, session_id: i64) -> bool {
        let now = self.clock.observe(now_unix_ms);
        let Some(id) = SessionId::new(session_id) else { return false };
        self.end_session(now, id, EndReason::SignedOut).is_some()
    }

    /// The next event, oldest first; `None` when the queue is empty. Drain it until `None`
    /// after every call that may change a session.
    #[must_use]
    pub fn poll_event(&self) -> Option<Event> {
        self.events.pop()
    }

    /// The node's statistics.
    #[must_use]
    pub fn stats(&self) -> NodeStats {
        let mut stats = NodeStats {
            active: self.node_count.get(),
            events_queued: self.events.len(),
            events_dropped: self.events.dropped(),
            ..self.counters.stats()
        };
        for shard in &self.shards {
            shard.counts.add_to(&mut stats);
        }
        stats
    }

    /// Sessions on this node.
    #[must_use]
    pub fn session_count(&self) -> u64 {
        self.node_count.get()
    }

    /// Sessions of (`user`, `client_ip`) on this node: the count the limit is checked against.
    #[must_use]
    pub fn user_ip_session_count(&self, user: &str, client_ip: &str) -> u32 {
        self.user_ip.get(user, client_ip)
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The newest time the registry has been told, Unix milliseconds.
    #[must_use]
    pub fn now_unix_ms(&self) -> u64 {
        self.clock.newest_ms()
    }
}

/// NebulaGraph's wire id to a [`SessionId`]: 0 is the ping error, a negative id is unknown.
#[inline]
pub(crate) fn parse_id(session_id: i64) -> Result<SessionId, TouchError> {
    if session_id == 0 {
        return Err(TouchError::InvalidSessionId);
    }
    SessionId::new(session_id).ok_or(TouchError::SessionNotFound { session: session_id })
}
