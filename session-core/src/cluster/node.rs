//! The node side of cluster sync: [`NodeSync`] decides when to send a sync round, what goes in
//! it (bounded), and applies meta's answers. Building a request is in `node/request.rs`,
//! applying an answer in `node/answer.rs`.

mod answer;
mod request;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use graphsession_base::{MonotonicClock, Violation};
use graphsession_id_gen::SessionId;
use graphsession_query_plan::QueryKey;

use crate::cluster::config::NodeConfig;
use crate::cluster::error::{ConfigError, NodeError};
use crate::cluster::local::SessionState;
use crate::cluster::messages::{
    GoneReason, ListedQuery, Page, QueryKill, QueryKillResult, QueryReport, Refusal, RemoveReason,
    Request, RequestId, SessionRecord, SessionReport,
};

/// Something the host should know about, drained with [`NodeSync::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// Meta acknowledged a session created here: it can now be picked up elsewhere.
    Registered {
        /// The session.
        session: SessionId,
    },
    /// A pick-up succeeded; the session is installed locally.
    PickedUp {
        /// The session.
        session: SessionId,
    },
    /// Meta has no live session with that id: answer the client -1002.
    PickUpFailed {
        /// The session.
        session: SessionId,
    },
    /// Meta acknowledged a removal (sign-out, KILL SESSION). `removed` is what KILL SESSION
    /// counts.
    Removed {
        /// The session.
        session: SessionId,
        /// Whether this removal ended it.
        removed: bool,
    },
    /// Meta answered a KILL QUERY.
    QueryKillAnswered {
        /// The query.
        key: QueryKey,
        /// What meta did.
        result: QueryKillResult,
    },
    /// A kill mark from meta hit a query running here.
    QueryKilled {
        /// The query.
        key: QueryKey,
    },
    /// Meta says a session is gone; it was dropped locally.
    Gone {
        /// The session.
        session: SessionId,
        /// Why.
        reason: GoneReason,
    },
    /// A SHOW SESSIONS page from meta.
    Sessions(Page),
    /// The cluster's queries from meta (SHOW QUERIES): what every live node reported last.
    Queries(Vec<ListedQuery>),
    /// Meta's answer to SHOW SESSION of sessions not held here.
    Shown {
        /// The sessions asked for.
        asked: Vec<SessionId>,
        /// The live records among them, by id (an asked session missing here is not live).
        records: Vec<SessionRecord>,
    },
    /// The start-up reload finished.
    Reloaded,
    /// Meta refused a request (it is sent again after a backoff).
    Refused(Refusal),
}

/// What meta acknowledged of a session: the part of a report that says whether a newer one
/// has anything to tell (see [`Acked::differs`]). The rest of a report (user, ip, creation)
/// never changes, so it is not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Acked {
    pub(crate) last_activity_unix_ms: u64,
    pub(crate) running_queries: u32,
    pub(crate) space_set_unix_ms: u64,
    pub(crate) space: String,
}

impl Acked {
    /// What `report` tells meta.
    pub(crate) fn of(report: &SessionReport) -> Acked {
        Acked {
            last_activity_unix_ms: report.last_activity_unix_ms,
            running_queries: report.running_queries,
            space_set_unix_ms: report.space_set_unix_ms,
            space: report.space.clone(),
        }
    }

    /// Whether `now` says something meta has not acknowledged.
    pub(crate) fn differs(&self, now: &SessionState) -> bool {
        now.last_activity_unix_ms > self.last_activity_unix_ms
            || now.running_queries != self.running_queries
            || now.space_set_unix_ms != self.space_set_unix_ms
            || now.space_name() != self.space
    }
}

/// What the in-flight request carried that its answer acknowledges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sent {
    pub(crate) id: RequestId,
    pub(crate) reports: Vec<(SessionId, Acked)>,
    pub(crate) released: Vec<SessionId>,
    /// The node's queries, if the request carried them.
    pub(crate) queries: Option<Vec<QueryReport>>,
    /// The sessions a SHOW SESSION asked meta for.
    pub(crate) shown: Vec<SessionId>,
}

