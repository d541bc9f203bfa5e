//! One session as the registry holds it. Its last activity lives in its shard's slot table (so
//! find + touch never reads this); the counters are atomics; the rest sits behind the session's
//! own mutex, which only requests of that one session take.

use std::collections::BTreeMap;
use std::sync::Arc;

use graphsession_base::sync::{AtomicU8, AtomicU32, AtomicU64, Mutex, Ordering, lock};
use graphsession_id_gen::SessionId;
use graphsession_permission::{Caller, RoleTable};

use crate::server::audit::{Change, History, HistoryEntry};
use crate::server::callers::CallerCache;
use crate::server::limits::UserIp;

/// Where a session is in its life. It only moves from `Live` to `Ended`, once, under its
/// shard's write lock, at the moment it leaves the shard's map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    /// In its shard's map: findable, may run queries.
    Live,
    /// Removed: never findable again; queries registered after this are refused.
    Ended,
}

impl Lifecycle {
    const fn to_u8(self) -> u8 {
        match self {
            Lifecycle::Live => 0,
            Lifecycle::Ended => 1,
        }
    }

    const fn from_u8(value: u8) -> Lifecycle {
        match value {
            0 => Lifecycle::Live,
            _ => Lifecycle::Ended,
        }
    }
}

/// The parts of a session that change only on its own requests (USE, variables, a role
/// refresh) or on SHOW: behind one per-session mutex.
#[derive(Debug)]
pub(crate) struct SessionInner {
    /// The user's rights with the role-table version they were read at, shared with the user's
    /// other sessions in the same space (`callers.rs`). Resolved at the session's first request
    /// (or USE), then kept current (fix 4, see docs/fixes.md).
    pub(crate) caller: Option<Arc<Caller>>,
    /// Allocated at the first change: most sessions never set a variable or change anything.
    /// Shared, copy on write: a registry capture (`capture.rs`) keeps the extras as they were
    /// without copying them, and the session's next change copies them only while it does.
    extras: Option<Arc<Extras>>,
    /// When the current space was set (USE here, or adopted from the cluster), Unix ms; 0
    /// before any. With the space it orders USEs across nodes (last writer wins; NebulaGraph
    /// issue 5585, see docs/fixes.md).
    pub(crate) space_set_unix_ms: u64,
}

/// What a session accumulates as it is used.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extras {
    pub(crate) variables: BTreeMap<Box<str>, Box<str>>,
    pub(crate) history: History,
    /// Queries of this session that ended killed.
    pub(crate) queries_killed: u64,
}

static NO_EXTRAS: Extras = Extras {
    variables: BTreeMap::new(),
    history: History { entries: std::collections::VecDeque::new(), dropped: 0 },
    queries_killed: 0,
};

impl SessionInner {
    pub(crate) fn extras(&self) -> &Extras {
        self.extras.as_deref().unwrap_or(&NO_EXTRAS)
    }

    pub(crate) fn extras_mut(&mut self) -> &mut Extras {
        Arc::make_mut(self.extras.get_or_insert_with(Arc::default))
    }

    /// The extras, shared with the session (a capture's copy of them).
    pub(crate) fn extras_shared(&self) -> Option<Arc<Extras>> {
        self.extras.clone()
    }
}

/// How a session came to this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Origin {
    /// A login here: it was counted against the per-(user, ip) limit.
    LoggedIn,
    /// Picked up or reloaded from the cluster: counted, but no limit was checked (as in
    /// NebulaGraph), so its (user, ip) pair may hold more sessions than the limit.
    Installed,
}

/// One session.
#[derive(Debug)]
pub(crate) struct SessionEntry {
    pub(crate) id: SessionId,
    /// Its (user, client ip), shared with the other sessions of the pair and counted there.
    pub(crate) pair: std::sync::Arc<UserIp>,
    pub(crate) created_unix_ms: u64,
    pub(crate) origin: Origin,
    pub(crate) queries_run: AtomicU64,
    /// Queries registered and not yet finished or failed. Raised under the shard's read lock,
    /// so an expiry (under the write lock) sees every query that started before it (fix 3, see
    /// docs/fixes.md).
    running: AtomicU32,
    /// When its idle check is scheduled (its key in the shard's deadline index), Unix ms.
    /// Written only under the shard's write lock; here rather than in the map's slot because the
    /// entry's allocation has room for it and the slot does not.
    check_at_ms: AtomicU64,
    lifecycle: AtomicU8,
    pub(crate) inner: Mutex<SessionInner>,
}

