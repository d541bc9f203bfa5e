//! A session pool on top of [`SessionMachine`]s, pure like them.
//!
//! Each member is one machine (one session, one socket). The pool keeps `sessions_min` to
//! `sessions_max` members with exact accounting (a member counts until its sign-out is done), serves
//! waiters first-in first-out with deadlines, evicts idle members by closing them (which signs their
//! session out), and leases members through [`Handle`]s carrying a generation, so a handle whose lease
//! was revoked fails fast. One member's failure retires that member only (failure mode 17); members
//! that fail to open are replaced with backoff, never in a storm.

mod handle;
mod member;
mod types;

pub use handle::{Handle, LeaseId, MemberId};
pub use types::{Acquire, PoolEvent, PoolStats, Release, RetireReason, WaiterId};

use crate::client::SessionMachine;
use crate::client::action::{Action, ConnectionId, Event, Idempotency, RequestId, TransportEvent};
use crate::client::config::PoolConfig;
use crate::client::error::{ConfigError, PoolError};
use crate::client::metrics::Metrics;
use crate::client::timers::{after, backoff_ms, earliest};
use graphsession_base::{MonotonicClock, Violation};
use graphsession_id_gen::SessionId;
use member::{Lease, Member};
use std::collections::{BTreeMap, VecDeque};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Closing,
    Closed,
}

#[derive(Debug, Clone, Copy)]
struct Waiter {
    id: WaiterId,
    deadline_ms: u64,
}

/// A sans-I/O session pool. Same call order as [`SessionMachine`]: `handle_*` with `now_ms`, then
/// drain [`poll_action`](Self::poll_action), [`poll_event`](Self::poll_event) and
/// [`poll_grant`](Self::poll_grant), then arm a timer at [`poll_timeout`](Self::poll_timeout).
/// Transport events are routed to members by connection id.
#[derive(Debug)]
pub struct SessionPool {
    config: PoolConfig,
    /// The newest `now` seen, host milliseconds; an older `now` is clamped to it.
    clock: MonotonicClock,
    phase: Phase,
    members: BTreeMap<MemberId, Member>,
    waiters: VecDeque<Waiter>,
    grants: VecDeque<(WaiterId, Handle)>,
    actions: VecDeque<Action>,
    events: VecDeque<PoolEvent>,
    next_member: u32,
    next_waiter: u64,
    /// Members that failed to open in a row; new members wait `next_open_at_ms`.
    open_failures: u32,
    next_open_at_ms: u64,
    leaked: u64,
    /// Metrics of members already removed, so the pool's metrics never go backwards.
    retired_metrics: Metrics,
}

