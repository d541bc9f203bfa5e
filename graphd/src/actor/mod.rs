//! The actor: one task that owns every graph node (`GraphNode`), the embedded meta store
//! (`MetaStore`), the role table and the space catalog, and carries out what they ask. Connections
//! and the executor's tasks talk to it only through [`Message`]s, so the machines are driven
//! from one place, in one order, with one clock.
//!
//! After every message and every timer the actor drains each node's outputs, in order, until
//! none is left (`drain.rs`): a reply goes to the request that waits for it, a request to meta is
//! applied to the meta store at once and its answer fed back, a query goes to the executor
//! (`executor.rs`), a password to the password store. Then it sleeps until the earliest
//! `poll_timeout` of the nodes and the meta store, or the next snapshot (`persist.rs`).

mod crash;
mod drain;
pub mod persist;
mod pipe;
mod turn;

pub use turn::{PARKED_MAX, TURN_WAIT_MS, changes_catalog};

pub use crash::{Census, Restart};

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use graphsession_core::client::ConnectionId;
use graphsession_core::cluster::{Answer, NodeId};
use graphsession_core::node::{DataSet, GraphNode, Reply, Request};
use graphsession_permission::{Policy, RoleTable};
use graphsession_query_plan::QueryKey;
use graphsession_wire::Parameters;
use tokio::sync::{mpsc, oneshot};

use crate::catalog::Catalog;
use crate::clock::now_unix_ms;
use crate::logging::log;
use crate::meta_host::{Meta, issued_below_unix_ms};
use crate::parser::Piece;
use crate::passwords::Passwords;
use crate::store::DataDir;
use crate::store::leases::{Granted, Leases};

/// Which node of this process: an index into the actor's nodes.
pub type NodeIndex = usize;

/// What the rest of graphd tells the actor.
#[derive(Debug)]
pub enum Message {
    /// A request read on `connection` of node `node`; `reply` receives the node's reply (none
    /// for a sign-out, which is never answered).
    Request {
        /// The node.
        node: NodeIndex,
        /// The connection.
        connection: ConnectionId,
        /// What was asked.
        incoming: Incoming,
        /// Where the reply goes.
        reply: Option<oneshot::Sender<Reply>>,
    },
    /// `connection` of node `node` closed.
    Closed {
        /// The node.
        node: NodeIndex,
        /// The connection.
        connection: ConnectionId,
    },
    /// An executor task returned from the query `key` of node `node`.
    QueryDone {
        /// The node.
        node: NodeIndex,
        /// The query.
        key: QueryKey,
        /// Its result set, or NebulaGraph's code and message.
        result: Result<Option<DataSet>, (i32, String)>,
    },
    /// Meta's answer to node `node` (from etcd; the embedded store answers at once).
    MetaAnswer {
        /// The node, by its id.
        node: NodeId,
        /// The answer.
        answer: Box<Answer>,
    },
    /// The meta store in etcd is lost to this process (its lease expired): its nodes can no
    /// longer reach meta, so graphd stops serving (`Server::fenced`).
    MetaLost,
    /// Every graph node's `host:port` known in etcd, by slot (SHOW SESSIONS' GraphAddr).
    Peers(BTreeMap<u16, String>),
    /// Node `node`'s process died (`kill -9`, in-process: `server/crash.rs`): its state is
    /// dropped and the slot built again as a new incarnation; `done` gets the outcome.
    Crash {
        /// The node.
        node: NodeIndex,
        /// What the new incarnation is built from.
        restart: Box<Restart>,
        /// Told when the new incarnation is in place.
        done: oneshot::Sender<anyhow::Result<()>>,
    },
    /// Count the sessions meta and each node hold (for the checks after a load or a crash).
    Census {
        /// Gets the counts.
        done: oneshot::Sender<Census>,
    },
    /// The catalog worker took the cluster's catalog lock and read the catalog (etcd only;
    /// `turn.rs`), or could not.
    CatalogTurn(Result<graphsession_meta_etcd::CatalogTurn, String>),
    /// The catalog worker wrote a turn's change at this revision, or could not.
    CatalogWritten(Result<i64, String>),
    /// The shared catalog in etcd changed: its revision and value.
    CatalogChanged {
        /// The register's revision.
        revision: i64,
        /// The value (`shared_catalog.rs`).
        value: Vec<u8>,
    },
    /// The periodic session write's thread is done (`persist.rs`).
    SessionsWritten,
    /// Write everything and stop; `done` gets the outcome of the last write.
    Shutdown {
        /// Told when the actor has stopped.
        done: oneshot::Sender<anyhow::Result<()>>,
    },
}

