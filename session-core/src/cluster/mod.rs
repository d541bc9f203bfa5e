//! Sessions shared by many graph nodes through a meta store (NebulaGraph's meta-server role),
//! as two sans-I/O machines: [`MetaStore`] on the meta side and [`NodeSync`] on each graph node,
//! exchanging plain serde values ([`Request`], [`Answer`]) over the host's transport.
//!
//! # The protocol
//!
//! A node sends one [`Request`] at a time: every `sync_interval_ms` (NebulaGraph's reclaim
//! interval, 60 s), and at once when something is urgent (a login to announce, a removal, a
//! KILL QUERY for another node, a pick-up, SHOW SESSIONS, a backlog). A request carries
//! only what changed since meta last acknowledged it (created sessions, changed sessions, at most
//! `sync_batch_sessions_max`), the node's expiry votes, every unacknowledged removal, kill and
//! pick-up, and the node's position in meta's change log. Meta applies it and answers with the
//! outcome of each item plus everything in its change log after that position that concerns
//! this node (sessions gone, sessions whose space changed, queries to kill), bounded per answer.
//!
//! Lost, duplicated, delayed and reordered messages: request ids grow per node (across restarts,
//! through the host's `incarnation`); meta applies only a request newer than the last it applied
//! from that node, and the node applies only the answer to the request it has in flight. A
//! request unanswered after `request_timeout_ms` is abandoned and its content sent again in a
//! new request (after a backoff); everything in a request is idempotent and stays pending on the
//! node until an answer acknowledges it, and the change-log position advances only when an
//! answer is applied. So a lost message costs one timeout, and a duplicate or late answer is
//! ignored except for its idempotent parts: the sessions it says are gone and the queries it
//! says to kill still apply (meta never revives a gone session and never reuses a (session,
//! plan) pair), so kills keep reaching the node even when every answer arrives late.
//!
//! Start-up: a new node process first reloads, page by page, the sessions meta says it holds
//! (NebulaGraph reloads its own sessions); meta forgets the running queries and votes of its
//! previous process. Pick-up: a request for a session not held here asks meta; the session is
//! installed with meta's newest copy, and this node becomes one of its holders.
//!
//! # What is fixed
//!
//! - **Issue 5094, fix 3 across nodes.** A node never ends a session on its own idle timer: it
//!   votes ([`IdleVote`]: idle here since its last activity, at its clock's time). Meta expires a
//!   session only when every holder not presumed dead (silent for `holder_silence_ms`) has voted,
//!   runs no query, and the newest activity any node reported is at least the idle timeout older
//!   than the earliest of those votes; a node's activity report withdraws its vote. So there was
//!   an instant at which the session had been idle for the idle timeout on every node holding it
//!   (the single-node rule, cluster-wide); a session used somewhere at least once per idle
//!   timeout is never expired. Sessions whose every holder is presumed dead expire from
//!   [`MetaStore::handle_timeout`] (no leak after a node dies, nebula-java 498).
//! - **Issue 5585.** The space is a last-writer-wins register ordered by (time of the USE,
//!   space): a USE on node A at `t` is at meta by `t + I + D` and at every other holder by
//!   `t + 2I + 3D` (same assumptions as the bound below); all holders converge on the same
//!   space whatever order reports arrive in. Roles are not carried here:
//!   the server refreshes a session's rights from the role table at each request (fix 4), and in
//!   a cluster the host shares that table (its version) among nodes; a role change reaches a
//!   session on any node at its next request once the host has replicated the table.
//! - **Fix 5.** Kill marks are keyed by (session, plan); plan ids are unique across nodes and
//!   restarts (`graphsession-id-gen`), so a mark can only hit the query it names. Marks are
//!   dropped with their session, or after `kill_mark_retention_ms`.
//! - **A failed removal is retried.** A removal stays pending on the node until meta's answer
//!   acknowledges it; meanwhile the node no longer reports the session. A removed session leaves a
//!   tombstone for `tombstone_retention_ms`, so no late report or retried create brings it back;
//!   a removal of an id meta does not know yet (a KILL SESSION that overtook the login's
//!   announcement) leaves one too. A node that was away longer than the retention (its position
//!   is below the collected part of the log) is told to resync: it reports every session again
//!   and drops those meta no longer knows ([`GoneReason::Unknown`]).
//! - **Login.** A session created on a node is announced at once; the host should answer the
//!   client only after [`NodeEvent::Registered`] (NebulaGraph creates the session in meta before
//!   answering), so no other node can be asked for a session meta has not heard of. When it
//!   answers, it should touch the session (`SessionManager::touch`): a slow registration must not
//!   leave the idle clock running from the login, or meta may expire the session before the
//!   client's first request (the simulator's cluster world found this; its node glue does it).
//! - **Sign-out.** A sign-out has no reply; clients prove it was read by a later request on the
//!   same socket (the session-0 ping). The host should hold later requests on that socket until
//!   [`NodeEvent::Removed`] for the session: then the proof also means meta has the removal, and
//!   a node that crashes first (losing its pending removal; the node keeps no durable state)
//!   resets the socket, so the client signs out again through another process. Answering at
//!   once leaves that session alive until its idle timeout (the simulator found this with a
//!   node cut from meta and then crashed; its node glue holds the socket).
//!
//! # The staleness bound
//!
//! Let `I` be `sync_interval_ms` and `D` the largest one-way network delay, with `2D <= I` and
//! `2D <= request_timeout_ms`. When the network delivers, a kill (KILL SESSION or KILL QUERY)
//! recorded at meta at time `t` is in an answer the owning node applies by `t + I + 2D`: the
//! node's next round leaves by `t + I`, reaches meta by `t + I + D`, and its answer carries
//! every change after the node's position, so it is back by `t + I + 2D`. Issued on another
//! node, the kill is recorded at meta within `3D` (at most `2D` waiting for that node's
//! request in flight, then `D`), so it takes effect within `I + 5D` of the statement. The bound
//! assumes the change-log backlog for the node fits one answer (`answer_items_max`); a longer
//! backlog takes one extra round trip (`2D`) per answer. `cluster_behaviour.rs` checks the bound
//! with a simulated clock for many phases of the node's timer. SHOW SESSIONS reads meta, so it
//! is as stale as the nodes' last rounds (at most `I + D` for activity and space); SHOW LOCAL
//! SESSIONS is the node's own registry. When delays exceed `request_timeout_ms / 2`, every answer
//! arrives late, but its kills and "gone" sessions still apply on arrival, so a kill takes effect
//! within `I + 2D` of being recorded whatever the request timeout.
//!
//! # Limits
//!
//! Every list in a request is at most `request_items_max` long and every text at most
//! `text_bytes_max` bytes (else [`Refusal`]); an answer carries at most `answer_items_max`
//! change-log items and `page_rows_max` rows; live sessions, tombstones, kill marks and nodes
//! each have a maximum in [`MetaConfig`]. On the node, each pending list has a maximum in
//! [`NodeConfig`] ([`NodeError`] when full), and a request carries at most
//! `sync_batch_sessions_max` of each (keep it at most the meta store's `request_items_max`).
//!
//! # Wiring a node's registry
//!
//! [`ServerRegistry`] is the server's [`SessionManager`](crate::server::SessionManager) as
//! [`LocalSessions`]; its docs list what the host does besides (announce logins, forward removals
//! and remote kills, pick up unknown ids, and leave idle expiry to meta).
//! `tests/it/cluster_wired.rs` runs two real registries through one meta store end to end.
//!
//! SHOW SESSIONS reads meta ([`NodeSync::show_sessions`], or [`MetaStore::show_sessions`] for a
//! host that reads the store directly) and [`show_sessions_rows`] turns a page into the server's
//! rows; SHOW LOCAL SESSIONS stays the node registry's own.
//!
//! # The contract for the host's store
//!
//! The meta store's state must survive a meta node's crash and there must be one writer, so the
//! host keeps it in a replicated, linearizable store (NebulaGraph uses Raft in its meta service;
//! etcd, TiKV or FoundationDB fit). Exactly:
//!
//! 1. **One applier at a time.** Requests are applied by one [`MetaStore`] at a time (the
//!    leader), strictly one after another, in the order the store commits them. With etcd: a
//!    leader elected through a lease, fencing every write with the lease's revision.
//! 2. **Atomic, durable apply.** The state after a request ([`MetaStore::snapshot`], or
//!    [`MetaStore::into_snapshot`] for a store dropped after, which moves instead of copying) is
//!    committed as one atomic write before the answer is sent. Either the whole request is
//!    applied or none of it. A compare-and-set on the state's version key (etcd `Txn` with
//!    `mod_revision`, TiKV/FoundationDB transactions) makes a deposed leader's write fail; it
//!    must then drop its in-memory store and [`MetaStore::restore`] from the committed state.
//! 3. **Linearizable reads on takeover.** A new leader restores from a read that reflects every
//!    committed write (etcd's default linearizable `Get`, a FoundationDB read version, TiKV's
//!    snapshot at a fresh timestamp). A stale read would forget request ids and tombstones and
//!    could resurrect a session.
//! 4. **Answers only after commit.** An answer for an uncommitted state must never leave: a node
//!    would consider removals acknowledged that a new leader never saw.
//! 5. **Size.** The state grows with live sessions, tombstones and kill marks (each bounded by
//!    [`MetaConfig`]); a store with a value-size limit (etcd's 1.5 MiB by default) needs the
//!    host to split the snapshot by key prefix (one key per session, written in the same
//!    transaction); the contract per key is then compare-and-set in one multi-key transaction.
//! 6. **Clocks.** `now` given to the store and to nodes are wall clocks in Unix ms; expiry
//!    compares activity and vote times taken on different nodes' clocks (and meta's clock for
//!    the sessions of dead nodes), so their skew lengthens or shortens the idle timeout by as
//!    much (NebulaGraph has the same dependence). A regressing clock is clamped, never a panic.
//! 7. **Or replicate the log.** [`MetaStore::handle_request`] is deterministic (the same state
//!    and the same `(now, node, request)` give the same state and answer; no hidden input, no
//!    hash order), so instead of snapshots the host may replicate the requests themselves, with
//!    the `now` the leader chose, through its consensus log (state-machine replication, as
//!    NebulaGraph's Raft does), and snapshot only to compact the log.
//!
//! The node side keeps no durable state: a restarted node reloads from meta. Its
//! `incarnation` must grow across restarts; if it does not, meta refuses the request as stale
//! and the node moves above.
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
//! registry.install(&SessionRecord {
//!     session,
//!     user: "alice".into(),
//!     client_ip: "10.0.0.1".into(),
//!     space: String::new(),
//!     space_set_unix_ms: 0,
//!     created_unix_ms: now,
//!     last_activity_unix_ms: now,
//!     owner: NodeId(1),
//! });
//! node.announce(now, session)?;
//!
//! // The host loop: timer, send, answer (here the transport is a function call).
//! if node.poll_timeout().is_some_and(|at| at <= now) {
//!     node.handle_timeout(now, &registry);
//! }
//! while let Some(request) = node.poll_request() {
//!     let answer = meta.handle_request(now, NodeId(1), request);
//!     let _persist = meta.snapshot(); // commit before answering (see the contract)
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
mod meta_answer;
mod meta_invariants;
mod meta_state;
mod node;
mod node_answer;
mod node_request;
mod persist;
mod server_registry;
mod show;

pub use config::{MetaConfig, NodeConfig};
pub use error::{ConfigError, NodeError, PersistError, error_code};
pub use local::LocalSessions;
pub use messages::{
    Answer, Gone, GoneReason, IdleVote, NodeId, Page, QueryKill, QueryKillResult, Refusal,
    ReloadFrom, Removal, RemovalOutcome, RemoveReason, Reply, Request, RequestId, SessionRecord,
    SessionReport,
};
pub use meta::MetaStore;
pub use node::{NodeEvent, NodeSync};
pub use persist::{META_FORMAT_VERSION, MetaSnapshot};
pub use server_registry::{CLUSTER_KILL_USER, ServerRegistry};
pub use show::{session_row, show_sessions_rows};