/// Where the round trip with meta is. Each variant says what it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Flight {
    /// Nothing in flight: waits for the round timer, or for urgent work (sent at once).
    Idle { next_round_unix_ms: u64 },
    /// Waits for the answer to `sent`, or for its timeout.
    Awaiting { sent: Sent, timeout_unix_ms: u64, next_round_unix_ms: u64 },
    /// A request timed out or was refused: waits before sending again.
    BackingOff { resend_unix_ms: u64, next_round_unix_ms: u64 },
}

/// The start-up reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reload {
    /// Waits for the page after `after` (the first page when `None`).
    Pending { after: Option<SessionId> },
    /// Finished.
    Done,
}

/// One graph node's side of cluster sync.
///
/// # Call order
///
/// 1. [`new`](Self::new) at start-up: the first request reloads this node's sessions from meta.
/// 2. Local changes: [`announce`](Self::announce) after a login here, [`remove`](Self::remove)
///    after a sign-out or KILL SESSION (of a session here or anywhere),
///    [`kill_query`](Self::kill_query) for KILL QUERY of a query not running here,
///    [`pick_up`](Self::pick_up) when a request names a session not held here,
///    [`show_sessions`](Self::show_sessions) for SHOW SESSIONS,
///    [`show_queries`](Self::show_queries) for SHOW QUERIES.
///    Activity and USE need no call: each round reads them from [`LocalSessions`].
/// 3. Timers: call [`handle_timeout`](Self::handle_timeout) when
///    [`poll_timeout`](Self::poll_timeout)'s time has come (and after every call of step 2,
///    which may make a round urgent). A spurious call is a no-op.
/// 4. Effects: send [`poll_request`](Self::poll_request) to meta; pass meta's answer to
///    [`handle_answer`](Self::handle_answer) (duplicated, stale and reordered answers are
///    ignored); drain [`poll_event`](Self::poll_event) until `None`.
///
/// `now` is Unix ms; one older than a `now` already seen is clamped to it.
///
/// [`LocalSessions`]: crate::cluster::LocalSessions
#[derive(Debug, Clone)]
pub struct NodeSync {
    pub(crate) config: NodeConfig,
    pub(crate) incarnation: u64,
    pub(crate) round: u64,
    /// The newest `now` the node was told, Unix ms: an older one is clamped to it.
    pub(crate) clock: MonotonicClock,
    pub(crate) flight: Flight,
    pub(crate) reload: Reload,
    /// The newest change-log position applied.
    pub(crate) cursor: u64,
    /// What meta acknowledged of each session, to report only what changed since.
    pub(crate) acked: BTreeMap<SessionId, Acked>,
    /// Created here, not acknowledged by meta yet.
    pub(crate) unannounced: BTreeSet<SessionId>,
    /// Restored from a snapshot of an earlier process, not confirmed live by meta yet
    /// ([`await_confirmation`](Self::await_confirmation)).
    pub(crate) unconfirmed: BTreeSet<SessionId>,
    pub(crate) removals: BTreeMap<SessionId, RemoveReason>,
    /// Held per meta, dropped by the registry on its own: meta must stop counting this node.
    pub(crate) releases: BTreeSet<SessionId>,
    pub(crate) query_kills: BTreeMap<QueryKey, QueryKill>,
    pub(crate) pick_ups: BTreeSet<SessionId>,
    pub(crate) show_wanted: bool,
    /// Sessions a SHOW SESSION asks meta for (`show_session`), until an answer brings them.
    pub(crate) shown_wanted: BTreeSet<SessionId>,
    /// SHOW QUERIES waits for the cluster's queries.
    pub(crate) queries_wanted: bool,
    /// The node's queries as meta acknowledged them last; `None` before the first
    /// acknowledgement of this process (meta drops the list of a node's previous process when
    /// its reload starts).
    pub(crate) acked_queries: Option<Vec<QueryReport>>,
    /// Meta has more changes, or more sessions changed than one batch holds.
    pub(crate) backlog: bool,
    /// The last session reported, so a long dirty list is reported in turn, none starved.
    pub(crate) rotation: Option<SessionId>,
    pub(crate) consecutive_failures: u32,
    pub(crate) outbox: Option<Request>,
    pub(crate) events: VecDeque<NodeEvent>,
    pub(crate) events_dropped: u64,
    pub(crate) answers_ignored: u64,
}

