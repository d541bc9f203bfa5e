//! Loom: killing all queries of a session, or closing it, racing a register in that session. A
//! query registered before the kill is killed, one registered after it runs (or, after a close, is
//! refused); never a query that escapes a kill it preceded.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=/work/target-queryplan-loom
//! cargo test --release -p graphsession-query-plan --test loom_registry`
#![cfg(loom)]
#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use graphsession_base::sync::{Arc, Mutex};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_query_plan::{
    Config, Kill, KillCause, Killed, QueryError, QueryPhase, QueryRegistry, Registration,
    SessionClosed, SessionEnd,
};

/// Counts, across loom's executions (plain std atomics, outside the model), how often each order
/// ran, so a test proves that loom explored both.
struct Orders {
    kill_first: std::sync::atomic::AtomicU32,
    register_first: std::sync::atomic::AtomicU32,
}

impl Orders {
    const fn new() -> Orders {
        Orders {
            kill_first: std::sync::atomic::AtomicU32::new(0),
            register_first: std::sync::atomic::AtomicU32::new(0),
        }
    }

    fn count(&self, register_first: bool) {
        let order = if register_first { &self.register_first } else { &self.kill_first };
        order.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn assert_both_seen(&self) {
        let kill_first = self.kill_first.load(std::sync::atomic::Ordering::Relaxed);
        let register_first = self.register_first.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            kill_first > 0 && register_first > 0,
            "{kill_first} kill first, {register_first} register first"
        );
    }
}

const SESSION: SessionId = SessionId::new(7).unwrap();
const FIRST: PlanId = PlanId::from_u64(1);
const SECOND: PlanId = PlanId::from_u64(2);

fn registration(plan: PlanId) -> Registration<'static> {
    Registration { session: SESSION, plan, statement: "GO", deadline_unix_us: None }
}

fn registry_with_first_query() -> Arc<Mutex<QueryRegistry>> {
    let mut registry = QueryRegistry::new(Config::default());
    registry.open_session(SESSION, "alice", "graphd:9669").unwrap();
    drop(registry.register(1, registration(FIRST)).unwrap());
    Arc::new(Mutex::new(registry))
}

#[test]
fn kill_all_of_a_session_racing_register_kills_exactly_the_queries_registered_before_it() {
    static ORDERS: Orders = Orders::new();
    loom::model(|| {
        let registry = registry_with_first_query();
        let executor = {
            let registry = registry.clone();
            loom::thread::spawn(move || {
                let handle = registry.lock().unwrap().register(2, registration(SECOND)).unwrap();
                let check = handle.check();
                (handle, check)
            })
        };
        let killed =
            registry.lock().unwrap().request_kill_session(SESSION, &Kill::SessionKilled).unwrap();
        let (handle, check) = executor.join().unwrap();

        let registry = registry.lock().unwrap();
        assert_eq!(
            registry.phase(SESSION, FIRST),
            Some(QueryPhase::KillRequested(KillCause::SessionKilled))
        );
        match killed {
            // The kill ran before the register: the second query runs untouched.
            1 => {
                assert_eq!(handle.phase(), QueryPhase::Running);
                assert_eq!(check, Ok(()));
            }
            // The kill ran after the register: the second query is killed, whatever its checkpoint
            // saw.
            2 => {
                let killing = QueryPhase::KillRequested(KillCause::SessionKilled);
                assert_eq!(handle.phase(), killing);
                assert_eq!(handle.check(), Err(Killed { cause: KillCause::SessionKilled }));
            }
            other => panic!("{other} kills"),
        }
        registry.check_invariants().unwrap();
        ORDERS.count(killed == 2);
    });
    ORDERS.assert_both_seen();
}

#[test]
fn close_session_racing_register_either_kills_the_new_query_or_refuses_it() {
    static ORDERS: Orders = Orders::new();
    loom::model(|| {
        let registry = registry_with_first_query();
        let executor = {
            let registry = registry.clone();
            loom::thread::spawn(move || {
                let handle = registry.lock().unwrap().register(2, registration(SECOND));
                handle.map(|handle| (handle.check(), handle))
            })
        };
        let closed = registry.lock().unwrap().close_session(SESSION, SessionEnd::Expired).unwrap();
        let registered = executor.join().unwrap();

        let killed = Err(Killed { cause: KillCause::SessionExpired });
        ORDERS.count(registered.is_ok());
        match registered {
            Err(error) => {
                assert_eq!(error, QueryError::SessionNotFound { session: SESSION });
                assert_eq!(closed, SessionClosed { queries_ended: 1, queries_killed: 1 });
            }
            Ok((_, handle)) => {
                assert_eq!(closed, SessionClosed { queries_ended: 2, queries_killed: 2 });
                assert_eq!(handle.check(), killed);
                assert_eq!(handle.finish(), killed);
            }
        }
        let registry = registry.lock().unwrap();
        assert_eq!((registry.query_count(), registry.session_count()), (0, 0));
        registry.check_invariants().unwrap();
    });
    ORDERS.assert_both_seen();
}
