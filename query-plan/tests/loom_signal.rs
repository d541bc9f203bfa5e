//! Loom: every interleaving of a kill with the executor's finish and checkpoints ends with exactly
//! one recorded outcome, and the executor, the killer and the registry all see that same one.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=/work/target-queryplan-loom
//! cargo test --release -p graphsession-query-plan --test loom_signal`
#![cfg(loom)]
#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use graphsession_base::sync::{Arc, Mutex};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_query_plan::{
    Config, Kill, KillCause, KillOutcome, Killed, QueryError, QueryHandle, QueryOutcome,
    QueryRegistry, Registration,
};

/// How many of loom's executions the finish won and the kill won. Plain std atomics: they count
/// across executions, outside the model, so a test can prove that loom explored both orders.
struct Winners {
    finish: std::sync::atomic::AtomicU32,
    kill: std::sync::atomic::AtomicU32,
}

impl Winners {
    const fn new() -> Winners {
        Winners {
            finish: std::sync::atomic::AtomicU32::new(0),
            kill: std::sync::atomic::AtomicU32::new(0),
        }
    }

    fn count(&self, executor: Result<(), Killed>) {
        let winner = if executor.is_ok() { &self.finish } else { &self.kill };
        winner.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn assert_both_seen(&self) {
        let finish = self.finish.load(std::sync::atomic::Ordering::Relaxed);
        let kill = self.kill.load(std::sync::atomic::Ordering::Relaxed);
        assert!(finish > 0 && kill > 0, "finish won {finish} times, kill won {kill} times");
    }
}

const SESSION: SessionId = SessionId::new(7).unwrap();
const PLAN: PlanId = PlanId::from_u64(1);

fn registry_with_one_query() -> (Arc<Mutex<QueryRegistry>>, QueryHandle) {
    let mut registry = QueryRegistry::new(Config::default());
    registry.open_session(SESSION, "alice", "graphd:9669").unwrap();
    let registration =
        Registration { session: SESSION, plan: PLAN, statement: "GO", deadline_unix_us: None };
    let handle = registry.register(1, registration).unwrap();
    (Arc::new(Mutex::new(registry)), handle)
}

fn kill_by_root() -> Kill {
    Kill::ByUser { user: "root".to_owned() }
}

#[test]
fn kill_racing_finish_records_one_outcome_that_both_sides_see() {
    static WINNERS: Winners = Winners::new();
    loom::model(|| {
        let (registry, handle) = registry_with_one_query();
        let killer = {
            let registry = registry.clone();
            loom::thread::spawn(move || {
                registry.lock().unwrap().request_kill(SESSION, PLAN, kill_by_root())
            })
        };
        // The executor: finishes through its handle, then the host removes the query.
        let executor = handle.finish();
        let recorded = registry.lock().unwrap().finish(SESSION, PLAN).unwrap();
        let kill = killer.join().unwrap();

        match executor {
            Ok(()) => {
                assert_eq!(recorded, QueryOutcome::Finished);
                let not_found = QueryError::QueryNotFoundInSession { session: SESSION, plan: PLAN };
                assert_eq!(kill, Err(not_found));
            }
            Err(Killed { cause }) => {
                assert_eq!(cause, KillCause::User);
                assert_eq!(recorded, QueryOutcome::Killed(kill_by_root()));
                assert_eq!(kill, Ok(KillOutcome::Requested));
            }
        }
        assert_eq!(handle.finish(), executor, "the executor's answer never changes");
        WINNERS.count(executor);
        let registry = registry.lock().unwrap();
        registry.check_invariants().unwrap();
        let counters = registry.counters();
        assert_eq!((counters.started, counters.ended(), registry.query_count()), (1, 1, 0));
    });
    WINNERS.assert_both_seen();
}

#[test]
fn kill_racing_checkpoints_is_seen_at_the_first_checkpoint_after_it_and_forever() {
    static WINNERS: Winners = Winners::new();
    loom::model(|| {
        let (registry, handle) = registry_with_one_query();
        let executor = {
            let handle = handle.clone();
            loom::thread::spawn(move || {
                let checks = [handle.check(), handle.check()];
                (checks, handle.finish())
            })
        };
        let kill = registry.lock().unwrap().request_kill(SESSION, PLAN, Kill::SessionKilled);
        let (checks, finish) = executor.join().unwrap();
        let recorded = registry.lock().unwrap().finish(SESSION, PLAN).unwrap();

        // Once a checkpoint says killed, every later answer says killed, with the kill's cause.
        let killed = Err(Killed { cause: KillCause::SessionKilled });
        if checks[0].is_err() {
            assert_eq!(checks[1], killed);
        }
        for check in checks {
            assert!(check == Ok(()) || check == killed, "{check:?}");
        }
        if checks.iter().any(Result::is_err) {
            assert_eq!(finish, killed);
        }
        match finish {
            Ok(()) => {
                assert_eq!(recorded, QueryOutcome::Finished);
                assert!(kill.is_err());
            }
            Err(_) => {
                assert_eq!(finish, killed);
                assert_eq!(recorded, QueryOutcome::Killed(Kill::SessionKilled));
                assert_eq!(kill, Ok(KillOutcome::Requested));
            }
        }
        registry.lock().unwrap().check_invariants().unwrap();
        WINNERS.count(finish);
    });
    WINNERS.assert_both_seen();
}