impl SessionPool {
    /// A pool for `config`; it opens its first sessions at [`open`](Self::open).
    pub fn new(config: PoolConfig) -> Result<SessionPool, ConfigError> {
        config.validate()?;
        Ok(SessionPool {
            config,
            clock: MonotonicClock::default(),
            phase: Phase::Running,
            members: BTreeMap::new(),
            waiters: VecDeque::new(),
            grants: VecDeque::new(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
            next_member: 1,
            next_waiter: 1,
            open_failures: 0,
            next_open_at_ms: 0,
            leaked: 0,
            retired_metrics: Metrics::default(),
        })
    }

    /// Opens `sessions_min` sessions.
    pub fn open(&mut self, now_ms: u64) {
        let now = self.clock.observe(now_ms);
        self.settle(now);
    }

    /// A session: at once if one is free, otherwise queued (FIFO) until one is or the deadline passes.
    pub fn acquire(&mut self, now_ms: u64) -> Result<Acquire, PoolError> {
        let now = self.clock.observe(now_ms);
        self.settle(now);
        if self.phase != Phase::Running {
            return Err(PoolError::Closed);
        }
        if self.waiters.is_empty() {
            if let Some(member) = self.free_usable_member() {
                return Ok(Acquire::Granted(self.lease(member)));
            }
        }
        let max = self.config.waiters_max;
        if u32::try_from(self.waiters.len()).unwrap_or(u32::MAX) >= max {
            return Err(PoolError::WaitersFull { max });
        }
        let id = WaiterId(self.next_waiter);
        self.next_waiter = self.next_waiter.saturating_add(1);
        let deadline_ms = after(now, self.config.acquire_timeout_ms);
        self.waiters.push_back(Waiter { id, deadline_ms });
        self.settle(now);
        Ok(Acquire::Queued(id))
    }

    /// Runs `statement` on the handle's session (see [`SessionMachine::execute`]).
    pub fn execute(
        &mut self,
        now_ms: u64,
        handle: &Handle,
        statement: impl Into<String>,
        idempotency: Idempotency,
    ) -> Result<RequestId, PoolError> {
        let now = self.clock.observe(now_ms);
        self.settle(now);
        let member = self.leased_member(handle)?;
        let result = member.machine.execute(now, statement, idempotency);
        self.settle(now);
        Ok(result?)
    }

    /// Pings the handle's session (see [`SessionMachine::ping`]).
    pub fn ping(&mut self, now_ms: u64, handle: &Handle) -> Result<RequestId, PoolError> {
        let now = self.clock.observe(now_ms);
        self.settle(now);
        let member = self.leased_member(handle)?;
        let result = member.machine.ping(now);
        self.settle(now);
        Ok(result?)
    }

    /// Selects `space` on the handle's session (see [`SessionMachine::use_space`]); resumes
    /// of that member select it again.
    pub fn use_space(
        &mut self,
        now_ms: u64,
        handle: &Handle,
        space: impl Into<String>,
    ) -> Result<RequestId, PoolError> {
        let now = self.clock.observe(now_ms);
        self.settle(now);
        let member = self.leased_member(handle)?;
        let result = member.machine.use_space(now, space);
        self.settle(now);
        Ok(result?)
    }

    /// Returns a session. Never fails: a stale handle is ignored (its slot was already returned), a
    /// broken member is retired and replaced, so the slot always comes back (failure mode 12).
    pub fn release(&mut self, now_ms: u64, handle: Handle, release: Release) {
        let now = self.clock.observe(now_ms);
        handle.mark_released();
        let lease = handle.lease();
        drop(handle);
        let current = self.members.get(&lease.member).is_some_and(|m| m.holds(lease.generation));
        if current {
            match release {
                Release::Reuse => {
                    if let Some(member) = self.members.get_mut(&lease.member) {
                        member.lease = Lease::Free { since_ms: now };
                    }
                }
                Release::Discard => self.retire(now, lease.member, RetireReason::Discarded),
            }
        }
        self.settle(now);
    }

    /// A transport event, routed to the member that owns `connection`.
    pub fn handle_transport(
        &mut self,
        now_ms: u64,
        connection: ConnectionId,
        event: TransportEvent,
    ) {
        let now = self.clock.observe(now_ms);
        let member = MemberId(u32::try_from(connection.0 >> 32).unwrap_or(u32::MAX));
        if let Some(member) = self.members.get_mut(&member) {
            member.machine.handle_transport(now, connection, event);
        }
        self.settle(now);
    }

    /// Fires every deadline due at `now_ms`, the members' included. A no-op if none is due.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        let now = self.clock.observe(now_ms);
        for member in self.members.values_mut() {
            if member.machine.poll_timeout().is_some_and(|at_ms| at_ms <= now) {
                member.machine.handle_timeout(now);
            }
        }
        self.settle(now);
    }

