//! [`SessionManager::check_invariants`]: what must hold whenever no call is in flight. Tests and
//! simulators call it after every step; it costs O(n log n).

use std::collections::BTreeMap;

use graphsession_base::Violation;
use graphsession_base::sync::lock;

use crate::server::hash::{hash_id, shard_index};
use crate::server::limits::UserIp;
use crate::server::manager::SessionManager;
use crate::server::session::Origin;
use crate::server::shard::{Shard, ShardRead};

/// The machine this file's invariant violations name.
const MACHINE: &str = "SessionManager";

/// Sessions the check makes room for at once, whatever the node count says.
const HELD_PREALLOCATED_MAX: usize = 4_096;

impl SessionManager {
    /// Checks every invariant of a quiescent registry: each session in the right shard, live,
    /// with exactly one idle check at its scheduled time, open in its shard's query registry
    /// exactly while it has queries and nowhere else; the shard's slot table consistent; no query of an ended session in any registry; running-query counts
    /// matching the registries; the node count and every (user, ip) count equal to the sessions
    /// that hold them (fix 2, see docs/fixes.md), the pairs kept at zero counted and bounded,
    /// and the logged-in ones within their limits
    /// (installed sessions are counted without a limit); the cached earliest check no later than
    /// the true one, and the cached earliest query deadline too; histories and variables within
    /// their bounds.
    pub fn check_invariants(&self) -> Result<(), Violation> {
        // One push per session: sized by the node count (not trusted past a bound), no
        // allocation for an empty node.
        let sessions = usize::try_from(self.node_count.get()).unwrap_or(0);
        let mut held: Vec<Held> = Vec::with_capacity(sessions.min(HELD_PREALLOCATED_MAX));
        let mut total: u64 = 0;
        let mut earliest = u64::MAX;
        for (index, shard) in self.shards.iter().enumerate() {
            let (sessions, first) = self.check_shard(index, shard, &mut held)?;
            total += sessions;
            earliest = earliest.min(first);
        }
        let fail = |property, detail: String| Err(Violation::new(MACHINE, property, detail));
        if total != self.node_count.get() {
            return fail(
                "node_count_matches_sessions",
                format!("node count {} != {total} sessions", self.node_count.get()),
            );
        }
        if total > self.config.sessions_max {
            return fail("sessions_within_limit", format!("{total} sessions above sessions_max"));
        }
        self.check_user_ip_counts(held)?;
        if self.throttle.len() > self.config.throttled_users_max {
            return fail(
                "lockout_table_within_limit",
                format!("{} users in the lockout table", self.throttle.len()),
            );
        }
        if let Err(detail) = self.events.check() {
            return fail("event_queue_length_stored", detail);
        }
        let cached = self.earliest_check_ms.load(graphsession_base::sync::Ordering::Acquire);
        if cached > earliest {
            return fail(
                "cached_earliest_check_not_late",
                format!("cached earliest check {cached} after the true one {earliest}"),
            );
        }
        self.check_query_deadlines()
    }