/// What a new session starts with.
pub(crate) struct NewSession {
    pub(crate) id: SessionId,
    /// Acquired from the (user, ip) counts.
    pub(crate) pair: std::sync::Arc<UserIp>,
    pub(crate) now_unix_ms: u64,
    /// The caller to start with, if already resolved (a restored session in a space).
    pub(crate) caller: Option<Arc<Caller>>,
    /// When the caller's space was set, Unix ms (0 for none).
    pub(crate) space_set_unix_ms: u64,
    pub(crate) origin: Origin,
}

impl SessionEntry {
    pub(crate) fn new(new: NewSession) -> SessionEntry {
        let inner = SessionInner {
            caller: new.caller,
            extras: None,
            space_set_unix_ms: new.space_set_unix_ms,
        };
        SessionEntry {
            id: new.id,
            pair: new.pair,
            created_unix_ms: new.now_unix_ms,
            origin: new.origin,
            queries_run: AtomicU64::new(0),
            running: AtomicU32::new(0),
            check_at_ms: AtomicU64::new(u64::MAX),
            lifecycle: AtomicU8::new(Lifecycle::Live.to_u8()),
            inner: Mutex::new(inner),
        }
    }

    pub(crate) fn user(&self) -> &str {
        self.pair.user()
    }

    pub(crate) fn client_ip(&self) -> &str {
        self.pair.client_ip()
    }

    pub(crate) fn check_at_ms(&self) -> u64 {
        self.check_at_ms.load(Ordering::Relaxed)
    }

    /// Only under the shard's write lock, together with the deadline index.
    pub(crate) fn set_check_at_ms(&self, at_ms: u64) {
        self.check_at_ms.store(at_ms, Ordering::Relaxed);
    }

    /// Queries of this session running now.
    pub(crate) fn running(&self) -> u32 {
        self.running.load(Ordering::Acquire)
    }

    /// A query started (under the shard's read lock).
    pub(crate) fn query_started(&self) {
        self.running.fetch_add(1, Ordering::AcqRel);
    }

    /// A query left the query registry, or its registration was refused. The caller touches
    /// the session first, so an expiry that sees the lower count also sees the activity.
    pub(crate) fn query_ended(&self) {
        self.running.fetch_sub(1, Ordering::AcqRel);
    }

    pub(crate) fn is_live(&self) -> bool {
        Lifecycle::from_u8(self.lifecycle.load(Ordering::Acquire)) == Lifecycle::Live
    }

    /// Called only under the shard's write lock, as the session leaves the map.
    pub(crate) fn end(&self) {
        self.lifecycle.store(Lifecycle::Ended.to_u8(), Ordering::Release);
    }

    /// The session's current space, `None` before USE.
    pub(crate) fn space(&self) -> Option<String> {
        lock(&self.inner)
            .caller
            .as_ref()
            .and_then(|caller| caller.current_space().map(str::to_owned))
    }

    /// The caller, refreshed from `table` if any role changed since it was read (fix 4, see
    /// docs/fixes.md).
    pub(crate) fn current_caller(&self, table: &RoleTable, callers: &CallerCache) -> Caller {
        let mut inner = lock(&self.inner);
        if let Some(caller) = inner.caller.as_ref().filter(|caller| !caller.is_stale(table)) {
            return Caller::clone(caller);
        }
        let space = inner.caller.as_ref().and_then(|caller| caller.current_space());
        let caller = callers.get(table, self.user(), space);
        let current = Caller::clone(&caller);
        inner.caller = Some(caller);
        current
    }

    pub(crate) fn record(&self, change: Change, at_unix_ms: u64, history_max: u32) {
        let entry = HistoryEntry { at_unix_ms, change };
        lock(&self.inner).extras_mut().history.record(entry, history_max);
    }
}