    /// Closes the pool: waiters are cancelled, leases revoked, every member closed (signed out).
    /// Idempotent.
    pub fn close(&mut self, now_ms: u64) {
        let now = self.clock.observe(now_ms);
        if self.phase == Phase::Running {
            self.phase = Phase::Closing;
            for waiter in self.waiters.drain(..) {
                self.events.push_back(PoolEvent::WaitCancelled { waiter: waiter.id });
            }
            let ids: Vec<MemberId> = self.members.keys().copied().collect();
            for id in ids {
                self.retire(now, id, RetireReason::PoolClosing);
            }
        }
        self.settle(now);
    }

    /// The earliest deadline of the pool and its members.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        let members = self.members.values().filter_map(|member| member.machine.poll_timeout());
        let waiters = self.waiters.iter().map(|waiter| waiter.deadline_ms);
        earliest([
            members.chain(waiters).min(),
            self.next_eviction_ms(),
            self.wants_to_grow().then_some(self.next_open_at_ms),
        ])
    }

    /// The next action for the host, in order.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next event for the application, in order.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<PoolEvent> {
        self.events.pop_front()
    }

    /// The next handle granted to a waiter.
    #[must_use]
    pub fn poll_grant(&mut self) -> Option<(WaiterId, Handle)> {
        self.grants.pop_front()
    }

    /// Counts of members and waiters.
    #[must_use]
    pub fn stats(&self) -> PoolStats {
        let mut stats = PoolStats {
            waiters: u32::try_from(self.waiters.len()).unwrap_or(u32::MAX),
            leaked: self.leaked,
            ..PoolStats::default()
        };
        for member in self.members.values() {
            stats.members = stats.members.saturating_add(1);
            let count = match member.lease {
                Lease::Retiring => &mut stats.retiring,
                Lease::Leased { .. } => &mut stats.leased,
                Lease::Free { .. } if member.usable => &mut stats.free,
                Lease::Free { .. } => &mut stats.opening,
            };
            *count = count.saturating_add(1);
        }
        stats
    }

    /// The members' metrics summed, plus leaked handles.
    #[must_use]
    pub fn metrics(&self) -> Metrics {
        let mut metrics = self.retired_metrics.clone();
        for member in self.members.values() {
            metrics.absorb(&member.machine.metrics());
        }
        metrics.sessions_leaked = metrics.sessions_leaked.saturating_add(self.leaked);
        metrics
    }

    /// One member's machine.
    #[must_use]
    pub fn member(&self, member: MemberId) -> Option<&SessionMachine> {
        self.members.get(&member).map(|member| &member.machine)
    }

    /// Whether the pool is closed (every member signed out or abandoned).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Checks the pool's and every member's invariants.
    pub fn check_invariants(&self) -> Result<(), Violation> {
        let fail = |property, detail: String| Err(Violation::new("SessionPool", property, detail));
        let stats = self.stats();
        if stats.members > self.config.sessions_max {
            return fail(
                "members_within_limit",
                format!("{} members over {}", stats.members, self.config.sessions_max),
            );
        }
        if stats.waiters > self.config.waiters_max {
            return fail("waiters_within_limit", format!("{} waiters", stats.waiters));
        }
        if stats.waiters > 0 && stats.free > 0 {
            return fail(
                "no_waiter_while_a_session_is_free",
                "a waiter waits while a session is free".to_owned(),
            );
        }
        if self.phase == Phase::Closed && stats.members > 0 {
            return fail("no_members_after_close", "closed pool has members".to_owned());
        }
        for (id, member) in &self.members {
            member.machine.check_invariants()?;
            let closing = !member.machine.state().is_open();
            if closing && !member.is_retiring() {
                return fail(
                    "closing_members_retiring",
                    format!("member {} is closing but not retiring", id.0),
                );
            }
            if member.usable && member.machine.ledger().held().is_none() {
                return fail(
                    "usable_members_hold_a_session",
                    format!("member {} usable without a session", id.0),
                );
            }
        }
        Ok(())
    }

    // Internals.

    fn settle(&mut self, now: u64) {
        self.collect_leaks(now);
        self.drain_members(now);
        self.expire_waiters(now);
        self.grant_waiters();
        self.evict_idle(now);
        self.grow(now);
        // New members and retirements produce output at once.
        self.drain_members(now);
        self.grant_waiters();
        if self.phase == Phase::Closing && self.members.is_empty() {
            self.phase = Phase::Closed;
            self.events.push_back(PoolEvent::Closed);
        }
    }

    fn free_usable_member(&self) -> Option<MemberId> {
        self.members.iter().find(|(_, member)| member.is_free_and_usable()).map(|(&id, _)| id)
    }

    fn lease(&mut self, id: MemberId) -> Handle {
        let member = self.members.get_mut(&id);
        let generation = member.as_ref().map_or(0, |member| member.generation.saturating_add(1));
        let (handle, guard) = Handle::new(LeaseId { member: id, generation });
        if let Some(member) = member {
            member.generation = generation;
            member.lease = Lease::Leased { generation, guard };
        }
        handle
    }

    fn leased_member(&mut self, handle: &Handle) -> Result<&mut Member, PoolError> {
        let lease = handle.lease();
        let stale = PoolError::StaleHandle { member: lease.member.0, generation: lease.generation };
        match self.members.get_mut(&lease.member) {
            Some(member) if member.holds(lease.generation) => Ok(member),
            _ => Err(stale),
        }
    }

    fn retire(&mut self, now: u64, id: MemberId, reason: RetireReason) {
        let Some(member) = self.members.get_mut(&id) else { return };
        if member.is_retiring() {
            return;
        }
        member.lease = Lease::Retiring;
        member.usable = false;
        member.machine.close(now);
        self.events.push_back(PoolEvent::Retired { member: id, reason });
    }

    /// A handle dropped without release: count the leak and sign its session out.
    fn collect_leaks(&mut self, now: u64) {
        let leaked: Vec<(MemberId, LeaseId, Option<SessionId>)> = self
            .members
            .iter()
            .filter(|(_, member)| member.leaked())
            .map(|(&id, member)| {
                let lease = LeaseId { member: id, generation: member.generation };
                (id, lease, member.machine.ledger().held())
            })
            .collect();
        for (id, lease, session_id) in leaked {
            self.leaked = self.leaked.saturating_add(1);
            self.events.push_back(PoolEvent::LeakDetected { lease, session_id });
            self.retire(now, id, RetireReason::Leaked);
        }
    }

    /// Moves members' actions and events out, reacting to what they say.
    fn drain_members(&mut self, now: u64) {
        let mut failed = Vec::new();
        let mut closed = Vec::new();
        for (&id, member) in &mut self.members {
            while let Some(action) = member.machine.poll_action() {
                self.actions.push_back(action);
            }
            while let Some(event) = member.machine.poll_event() {
                match &event {
                    Event::Ready { .. } => {
                        member.usable = true;
                        self.open_failures = 0;
                    }
                    Event::SessionLost { .. } => member.usable = false,
                    Event::OpenFailed { .. } => failed.push(id),
                    Event::Closed { .. } => closed.push(id),
                    _ => {}
                }
                self.events.push_back(PoolEvent::Member { member: id, event });
            }
            // A machine can give up its session without an event (ReconnectPolicy::Replace
            // queues it for sign-out and logs in anew): usable only while it holds one.
            if member.usable && member.machine.ledger().held().is_none() {
                member.usable = false;
            }
            if !member.machine.state().is_open() && !member.is_retiring() {
                // The machine closed itself (open failed, or closed on -1002): retire it.
                failed.push(id);
            }
        }
        for id in failed {
            self.member_failed(now, id);
        }
        for id in closed {
            if let Some(member) = self.members.remove(&id) {
                self.retired_metrics.absorb(&member.machine.metrics());
            }
        }
    }

    fn member_failed(&mut self, now: u64, id: MemberId) {
        let Some(member) = self.members.get(&id) else { return };
        if member.is_retiring() {
            return;
        }
        let config = &self.config.client;
        let delay_ms = backoff_ms(
            config.reconnect_backoff_initial_ms,
            config.reconnect_backoff_max_ms,
            self.open_failures,
        )
        .max(config.authenticate_refused_backoff_ms);
        self.open_failures = self.open_failures.saturating_add(1);
        self.next_open_at_ms = after(now, delay_ms);
        self.retire(now, id, RetireReason::Failed);
    }

    fn expire_waiters(&mut self, now: u64) {
        // Most settles find none due: the queue is then left as it is, not rebuilt.
        if !self.waiters.iter().any(|waiter| waiter.deadline_ms <= now) {
            return;
        }
        let (expired, kept): (Vec<_>, Vec<_>) =
            self.waiters.drain(..).partition(|waiter| waiter.deadline_ms <= now);
        self.waiters = kept.into();
        for waiter in expired {
            self.events.push_back(PoolEvent::WaitTimedOut { waiter: waiter.id });
        }
    }

    fn grant_waiters(&mut self) {
        while !self.waiters.is_empty() {
            let Some(member) = self.free_usable_member() else { return };
            let Some(waiter) = self.waiters.pop_front() else { return };
            let handle = self.lease(member);
            self.events.push_back(PoolEvent::Granted { waiter: waiter.id, lease: handle.lease() });
            self.grants.push_back((waiter.id, handle));
        }
    }

    fn active_count(&self) -> u32 {
        let count = self.members.values().filter(|member| !member.is_retiring()).count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// When the next idle member may be evicted (only above `sessions_min`).
    fn next_eviction_ms(&self) -> Option<u64> {
        if self.phase != Phase::Running || self.active_count() <= self.config.sessions_min {
            return None;
        }
        self.members
            .values()
            .filter_map(Member::idle_since_ms)
            .min()
            .map(|since_ms| after(since_ms, self.config.idle_evict_ms))
    }

    fn evict_idle(&mut self, now: u64) {
        while let Some(at_ms) = self.next_eviction_ms() {
            if at_ms > now {
                return;
            }
            let oldest = self
                .members
                .iter()
                .filter_map(|(&id, member)| member.idle_since_ms().map(|since| (since, id)))
                .min();
            let Some((_, id)) = oldest else { return };
            self.retire(now, id, RetireReason::Idle);
        }
    }

    /// Whether more members are wanted: below the minimum, or waiters beyond the members opening.
    fn wants_to_grow(&self) -> bool {
        if self.phase != Phase::Running {
            return false;
        }
        let total = u32::try_from(self.members.len()).unwrap_or(u32::MAX);
        if total >= self.config.sessions_max {
            return false;
        }
        let opening = self
            .members
            .values()
            .filter(|member| !member.usable && matches!(member.lease, Lease::Free { .. }))
            .count();
        self.active_count() < self.config.sessions_min || self.waiters.len() > opening
    }

    fn grow(&mut self, now: u64) {
        while self.wants_to_grow() && self.next_open_at_ms <= now {
            let Some(id) = self.unused_member_id() else { return };
            let config = self.config.member_config();
            let Ok(mut machine) = SessionMachine::with_connection_prefix(config, id.0) else {
                return;
            };
            // A fresh machine always accepts open.
            if machine.open(now).is_err() {
                return;
            }
            self.members.insert(id, Member::new(machine, now));
        }
    }

    fn unused_member_id(&mut self) -> Option<MemberId> {
        for _ in 0..=self.members.len() {
            let id = MemberId(self.next_member);
            self.next_member = self.next_member.wrapping_add(1).max(1);
            if !self.members.contains_key(&id) {
                return Some(id);
            }
        }
        None
    }
}