    /// Checks one shard; returns its session count and earliest check.
    fn check_shard(
        &self,
        index: usize,
        shard: &Shard,
        held: &mut Vec<Held>,
    ) -> Result<(u64, u64), Violation> {
        let fail = |property, detail: String| Err(Violation::new(MACHINE, property, detail));
        let sessions = shard.read();
        let queries = lock(&shard.queries);
        if let Err(violation) = queries.check_invariants() {
            return fail(
                "shard_query_registry_sound",
                format!("shard {index} query registry: {violation}"),
            );
        }
        if let Err(violation) = sessions.check_table() {
            return fail(
                "shard_slot_table_sound",
                format!("shard {index} slot table: {violation}"),
            );
        }
        check_idle_check_count(index, &sessions)?;
        check_recycled(index, &sessions)?;
        let open =
            sessions.iter().filter(|found| queries.session_user(found.entry.id).is_some()).count();
        if u64::from(queries.session_count()) != open as u64 {
            return fail(
                "query_registry_sessions_live",
                format!(
                    "shard {index}: registry holds {} sessions, {open} of them live",
                    queries.session_count(),
                ),
            );
        }
        // Searched once per session (a few entries are scanned, more sorted and searched).
        let checks = sessions.deadlines().index();
        let mut running: u64 = 0;
        for found in sessions.iter() {
            let entry = found.entry;
            let id = entry.id;
            if shard_index(hash_id(id), self.shard_mask) != index || !entry.is_live() {
                return fail(
                    "sessions_live_in_their_shard",
                    format!("session {id} misplaced or ended in shard {index}"),
                );
            }
            let check_at_ms = entry.check_at_ms();
            if !checks.contains((check_at_ms, id)) {
                return fail(
                    "idle_check_scheduled",
                    format!("session {id} has no idle check at {check_at_ms}"),
                );
            }
            if queries.session_user(id).is_some_and(|user| user != entry.user()) {
                return fail(
                    "query_registry_user_matches",
                    format!("session {id} open in its query registry for another user"),
                );
            }
            if queries.session_user(id).is_some() != (entry.running() > 0) {
                return fail(
                    "open_in_query_registry_while_running",
                    format!(
                        "session {id} runs {} queries but is {}open in its query registry",
                        entry.running(),
                        if queries.session_user(id).is_some() { "" } else { "not " }
                    ),
                );
            }
            let inner = lock(&entry.inner);
            let extras = inner.extras();
            if extras.history.entries.len() > self.config.session_history_max as usize
                || extras.variables.len() > self.config.variables_per_session_max as usize
            {
                return fail(
                    "history_and_variables_within_limits",
                    format!("session {id} holds more history or variables than allowed"),
                );
            }
            running += u64::from(entry.running());
            held.push(Held {
                pair: std::sync::Arc::as_ptr(&entry.pair).addr(),
                logged_in: entry.origin == Origin::LoggedIn,
            });
        }
        if running != u64::from(queries.query_count()) {
            return fail(
                "running_queries_match_query_registry",
                format!(
                    "shard {index}: {running} running queries, registry holds {}",
                    queries.query_count()
                ),
            );
        }
        // No query of an ended session: the query registry's own invariants put every query
        // in a session open there, and the count above makes every open session live here.
        if let Err(violation) = sessions.check_idle_checks() {
            return fail("idle_checks_sound", format!("shard {index}: {violation}"));
        }
        let first = sessions.deadlines().first().map_or(u64::MAX, |(at, _)| at);
        Ok((sessions.len() as u64, first))
    }
}

/// The sessions that hold one (user, ip) allocation, a run of the sorted [`Held`] list.
struct Run {
    pair: usize,
    sessions: u32,
    logged_in: u32,
    /// The counted pair at this address, once the walk of the counts met it.
    counted: Option<std::sync::Arc<UserIp>>,
}

impl SessionManager {
    /// The (user, ip) counts against the sessions that hold the pairs, then the kept pairs'
    /// rules and the logged-in limit. The counts are kept by names; the sessions here are
    /// grouped by the allocation they hold (a sort of addresses, no name compared per
    /// session): each counted pair must be the very allocation a run of sessions holds, as
    /// many as it counts, filed under its own hash; as many counted pairs as allocations held,
    /// so each is met once; and no two allocations with the same names. That is the counts by
    /// names equal to the sessions by names, with each name's count on the allocation its
    /// sessions hold (where their ends will look), and a little more.
    fn check_user_ip_counts(&self, mut held: Vec<Held>) -> Result<(), Violation> {
        let fail = |property, detail: String| Err(Violation::new(MACHINE, property, detail));
        held.sort_unstable();
        let mut runs: Vec<Run> = Vec::with_capacity(held.len());
        for one in held {
            match runs.last_mut() {
                Some(run) if run.pair == one.pair => {
                    run.sessions = run.sessions.saturating_add(1);
                    run.logged_in = run.logged_in.saturating_add(u32::from(one.logged_in));
                }
                Some(_) | None => runs.push(Run {
                    pair: one.pair,
                    sessions: 1,
                    logged_in: u32::from(one.logged_in),
                    counted: None,
                }),
            }
        }
        let mut pairs = 0_usize;
        let mut same = true;
        let idle = self.user_ip.walk(|pair, count, filed_under_its_hash| {
            pairs += 1;
            let address = std::sync::Arc::as_ptr(pair).addr();
            let at = runs.binary_search_by_key(&address, |run| run.pair);
            match at.ok().and_then(|at| runs.get_mut(at)) {
                Some(run)
                    if filed_under_its_hash && run.sessions == count && run.counted.is_none() =>
                {
                    run.counted = Some(std::sync::Arc::clone(pair));
                }
                Some(_) | None => same = false,
            }
        });
        if !same || pairs != runs.len() || !names_distinct(&runs) {
            let counted = self.user_ip.all();
            let held = self.held_by_names();
            return fail(
                "user_ip_counts_match_sessions",
                format!("(user, ip) counts {counted:?} != sessions {held:?}"),
            );
        }
        if let Err(detail) = idle {
            return fail("user_ip_kept_pairs_bounded", detail);
        }
        // Logins check the limit; sessions installed from the cluster are counted without one.
        // The first pair by names above it, as a walk of the pairs in order would find.
        if let Some(limit) = self.config.user_ip_limit()
            && let Some((pair, count)) = (runs.iter())
                .filter(|run| run.logged_in > limit)
                .filter_map(|run| Some((run.counted.as_ref()?, run.logged_in)))
                .min_by(|one, other| one.0.cmp(other.0))
        {
            return fail(
                "logged_in_sessions_within_user_ip_limit",
                format!(
                    "({}, {}) holds {count} logged-in sessions, above the limit {limit}",
                    pair.user(),
                    pair.client_ip()
                ),
            );
        }
        Ok(())
    }

