//! Sessions shared by many graph nodes through a meta store (NebulaGraph's meta-server role),
//! as two sans-I/O machines: [`MetaStore`] on the meta side and [`NodeSync`] on each graph node,
//! exchanging plain serde values ([`Request`], [`Answer`]) over the host's transport.
//!
//! A node sends one [`Request`] at a time, on its sync timer or at once when something is urgent,
//! carrying only what changed (the timer's round reads every session held; an urgent round only
//! what it carries, through [`LocalSessions::session`]); meta applies it and answers with what its change log holds for that
//! node. Everything is idempotent and retried until acknowledged, so lost, duplicated and
//! reordered messages cost time, never correctness. Meta decides idle expiry from every holder's
//! votes (fix 3 across nodes, NebulaGraph issue 5094), the space is a last-writer-wins register
//! (issue 5585), and kill marks name a (session, plan) pair (fix 5); docs/fixes.md explains each.
//! Each node also reports its running queries when they change, which SHOW QUERIES lists from
//! meta and a KILL QUERY from another node is checked against, as in NebulaGraph.
//! [`ServerRegistry`] plugs a node's [`SessionManager`](crate::server::SessionManager) in as its
//! [`LocalSessions`].
//!
//! The full protocol, the staleness bound for kills, SHOW SESSIONS and SHOW QUERIES, the limits,
//! and the contract the host's replicated store must meet are in docs/cluster-protocol.md.
//!
//! # Example: a host loop
//!
//! ```
//! use graphsession_core::cluster::{
//!     GoneReason, LocalSessions, MetaConfig, MetaStore, NodeConfig, NodeId, NodeSync,
//!     SessionRecord, SessionReport,
//! };
//! use graphsession_id_gen::SessionId;
//! use graphsession_query_plan::QueryKey;
//! use std::collections::BTreeMap;
//!
//! /// The node's registry, reduced to what sync needs.
//! #[derive(Default)]
//! struct Registry(BTreeMap<SessionId, SessionReport>);
//!
//! impl LocalSessions for Registry {
//!     fn sessions(&self) -> Vec<SessionReport> {
//!         self.0.values().cloned().collect()
//!     }
//!     // Optional: the default reads every session to find one.
//!     fn session(&self, session: SessionId) -> Option<SessionReport> {
//!         self.0.get(&session).cloned()
//!     }
//!     fn install(&mut self, record: &SessionRecord) {
//!         self.0.entry(record.session).or_insert_with(|| SessionReport {
//!             session: record.session,
//!             user: record.user.clone(),
//!             client_ip: record.client_ip.clone(),
//!             space: record.space.clone(),
//!             space_set_unix_ms: record.space_set_unix_ms,
//!             created_unix_ms: record.created_unix_ms,
//!             last_activity_unix_ms: record.last_activity_unix_ms,
//!             running_queries: 0,
//!         });
//!     }
//!     fn adopt_space(&mut self, _record: &SessionRecord) -> bool {
//!         false
//!     }
//!     fn drop_session(&mut self, session: SessionId, _reason: GoneReason) {
//!         self.0.remove(&session);
//!     }
//!     fn kill_query(&mut self, _key: QueryKey) -> bool {
//!         false
//!     }
//! }
//!
//! let now = 1_763_900_000_000;
//! let mut meta = MetaStore::new(MetaConfig::default())?;
//! let mut node = NodeSync::new(NodeConfig::default(), 1, now)?;
//! let mut registry = Registry::default();
//!
//! // A login on this node: the registry creates the session, sync announces it.
//! let session = SessionId::new(42).unwrap();
//! registry.0.insert(session, SessionReport::logged_in(session, "alice", "10.0.0.1", now));
//! node.announce(now, session)?;
//!
//! // The host loop: timer, send, answer (here the transport is a function call).
//! if node.poll_timeout().is_some_and(|at| at <= now) {
//!     node.handle_timeout(now, &registry);
//! }
//! while let Some(request) = node.poll_request() {
//!     let answer = meta.handle_request(now, NodeId(1), request);
//!     let _persist = meta.snapshot(); // commit first: docs/cluster-protocol.md, the contract
//!     node.handle_answer(now, answer, &mut registry);
//! }
//! while let Some(event) = node.poll_event() {
//!     let _ = event; // Registered, Reloaded, ...
//! }
//! assert_eq!(meta.session(session).map(|record| record.owner), Some(NodeId(1)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod error;
mod local;
mod messages;
mod meta;
mod node;
mod persist;
mod server_registry;
mod show;

pub use config::{MetaConfig, NodeConfig};
pub use error::{ConfigError, NodeError, PersistError, error_code};
pub use local::{LocalSessions, SessionState};
pub use messages::{
    Answer, Gone, GoneReason, IdleVote, ListedQuery, NodeId, Page, QueryKill, QueryKillResult,
    QueryReport, Refusal, ReloadFrom, Removal, RemovalOutcome, RemoveReason, Reply, Request,
    RequestId, SessionRecord, SessionReport,
};
pub use meta::MetaStore;
pub use meta::answer::HolderView;
pub use node::{NodeEvent, NodeSync};
pub use persist::{META_FORMAT_VERSION, META_FORMAT_VERSION_OLDEST, MetaCapture, MetaSnapshot};
pub use server_registry::{CLUSTER_KILL_USER, ServerRegistry};
pub use show::{session_row, show_sessions_rows};