/// A request as a connection hands it over.
#[derive(Debug)]
pub enum Incoming {
    /// Mapped by the wire crate and the password check already.
    Node(Request),
    /// An execute's text, parsed by the actor (the catalog decides whether USE's space exists).
    Execute {
        /// The session.
        session_id: i64,
        /// The whole text (one statement or a script).
        text: String,
        /// `executeWithParameter`'s map.
        parameters: Parameters,
    },
}

/// One node as the actor holds it.
#[derive(Debug)]
pub struct NodeHost {
    /// The machine.
    pub node: GraphNode,
    /// Its "host:port".
    pub addr: String,
    /// Its leases (released at a clean shutdown).
    pub grant: Granted,
}

/// A request waiting for its reply: the rest of its script, and what its executor may need.
#[derive(Debug)]
struct Waiting {
    reply: oneshot::Sender<Reply>,
    session_id: i64,
    rest: VecDeque<Piece>,
    parameters: Parameters,
    /// The pipe of the statement running now, if it is one.
    pipe: Option<pipe::PipeRun>,
}

/// Everything the actor owns.
pub struct Actor {
    pub(crate) nodes: Vec<NodeHost>,
    pub(crate) meta: Meta,
    pub(crate) roles: RoleTable,
    pub(crate) catalog: Catalog,
    pub(crate) passwords: Arc<Passwords>,
    pub(crate) policy: Policy,
    pub(crate) dir: DataDir,
    pub(crate) leases: Leases,
    pub(crate) local_ip: String,
    pub(crate) snapshot_interval_ms: u64,
    pub(crate) verbose: bool,
    /// `--record_events`.
    pub(crate) recorder: Option<crate::record::Recorder>,
    /// For the executor's tasks.
    pub(crate) inbox: mpsc::UnboundedSender<Message>,
    /// Told when the meta store in etcd is lost.
    pub(crate) fenced: tokio::sync::watch::Sender<bool>,
    waiting: BTreeMap<(NodeIndex, ConnectionId), Waiting>,
    /// On etcd: the shared catalog's turns (`turn.rs`).
    shared: Option<turn::Shared>,
    /// Messages that wait for a catalog write ([`Actor::handle_or_defer`]).
    deferred: VecDeque<Message>,
    roles_version_written: u64,
    meta_seq_written: u64,
    next_snapshot_unix_ms: u64,
    /// The periodic session write under way, on its own thread (`persist.rs`).
    session_write: Option<persist::SessionWrite>,
    /// A session write failed (or never started): the next writes everything.
    sessions_unwritten: bool,
}

/// The longest the actor sleeps without looking at its timers again.
const SLEEP_MS_MAX: u64 = 1_000;

impl Actor {
    /// An actor over these parts; `roles_version_written` is the version found on disk.
    pub fn new(
        parts: crate::startup::Parts,
        inbox: mpsc::UnboundedSender<Message>,
        fenced: tokio::sync::watch::Sender<bool>,
    ) -> Actor {
        let roles_version_written = parts.roles.version();
        let shared = parts
            .shared_catalog
            .map(|(register, revision)| turn::Shared::start(register, revision, inbox.clone()));
        Actor {
            nodes: parts.nodes,
            meta: parts.meta,
            roles: parts.roles,
            catalog: parts.catalog,
            passwords: parts.passwords,
            policy: parts.policy,
            dir: parts.dir,
            leases: parts.leases,
            local_ip: parts.local_ip,
            snapshot_interval_ms: parts.snapshot_interval_ms,
            verbose: parts.verbose,
            recorder: parts.recorder,
            inbox,
            fenced,
            waiting: BTreeMap::new(),
            shared,
            deferred: VecDeque::new(),
            roles_version_written,
            meta_seq_written: u64::MAX,
            next_snapshot_unix_ms: 0,
            session_write: None,
            sessions_unwritten: false,
        }
    }

    /// Runs the nodes' first timers (each reloads its sessions from meta) before any
    /// connection is accepted.
    pub fn start(&mut self) {
        self.on_timer(now_unix_ms());
    }

