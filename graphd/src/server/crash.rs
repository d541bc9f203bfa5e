//! A node slot crashed under load, in-process, as `kill -9` would crash a graphd process of
//! its own: [`Server::crash_node`] closes the node's listener and every one of its connections
//! at once (no reply written, no close reported, no sign-out) and has the actor drop the node's
//! `GraphNode` with every request it was answering; the slot comes back as a new process would
//! (a new lease and incarnation, its registry restored from its last periodic snapshot, then
//! reloaded from meta), but its port stays closed, as while a process restarts, until
//! [`Server::restart_node`]. The other nodes and the meta store see only what they would see of
//! a dead process: silence, then a new incarnation. The load generator's crash mode and
//! `tests/crash.rs` use it.

use anyhow::{Context, Result, bail};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::actor::{Census, Message, Restart};
use crate::logging::log;
use crate::server::Server;

impl Server {
    /// Crashes node `index` (0 for the first): its listener and connections closed at once, its
    /// memory dropped, a new incarnation of the slot built (not reachable until
    /// [`Server::restart_node`]).
    pub async fn crash_node(&mut self, index: usize) -> Result<()> {
        let Some(node) = self.nodes.get_mut(index) else { bail!("no node {}", index + 1) };
        let Some(task) = node.task.take() else { bail!("node {} is down", index + 1) };
        let started = tokio::time::Instant::now();
        let _ = node.crash.send(true);
        // The loop returns once every connection task has ended: nothing of the dead process
        // reaches the actor after the crash below.
        task.await.context("the accept loop panicked")?;
        let (done, crashed) = oneshot::channel();
        let restart = Box::new(Restart { config: self.config.clone(), addrs: self.addrs.clone() });
        let message = Message::Crash { node: index, restart, done };
        self.actor.send(message).context("the actor has stopped")?;
        crashed.await.context("the actor stopped during the crash")??;
        log!(
            "node {}: crashed (connections closed, memory dropped) and rebuilt in {} ms",
            index + 1,
            started.elapsed().as_millis()
        );
        Ok(())
    }

    /// Opens node `index`'s port again after [`Server::crash_node`]: the new incarnation
    /// accepts connections.
    pub async fn restart_node(&mut self, index: usize) -> Result<()> {
        let (Some(addr), Some(node)) = (self.addrs.get(index), self.nodes.get(index)) else {
            bail!("no node {}", index + 1)
        };
        if node.task.is_some() {
            bail!("node {} is running", index + 1);
        }
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} again (node {})", index + 1))?;
        let (crash, task) = self.spawn_accept(listener, &node.shared, &node.slots);
        let node = &mut self.nodes[index];
        (node.crash, node.task) = (crash, Some(task));
        log!("node {}: restarted, listening on {addr}", index + 1);
        Ok(())
    }

    /// The sessions meta and each node hold now.
    pub async fn census(&self) -> Result<Census> {
        let (done, counted) = oneshot::channel();
        self.actor.send(Message::Census { done }).context("the actor has stopped")?;
        counted.await.context("the actor stopped before counting")
    }
}
