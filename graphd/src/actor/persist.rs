//! What the actor writes to the data directory: the role table after every change, the
//! sessions (the meta store and each node's registry) every `--snapshot_interval_secs` (less
//! often when a write takes more than [`SESSION_WRITES_DUTY_PERCENT_MAX`] of that time) and at a
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

/// The largest share of the actor's time the periodic session writes may take, in percent.
/// Each write takes the whole state and stops the actor while it does (about 2.7 s at a million
/// sessions, measured with session-core alone: the registry's snapshot 1.2 s and its bytes
/// 0.4 s, meta's snapshot and JSON 1.1 s), so at a large state the next write waits longer than
/// `--snapshot_interval_secs`: a crash then loses more session changes, but the node still
/// serves.
pub const SESSION_WRITES_DUTY_PERCENT_MAX: u64 = 5;

/// When the next periodic session write is due, after one at `now_unix_ms` that took
/// `took_ms`: `interval_ms` later, or later still if the writes would otherwise take more than
/// [`SESSION_WRITES_DUTY_PERCENT_MAX`] of the time.
pub fn next_session_write_unix_ms(now_unix_ms: u64, interval_ms: u64, took_ms: u64) -> u64 {
    let spacing_ms = took_ms.saturating_mul(100 / SESSION_WRITES_DUTY_PERCENT_MAX);
    now_unix_ms.saturating_add(interval_ms.max(spacing_ms))
}

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

#[cfg(test)]
mod tests {
    //! The spacing of the periodic session writes.

    use super::{SESSION_WRITES_DUTY_PERCENT_MAX, next_session_write_unix_ms};

    #[test]
    fn a_quick_write_waits_the_interval() {
        assert_eq!(next_session_write_unix_ms(1_000, 5_000, 0), 6_000);
        assert_eq!(next_session_write_unix_ms(1_000, 5_000, 250), 6_000);
    }

    #[test]
    fn a_slow_write_waits_until_writes_take_at_most_their_share() {
        let factor = 100 / SESSION_WRITES_DUTY_PERCENT_MAX;
        assert_eq!(next_session_write_unix_ms(1_000, 5_000, 251), 1_000 + 251 * factor);
        assert_eq!(next_session_write_unix_ms(1_000, 5_000, 2_700), 1_000 + 2_700 * factor);
        assert_eq!(next_session_write_unix_ms(u64::MAX - 1, 5_000, u64::MAX), u64::MAX);
    }
}
