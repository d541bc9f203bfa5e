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
use tokio::task::JoinHandle;

use crate::actor::{Actor, Message};
use crate::config::Config;
use crate::connection::{self, Shared};
use crate::logging::log;
use crate::meta_host;
use crate::startup::prepare;

/// A running graphd.
#[derive(Debug)]
pub struct Server {
    addrs: Vec<SocketAddr>,
    stopping: watch::Sender<bool>,
    actor: mpsc::UnboundedSender<Message>,
    actor_task: JoinHandle<()>,
    accept_tasks: Vec<JoinHandle<()>>,
    fenced: watch::Receiver<bool>,
}

/// Starts graphd: reads and checks `config.data_path`, binds every node's port, reloads the
/// sessions, and serves until [`Server::shutdown`].
pub async fn start(config: Config) -> Result<Server> {
    let (mut parts, listeners) = prepare(&config).await?;
    let addrs: Vec<SocketAddr> =
        listeners.iter().map(TcpListener::local_addr).collect::<Result<_, _>>()?;
    let passwords = Arc::clone(&parts.passwords);
    let (inbox, messages) = mpsc::unbounded_channel();
    if let Some(deliveries) = parts.deliveries.take() {
        meta_host::forward(deliveries, inbox.clone());
    }
    let (fenced_tx, fenced) = watch::channel(false);
    let mut actor = Actor::new(parts, inbox.clone(), fenced_tx);
    actor.start();
    let actor_task = tokio::spawn(actor.run(messages));
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
    let mut accept_tasks = Vec::new();
    for (node, listener) in listeners.into_iter().enumerate() {
        let shared = Arc::new(Shared {
            node,
            actor: inbox.clone(),
            passwords: Arc::clone(&passwords),
            enable_authorize: config.enable_authorize,
            wire,
            client_idle: Duration::from_secs(config.client_idle_timeout_secs),
            unauthenticated_idle: Duration::from_secs(config.unauthenticated_idle_timeout_secs),
            verbose: config.verbose,
        });
        let accept = Accept {
            listener,
            shared,
            slots: Arc::new(Semaphore::new(connections_max)),
            connection_ids: Arc::clone(&connection_ids),
            stopped: stopped.clone(),
        };
        accept_tasks.push(tokio::spawn(accept.run()));
    }
    for (index, addr) in addrs.iter().enumerate() {
        log!("node {} listening on {addr}", index + 1);
    }
    Ok(Server { addrs, stopping, actor: inbox, actor_task, accept_tasks, fenced })
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
        for task in self.accept_tasks {
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
}

impl Accept {
    async fn run(self) {
        let mut stopped = self.stopped.clone();
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = stopped.wait_for(|stopping| *stopping) => return,
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
            tokio::spawn(async move {
                connection::serve(stream, peer, shared, connection, stopped).await;
                drop(slot);
            });
        }
    }
}