    /// Sessions by the names of the pair they hold, for a report.
    fn held_by_names(&self) -> BTreeMap<(String, String), u32> {
        let mut held = BTreeMap::new();
        for shard in &self.shards {
            for found in shard.read().iter() {
                let pair = &found.entry.pair;
                let names = (pair.user().to_owned(), pair.client_ip().to_owned());
                *held.entry(names).or_insert(0) += 1;
            }
        }
        held
    }
}

/// No two runs' counted pairs have the same names (every run met its pair).
fn names_distinct(runs: &[Run]) -> bool {
    if runs.len() < 2 {
        return true;
    }
    let mut names: Vec<&UserIp> = runs.iter().filter_map(|run| run.counted.as_deref()).collect();
    names.sort_unstable();
    names.len() == runs.len() && names.windows(2).all(|pair| pair[0].cmp(pair[1]).is_ne())
}

/// Shard `index` holds one idle check per session.
fn check_idle_check_count(index: usize, sessions: &ShardRead<'_>) -> Result<(), Violation> {
    if sessions.deadlines().len() != sessions.len() {
        let detail = format!(
            "shard {index}: {} checks for {} sessions",
            sessions.deadlines().len(),
            sessions.len()
        );
        return Err(Violation::new(MACHINE, "one_idle_check_per_session", detail));
    }
    Ok(())
}

/// The shard's kept ended entries: within their bound, ended, out of its table.
fn check_recycled(index: usize, sessions: &ShardRead<'_>) -> Result<(), Violation> {
    sessions.check_recycled().map_err(|violation| {
        let detail = format!("shard {index}: {violation}");
        Violation::new(MACHINE, "recycled_entries_ended_and_bounded", detail)
    })
}

/// The (user, ip) pair a session holds, by the address of its allocation, and whether the
/// session logged in (else it was installed from the cluster).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Held {
    pair: usize,
    logged_in: bool,
}

#[cfg(test)]
mod tests {
    //! Each invariant broken on purpose, through the registry's private state, and shown to be
    //! reported; and each bound shown to hold at its limit. The registry never breaks them
    //! itself (every other test checks that), so only these tests tell a check that looks from
    //! one that does not.

    use graphsession_base::sync::{Arc, Ordering, lock, write};
    use graphsession_id_gen::{
        PlanIdGenerator, PlanLease, SealKey, SessionId, SessionIdConfig, SessionIdGenerator,
        SessionLease,
    };
    use graphsession_permission::{Caller, Policy, RoleTable};

    use crate::server::cluster_hooks::InstalledSession;
    use crate::server::config::Config;
    use crate::server::manager::{Login, SessionManager};
    use crate::server::session::SessionEntry;
    use crate::server::throttle::PasswordCheck;

    const NOW: u64 = 1_763_900_000_000;
    const IP: &str = "10.0.0.1";