impl NodeSync {
    /// The machine of a node process started at `now_unix_ms`. `incarnation` must grow with
    /// every start of the process (the id-gen lease bound or a persisted counter); if it does
    /// not, meta says so ([`Refusal::Stale`]) and the machine moves above it.
    pub fn new(
        config: NodeConfig,
        incarnation: u64,
        now_unix_ms: u64,
    ) -> Result<NodeSync, ConfigError> {
        config.validate()?;
        Ok(NodeSync {
            config,
            incarnation,
            round: 0,
            clock: MonotonicClock::new(now_unix_ms),
            flight: Flight::Idle { next_round_unix_ms: now_unix_ms },
            reload: Reload::Pending { after: None },
            cursor: 0,
            acked: BTreeMap::new(),
            unannounced: BTreeSet::new(),
            unconfirmed: BTreeSet::new(),
            removals: BTreeMap::new(),
            releases: BTreeSet::new(),
            query_kills: BTreeMap::new(),
            pick_ups: BTreeSet::new(),
            show_wanted: false,
            shown_wanted: BTreeSet::new(),
            queries_wanted: false,
            acked_queries: None,
            backlog: false,
            rotation: None,
            consecutive_failures: 0,
            outbox: None,
            events: VecDeque::new(),
            events_dropped: 0,
            answers_ignored: 0,
        })
    }

    pub(crate) fn observe(&mut self, now_unix_ms: u64) -> u64 {
        self.clock.observe(now_unix_ms)
    }

    /// A session was created here (login): meta learns of it at once (the next request is
    /// urgent), and [`NodeEvent::Registered`] follows when it has.
    pub fn announce(&mut self, now_unix_ms: u64, session: SessionId) -> Result<(), NodeError> {
        self.observe(now_unix_ms);
        if self.acked.contains_key(&session) {
            // Meta has it already (announced before, or installed from meta).
            self.push_event(NodeEvent::Registered { session });
            return Ok(());
        }
        let pending_max = self.config.unannounced_max;
        if self.unannounced.len() >= pending_max as usize && !self.unannounced.contains(&session) {
            return Err(NodeError::UnannouncedFull { session, pending_max });
        }
        self.unannounced.insert(session);
        Ok(())
    }

    /// `sessions` were restored from a snapshot of this node's previous process: each stays
    /// unconfirmed until an answer shows meta holds it live (a reload page lists it, or meta
    /// acknowledges this node's report of it), or says it is gone. A host must not serve a
    /// request of an unconfirmed session (`GraphNode` holds it): the snapshot may predate a
    /// KILL SESSION or an expiry, and meta is the authority on which sessions live. NebulaGraph
    /// restores nothing locally, so it never serves one.
    ///
    /// ```
    /// use graphsession_core::cluster::{NodeConfig, NodeSync};
    /// use graphsession_id_gen::SessionId;
    /// let mut sync = NodeSync::new(NodeConfig::default(), 1, 0).unwrap();
    /// let restored = SessionId::new(7).unwrap();
    /// sync.await_confirmation([restored]);
    /// assert!(!sync.is_confirmed(restored));
    /// ```
    pub fn await_confirmation(&mut self, sessions: impl IntoIterator<Item = SessionId>) {
        let sessions = sessions.into_iter();
        let sessions = sessions.filter(|session| {
            !self.acked.contains_key(session) && !self.unannounced.contains(session)
        });
        self.unconfirmed.extend(sessions.collect::<Vec<_>>());
    }

