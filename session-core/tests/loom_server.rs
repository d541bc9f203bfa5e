//! Loom models of the server registry's shared memory: every interleaving of a login racing the
//! kill of the same user's only (user, ip) slot, two logins racing for that slot, a find + touch +
//! query start racing KILL SESSION, an idle-expiry round racing a new query on the same session,
//! one racing a query that ends, two installs of the same session from the cluster, an install
//! racing a login for the node's last slot, and the lock-free find + touch racing a kill, an
//! expiry round, a growth of the slot table that moves every session, a sign-out whose slot a
//! new session takes, and another touch; and a sign-out and a login meeting on one shard while
//! a full event queue of one is drained.
//! Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p graphsession-core
//! --test loom_server`.
#![cfg(loom)]
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use graphsession_base::sync::Arc;
use graphsession_core::server::{
    Config, InstalledSession, Login, PasswordCheck, ServerError, SessionManager, TouchError,
};
use graphsession_id_gen::{
    PlanIdGenerator, PlanLease, SessionId, SessionIdConfig, SessionIdGenerator, SessionLease,
};
use graphsession_permission::{Caller, Policy, RoleTable};
use loom::thread;

const NOW: u64 = 1_763_900_000_000;
const IP: &str = "10.0.0.1";

fn manager(sessions_per_user_ip_max: i64) -> Arc<SessionManager> {
    manager_with(Config { sessions_per_user_ip_max, ..Config::default() })
}

fn manager_with(config: Config) -> Arc<SessionManager> {
    let lease = SessionLease { slot: 1, floor_unix_ms: 0, bound_unix_ms: NOW + 1_000_000 };
    let ids = SessionIdGenerator::unsealed(lease, SessionIdConfig::default()).unwrap();
    let plans =
        PlanIdGenerator::new(PlanLease { slot: 1, floor_counter: 0, bound_counter: 1 << 20 });
    // At most 16 events: a smaller queue only where a model asks for one.
    let events_max = config.events_max.min(16);
    let config = Config { idle_timeout_ms: 1_000, shard_count: 1, events_max, ..config };
    Arc::new(SessionManager::new(config, ids, plans.unwrap()).unwrap())
}

fn table() -> RoleTable {
    let mut table = RoleTable::new();
    let root = Caller::resolve(&table, "root", None);
    table.create_user(&root, Policy::ENFORCED, "alice").unwrap();
    table
}

fn login(manager: &SessionManager, table: &RoleTable) -> Result<i64, ServerError> {
    let login = Login { user: "alice", client_ip: IP, password: PasswordCheck::Verified };
    manager.login(NOW, login, table).map(|id| id.get())
}

#[test]
fn a_login_racing_the_kill_of_the_only_slot_never_overshoots_the_limit() {
    loom::model(|| {
        let manager = manager(1);
        let table = Arc::new(table());
        let first = login(&manager, &table).unwrap();
        let killer = {
            let manager = manager.clone();
            let root = Caller::resolve(&table, "root", None);
            thread::spawn(move || manager.kill_sessions(NOW, &root, &[first]).unwrap())
        };
        let second = login(&manager, &table);
        assert_eq!(killer.join().unwrap(), 1);
        match second {
            Ok(_) => assert_eq!(manager.user_ip_session_count("alice", IP), 1),
            Err(error) => {
                assert_eq!(error.code(), -1002);
                assert_eq!(manager.user_ip_session_count("alice", IP), 0);
            }
        }
        manager.check_invariants().unwrap();
    });
}

#[test]
fn a_killed_session_never_becomes_findable_again_and_keeps_no_query() {
    loom::model(|| {
        let manager = manager(0);
        let table = Arc::new(table());
        let id = login(&manager, &table).unwrap();
        let executor = {
            let manager = manager.clone();
            let table = table.clone();
            thread::spawn(move || manager.begin_query(NOW + 1, id, "GO", &table))
        };
        let root = Caller::resolve(&table, "root", None);
        assert_eq!(manager.kill_sessions(NOW, &root, &[id]).unwrap(), 1);
        assert!(manager.touch(NOW + 2, id).is_err(), "findable right after the kill");
        let started = executor.join().unwrap();
        assert!(manager.touch(NOW + 2, id).is_err(), "findable again after a racing touch");
        if let Ok(query) = started {
            assert!(query.handle.check().is_err(), "a query of a killed session still runs");
        }
        manager.check_invariants().unwrap();
    });
}