    fn manager(config: Config) -> SessionManager {
        let lease = SessionLease { slot: 3, floor_unix_ms: 0, bound_unix_ms: 3_000_000_000_000 };
        let key = SealKey::from_bytes([7; 16]);
        let ids = SessionIdGenerator::new(lease, key, SessionIdConfig::default()).expect("ids");
        let plans = PlanLease { slot: 3, floor_counter: 0, bound_counter: 1 << 40 };
        let plans = PlanIdGenerator::new(plans).expect("plans");
        SessionManager::new(config, ids, plans).expect("config")
    }

    /// root (GOD), alice and bob.
    fn table() -> RoleTable {
        let mut table = RoleTable::new();
        let root = Caller::resolve(&table, "root", None);
        table.create_user(&root, Policy::ENFORCED, "alice").expect("alice");
        table.create_user(&root, Policy::ENFORCED, "bob").expect("bob");
        table
    }

    fn login(manager: &SessionManager, table: &RoleTable, user: &str) -> SessionId {
        let login = Login { user, client_ip: IP, password: PasswordCheck::Verified };
        manager.login(NOW, login, table).expect("login")
    }

    fn install(manager: &SessionManager, table: &RoleTable, session: i64) {
        let install = InstalledSession {
            session: SessionId::new(session).expect("id"),
            user: "bob",
            client_ip: IP,
            space: "",
            space_set_unix_ms: 0,
            created_unix_ms: NOW,
            last_activity_unix_ms: NOW,
        };
        assert_eq!(manager.install_session(NOW, install, table), Ok(true));
    }

    fn entry(manager: &SessionManager, id: SessionId) -> Arc<SessionEntry> {
        Arc::clone(manager.shard(id).read().get(id).expect("live").entry)
    }

    fn violation(manager: &SessionManager) -> String {
        manager.check_invariants().expect_err("a broken invariant").detail
    }

    #[test]
    fn a_registry_with_logins_installs_queries_variables_and_history_passes() {
        let table = table();
        let manager = manager(Config::default());
        let alice = login(&manager, &table, "alice");
        login(&manager, &table, "alice");
        install(&manager, &table, 11);
        let query = manager.begin_query(NOW, alice.get(), "GO", &table).expect("query");
        manager.set_variable(NOW, alice.get(), "a", "1").expect("variable");
        manager.check_invariants().expect("healthy");
        manager.finish_query(NOW, query.session, query.plan).expect("finish");
        manager.check_invariants().expect("healthy");
    }

    #[test]
    fn a_cached_earliest_query_deadline_later_than_a_querys_is_reported_and_an_early_one_is_not() {
        let table = table();
        let manager = manager(Config { query_timeout_ms: 1_000, ..Config::default() });
        let alice = login(&manager, &table, "alice");
        let query = manager.begin_query(NOW, alice.get(), "GO", &table).expect("query");
        assert_eq!(query.deadline_unix_ms, Some(NOW + 1_000));
        manager.check_invariants().expect("healthy");
        let cache = &manager.earliest_query_deadline_ms;
        cache.store(NOW + 1_001, Ordering::Release);
        assert_eq!(
            violation(&manager),
            format!(
                "cached earliest query deadline {} after the true one {}",
                NOW + 1_001,
                NOW + 1_000
            )
        );
        // Early is allowed: the next round is spurious and recomputes it.
        cache.store(NOW, Ordering::Release);
        manager.check_invariants().expect("an early cache is sound");
    }

    #[test]
    fn a_node_count_that_differs_from_the_sessions_is_reported() {
        let table = table();
        let manager = manager(Config::default());
        login(&manager, &table, "alice");
        assert!(manager.node_count.try_reserve(u64::MAX));
        assert_eq!(violation(&manager), "node count 2 != 1 sessions");
    }

    #[test]
    fn sessions_above_the_node_maximum_are_reported_and_at_it_are_not() {
        let table = table();
        let mut manager = manager(Config::default());
        login(&manager, &table, "alice");
        login(&manager, &table, "bob");
        manager.config.sessions_max = 2;
        manager.check_invariants().expect("at the maximum");
        manager.config.sessions_max = 1;
        assert_eq!(violation(&manager), "2 sessions above sessions_max");
    }

    #[test]
    fn a_user_ip_count_that_differs_from_the_sessions_holding_the_pair_is_reported() {
        let table = table();
        let manager = manager(Config::default());
        login(&manager, &table, "alice");
        let extra = manager.user_ip.try_acquire("alice", IP, None).expect("unlimited");
        let expected = "(user, ip) counts {(\"alice\", \"10.0.0.1\"): 2} != sessions \
                        {(\"alice\", \"10.0.0.1\"): 1}";
        assert_eq!(violation(&manager), expected);
        manager.user_ip.release(&extra);
        manager.check_invariants().expect("healthy again");
    }