    /// Whether `session` is no longer waiting for meta's confirmation (see
    /// [`await_confirmation`](Self::await_confirmation)); true of every session this process
    /// did not restore.
    #[must_use]
    pub fn is_confirmed(&self, session: SessionId) -> bool {
        !self.unconfirmed.contains(&session)
    }

    /// Sessions restored from a snapshot and not confirmed by meta yet.
    #[must_use]
    pub fn unconfirmed_count(&self) -> usize {
        self.unconfirmed.len()
    }

    /// A session was signed out or killed (KILL SESSION) here, or KILL SESSION names a session
    /// held elsewhere. Sent at once and retried until meta acknowledges it
    /// ([`NodeEvent::Removed`]); NebulaGraph never retries a failed removal.
    pub fn remove(
        &mut self,
        now_unix_ms: u64,
        session: SessionId,
        reason: RemoveReason,
    ) -> Result<(), NodeError> {
        self.observe(now_unix_ms);
        let pending_max = self.config.pending_removals_max;
        if self.removals.len() >= pending_max as usize && !self.removals.contains_key(&session) {
            return Err(NodeError::RemovalsFull { session, pending_max });
        }
        self.removals.insert(session, reason);
        self.unannounced.remove(&session);
        self.unconfirmed.remove(&session);
        self.pick_ups.remove(&session);
        Ok(())
    }

    /// KILL QUERY of a query that does not run here: recorded at meta, applied by the node
    /// running it at its next sync ([`NodeEvent::QueryKillAnswered`] says what meta did).
    pub fn kill_query(&mut self, now_unix_ms: u64, kill: QueryKill) -> Result<(), NodeError> {
        self.observe(now_unix_ms);
        let pending_max = self.config.pending_query_kills_max;
        let key = kill.key;
        if self.query_kills.len() >= pending_max as usize && !self.query_kills.contains_key(&key) {
            return Err(NodeError::QueryKillsFull { key, pending_max });
        }
        self.query_kills.insert(key, kill);
        Ok(())
    }

    /// A request names a session not held here: ask meta for it ([`NodeEvent::PickedUp`] or
    /// [`NodeEvent::PickUpFailed`] follows).
    pub fn pick_up(&mut self, now_unix_ms: u64, session: SessionId) -> Result<(), NodeError> {
        self.observe(now_unix_ms);
        let pending_max = self.config.pending_pick_ups_max;
        if self.pick_ups.len() >= pending_max as usize && !self.pick_ups.contains(&session) {
            return Err(NodeError::PickUpsFull { session, pending_max });
        }
        self.pick_ups.insert(session);
        Ok(())
    }

    /// SHOW SESSIONS: ask meta for its first page ([`NodeEvent::Sessions`] follows).
    pub fn show_sessions(&mut self, now_unix_ms: u64) {
        self.observe(now_unix_ms);
        self.show_wanted = true;
    }

    /// SHOW SESSION of `session`, not held here: ask meta for its record ([`NodeEvent::Shown`]
    /// follows, with the other sessions asked in the same round).
    pub fn show_session(&mut self, now_unix_ms: u64, session: SessionId) {
        self.observe(now_unix_ms);
        self.shown_wanted.insert(session);
    }

    /// SHOW QUERIES: ask meta for every node's queries ([`NodeEvent::Queries`] follows).
    pub fn show_queries(&mut self, now_unix_ms: u64) {
        self.observe(now_unix_ms);
        self.queries_wanted = true;
    }

    /// Whether work waits that should not wait for the round timer.
    pub(crate) fn urgent(&self) -> bool {
        !self.unannounced.is_empty()
            || !self.removals.is_empty()
            || !self.query_kills.is_empty()
            || !self.pick_ups.is_empty()
            || self.show_wanted
            || !self.shown_wanted.is_empty()
            || self.queries_wanted
            || self.backlog
            || self.reload != Reload::Done
    }