    /// The actor's loop, until a [`Message::Shutdown`] or every sender is gone.
    pub async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Message>) {
        loop {
            let now = now_unix_ms();
            let sleep_ms = if self.turn_writing() {
                SLEEP_MS_MAX
            } else {
                self.next_wake_unix_ms().saturating_sub(now).min(SLEEP_MS_MAX)
            };
            let sleep = tokio::time::sleep(std::time::Duration::from_millis(sleep_ms));
            tokio::select! {
                message = inbox.recv() => match message {
                    Some(Message::Shutdown { done }) => {
                        let written = self.shutdown();
                        let stopped = self.stop_meta().await;
                        let _told = done.send(written.and(stopped));
                        return;
                    }
                    Some(message) => self.handle_or_defer(message),
                    None => {
                        if let Err(error) = self.shutdown() {
                            log!("the last snapshot failed: {error:#}");
                        }
                        if let Err(error) = self.stop_meta().await {
                            log!("leaving the meta store failed: {error:#}");
                        }
                        return;
                    }
                },
                () = sleep => {
                    if !self.turn_writing() {
                        self.on_timer(now_unix_ms());
                    }
                }
            }
        }
    }

    /// Handles `message`, unless a catalog change is being written (etcd, `turn.rs`): then
    /// every message that could run a statement or a node's timer waits, in order, until the
    /// write is done, so no session of this graphd uses a change etcd may still refuse. The
    /// wait is one etcd commit (at most a call timeout and a turn's wait when etcd is out of
    /// reach); what waits is bounded as the inbox is, by the connections (one request each)
    /// and the executor's tasks.
    fn handle_or_defer(&mut self, message: Message) {
        let passes = matches!(
            message,
            Message::CatalogWritten(_)
                | Message::CatalogChanged { .. }
                | Message::MetaLost
                | Message::Census { .. }
                | Message::SessionsWritten
        );
        if self.turn_writing() && !passes {
            self.deferred.push_back(message);
            return;
        }
        self.handle(now_unix_ms(), message);
        while !self.turn_writing() {
            let Some(message) = self.deferred.pop_front() else { break };
            self.handle(now_unix_ms(), message);
        }
    }

    fn handle(&mut self, now: u64, message: Message) {
        match message {
            Message::Request { node, connection, incoming, reply } => {
                self.request(now, node, connection, incoming, reply);
            }
            Message::Closed { node, connection } => {
                self.waiting.remove(&(node, connection));
                self.turn_closed(node, connection);
                if let Some(host) = self.nodes.get_mut(node) {
                    host.node.handle_connection_closed(now, connection, &mut self.roles);
                }
            }
            Message::QueryDone { node, key, result } => {
                self.turn_executed(node, key);
                if let Some(host) = self.nodes.get_mut(node) {
                    match result {
                        Ok(data) => host.node.finish_query(now, key, data, &mut self.roles),
                        Err((code, message)) => {
                            host.node.fail_query(now, key, code, &message, &mut self.roles);
                        }
                    }
                }
            }
            Message::MetaAnswer { node, answer } => {
                let host = self.nodes.iter_mut().find(|host| host.node.node_id() == node);
                if let Some(host) = host {
                    host.node.handle_answer(now, *answer, &mut self.roles);
                }
            }
            Message::MetaLost => {
                log!("the meta store in etcd is lost (lease expired): stopping");
                let _told = self.fenced.send(true);
            }
            Message::Peers(addrs) => {
                let addrs: BTreeMap<NodeId, String> =
                    addrs.into_iter().map(|(slot, addr)| (NodeId(slot), addr)).collect();
                for host in &mut self.nodes {
                    host.node.set_peer_addrs(addrs.clone());
                }
            }
            Message::Crash { node, restart, done } => {
                let _told = done.send(self.crash(now, node, &restart));
            }
            Message::Census { done } => {
                let _told = done.send(self.census());
            }
            Message::CatalogTurn(taken) => self.turn_taken(now, taken),
            Message::CatalogWritten(written) => self.turn_written(now, written),
            Message::CatalogChanged { revision, value } => {
                self.catalog_changed(now, revision, value);
            }
            Message::SessionsWritten => self.reap_session_write(),
            Message::Shutdown { .. } => {}
        }
        self.advance_turn(now);
        self.after_step(now);
    }

    /// Leaves the meta store (etcd: slots' bounds written, lease revoked).
    async fn stop_meta(&mut self) -> anyhow::Result<()> {
        self.meta.stop(issued_below_unix_ms(crate::clock::newest_unix_ms())).await
    }

    fn on_timer(&mut self, now: u64) {
        if self.meta.poll_timeout().is_some_and(|at| at <= now) {
            self.meta.handle_timeout(now);
        }
        for host in &mut self.nodes {
            if host.node.poll_timeout().is_some_and(|at| at <= now) {
                host.node.handle_timeout(now, &mut self.roles);
            }
        }
        self.advance_turn(now);
        self.after_step(now);
        self.start_session_write(now);
    }

    /// The earliest time something is due.
    fn next_wake_unix_ms(&self) -> u64 {
        let nodes = self.nodes.iter().filter_map(|host| host.node.poll_timeout());
        nodes
            .chain(self.meta.poll_timeout())
            .chain(std::iter::once(self.next_snapshot_unix_ms))
            .min()
            .unwrap_or(u64::MAX)
    }
}