    #[test]
    fn a_counted_pair_that_is_not_the_one_the_sessions_hold_is_reported() {
        let table = table();
        let manager = manager(Config::default());
        let alice = login(&manager, &table, "alice");
        let held = Arc::clone(&entry(&manager, alice).pair);
        // Same user, ip and count, but a new allocation: the sessions hold the old one.
        manager.user_ip.release(&held);
        manager.user_ip.drop_idle();
        let counted = manager.user_ip.try_acquire("alice", IP, None).expect("unlimited");
        assert!(!std::sync::Arc::ptr_eq(&counted, &held));
        assert!(violation(&manager).starts_with("(user, ip) counts"));
    }

    #[test]
    fn a_live_session_among_the_kept_entries_or_a_miscounted_kept_pair_is_reported() {
        let table = table();
        let manager = manager(Config::default());
        let alice = login(&manager, &table, "alice");
        let live = entry(&manager, alice);
        manager.shard(alice).write().recycled_mut().push(live);
        assert!(violation(&manager).ends_with("is live or still in the table"));
        manager.shard(alice).write().recycled_mut().clear();
        manager.check_invariants().expect("healthy again");
        assert!(manager.sign_out(NOW, alice.get()));
        manager.check_invariants().expect("the ended entry and the pair at zero are kept");
        manager.user_ip.miscount_idle();
        assert!(violation(&manager).contains("pairs at zero, counted"));
    }

    #[test]
    fn two_allocations_of_the_same_names_or_a_run_never_met_are_refused() {
        use super::{Run, names_distinct};
        use crate::server::limits::UserIp;
        let run = |pair: usize, user: &str| Run {
            pair,
            sessions: 1,
            logged_in: 0,
            counted: Some(std::sync::Arc::new(UserIp::new(user, IP))),
        };
        assert!(names_distinct(&[run(1, "alice"), run(2, "bob")]));
        assert!(!names_distinct(&[run(1, "alice"), run(2, "alice")]));
        let never_met = Run { counted: None, ..run(2, "bob") };
        assert!(!names_distinct(&[run(1, "alice"), never_met]));
    }

    #[test]
    fn a_pair_held_by_sessions_but_not_counted_is_reported() {
        let table = table();
        let manager = manager(Config::default());
        let alice = login(&manager, &table, "alice");
        manager.user_ip.release(&entry(&manager, alice).pair);
        let expected = "(user, ip) counts {} != sessions {(\"alice\", \"10.0.0.1\"): 1}";
        assert_eq!(violation(&manager), expected);
    }

    #[test]
    fn logged_in_sessions_above_their_pair_limit_are_reported_and_installed_ones_never() {
        let table = table();
        let mut manager = manager(Config::default());
        login(&manager, &table, "alice");
        login(&manager, &table, "alice");
        install(&manager, &table, 11);
        install(&manager, &table, 12);
        install(&manager, &table, 13);
        // bob's three installed sessions count for nothing against the limit.
        manager.config.sessions_per_user_ip_max = 2;
        manager.check_invariants().expect("at the limit");
        manager.config.sessions_per_user_ip_max = 1;
        let expected = "(alice, 10.0.0.1) holds 2 logged-in sessions, above the limit 1";
        assert_eq!(violation(&manager), expected);
        manager.config.sessions_per_user_ip_max = 0;
        manager.check_invariants().expect("unlimited");
    }

    #[test]
    fn a_lockout_table_above_its_bound_is_reported_and_at_it_is_not() {
        let table = table();
        let config =
            Config { failed_login_attempts: 3, password_lock_time_secs: 1, ..Config::default() };
        let mut manager = manager(config);
        for user in ["bob", "carol"] {
            let wrong = Login { user, client_ip: IP, password: PasswordCheck::Rejected };
            assert!(manager.login(NOW, wrong, &table).is_err());
        }
        manager.config.throttled_users_max = 2;
        manager.check_invariants().expect("at the bound");
        manager.config.throttled_users_max = 1;
        assert_eq!(violation(&manager), "2 users in the lockout table");
    }

