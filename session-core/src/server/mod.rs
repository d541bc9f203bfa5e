//! The session registry of one graph node: login, the execute path, USE, session variables,
//! query timeouts, sign-out, KILL SESSION, KILL QUERY, SHOW SESSIONS and idle expiry, with NebulaGraph's codes
//! and messages and its known defects fixed.
//!
//! NebulaGraph's graph node keeps its sessions in one map with a per-(user, ip) counter that
//! under-counts after 2 -> 1, checks the limit apart from the count change, reclaims a session
//! whose query outlives the idle timeout, never refreshes a session's roles, and scans every
//! session every reclaim interval. [`SessionManager`] fixes each of these (the numbered fixes are
//! explained, with the tests that prove them, in docs/fixes.md):
//!
//! - **Fix 2, exact limits.** The node count is reserved with one compare-and-swap against
//!   `sessions_max`; each (user, ip) count is checked and incremented in one critical section and
//!   decremented exactly once per session end (`limits.rs`).
//! - **Fix 3, a running query keeps its session.** Each session counts its running queries
//!   atomically; expiry never ends a session with one, and a query's end counts as activity.
//! - **Fix 4, current rights.** Each session caches a
//!   [`Caller`](graphsession_permission::Caller) with the role table's version and refreshes it
//!   at each request; a session whose user was dropped ends at its next request.
//! - **Expiry in proportion to what expires** (`expiry.rs`): per-shard deadline indexes and a
//!   cached earliest check, so an idle `handle_timeout` is one atomic load.
//!
//! # Threads and locks
//!
//! `SessionManager` is `Send + Sync`; every method takes `&self`. Sessions live in
//! `shard_count` shards chosen by a hash of the id. Each shard is a slot table of atomics plus an
//! `RwLock` (see `shard.rs` for why this over a concurrent-map crate or one `Mutex<HashMap>`, and
//! `table.rs` for the protocol). Find + touch ([`SessionManager::touch`], the first step of every
//! request) takes no lock at all: a probe of the slot table with plain loads and one
//! compare-and-swap on the session's activity word. The rest of the execute path takes one
//! shard's read lock; writers (login, end of a session, expiry) take its write lock. Queries are keyed by session, so each shard owns the
//! [`QueryRegistry`](graphsession_query_plan::QueryRegistry) of its sessions behind its own mutex,
//! taken after (never while holding) the shard lock. Executors check kills on their
//! [`QueryHandle`](graphsession_query_plan::QueryHandle) without any lock. The role table is the
//! host's: it passes `&RoleTable` to the calls that need current rights (it may keep it behind an
//! `RwLock` of its own; a version check makes an unchanged table cost one comparison). Every
//! atomic, lock and `Arc` comes from `graphsession_base::sync`, so `tests/loom_server.rs`
//! checks them under loom.
//!
//! # Call order (sans-I/O)
//!
//! Inputs: [`login`](SessionManager::login) with the outcome of the host's password check,
//! [`touch`](SessionManager::touch) or [`begin_query`](SessionManager::begin_query) per request,
//! [`finish_query`](SessionManager::finish_query) / [`fail_query`](SessionManager::fail_query)
//! when the executor returns (always, or the session never idles), and the statements
//! ([`use_space`](SessionManager::use_space), [`kill_sessions`](SessionManager::kill_sessions),
//! [`kill_query`](SessionManager::kill_query),
//! [`show_local_sessions`](SessionManager::show_local_sessions), ...).
//! Timers: call [`handle_timeout`](SessionManager::handle_timeout) when
//! [`poll_timeout`](SessionManager::poll_timeout)'s time has come, and read `poll_timeout` again
//! after each login (a spurious call is a no-op); likewise
//! [`handle_query_timeouts`](SessionManager::handle_query_timeouts) at
//! [`poll_query_timeout`](SessionManager::poll_query_timeout)'s time, read again after each
//! `begin_query` (queries time out after `Config::query_timeout_ms` or their session's
//! [`QUERY_TIMEOUT_VARIABLE`], `timeouts.rs`; docs/fixes.md, "Query timeouts"). Effects: drain
//! [`poll_event`](SessionManager::poll_event) until `None` after each call. `now` is the first
//! argument of every input and command (Unix milliseconds), as in every machine of this
//! workspace: `login(now, login, table)`, `touch(now, id)`, `begin_query(now, id, statement,
//! table)`; one older than a `now` already seen is clamped to it.
//!
//! The registry differs from the other machines in one way, on purpose: every method takes
//! `&self` and it is `Sync`, because a graph server's executor threads share it and find + touch
//! must take no lock. So each call returns its own result instead of queueing a reply, and only
//! the audit events are drained with `poll_event`.
//!
//! In a cluster, sync reads and changes the registry through
//! [`cluster_sessions`](SessionManager::cluster_sessions),
//! [`install_session`](SessionManager::install_session),
//! [`adopt_space`](SessionManager::adopt_space),
//! [`end_from_cluster`](SessionManager::end_from_cluster) and
//! [`kill_from_cluster`](SessionManager::kill_from_cluster) (`cluster_hooks.rs`), adapted by
//! [`cluster::ServerRegistry`](crate::cluster::ServerRegistry); meta then decides idle expiry,
//! and [`node::GraphNode`](crate::node::GraphNode) runs `handle_timeout` only to evict the node's
//! own copy of an idle session (its hold is released at meta).
//!
//! # Example: how an engine wires it
//!
//! ```
//! use graphsession_core::server::{Config, Event, Login, PasswordCheck, SessionManager};
//! use graphsession_id_gen::{PlanIdGenerator, PlanLease, SealKey, SessionIdConfig};
//! use graphsession_id_gen::{SessionIdGenerator, SessionLease};
//! use graphsession_permission::{Caller, Policy, Role, RoleTable};
//! use graphsession_query_plan::KillTarget;
//!
//! // Start-up: leased id generators, the role table, the registry.
//! let lease = SessionLease { slot: 7, floor_unix_ms: 0, bound_unix_ms: 1_900_000_000_000 };
//! let key = SealKey::from_bytes(*b"from the secrets");
//! let ids = SessionIdGenerator::new(lease, key, SessionIdConfig::default())?;
//! let plans = PlanIdGenerator::new(PlanLease {
//!     slot: 7,
//!     floor_counter: 0,
//!     bound_counter: 1 << 30,
//! })?;
//! let graph_addr = "graphd-1:9669".to_owned();
//! let config = Config { policy: Policy::ENFORCED, graph_addr, ..Config::default() };
//! let sessions = SessionManager::new(config, ids, plans)?;
//! let mut table = RoleTable::new();
//! let root = Caller::resolve(&table, "root", None);
//! table.create_user(&root, Policy::ENFORCED, "alice")?;
//! table.grant(&root, Policy::ENFORCED, Role::User, "nba", "alice")?;
//! let now = 1_763_900_000_000;
//!
//! // Authenticate: the host checks the password, the registry does the rest.
//! let login = Login { user: "alice", client_ip: "10.0.0.1", password: PasswordCheck::Verified };
//! let session = sessions.login(now, login, &table)?.get(); // what the client sends back
//!
//! // Execute: one call per request; run the statement's permission check on `caller`.
//! sessions.use_space(now, session, "nba", &table)?;
//! let query = sessions.begin_query(now, session, "GO FROM 1 OVER follow", &table)?;
//! graphsession_permission::check_read_current_space(&query.caller, Policy::ENFORCED)?;
//! query.handle.check()?; // the executor, between batches
//! let _outcome = sessions.finish_query(now + 3, query.session, query.plan)?;
//!
//! // SHOW SESSIONS and KILL SESSION, as GOD.
//! let rows = sessions.show_local_sessions(&root)?;
//! assert_eq!((rows[0].user_name.as_str(), rows[0].space_name.as_str()), ("alice", "nba"));
//! let running = sessions.begin_query(now + 4, session, "GO FROM 2 OVER follow", &table)?;
//! let target = KillTarget::Session { session: running.session, plan: running.plan };
//! sessions.kill_query(&root, running.session, target)?;
//! assert!(running.handle.check().is_err());
//! assert_eq!(sessions.kill_sessions(now + 5, &root, &[session])?, 1);
//! assert_eq!(sessions.touch(now + 6, session).unwrap_err().code(), -1002);
//!
//! // The timer and the audit trail.
//! if let Some(at) = sessions.poll_timeout() {
//!     let _expired = sessions.handle_timeout(at);
//! }
//! while let Some(event) = sessions.poll_event() {
//!     if let Event::Session { session, change, .. } = event {
//!         let _ = (session, change); // log or forward
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Performance: dated figures with their commentary are in docs/benchmarks-history.md.

