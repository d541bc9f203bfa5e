//! The pool's plain values: waiter ids, what acquire gives, how a session is released, why a
//! member is retired, what the pool tells the application, and its counts. A member's and a
//! lease's ids are in `handle.rs`, which needs them and nothing else of the pool.

use crate::client::action::Event;
use crate::client::pool::{Handle, LeaseId, MemberId};
use graphsession_id_gen::SessionId;
use serde::{Deserialize, Serialize};

/// A caller waiting for a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WaiterId(pub u64);

/// What [`SessionPool::acquire`](crate::client::SessionPool::acquire) gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Acquire {
    /// A session at once.
    Granted(Handle),
    /// Queued: the handle comes from [`SessionPool::poll_grant`](crate::client::SessionPool::poll_grant), or the wait times out.
    Queued(WaiterId),
}

/// What to do with a released session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Release {
    /// Return it to the pool.
    Reuse,
    /// Sign it out and retire the member (the caller left it in an unknown state).
    Discard,
}

/// Why a member was retired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RetireReason {
    /// Idle above `sessions_min` for `idle_evict_ms`.
    Idle,
    /// Released with [`Release::Discard`].
    Discarded,
    /// Its handle was dropped without release.
    Leaked,
    /// Its machine gave up opening (or was configured to close on -1002).
    Failed,
    /// The pool is closing.
    PoolClosing,
}

/// What the pool tells the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PoolEvent {
    /// An event of one member's machine (results are named by member and request).
    Member {
        /// The member.
        member: MemberId,
        /// Its event.
        event: Event,
    },
    /// A waiter got a session; take the handle from [`SessionPool::poll_grant`](crate::client::SessionPool::poll_grant).
    Granted {
        /// The waiter.
        waiter: WaiterId,
        /// Its lease.
        lease: LeaseId,
    },
    /// A waiter's deadline passed.
    WaitTimedOut {
        /// The waiter.
        waiter: WaiterId,
    },
    /// The pool closed while the waiter waited.
    WaitCancelled {
        /// The waiter.
        waiter: WaiterId,
    },
    /// A handle was dropped without release: counted as leaked, its session signed out.
    LeakDetected {
        /// The lease.
        lease: LeaseId,
        /// The session it held, if any.
        session_id: Option<SessionId>,
    },
    /// A member started closing (signing its session out).
    Retired {
        /// The member.
        member: MemberId,
        /// Why.
        reason: RetireReason,
    },
    /// The pool and all its members are closed.
    Closed,
}

/// Counts of members and waiters. `members` = `opening + free + leased + retiring`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolStats {
    /// Members (sessions the pool may hold on the server).
    pub members: u32,
    /// Free members not usable yet (opening or reconnecting).
    pub opening: u32,
    /// Free usable members.
    pub free: u32,
    /// Leased members.
    pub leased: u32,
    /// Members signing out.
    pub retiring: u32,
    /// Waiters.
    pub waiters: u32,
    /// Handles dropped without release.
    pub leaked: u64,
}