    #[test]
    fn an_event_queue_whose_stored_length_is_not_its_length_is_reported() {
        let table = table();
        let manager = manager(Config { events_max: 2, ..Config::default() });
        login(&manager, &table, "alice");
        manager.check_invariants().expect("one event, stored as one");
        manager.events.corrupt_queued(0);
        assert_eq!(violation(&manager), "1 events queued, stored as 0");
        // Stored as full, the next push drops its event without looking: still reported.
        manager.events.corrupt_queued(2);
        login(&manager, &table, "bob");
        assert_eq!(manager.stats().events_dropped, 1);
        assert_eq!(violation(&manager), "1 events queued, stored as 2");
    }

    #[test]
    fn a_cached_earliest_check_after_the_true_one_is_reported_and_before_it_is_not() {
        let table = table();
        let manager = manager(Config { idle_timeout_ms: 1_000, ..Config::default() });
        login(&manager, &table, "alice");
        let due = NOW + 1_000;
        manager.earliest_check_ms.store(due - 1, Ordering::Release);
        manager.check_invariants().expect("early is allowed");
        manager.earliest_check_ms.store(due + 1, Ordering::Release);
        let expected = format!("cached earliest check {} after the true one {due}", due + 1);
        assert_eq!(violation(&manager), expected);
    }

    #[test]
    fn an_idle_check_without_its_session_is_reported() {
        let table = table();
        let manager = manager(Config::default());
        let alice = login(&manager, &table, "alice");
        let shard = manager.shard(alice);
        write(&shard.state).deadlines.insert(NOW, alice);
        let index = manager.shards.iter().position(|other| std::ptr::eq(other, shard));
        let expected = format!("shard {}: 2 checks for 1 sessions", index.expect("a shard"));
        assert_eq!(violation(&manager), expected);
    }

    #[test]
    fn a_stale_earliest_idle_check_is_reported() {
        let table = table();
        let manager = manager(Config::default());
        let alice = login(&manager, &table, "alice");
        let shard = manager.shard(alice);
        let stranger = SessionId::new(7).expect("positive");
        let mut state = write(&shard.state);
        // A check of no session, earliest of all, counted out but left on top.
        state.deadlines.push_stale(NOW - 1, stranger);
        drop(state);
        let index = manager.shards.iter().position(|other| std::ptr::eq(other, shard));
        let expected = format!(
            "shard {}: the earliest idle check {} of session {stranger} is stale",
            index.expect("a shard"),
            NOW - 1
        );
        assert_eq!(violation(&manager), expected);
    }

    #[test]
    fn a_session_whose_idle_check_is_at_another_time_is_reported() {
        let table = table();
        let manager = manager(Config { idle_timeout_ms: 1_000, ..Config::default() });
        let alice = login(&manager, &table, "alice");
        entry(&manager, alice).set_check_at_ms(NOW + 5);
        let expected = format!("session {alice} has no idle check at {}", NOW + 5);
        assert_eq!(violation(&manager), expected);
    }

    #[test]
    fn an_ended_session_still_in_its_shard_is_reported() {
        let table = table();
        let manager = manager(Config::default());
        let alice = login(&manager, &table, "alice");
        entry(&manager, alice).end();
        assert!(violation(&manager).starts_with(&format!("session {alice} misplaced or ended")));
    }

    #[test]
    fn a_session_in_a_shard_its_hash_does_not_choose_is_reported() {
        let table = table();
        let mut manager = manager(Config { shard_count: 2, ..Config::default() });
        let ids: Vec<SessionId> = (0..8).map(|_| login(&manager, &table, "alice")).collect();
        manager.check_invariants().expect("healthy");
        // With one shard's worth of mask every session belongs in shard 0.
        manager.shard_mask = 0;
        let misplaced: Vec<String> = (ids.iter())
            .filter(|&&id| manager.shards[1].read().contains(id))
            .map(|id| format!("session {id} misplaced or ended in shard 1"))
            .collect();
        assert!(!misplaced.is_empty(), "eight sessions spread over two shards");
        assert!(misplaced.contains(&violation(&manager)), "{}", violation(&manager));
    }

