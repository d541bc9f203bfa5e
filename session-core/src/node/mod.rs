//! One graph node as a sans-I/O machine: [`GraphNode`] owns the node's session registry
//! ([`SessionManager`](crate::server::SessionManager), with the query registries of its
//! shards) and its cluster sync ([`NodeSync`](crate::cluster::NodeSync)), and every rule a
//! graph server must follow between its connections, its registry and meta. A host (a
//! NebulaGraph-wire server, the simulator) decodes requests, feeds them in, and carries out what
//! comes out; it decides nothing.
//!
//! # The host contract
//!
//! Inputs, each with the host's clock in Unix milliseconds as `now`:
//!
//! | the host sees | it calls |
//! |---|---|
//! | a request decoded on a connection | [`GraphNode::handle_request`] with a [`Request`]: the password already checked against the host's store ([`PasswordCheck`](crate::server::PasswordCheck)), the statement parsed into a [`Statement`] |
//! | a connection closed | [`GraphNode::handle_connection_closed`] |
//! | meta's answer | [`GraphNode::handle_answer`] |
//! | [`GraphNode::poll_timeout`]'s time | [`GraphNode::handle_timeout`] |
//! | the executor returned a query | [`GraphNode::finish_query`] or [`GraphNode::fail_query`], always |
//!
//! After each of them the host drains [`GraphNode::poll_output`] until `None`, in order:
//!
//! | output | what the host must do |
//! |---|---|
//! | [`Output::Reply`] | write the reply on that connection if it is still open; never on another |
//! | [`Output::ToMeta`] | send the request to meta (its answer comes back through `handle_answer`; a lost one is re-sent by the node after its timeout) |
//! | [`Output::Run`] | run the statement on the executor: its permission check on the query's caller first, the kill handle checked between batches; then `finish_query` / `fail_query` |
//! | [`Output::SetPassword`] / [`Output::ForgetPassword`] | update the host's password store (hash the password, keep nothing in clear) |
//! | [`Output::Event`] | log or count it; nothing is required |
//!
//! What the node does so the host need not (each a rule NebulaGraph's graph service gets wrong or
//! leaves to chance): an authenticate is answered only after meta registered the session, and
//! that answer counts as activity; an execute of a session held elsewhere waits for its pick-up
//! from meta, and one of a session restored from a snapshot ([`GraphNode::restore`]) waits until
//! meta confirmed the session live, so a session killed after the snapshot never serves again;
//! a connection that signed a session out is held until meta confirmed the removal,
//! so the reply to its next request proves the sign-out is durable; a connection that closes
//! before its session's id was sent signs that session out; session statements run as queries
//! of their session; the registry's idle timer only evicts the node's own copy of an idle session
//! (its hold is released at meta, which ends the session only if no holder saw it active within
//! the idle timeout), so a session in use on another node is never ended by this one; a query
//! past its timeout (the registry's `query_timeout_ms`, or its session's own `SET SESSION
//! query_timeout_ms`) is killed at `poll_timeout`'s time and answered -1005 "Execution had been
//! killed: query timed out", never as a success, and a statement of the node's own waiting on
//! meta is answered so at its deadline.
//!
//! # Example: a host loop with a fake transport
//!
//! ```
//! use graphsession_core::client::ConnectionId;
//! use graphsession_core::cluster::{MetaConfig, MetaStore, NodeId};
//! use graphsession_core::node::{Config, GraphNode, Output, Parts, Reply, Request, Statement};
//! use graphsession_core::server::PasswordCheck;
//! use graphsession_id_gen::{PlanIdGenerator, PlanLease, SealKey, SessionIdConfig};
//! use graphsession_id_gen::{SessionIdGenerator, SessionLease};
//! use graphsession_permission::RoleTable;
//!
//! let lease = SessionLease { slot: 1, floor_unix_ms: 0, bound_unix_ms: 1_900_000_000_000 };
//! let ids = SessionIdGenerator::new(lease, SealKey::from_bytes(*b"from the secrets"), SessionIdConfig::default())?;
//! let plans = PlanIdGenerator::new(PlanLease { slot: 1, floor_counter: 0, bound_counter: 1 << 30 })?;
//! let mut now = 1_763_900_000_000;
//! let mut node = GraphNode::new(Config::default(), Parts { session_ids: Box::new(ids), plan_ids: plans }, now)?;
//! let mut meta = MetaStore::new(MetaConfig::default())?;
//! let mut roles = RoleTable::with_god("root")?;
//!
//! // The fake transport: replies written per connection; meta answers at once.
//! let mut written: Vec<(ConnectionId, Reply)> = Vec::new();
//! let mut pump = |node: &mut GraphNode, meta: &mut MetaStore, roles: &mut RoleTable, now: u64,
//!                 written: &mut Vec<(ConnectionId, Reply)>| {
//!     while let Some(output) = node.poll_output() {
//!         match output {
//!             Output::Reply { connection, reply } => written.push((connection, reply)),
//!             Output::ToMeta(request) => {
//!                 let answer = meta.handle_request(now, node.node_id(), request);
//!                 node.handle_answer(now, answer, roles);
//!             }
//!             Output::Run { query, .. } => {
//!                 let key = graphsession_query_plan::QueryKey { session: query.session, plan: query.plan };
//!                 node.finish_query(now, key, None, roles);
//!             }
//!             _ => {}
//!         }
//!     }
//! };
//!
//! let conn = ConnectionId(1);
//! let login = Request::Authenticate { user: "root".into(), client_ip: "10.0.0.1".into(), password: PasswordCheck::Verified };
//! node.handle_request(now, conn, login, &mut roles);
//! pump(&mut node, &mut meta, &mut roles, now, &mut written);
//! let Some((_, Reply::Authenticated { session_id, .. })) = written.pop() else { panic!("no session") };
//!
//! now += 5;
//! let go = Request::Execute { session_id, statement: Statement::Query { text: "YIELD 1".into() } };
//! node.handle_request(now, conn, go, &mut roles);
//! pump(&mut node, &mut meta, &mut roles, now, &mut written);
//! assert!(matches!(written.pop(), Some((_, Reply::Executed { .. }))));
//! node.check_invariants()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
#[cfg(feature = "corruption")]
mod corrupt;
mod error;
mod events;
mod invariants;
mod machine;
mod output;
mod reply;
mod request;
mod requests;
mod statement_text;
mod statements;

pub use config::{CLIENT_VERSIONS_DEFAULT, Config};
#[cfg(feature = "corruption")]
pub use corrupt::{NodeCorruption, NodeRestore};
pub use error::{CommandError, NodeStartError};
pub use machine::{GraphNode, KillQueryOutcome, Parts};
pub use output::{Event, Output, Secret};
pub use reply::{DataSet, E_CLIENT_SERVER_INCOMPATIBLE, KILLED_SESSIONS_COLUMN, Reply, Value};
pub use request::{Request, SessionStatement, Statement};
