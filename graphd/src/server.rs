//! A running graphd: the actor, one accept loop per node, one task per connection; and its
//! handle, [`Server`], which knows the nodes' addresses and stops everything cleanly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use graphsession_core::client::ConnectionId;
use graphsession_wire::Config as WireConfig;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::actor::{Actor, Message};
use crate::config::Config;
use crate::connection::{self, Shared};
use crate::logging::log;
use crate::meta_host;
use crate::startup::prepare;

mod crash;
mod floor;

pub use floor::start_floor;

/// A running graphd.
#[derive(Debug)]
pub struct Server {
    addrs: Vec<SocketAddr>,
    stopping: watch::Sender<bool>,
    stopped: watch::Receiver<bool>,
    actor: mpsc::UnboundedSender<Message>,
    actor_task: JoinHandle<()>,
    nodes: Vec<NodeAccept>,
    connection_ids: Arc<AtomicU64>,
    /// What it was started with (a crashed node restarts with it).
    config: Config,
    /// Resolves `fenced` (the meta store in etcd lost).
    fenced: watch::Receiver<bool>,
}

/// Starts graphd: reads and checks `config.data_path`, binds every node's port, reloads the
/// sessions, and serves until [`Server::shutdown`].
pub async fn start(config: Config) -> Result<Server> {
    let (mut parts, listeners) = prepare(&config).await?;
    let passwords = Arc::clone(&parts.passwords);
    let (inbox, messages) = mpsc::unbounded_channel();
    if let Some(deliveries) = parts.deliveries.take() {
        meta_host::forward(deliveries, inbox.clone(), parts.recorder.clone());
    }
    let (fenced_tx, fenced) = watch::channel(false);
    let mut actor = Actor::new(parts, inbox.clone(), fenced_tx);
    actor.start();
    let actor_task = tokio::spawn(actor.run(messages));
    Server::serve(config, listeners, Behind { inbox, actor_task, passwords, fenced })
}

/// What answers the connections: the actor (or the floor's stand-in), its inbox, the
/// password store.
pub(crate) struct Behind {
    pub(crate) inbox: mpsc::UnboundedSender<Message>,
    pub(crate) actor_task: JoinHandle<()>,
    pub(crate) passwords: Arc<crate::passwords::Passwords>,
    /// Set when the meta store in etcd is lost (never for the embedded store or the floor).
    pub(crate) fenced: watch::Receiver<bool>,
}

/// One node's accept loop as the server holds it.
#[derive(Debug)]
struct NodeAccept {
    /// What its connections share.
    shared: Arc<Shared>,
    /// Its open connections: `--max_allowed_connections`.
    slots: Arc<Semaphore>,
    /// Set to crash the node (`crash.rs`): the loop ends its connections at once.
    crash: watch::Sender<bool>,
    /// The loop; `None` while the node is down.
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// The accept loops of `listeners` (node 1 first) around `behind`.
    pub(crate) fn serve(
        config: Config,
        listeners: Vec<TcpListener>,
        behind: Behind,
    ) -> Result<Server> {
        let addrs: Vec<SocketAddr> =
            listeners.iter().map(TcpListener::local_addr).collect::<Result<_, _>>()?;
        let wire = WireConfig {
            frame_bytes_max: config.max_frame_bytes,
            buffered_bytes_max: config.max_frame_bytes.saturating_add(64 << 10),
            ..WireConfig::default()
        };
        wire.validate().context("--max_frame_bytes")?;
        let (stopping, stopped) = watch::channel(false);
        let connection_ids = Arc::new(AtomicU64::new(1));
        let connections_max = usize::try_from(config.max_allowed_connections)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        let mut server = Server {
            addrs,
            stopping,
            stopped,
            actor: behind.inbox,
            actor_task: behind.actor_task,
            nodes: Vec::new(),
            connection_ids,
            config,
            fenced: behind.fenced,
        };
        for (node, listener) in listeners.into_iter().enumerate() {
            let shared = Arc::new(Shared {
                node,
                actor: server.actor.clone(),
                passwords: Arc::clone(&behind.passwords),
                enable_authorize: server.config.enable_authorize,
                wire,
                client_idle: Duration::from_secs(server.config.client_idle_timeout_secs),
                unauthenticated_idle: Duration::from_secs(
                    server.config.unauthenticated_idle_timeout_secs,
                ),
                verbose: server.config.verbose,
            });
            let slots = Arc::new(Semaphore::new(connections_max));
            let (crash, task) = server.spawn_accept(listener, &shared, &slots);
            server.nodes.push(NodeAccept { shared, slots, crash, task: Some(task) });
        }
        for (index, addr) in server.addrs.iter().enumerate() {
            log!("node {} listening on {addr}", index + 1);
        }
        Ok(server)
    }

