//! What the actor writes to the data directory: the role table after every change, the
//! sessions (the meta store and each node's registry) every `--snapshot_interval_secs` and at a
//! clean shutdown, and the leases given back at shutdown. Each write is atomic (`store`).
//!
//! The meta store and the nodes' snapshots are taken at one instant of the actor, so they agree;
//! a crash loses at most one interval of session changes (a session created since is unknown
//! after the restart, and its client gets -1002 and logs in again). The node side keeps no
//! state the cluster needs (docs/cluster-protocol.md): a restored node also reloads from meta.

use anyhow::Result;

use crate::actor::Actor;
use crate::clock::newest_unix_ms;
use crate::logging::log;

/// The role table's file.
pub const ROLES_FILE: &str = "roles";
/// The role table's kind.
pub const ROLES_KIND: &str = "roles";
/// The meta store's file.
pub const META_FILE: &str = "meta";
/// The meta store's kind.
pub const META_KIND: &str = "meta";

/// A node's registry snapshot file (the registry's own binary form, checksummed).
pub fn node_file(slot: u16) -> String {
    format!("node-{slot}.snapshot")
}

impl Actor {
    /// After every step: a changed role table is written at once (a user created is a user
    /// kept).
    pub(crate) fn after_step(&mut self, _now: u64) {
        if cfg!(debug_assertions) {
            self.check_invariants();
        }
        if self.roles.version() == self.roles_version_written {
            return;
        }
        match self.dir.write_json(ROLES_FILE, ROLES_KIND, &self.roles) {
            Ok(()) => self.roles_version_written = self.roles.version(),
            Err(error) => log!("writing the role table failed: {error:#}"),
        }
    }

    /// Every machine's invariants, after every step of a debug build (tests run one): a
    /// violation is a bug in a machine or in how graphd drives it, and stops graphd loudly.
    fn check_invariants(&self) {
        for host in &self.nodes {
            if let Err(violation) = host.node.check_invariants() {
                panic!("node {}: {violation:?}", host.grant.session.slot);
            }
        }
        if let Err(violation) = self.meta.check_invariants() {
            panic!("meta: {violation:?}");
        }
        if let Err(violation) = self.roles.check_invariants() {
            panic!("roles: {violation:?}");
        }
        if let Err(violation) = self.check_turns() {
            panic!("catalog turns: {violation:?}");
        }
    }

    /// Writes the meta store and every node's registry, when anything changed.
    pub(crate) fn write_sessions(&mut self) -> Result<()> {
        // Every node's flag is taken (and so cleared), not only up to the first that is set.
        let changed: Vec<bool> =
            self.nodes.iter_mut().map(|host| host.node.take_registry_changed()).collect();
        let registries_changed = changed.contains(&true);
        let meta_seq = self.meta.embedded().map_or(0, |meta| meta.changes_seq());
        if !registries_changed && meta_seq == self.meta_seq_written {
            return Ok(());
        }
        if let Some(meta) = self.meta.embedded() {
            self.dir.write_json(META_FILE, META_KIND, &meta.snapshot())?;
        }
        for host in &self.nodes {
            let slot = host.grant.session.slot;
            self.dir.write_atomic(&node_file(slot), &host.node.snapshot().to_bytes())?;
        }
        self.meta_seq_written = meta_seq;
        Ok(())
    }

    /// A clean stop: the sessions, the role table and the leases written for the next start.
    pub(crate) fn shutdown(&mut self) -> Result<()> {
        self.after_step(0);
        // Force the write: a registry unchanged since the last one is written again, cheaply.
        self.meta_seq_written = u64::MAX;
        self.write_sessions()?;
        // On etcd the slots are released there (`Meta::stop`).
        if self.meta.embedded().is_some() {
            let granted: Vec<_> = self.nodes.iter().map(|host| host.grant).collect();
            self.leases.release(&self.dir, &granted, newest_unix_ms())?;
        }
        log!("stopped; sessions, users and roles written to {}", self.dir.root().display());
        Ok(())
    }
}