mod audit;
mod callers;
mod capture;
mod clock;
mod cluster_hooks;
mod config;
#[cfg(feature = "corruption")]
mod corrupt;
mod ending;
mod error;
mod execute;
mod expiry;
mod hash;
mod idle_checks;
mod invariants;
mod limits;
mod manager;
mod metrics;
mod session;
mod shard;
mod show;
mod snapshot;
mod snapshot_body;
mod snapshot_codec;
mod table;
mod throttle;
mod timeouts;

pub use audit::{Change, EndReason, Event, HistoryEntry, Refusal};
pub use capture::Capture;
pub use cluster_hooks::{ClusterEnd, ClusterSessionState, ClusterSessionView, InstalledSession};
pub use config::{
    CLIENT_IP_BYTES_MAX, Config, GRAPH_ADDR_BYTES_MAX, IDLE_TIMEOUT_MS_MAX, IDLE_TIMEOUT_MS_MIN,
    NOW_UNIX_MS_MAX, QUERY_TIMEOUT_MS_MAX, QUERY_TIMEOUT_VARIABLE, SHARD_COUNT_MAX,
};
#[cfg(feature = "corruption")]
pub use corrupt::{ManagerCorruption, ManagerRestore, UserIpHold};
pub use error::{ConfigError, ServerError, SnapshotError, TouchError, error_code};
pub use execute::QueryStart;
pub use manager::{Login, SessionManager};
pub use metrics::{NodeStats, SessionStats};
pub use session::Origin;
pub use show::{SESSION_COLUMNS, SessionDetail, SessionRow};
pub use snapshot::{RestoreParts, SNAPSHOT_FORMAT_VERSION, Snapshot};
pub use snapshot_body::{LockoutRecord, SessionRecord, SnapshotBody};
pub use throttle::PasswordCheck;
pub use timeouts::QUERY_TIMED_OUT;

/// The registry is shared among the host's threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SessionManager>();
};
