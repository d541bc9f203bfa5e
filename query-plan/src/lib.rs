//! The query lifecycle of one graph node: a registry of running queries, SHOW QUERIES, KILL QUERY,
//! kills an executor sees in nanoseconds, and query timeouts.
//!
//! In NebulaGraph a kill is a mark the executor notices at its next check, plan ids collide across
//! nodes and restarts (so a stale kill can hit a new query), every user sees every user's query
//! text, and there is no query timeout. Here every query ends exactly once, a kill can only hit the
//! query it names (plan ids come from `graphsession-id-gen`), and an executor learns of a kill with
//! one atomic load.
//!
//! # The lifecycle
//!
//! A query is [`Running`](QueryPhase::Running) from [`QueryRegistry::register`] on. A kill (KILL
//! QUERY, its deadline, its session killed or expired) moves it to
//! [`KillRequested`](QueryPhase::KillRequested), NebulaGraph's KILLING: the outcome is decided, the
//! executor stops at its next checkpoint. It ends in exactly one terminal phase,
//! [`Finished`](QueryPhase::Finished), [`Failed`](QueryPhase::Failed) or
//! [`Killed`](QueryPhase::Killed); terminal phases are absorbing, illegal transitions are
//! [`TransitionError`]s ([`QueryPhase::apply`] is the one transition table). The registry removes
//! each query once ([`finish`](QueryRegistry::finish), [`fail`](QueryRegistry::fail), or
//! [`close_session`](QueryRegistry::close_session)) and returns the [`QueryOutcome`] it recorded; a
//! killed query's client gets [`QueryError::Killed`], -1005 "Execution had been killed".
//!
//! # Kill racing finish
//!
//! The phase lives in one atomic word shared by the registry and the executor ([`QueryHandle`]).
//! The kill and the executor's [`QueryHandle::finish`] are both a compare-and-swap on it, so
//! exactly one wins, and everyone reads the winner from the same word:
//!
//! | winner | executor's `finish` / `check` | the kill | the registry records |
//! |---|---|---|---|
//! | finish | `Ok(())` | E_QUERY_NOT_FOUND (-2073): the query has ended | `Finished` |
//! | kill | `Err(Killed { cause })` | `Ok(KillOutcome::Requested)` | `Killed(kill)` |
//!
//! The loom tests (`tests/loom_*.rs`) check this for every interleaving.
//!
//! # Timeouts
//!
//! A query may carry a deadline (microseconds since the Unix epoch). Deadlines sit in a min-heap
//! ordered by `(deadline, session, plan)`: [`QueryRegistry::poll_timeout`] reads its top (O(1)),
//! [`QueryRegistry::handle_timeout`] pops the expired prefix and kills those queries with
//! [`KillCause::Timeout`] (O(expired · log n), never a scan of every query). A query leaves
//! the index when it is killed or removed. `now` is always an argument; one older than a `now`
//! already seen is clamped to it, so nothing expires early and nothing panics.
//!
//! # Sessions and permissions
//!
//! Sessions are opened with the registry ([`QueryRegistry::open_session`], with their user and
//! host) and closed with it ([`QueryRegistry::close_session`], which kills their queries); so "the
//! session exists" in KILL QUERY means "open in this registry". SHOW QUERIES applies deliberate fix
//! 7 and KILL QUERY fix 6 (both explained in docs/fixes.md), with the decisions of
//! `graphsession-permission` ([`may_see_queries_of`](graphsession_permission::may_see_queries_of),
//! [`check_kill_query`](graphsession_permission::check_kill_query)). Everything is bounded
//! ([`Config`]) with a typed error at each bound, and a refused operation changes nothing.
//!
//! # Example: an executor loop honouring kills
//!
//! ```
//! use graphsession_id_gen::{PlanId, SessionId};
//! use graphsession_query_plan::{
//!     Config, Kill, KillCause, Killed, QueryError, QueryHandle, QueryOutcome, QueryRegistry,
//!     Registration,
//! };
//!
//! /// The executor: runs on its own thread in a server, checks its handle between batches.
//! fn execute(handle: &QueryHandle, batches: u32) -> Result<u32, Killed> {
//!     let mut rows = 0;
//!     for _ in 0..batches {
//!         handle.check()?; // one atomic load
//!         rows += 100; // ... one batch of work ...
//!     }
//!     handle.finish()?; // a kill that came first wins here too
//!     Ok(rows)
//! }
//!
//! let mut registry = QueryRegistry::new(Config::default());
//! let session = SessionId::new(42).unwrap();
//! let now_unix_us = 1_763_900_000_000_000;
//! registry.open_session(session, "alice", "graphd-1:9669")?;
//!
//! let plan = PlanId::from_u64(1);
//! let statement = "GO FROM 1 OVER follow";
//! let deadline_unix_us = Some(now_unix_us + 30_000_000); // a 30 s timeout
//! let query = Registration { session, plan, statement, deadline_unix_us };
//! let handle = registry.register(now_unix_us, query)?;
//! assert_eq!(execute(&handle, 3), Ok(300));
//! assert_eq!(registry.finish(session, plan)?, QueryOutcome::Finished);
//!
//! // The next query runs past its deadline: the host's timer fires, the executor stops.
//! let plan = PlanId::from_u64(2);
//! let query = Registration { session, plan, statement, deadline_unix_us };
//! let handle = registry.register(now_unix_us, query)?;
//! assert_eq!(registry.poll_timeout(), deadline_unix_us);
//! assert_eq!(registry.handle_timeout(now_unix_us + 31_000_000), 1);
//! assert_eq!(execute(&handle, 3), Err(Killed { cause: KillCause::Timeout }));
//! let outcome = registry.finish(session, plan)?;
//! assert!(matches!(outcome, QueryOutcome::Killed(Kill::Timeout { .. })));
//! let error = outcome.into_client_result().unwrap_err();
//! assert_eq!((error.code(), error.to_string()), (-1005, "Execution had been killed".to_owned()));
//! # Ok::<(), QueryError>(())
//! ```
//!
//! # Feature `corruption`
//!
//! Off by default. It adds `QueryRegistry::corrupt` and `QueryRegistry::undo_corruption`: break
//! exactly one invariant of a live registry (`RegistryCorruption`, each naming the property
//! `QueryRegistry::check_invariants` must report, or none for a bound met exactly), then put
//! it back. The simulator enables it to show, on the registries its runs reach, that the checker
//! reports what it should: a checker made weaker is otherwise invisible to it.
//!
//! # Performance
//!
//! Measured on the project's 2-core AMD EPYC (Zen 4) machine, 2026-11-23, with
//! `cargo bench -p graphsession-query-plan --bench registry -- --warm-up-time 1 --measurement-time 3`
//! (criterion median, other processes reniced), with the ordered maps of that time:
//!
//! | operation | time | target |
//! |---|---|---|
//! | `QueryHandle::check`, the executor's checkpoint | 1.1 ns | at most 2 ns |
//! | register + finish, 10k queries running, with a deadline | 766 ns | |
//! | `handle_timeout` with 100k running queries of which 1% (1,000) expire | 176 µs (176 ns per expired query) | |
//!
//! Register + finish is two hash-map probes each way (the session's entry and the query's, with a
//! fixed hasher), an O(1) deadline-index step in the common cases, and no allocation once the
//! registry has recycled a finished query's statement buffer and handle; it is not on the
//! executor's per-row path, the checkpoint is. Instruction counts (callgrind, load-independent),
//! wall times of 2026-12-06 and the commands are in docs/benchmarks-history.md: 2,665 -> 804 -> 637
//! instructions per register + finish (565 of them in the registry, the rest the bench's loop).
//!

mod config;
#[cfg(feature = "corruption")]
mod corrupt;
mod error;
mod invariants;
mod kill;
mod lifecycle;
mod metrics;
mod recycle;
mod registry;
mod show;
mod signal;
mod tables;
mod timeouts;

pub use config::{Config, HOST_BYTES_MAX, USER_NAME_BYTES_MAX};
#[cfg(feature = "corruption")]
pub use corrupt::{RegistryCorruption, RegistryRestore};
pub use error::{QueryError, error_code};
/// What [`QueryRegistry::check_invariants`] returns (the workspace's one violation type).
pub use graphsession_base::Violation;
pub use kill::KillTarget;
pub use lifecycle::{Kill, KillCause, QueryEvent, QueryOutcome, QueryPhase, TransitionError};
pub use metrics::QueryCounters;
pub use registry::{KillOutcome, QueryKey, QueryRegistry, Registration, SessionClosed, SessionEnd};
pub use show::{QueryRow, QueryStatus};
pub use signal::{Killed, QueryHandle};

/// The registry moves between threads behind the host's lock; handles are shared with executors.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<QueryRegistry>();
    assert_send_sync::<QueryHandle>();
};