    /// When [`handle_timeout`](Self::handle_timeout) should run next, Unix ms.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        Some(match &self.flight {
            Flight::Idle { .. } if self.urgent() => self.clock.newest(),
            Flight::Idle { next_round_unix_ms } => *next_round_unix_ms,
            Flight::Awaiting { timeout_unix_ms, .. } => *timeout_unix_ms,
            Flight::BackingOff { resend_unix_ms, .. } => *resend_unix_ms,
        })
    }

    /// The request to send to meta, if one is ready. At most one is ever waiting: a newer
    /// request replaces an unsent older one (it asks for everything the older one did).
    #[must_use]
    pub fn poll_request(&mut self) -> Option<Request> {
        self.outbox.take()
    }

    /// The next event, oldest first.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<NodeEvent> {
        self.events.pop_front()
    }

    pub(crate) fn push_event(&mut self, event: NodeEvent) {
        if self.events.len() >= self.config.events_max as usize {
            self.events.pop_front();
            self.events_dropped += 1;
        }
        self.events.push_back(event);
    }

    /// The change-log position applied.
    #[must_use]
    pub fn changes_seen_seq(&self) -> u64 {
        self.cursor
    }

    /// Whether the start-up reload has finished.
    #[must_use]
    pub fn is_reloaded(&self) -> bool {
        self.reload == Reload::Done
    }

    /// Whether a request is waiting for its answer.
    #[must_use]
    pub fn is_awaiting_answer(&self) -> bool {
        matches!(self.flight, Flight::Awaiting { .. })
    }

    /// Removals not yet acknowledged by meta.
    pub fn pending_removals(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.removals.keys().copied()
    }

    /// Answers ignored as duplicates or stale, and events dropped undrained.
    #[must_use]
    pub fn counters(&self) -> (u64, u64) {
        (self.answers_ignored, self.events_dropped)
    }

    /// Checks every invariant of the machine.
    pub fn check_invariants(&self) -> Result<(), Violation> {
        let fail = |property, detail: String| Err(Violation::new("NodeSync", property, detail));
        let config = &self.config;
        let limits = [
            (
                "unannounced_within_limit",
                "unannounced sessions",
                self.unannounced.len(),
                config.unannounced_max,
            ),
            (
                "pending_removals_within_limit",
                "pending removals",
                self.removals.len(),
                config.pending_removals_max,
            ),
            (
                "pending_query_kills_within_limit",
                "pending query kills",
                self.query_kills.len(),
                config.pending_query_kills_max,
            ),
            (
                "pending_pick_ups_within_limit",
                "pending pick-ups",
                self.pick_ups.len(),
                config.pending_pick_ups_max,
            ),
            ("events_within_limit", "events", self.events.len(), config.events_max),
            (
                "acknowledged_queries_within_limit",
                "acknowledged queries",
                self.acked_queries.as_ref().map_or(0, Vec::len),
                config.reported_queries_max,
            ),
        ];
        for (property, what, count, max) in limits {
            if count > max as usize {
                return fail(property, format!("{count} {what}, limit {max}"));
            }
        }
        if let Some(id) = self.unannounced.iter().find(|id| self.acked.contains_key(id)) {
            return fail(
                "acknowledged_sessions_not_unannounced",
                format!("session {id} is acknowledged and unannounced"),
            );
        }
        if let Some(id) = self
            .unconfirmed
            .iter()
            .find(|id| self.acked.contains_key(id) || self.unannounced.contains(id))
        {
            return fail(
                "unconfirmed_sessions_neither_acknowledged_nor_unannounced",
                format!("session {id} is unconfirmed and acknowledged or unannounced"),
            );
        }
        if let Some(id) = self.releases.iter().find(|id| self.acked.contains_key(id)) {
            return fail(
                "acknowledged_sessions_not_released",
                format!("session {id} is acknowledged and released"),
            );
        }
        if let Flight::Awaiting { sent, .. } = &self.flight {
            let current = RequestId { incarnation: self.incarnation, round: self.round };
            if sent.id != current {
                return fail(
                    "request_in_flight_is_newest",
                    "the request in flight is not the newest".into(),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The invariant check shown each way a machine could break (the public API never builds
    //! one, so only a corrupted machine shows that the check looks).

    use graphsession_id_gen::SessionId;
    use graphsession_query_plan::QueryKey;

    use super::{Acked, Flight, NodeSync};
    use crate::cluster::config::NodeConfig;
    use crate::cluster::local::LocalSessions;
    use crate::cluster::messages::{
        GoneReason, QueryReport, RequestId, SessionRecord, SessionReport,
    };
    use crate::cluster::node::NodeEvent;

    /// A node holding no session.
    struct Empty;

    impl LocalSessions for Empty {
        fn sessions(&self) -> Vec<SessionReport> {
            Vec::new()
        }
        fn install(&mut self, _: &SessionRecord) {}
        fn adopt_space(&mut self, _: &SessionRecord) -> bool {
            false
        }
        fn drop_session(&mut self, _: SessionId, _: GoneReason) {}
        fn kill_query(&mut self, _: QueryKey) -> bool {
            false
        }
    }

    fn id(value: i64) -> SessionId {
        SessionId::new(value).unwrap()
    }

    fn acked(session: SessionId) -> Acked {
        Acked::of(&SessionReport {
            session,
            user: "user".to_owned(),
            client_ip: "127.0.0.1".to_owned(),
            space: String::new(),
            space_set_unix_ms: 0,
            created_unix_ms: 0,
            last_activity_unix_ms: 0,
            running_queries: 0,
        })
    }

    fn query(plan: u64) -> QueryReport {
        QueryReport {
            key: QueryKey { session: id(1), plan: graphsession_id_gen::PlanId::from_u64(plan) },
            start_time_unix_us: 0,
            status: graphsession_query_plan::QueryStatus::Running,
            statement: String::new(),
        }
    }

    type Break = fn(&mut NodeSync);

    #[test]
    fn every_way_to_break_the_machine_is_refused() {
        let config = NodeConfig {
            events_max: 1,
            unannounced_max: 1,
            reported_queries_max: 1,
            ..NodeConfig::default()
        };
        let mut sound = NodeSync::new(config, 1, 0).unwrap();
        sound.handle_timeout(0, &Empty);
        assert!(matches!(sound.flight, Flight::Awaiting { .. }), "a request is in flight");
        sound.acked.insert(id(1), acked(id(1)));
        sound.unannounced.insert(id(2));
        sound.releases.insert(id(3));
        sound.push_event(NodeEvent::Reloaded);
        sound.acked_queries = Some(vec![query(1)]);
        assert_eq!(sound.check_invariants(), Ok(()));
        sound.unconfirmed.insert(id(5));
        assert_eq!(sound.check_invariants(), Ok(()));
        let breaks: [(&str, Break); 8] = [
            ("events_within_limit", |n| n.events.push_back(NodeEvent::Reloaded)),
            ("unannounced_within_limit", |n| {
                n.unannounced.insert(id(4));
            }),
            ("acknowledged_sessions_not_unannounced", |n| {
                n.acked.insert(id(2), acked(id(2)));
            }),
            ("acknowledged_sessions_not_released", |n| {
                n.acked.insert(id(3), acked(id(3)));
            }),
            ("unconfirmed_sessions_neither_acknowledged_nor_unannounced", |n| {
                n.unconfirmed.insert(id(1));
            }),
            ("unconfirmed_sessions_neither_acknowledged_nor_unannounced", |n| {
                n.unconfirmed.insert(id(2));
            }),
            ("acknowledged_queries_within_limit", |n| {
                n.acked_queries = Some(vec![query(1), query(2)]);
            }),
            ("request_in_flight_is_newest", |n| {
                n.round += 1;
                assert_ne!(n.next_request_id(), RequestId { incarnation: 1, round: 1 });
            }),
        ];
        for (property, break_it) in breaks {
            let mut broken = sound.clone();
            break_it(&mut broken);
            let refused = broken.check_invariants().map_err(|violation| violation.property);
            assert_eq!(refused, Err(property));
        }
    }
}