    #[test]
    fn a_session_open_in_its_query_registry_for_another_user_is_reported() {
        let table = table();
        let manager = manager(Config::default());
        let alice = login(&manager, &table, "alice");
        let query = manager.begin_query(NOW, alice.get(), "GO", &table).expect("query");
        manager.check_invariants().expect("healthy");
        let mut queries = lock(&manager.shard(alice).queries);
        queries.close_session(alice, graphsession_query_plan::SessionEnd::Killed).expect("open");
        queries.open_session(alice, "bob", "127.0.0.1:9669").expect("open");
        queries
            .register(
                NOW * 1_000,
                graphsession_query_plan::Registration {
                    session: alice,
                    plan: query.plan,
                    statement: "GO",
                    deadline_unix_us: None,
                },
            )
            .expect("register");
        drop(queries);
        let expected = format!("session {alice} open in its query registry for another user");
        assert_eq!(violation(&manager), expected);
    }

    #[test]
    fn a_running_count_that_disagrees_with_the_query_registry_is_reported_both_ways() {
        let table = table();
        let manager = manager(Config::default());
        let alice = login(&manager, &table, "alice");
        let entry = entry(&manager, alice);
        entry.query_started();
        let expected =
            format!("session {alice} runs 1 queries but is not open in its query registry");
        assert_eq!(violation(&manager), expected);
        entry.query_ended();
        lock(&manager.shard(alice).queries).open_session(alice, "alice", "h").expect("open");
        let expected = format!("session {alice} runs 0 queries but is open in its query registry");
        assert_eq!(violation(&manager), expected);
    }

    #[test]
    fn running_queries_the_query_registry_does_not_hold_are_reported() {
        let table = table();
        let manager = manager(Config::default());
        let alice = login(&manager, &table, "alice");
        let query = manager.begin_query(NOW, alice.get(), "GO", &table).expect("query");
        manager.check_invariants().expect("one query, counted once");
        entry(&manager, alice).query_started();
        let shard = manager.shard(alice);
        let index = manager.shards.iter().position(|other| std::ptr::eq(other, shard));
        let expected =
            format!("shard {}: 2 running queries, registry holds 1", index.expect("a shard"));
        assert_eq!(violation(&manager), expected);
        drop(query);
    }

    #[test]
    fn a_query_registry_session_that_is_not_live_here_is_reported() {
        let table = table();
        let manager = manager(Config::default());
        let alice = login(&manager, &table, "alice");
        let shard = manager.shard(alice);
        let stranger = SessionId::new(12_345).expect("id");
        lock(&shard.queries).open_session(stranger, "bob", "h").expect("open");
        let index = manager.shards.iter().position(|other| std::ptr::eq(other, shard));
        let expected =
            format!("shard {}: registry holds 1 sessions, 0 of them live", index.expect("a shard"));
        assert_eq!(violation(&manager), expected);
    }

    #[test]
    fn history_or_variables_above_their_bounds_are_reported_each_alone() {
        let table = table();
        let mut manager = manager(Config::default());
        let alice = login(&manager, &table, "alice");
        manager.set_variable(NOW, alice.get(), "a", "1").expect("variable");
        // One history entry (VariableSet; a login is an event only), one variable.
        let history = lock(&entry(&manager, alice).inner).extras().history.entries.len();
        assert_eq!(history, 1);
        manager.config.session_history_max = 1;
        manager.config.variables_per_session_max = 1;
        manager.check_invariants().expect("at both bounds");
        let expected = format!("session {alice} holds more history or variables than allowed");
        manager.config.session_history_max = 0;
        assert_eq!(violation(&manager), expected);
        manager.config.session_history_max = 1;
        manager.config.variables_per_session_max = 0;
        assert_eq!(violation(&manager), expected);
    }

    #[test]
    fn a_slot_table_that_breaks_its_own_rules_is_reported() {
        let table = table();
        let manager = manager(Config::default());
        let alice = login(&manager, &table, "alice");
        let shard = manager.shard(alice);
        let index = shard.read().get(alice).expect("live").index;
        // Frozen and never unfrozen: a live session's slot must not stay frozen.
        let frozen = write(&shard.state).entries.freeze(&shard.table, index);
        assert!(frozen.is_some());
        let shard_index = manager.shards.iter().position(|other| std::ptr::eq(other, shard));
        let expected = format!(
            "shard {} slot table: slot {index} of session {alice} is wrong",
            shard_index.expect("a shard")
        );
        assert_eq!(violation(&manager), expected);
    }
}