/// The public API never produces a broken pool, so each check is shown one here: a healthy pool with
/// one field corrupted by hand, and the same check at its limit, where it must still pass.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::config::ClientConfig;
    use crate::client::wire::{Request, Response};

    fn config(min: u32, max: u32) -> PoolConfig {
        let client = ClientConfig { user: "alice".into(), ..ClientConfig::default() };
        PoolConfig { client, sessions_min: min, sessions_max: max, ..PoolConfig::default() }
    }

    /// Connects every dial and answers every authenticate, until the pool asks for nothing more.
    fn serve(pool: &mut SessionPool) {
        let mut session_id = 100;
        while let Some(action) = pool.poll_action() {
            let (connection, event) = match action {
                Action::Dial { connection } => (connection, TransportEvent::Connected),
                Action::Send { connection, request: Request::Authenticate { .. } } => {
                    session_id += 1;
                    (connection, TransportEvent::Response(Response::AuthenticateOk { session_id }))
                }
                Action::Send { .. } | Action::CloseSocket { .. } => continue,
            };
            pool.handle_transport(0, connection, event);
        }
    }

    /// A pool of `min` free usable members; it passes every check.
    fn open(min: u32, max: u32) -> SessionPool {
        let mut pool = SessionPool::new(config(min, max)).expect("valid configuration");
        pool.open(0);
        serve(&mut pool);
        assert_eq!(pool.stats().free, min);
        assert_eq!(pool.check_invariants(), Ok(()));
        pool
    }

    fn violation(pool: &SessionPool) -> String {
        match pool.check_invariants() {
            Err(violation) => violation.detail,
            Ok(()) => panic!("no violation found in {:?}", pool.stats()),
        }
    }

    fn waiter(id: u64) -> Waiter {
        Waiter { id: WaiterId(id), deadline_ms: u64::MAX }
    }

    #[test]
    fn members_may_reach_the_maximum_but_not_exceed_it() {
        let mut pool = open(2, 2);
        pool.config.sessions_max = 1;
        assert_eq!(violation(&pool), "2 members over 1");
    }

    #[test]
    fn waiters_may_reach_their_maximum_but_not_exceed_it() {
        let mut pool = SessionPool::new(PoolConfig { waiters_max: 2, ..config(0, 1) })
            .expect("valid configuration");
        pool.waiters.extend([waiter(1), waiter(2)]);
        assert_eq!(pool.check_invariants(), Ok(()));
        pool.waiters.push_back(waiter(3));
        assert_eq!(violation(&pool), "3 waiters");
    }

    #[test]
    fn no_waiter_waits_while_a_session_is_free() {
        let mut pool = open(1, 1);
        pool.waiters.push_back(waiter(1));
        assert_eq!(violation(&pool), "a waiter waits while a session is free");
    }

    #[test]
    fn a_closed_pool_has_no_members() {
        let mut pool = SessionPool::new(config(0, 1)).expect("valid configuration");
        pool.close(0);
        assert!(pool.is_closed());
        assert_eq!(pool.check_invariants(), Ok(()));
        let mut pool = open(1, 1);
        pool.phase = Phase::Closed;
        assert_eq!(violation(&pool), "closed pool has members");
    }

    #[test]
    fn a_member_closes_only_while_retiring() {
        let mut pool = open(1, 1);
        let member = pool.members.get_mut(&MemberId(1)).expect("member 1");
        member.machine.close(0);
        member.usable = false;
        assert_eq!(violation(&pool), "member 1 is closing but not retiring");
        pool.members.get_mut(&MemberId(1)).expect("member 1").lease = Lease::Retiring;
        assert_eq!(pool.check_invariants(), Ok(()));
    }

    #[test]
    fn a_member_is_usable_only_with_a_session() {
        let mut pool = SessionPool::new(config(1, 1)).expect("valid configuration");
        pool.open(0);
        let member = pool.members.get_mut(&MemberId(1)).expect("member 1 opening");
        assert_eq!(member.machine.ledger().held(), None);
        member.usable = true;
        assert_eq!(violation(&pool), "member 1 usable without a session");
    }
}