#[test]
fn expiry_racing_a_new_query_never_expires_a_session_with_a_running_query() {
    loom::model(|| {
        let manager = manager(0);
        let table = Arc::new(table());
        let id = login(&manager, &table).unwrap();
        let executor = {
            let manager = manager.clone();
            let table = table.clone();
            thread::spawn(move || manager.begin_query(NOW + 1_000, id, "GO", &table))
        };
        let expired = manager.handle_timeout(NOW + 1_000);
        let started = executor.join().unwrap();
        match started {
            Ok(query) => {
                assert_eq!(expired, 0, "expired a session whose query had started");
                assert!(query.handle.check().is_ok());
                assert!(manager.touch(NOW + 1_000, id).is_ok());
            }
            Err(error) => {
                assert_eq!((expired, error.code()), (1, -1002));
                assert!(manager.touch(NOW + 1_000, id).is_err());
            }
        }
        manager.check_invariants().unwrap();
    });
}

#[test]
fn a_query_ending_during_an_expiry_round_counts_as_activity() {
    loom::model(|| {
        let manager = manager(0);
        let table = Arc::new(table());
        let id = login(&manager, &table).unwrap();
        let query = manager.begin_query(NOW, id, "GO", &table).unwrap();
        let executor = {
            let manager = manager.clone();
            thread::spawn(move || manager.finish_query(NOW + 1_000, query.session, query.plan))
        };
        // Due at NOW + 1000, but the query runs until then: never expired in this round.
        assert_eq!(manager.handle_timeout(NOW + 1_000), 0);
        assert!(executor.join().unwrap().is_ok());
        assert_eq!(manager.handle_timeout(NOW + 1_999), 0);
        manager.check_invariants().unwrap();
    });
}

#[test]
fn two_logins_racing_for_the_last_slot_never_both_win() {
    loom::model(|| {
        let manager = manager(1);
        let table = Arc::new(table());
        let other = {
            let manager = manager.clone();
            let table = table.clone();
            thread::spawn(move || login(&manager, &table).is_ok())
        };
        let mine = login(&manager, &table).is_ok();
        let theirs = other.join().unwrap();
        assert!(mine ^ theirs, "exactly one login gets the only slot");
        assert_eq!(manager.user_ip_session_count("alice", IP), 1);
        manager.check_invariants().unwrap();
    });
}

/// Session 77 of alice, created on another node.
fn remote() -> InstalledSession<'static> {
    InstalledSession {
        session: SessionId::new(77).unwrap(),
        user: "alice",
        client_ip: IP,
        space: "",
        space_set_unix_ms: 0,
        created_unix_ms: NOW,
        last_activity_unix_ms: NOW,
    }
}

#[test]
fn two_installs_of_one_session_racing_install_it_once_with_exact_counts() {
    loom::model(|| {
        let manager = manager(1);
        let table = Arc::new(table());
        let other = {
            let manager = manager.clone();
            let table = table.clone();
            thread::spawn(move || manager.install_session(NOW, remote(), &table).unwrap())
        };
        let mine = manager.install_session(NOW, remote(), &table).unwrap();
        let theirs = other.join().unwrap();
        assert!(mine ^ theirs, "exactly one install wins");
        assert_eq!((manager.session_count(), manager.user_ip_session_count("alice", IP)), (1, 1));
        manager.check_invariants().unwrap();
    });
}

#[test]
fn an_install_racing_a_login_for_the_last_node_slot_never_both_win() {
    loom::model(|| {
        let manager = manager_with(Config { sessions_max: 1, ..Config::default() });
        let table = Arc::new(table());
        let other = {
            let manager = manager.clone();
            let table = table.clone();
            thread::spawn(move || manager.install_session(NOW, remote(), &table))
        };
        let mine = login(&manager, &table);
        let theirs = other.join().unwrap();
        assert!(mine.is_ok() ^ (theirs == Ok(true)), "exactly one gets the only slot");
        let refused = mine.map(|_| ()).err().or(theirs.err()).unwrap();
        assert_eq!(refused.code(), -1010);
        assert_eq!(manager.session_count(), 1);
        manager.check_invariants().unwrap();
    });
}

/// Touches `id` at `now` on another thread.
fn touch_on_a_thread(
    manager: &Arc<SessionManager>,
    id: i64,
    now: u64,
) -> thread::JoinHandle<Result<(), TouchError>> {
    let manager = manager.clone();
    thread::spawn(move || manager.touch(now, id))
}

fn last_activity(manager: &SessionManager, id: i64) -> u64 {
    manager.session_stats(id).unwrap().last_activity_unix_ms
}

/// Whether session `id` was touched since it was created. (Times are clamped to the newest the
/// registry has seen, so a session created after a touch elsewhere starts at that time.)
fn touched_since_created(manager: &SessionManager, id: i64) -> bool {
    let stats = manager.session_stats(id).unwrap();
    stats.last_activity_unix_ms != stats.created_unix_ms
}

