//! graphd: a tokio host of `graphsession_core::node::GraphNode` that NebulaGraph's official
//! clients (nebula3-python, the Node.js client) can talk to. It runs one or more graph nodes on
//! consecutive ports around one embedded meta store, with NebulaGraph's flags, and keeps users,
//! roles, spaces and sessions across restarts in `--data_path`. With `--meta etcd://...` the
//! graphd processes of a cluster share sessions through etcd's log and users, roles, spaces and
//! passwords through its catalog register (`actor/turn.rs`, [`shared_catalog`]).
//!
//! ```text
//!   socket ── connection task ──(Message)──▶ actor ──▶ GraphNode (per node)
//!     ▲        codec, password check           │  ├──▶ MetaStore (ToMeta, answered at once)
//!     └──────── reply, framed like its call ◀──┘  ├──▶ executor (Run)
//!                                                  └──▶ password store (SetPassword)
//! ```
//!
//! # What graphd decides: nothing
//!
//! Every rule is the node's (`GraphNode`), the meta store's, the permission crate's or the wire
//! crate's. graphd reads bytes and feeds the codec (`connection.rs`), turns each call into the
//! node's request (the password check against its Argon2id store gives `PasswordCheck`, its
//! parser gives the `Statement`), and carries out what the nodes ask, in order (`actor/`). It
//! keeps one request at a time per connection: the next frame is read only when the previous
//! call's reply was written (a sign-out is never answered). One thing is shaped on the way out:
//! a statement refused with meta's own code (-2002 "Existed!", -18, -2069, ...) goes to the
//! client as NebulaGraph's graph service sends it, -1005 with the same message
//! (`connection::as_the_graph_service_answers`). It is the only crate of the
//! workspace that reads the wall clock (`clock.rs`), draws OS randomness (the seal key and
//! password salts) and touches files (`store/`).
//!
//! # The executor
//!
//! Besides the session statements the node runs itself, graphd's executor (`executor/`) runs
//! YIELD and RETURN of constants and parameters, SHOW SPACES, SHOW HOSTS, SHOW USERS, SHOW ROLES
//! IN, DESC USER, CREATE and DROP SPACE (a catalog of names: graphd stores no graph data), CHANGE
//! PASSWORD and the graphd-only `graphd_sleep(ms)` (a statement that runs `ms` milliseconds and
//! can be killed), each after the permission crate's `validate_statement` and `check_statement`
//! on the query's caller. Pipes (`parser/pipe.rs`, `actor/pipe.rs`) carry a statement's rows
//! through YIELD ... WHERE, ORDER BY, LIMIT and KILL QUERY stages, so the slow-query idiom
//! `SHOW QUERIES | YIELD $-.SessionID AS sid, $-.ExecutionPlanID AS eid WHERE ... | KILL
//! QUERY (session=$-.sid, plan=$-.eid)` works; each kill goes to the node as a KILL QUERY of
//! the same session. The grammar is in `parser/mod.rs`; anything else is NebulaGraph's -1004.
//!
//! # Load and faults
//!
//! [`load`] is the load generator of the `graphd-load` binary (`cargo xtask load`): client
//! connections on loopback running sessions of authenticate, executes and signout, with their
//! latencies per RPC. It measures graphd against its floor ([`server::start_floor`]: the same
//! accept loops, connections and codec, answered without the session kernel), and under a
//! crash: [`Server::crash_node`] closes a node's listener and connections at once and drops its
//! memory, as `kill -9` does to a process, and [`Server::restart_node`] brings the slot back as a
//! new incarnation.
//!
//! # What GraphNode lacks (worked around here)
//!
//! - **Its id generators are out of reach.** `GraphNode` (and `SessionManager`) do not give the
//!   host `extend_lease`, `last_issued_unix_ms` or `next_counter`, so graphd cannot extend an id
//!   lease while running: each start leases 30 days of session-id time and 2^32 plan ids per
//!   node (`store/leases.rs`), and a clean shutdown gives back what was not used.
//! - **Query timeouts are ours, not NebulaGraph's.** NebulaGraph 3.x has none; graphd passes
//!   `--query_timeout_ms` to the node and parses `SET SESSION query_timeout_ms = N`, and the node
//!   answers a query past its deadline as a killed one (-1005 "Execution had been killed: query
//!   timed out"; docs/fixes.md, "Query timeouts").
//! - **USE does not know spaces.** The registry accepts USE of any name; graphd hands a USE (and
//!   a GRANT or REVOKE) naming an unknown space to its executor instead, which answers
//!   `SpaceNotFound` before the permission check, as NebulaGraph does.
//! - **SHOW QUERIES lists the node's own queries fresh.** As in NebulaGraph, every node reports
//!   its running queries to meta with its sync round and SHOW QUERIES lists every node's; the
//!   node's own come from its registry at once rather than from its last report, and a report
//!   holds the 64 longest running queries of a node with statements cut to 256 bytes
//!   (NebulaGraph reports all, whole). A session statement's row shows the statement written
//!   back in nGQL (`SHOW QUERIES`, `KILL QUERY (session=5, plan=12)`, passwords as
//!   `<redacted>`), not the exact text the client sent: `SessionStatement` carries no text.

pub mod actor;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod connection;
pub mod executor;
pub mod flags;
pub mod load;
pub(crate) mod logging;
pub mod meta_host;
pub mod parser;
pub mod passwords;
pub mod record;
pub mod server;
pub mod shared_catalog;
pub mod startup;
pub mod store;

pub use config::Config;
pub use server::{Server, start};
