//! A registry captured for a snapshot: [`SessionManager::capture`] reads every session at one
//! instant, holding on to the parts that never change once shared (the (user, ip) names, the
//! caller with its space, the extras, which a later change copies rather than writes), so it
//! costs a lock, a few reference counts and a copy of the scalars per session. Building the
//! records, sorting them and checksumming them, the costly part, is [`Capture::into_snapshot`], on
//! any thread: a host that stops its requests while it captures (graphd's actor) stops them only
//! for the first part.

use std::sync::Arc;

use graphsession_base::fnv1a64;
use graphsession_base::sync::{Ordering, lock};
use graphsession_id_gen::SessionId;
use graphsession_permission::Caller;

use crate::server::limits::UserIp;
use crate::server::manager::SessionManager;
use crate::server::metrics::NodeStats;
use crate::server::session::{Extras, Origin};
use crate::server::snapshot::{SNAPSHOT_FORMAT_VERSION, Snapshot};
use crate::server::snapshot_body::{LockoutRecord, SessionRecord, SnapshotBody};
use crate::server::snapshot_codec::encode_body;
use crate::server::table::Found;
use crate::server::throttle::Attempts;

/// A registry as one instant had it, to turn into a [`Snapshot`] later, on any thread; from
/// [`SessionManager::capture`].
///
/// ```
/// use graphsession_core::server::{Config, Login, PasswordCheck, SessionManager};
/// use graphsession_id_gen::{PlanIdGenerator, PlanLease, SessionIdConfig, SessionIdGenerator, SessionLease};
/// use graphsession_permission::RoleTable;
///
/// let ids = SessionIdGenerator::unsealed(
///     SessionLease { slot: 1, floor_unix_ms: 0, bound_unix_ms: 3_000_000_000_000 },
///     SessionIdConfig::default(),
/// )?;
/// let plans = PlanIdGenerator::new(PlanLease { slot: 1, floor_counter: 0, bound_counter: 1 << 40 })?;
/// let registry = SessionManager::new(Config::default(), ids, plans)?;
/// let table = RoleTable::new();
/// let now = 1_763_900_000_000;
/// let login = Login { user: "root", client_ip: "10.0.0.1", password: PasswordCheck::Verified };
/// let session = registry.login(now, login, &table)?;
///
/// let captured = registry.capture();
/// assert!(registry.sign_out(now + 1, session.get()));
/// // Built on another thread, the snapshot still holds the session as the capture saw it.
/// let snapshot = std::thread::spawn(move || captured.into_snapshot()).join().unwrap();
/// assert_eq!(snapshot.body.sessions.len(), 1);
/// assert!(registry.snapshot().body.sessions.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Capture {
    newest_unix_ms: u64,
    stats: NodeStats,
    sessions: Vec<CapturedSession>,
    lockouts: Vec<LockoutRecord>,
}

/// One session as the capture read it: its scalars copied, the rest shared.
#[derive(Debug)]
struct CapturedSession {
    id: SessionId,
    pair: Arc<UserIp>,
    caller: Option<Arc<Caller>>,
    extras: Option<Arc<Extras>>,
    space_set_unix_ms: u64,
    origin: Origin,
    created_unix_ms: u64,
    last_activity_unix_ms: u64,
    queries_run: u64,
}

impl CapturedSession {
    fn of(found: Found<'_>) -> CapturedSession {
        let entry = found.entry;
        let inner = lock(&entry.inner);
        CapturedSession {
            id: entry.id,
            pair: Arc::clone(&entry.pair),
            caller: inner.caller.clone(),
            extras: inner.extras_shared(),
            space_set_unix_ms: inner.space_set_unix_ms,
            origin: entry.origin,
            created_unix_ms: entry.created_unix_ms,
            last_activity_unix_ms: found.activity.last_ms(),
            queries_run: entry.queries_run.load(Ordering::Relaxed),
        }
    }

    fn into_record(self) -> SessionRecord {
        let space =
            self.caller.as_ref().and_then(|caller| caller.current_space().map(str::to_owned));
        let (queries_killed, variables, history, history_dropped) = match &self.extras {
            None => (0, Default::default(), Vec::new(), 0),
            Some(extras) => (
                extras.queries_killed,
                (extras.variables.iter())
                    .map(|(name, value)| (name.to_string(), value.to_string()))
                    .collect(),
                extras.history.entries.iter().cloned().collect(),
                extras.history.dropped,
            ),
        };
        SessionRecord {
            id: self.id,
            user: self.pair.user().to_owned(),
            client_ip: self.pair.client_ip().to_owned(),
            space,
            space_set_unix_ms: self.space_set_unix_ms,
            origin: self.origin,
            created_unix_ms: self.created_unix_ms,
            last_activity_unix_ms: self.last_activity_unix_ms,
            queries_run: self.queries_run,
            queries_killed,
            variables,
            history,
            history_dropped,
        }
    }
}

impl Capture {
    /// Sessions captured.
    #[must_use]
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// The [`Snapshot`] of the captured instant: its records built, sorted by id and
    /// checksummed. The same value [`SessionManager::snapshot`] would have returned then.
    #[must_use]
    pub fn into_snapshot(self) -> Snapshot {
        let Capture { newest_unix_ms, stats, mut sessions, lockouts } = self;
        sessions.sort_unstable_by_key(|session| session.id);
        let sessions = sessions.into_iter().map(CapturedSession::into_record).collect();
        let body = SnapshotBody { newest_unix_ms, stats, sessions, lockouts };
        let checksum = fnv1a64(&encode_body(&body));
        Snapshot { format_version: SNAPSHOT_FORMAT_VERSION, checksum, body }
    }
}

impl SessionManager {
    /// The registry at this instant, to be made a [`Snapshot`] by [`Capture::into_snapshot`]
    /// later and on any thread: the part of [`snapshot`](Self::snapshot) that reads the
    /// registry, without the records' strings, their order or the checksum. Taken shard by
    /// shard, as `snapshot` is (consistent per session; across the node when no call is in
    /// flight).
    #[must_use]
    pub fn capture(&self) -> Capture {
        let held: usize = self.shards.iter().map(|shard| shard.read().len()).sum();
        let mut sessions = Vec::with_capacity(held);
        for shard in &self.shards {
            sessions.extend(shard.read().iter().map(CapturedSession::of));
        }
        let lockouts = (self.throttle.entries().into_iter())
            .map(|(user, attempts)| match attempts {
                Attempts::Counting { remaining } => LockoutRecord {
                    user,
                    remaining_attempts: remaining,
                    locked_until_unix_ms: None,
                },
                Attempts::Locked { until_ms } => LockoutRecord {
                    user,
                    remaining_attempts: 0,
                    locked_until_unix_ms: Some(until_ms),
                },
            })
            .collect();
        let stats = NodeStats { active: 0, events_queued: 0, events_dropped: 0, ..self.stats() };
        Capture { newest_unix_ms: self.clock.newest_ms(), stats, sessions, lockouts }
    }
}