    /// Spawns one node's accept loop on `listener`.
    fn spawn_accept(
        &self,
        listener: TcpListener,
        shared: &Arc<Shared>,
        slots: &Arc<Semaphore>,
    ) -> (watch::Sender<bool>, JoinHandle<()>) {
        let (crash, crashed) = watch::channel(false);
        let accept = Accept {
            listener,
            shared: Arc::clone(shared),
            slots: Arc::clone(slots),
            connection_ids: Arc::clone(&self.connection_ids),
            stopped: self.stopped.clone(),
            crashed,
        };
        (crash, tokio::spawn(accept.run()))
    }
}

impl Server {
    /// Each node's address, node 1 first.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Resolves when the meta store in etcd is lost to this process (its lease expired while
    /// it was cut off): its nodes can no longer register or end sessions, so the host should
    /// stop (`main` shuts down and exits with an error, and clients go to another graphd).
    /// Never resolves with the embedded store.
    pub async fn fenced(&self) {
        let mut fenced = self.fenced.clone();
        let lost = fenced.wait_for(|lost| *lost).await.is_ok();
        if !lost {
            // The actor stopped without losing the store: nothing to tell.
            std::future::pending::<()>().await;
        }
    }

    /// Stops accepting, closes every connection, writes the sessions, users, roles and leases,
    /// and waits for the actor to stop.
    pub async fn shutdown(self) -> Result<()> {
        let _ = self.stopping.send(true);
        for task in self.nodes.into_iter().filter_map(|node| node.task) {
            let _finished = task.await;
        }
        let (done, finished) = oneshot::channel();
        self.actor.send(Message::Shutdown { done }).context("the actor had already stopped")?;
        let written = finished.await.context("the actor stopped without writing")?;
        let _finished = self.actor_task.await;
        written
    }
}

/// One node's accept loop.
struct Accept {
    listener: TcpListener,
    shared: Arc<Shared>,
    /// Open connections of this node: `--max_allowed_connections`.
    slots: Arc<Semaphore>,
    connection_ids: Arc<AtomicU64>,
    stopped: watch::Receiver<bool>,
    /// Set when the node crashes (`crash.rs`).
    crashed: watch::Receiver<bool>,
}

impl Accept {
    async fn run(mut self) {
        let mut stopped = self.stopped.clone();
        // Its connections, so that a crash ends them all at once; a clean stop lets each
        // close itself (and tell the actor), as before.
        let mut connections = JoinSet::new();
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = raised(&mut stopped) => {
                    connections.detach_all();
                    return;
                }
                true = raised(&mut self.crashed) => {
                    // As kill -9: every socket closed, nothing told to anyone. Returns only
                    // when every connection task has ended, so none speaks to the actor after.
                    connections.shutdown().await;
                    return;
                }
                Some(_ended) = connections.join_next() => continue,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, usually: wait a little instead of spinning.
                    log!("node {}: accept failed: {error}", self.shared.node + 1);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
                log!(
                    "node {}: refused {peer}: --max_allowed_connections open",
                    self.shared.node + 1
                );
                drop(stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let connection = ConnectionId(self.connection_ids.fetch_add(1, Ordering::Relaxed));
            let shared = Arc::clone(&self.shared);
            let stopped = self.stopped.clone();
            connections.spawn(async move {
                connection::serve(stream, peer, shared, connection, stopped).await;
                drop(slot);
            });
        }
    }
}

/// When `flag` is raised: true; false when its sender is gone without raising it.
async fn raised(flag: &mut watch::Receiver<bool>) -> bool {
    flag.wait_for(|raised| *raised).await.is_ok()
}
