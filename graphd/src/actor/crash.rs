//! The actor's side of a node crash (`server/crash.rs`): the node's `GraphNode` and the
//! requests it was answering dropped, as a killed process loses its memory, and the slot built
//! again exactly as a graphd process starts it: a new lease (so a new incarnation, which meta
//! sees as a restart), the registry restored from the node's last periodic snapshot in
//! `--data_path`, then its first timer, which reloads its sessions from meta.

use std::net::SocketAddr;

use anyhow::{Context, Result};

use crate::actor::{Actor, NodeIndex};
use crate::clock::now_unix_ms;
use crate::config::Config;
use crate::startup::build_node;
use crate::store::seal;

/// The sessions graphd holds: what a load run or a crash test checks at its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Census {
    /// Sessions alive at meta (not removed, not tombstoned).
    pub meta: u32,
    /// Sessions in each node's registry, node 1 first.
    pub nodes: Vec<u64>,
}

/// What a crashed slot's new incarnation is built from: what its process would start with.
#[derive(Debug, Clone)]
pub struct Restart {
    /// graphd's configuration.
    pub config: Config,
    /// Every node's address, node 1 first.
    pub addrs: Vec<SocketAddr>,
}

impl Actor {
    /// Drops node `node`'s state and builds the slot's next incarnation in its place.
    pub(crate) fn crash(&mut self, now: u64, node: NodeIndex, restart: &Restart) -> Result<()> {
        let host = self.nodes.get(node).context("no such node")?;
        let slot = host.grant.session.slot;
        // The dead process's memory: the requests it was answering (their connections are
        // closed already) and the machine. Executor tasks still running answer a query the new
        // incarnation does not know, which it ignores.
        self.waiting.retain(|(waiting_node, _), _| *waiting_node != node);
        // On etcd a crash is a process's: the tests kill graphd processes (tests/on_etcd.rs).
        anyhow::ensure!(
            self.meta.embedded().is_some(),
            "an in-process crash needs the embedded meta"
        );
        // The last periodic snapshot is the one on disk once the write under way is done.
        self.finish_session_write();
        let granted = self.leases.acquire(&self.dir, &[slot], now_unix_ms())?;
        let grant = *granted.first().context("no lease granted")?;
        let seal_key = seal::load_or_create(&self.dir)?;
        let slots: Vec<u16> = self.nodes.iter().map(|host| host.grant.session.slot).collect();
        let (node_at, local) = ((grant, node), (slots.as_slice(), restart.addrs.as_slice()));
        let fresh = build_node(&restart.config, &self.dir, node_at, local, seal_key, &self.roles)?;
        let host = &mut self.nodes[node];
        host.node = fresh;
        host.grant = grant;
        // Its first timer: the reload from meta, as at a start.
        self.on_timer(now);
        Ok(())
    }

    /// The sessions meta and every node hold now.
    pub(crate) fn census(&self) -> Census {
        let nodes = self.nodes.iter().map(|host| host.node.registry().session_count()).collect();
        Census { meta: self.meta.live_count(), nodes }
    }
}