#[test]
fn a_lock_free_touch_racing_kill_session_never_finds_the_session_again() {
    loom::model(|| {
        let manager = manager(0);
        let table = Arc::new(table());
        let id = login(&manager, &table).unwrap();
        let toucher = touch_on_a_thread(&manager, id, NOW + 1);
        let root = Caller::resolve(&table, "root", None);
        assert_eq!(manager.kill_sessions(NOW, &root, &[id]).unwrap(), 1);
        assert!(manager.touch(NOW + 2, id).is_err(), "findable right after the kill");
        let _either = toucher.join().unwrap();
        assert!(manager.touch(NOW + 2, id).is_err(), "findable again after a racing touch");
        manager.check_invariants().unwrap();
    });
}

#[test]
fn a_touch_racing_an_expiry_round_is_seen_by_it_or_fails() {
    loom::model(|| {
        let manager = manager(0);
        let table = Arc::new(table());
        let id = login(&manager, &table).unwrap();
        // Due at NOW + 1000 (the idle timeout is 1 s); the touch would make it due at NOW + 1999.
        let toucher = touch_on_a_thread(&manager, id, NOW + 999);
        let expired = manager.handle_timeout(NOW + 1_000);
        match toucher.join().unwrap() {
            Ok(()) => {
                assert_eq!(expired, 0, "expired a session on activity it did not see");
                // At NOW + 999 or, clamped to the newest time seen, NOW + 1000.
                assert!(last_activity(&manager, id) >= NOW + 999, "the touch was lost");
            }
            Err(error) => {
                assert_eq!((expired, error.code()), (1, -1002));
                assert!(manager.session_stats(id).is_none());
            }
        }
        manager.check_invariants().unwrap();
    });
}

#[test]
fn a_touch_racing_a_table_growth_that_moves_every_session_is_never_lost() {
    loom::model(|| {
        let manager = manager(0);
        let table = Arc::new(table());
        // A shard's table starts with 8 slots and grows when a seventh session arrives.
        let ids: Vec<i64> = (0..6).map(|_| login(&manager, &table).unwrap()).collect();
        let toucher = touch_on_a_thread(&manager, ids[3], NOW + 500);
        let grown = login(&manager, &table).unwrap();
        assert_eq!(toucher.join().unwrap(), Ok(()));
        assert_eq!(last_activity(&manager, ids[3]), NOW + 500, "the touch was lost in the move");
        for &id in ids.iter().filter(|&&id| id != ids[3]).chain([&grown]) {
            assert!(!touched_since_created(&manager, id), "a touch landed on session {id}");
        }
        manager.check_invariants().unwrap();
    });
}

#[test]
fn a_touch_racing_a_sign_out_never_lands_on_the_session_that_takes_its_slot() {
    loom::model(|| {
        let manager = manager(0);
        let table = Arc::new(table());
        let old = login(&manager, &table).unwrap();
        let toucher = touch_on_a_thread(&manager, old, NOW + 500);
        assert!(manager.sign_out(NOW, old));
        // The only session of an empty table: it may well take the freed slot.
        let new = login(&manager, &table).unwrap();
        if toucher.join().unwrap().is_ok() {
            assert!(manager.session_stats(old).is_none());
        }
        assert!(!touched_since_created(&manager, new), "the old session's touch landed here");
        manager.check_invariants().unwrap();
    });
}

#[test]
fn two_touches_racing_keep_the_newer_activity() {
    loom::model(|| {
        let manager = manager(0);
        let table = Arc::new(table());
        let id = login(&manager, &table).unwrap();
        let toucher = touch_on_a_thread(&manager, id, NOW + 7);
        manager.touch(NOW + 3, id).unwrap();
        toucher.join().unwrap().unwrap();
        assert_eq!(last_activity(&manager, id), NOW + 7);
        manager.check_invariants().unwrap();
    });
}

#[test]
fn a_sign_out_and_a_login_racing_a_drained_full_queue_count_every_session_and_event_once() {
    loom::model(|| {
        // One shard, so the sign-out (ended and recycled under the shard's lock) and the login
        // (counted under it) meet on one lock; a queue of one, so each push may find it full
        // without taking its mutex while the main thread drains it.
        let manager = manager_with(Config { events_max: 1, ..Config::default() });
        let table = Arc::new(table());
        let first = login(&manager, &table).unwrap();
        let signing_out = {
            let manager = manager.clone();
            thread::spawn(move || assert!(manager.sign_out(NOW, first)))
        };
        let logging_in = {
            let (manager, table) = (manager.clone(), table.clone());
            thread::spawn(move || login(&manager, &table).unwrap())
        };
        let mut drained = u64::from(manager.poll_event().is_some());
        signing_out.join().unwrap();
        let second = logging_in.join().unwrap();
        assert_ne!(first, second);
        while manager.poll_event().is_some() {
            drained += 1;
        }
        let stats = manager.stats();
        assert_eq!((stats.opened, stats.signed_out, stats.active), (2, 1, 1));
        // Two logins and a sign-out: three events, each delivered or counted dropped.
        assert_eq!(drained + stats.events_dropped, 3);
        assert_eq!(stats.events_queued, 0);
        manager.check_invariants().unwrap();
    });
}
