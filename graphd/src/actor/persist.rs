//! What the actor writes to the data directory: the role table after every change, the
//! sessions (the meta store and each node's registry) every `--snapshot_interval_secs` (less
//! often when a write takes more than [`SESSION_WRITES_DUTY_PERCENT_MAX`] of that time) and at a
//! clean shutdown, and the leases given back at shutdown. Each write is atomic (`store`).
//!
//! The meta store and the nodes' snapshots are taken at one instant of the actor, so they agree,
//! and are encoded and written on a thread of their own (`session-writes`), one write at a time:
//! the actor stops only for the capture. A clean stop and an in-process crash wait for the write
//! under way, so nothing older lands after what they read or write. A failed write is logged and
//! the next one writes everything. A crash loses at most one interval of session changes (a session created since is unknown
//! after the restart, and its client gets -1002 and logs in again). The node side keeps no
//! state the cluster needs (docs/cluster-protocol.md): a restored node also reloads from meta.

use anyhow::Result;
use graphsession_core::cluster::{MetaCapture, MetaStore};
use graphsession_core::server::Capture;

use crate::actor::Actor;
use crate::clock::{newest_unix_ms, now_unix_ms};
use crate::logging::log;
use crate::store::DataDir;

/// The role table's file.
pub const ROLES_FILE: &str = "roles";
/// The role table's kind.
pub const ROLES_KIND: &str = "roles";
/// The meta store's file.
pub const META_FILE: &str = "meta";
/// The meta store's kind.
pub const META_KIND: &str = "meta";

/// The largest share of the actor's time the periodic session writes may take, in percent.
/// Each capture reads the whole state and stops the actor while it does (at 200,000 sessions
/// 43 to 73 ms, the snapshots then made and written in 1.2 to 2.2 s on the writer's thread;
/// `graphd-load -c 4 --duration 20s --held-sessions 200000`, README), so at a large state the
/// next write waits longer than `--snapshot_interval_secs`: a crash then loses more session
/// changes, but the node still serves.
pub const SESSION_WRITES_DUTY_PERCENT_MAX: u64 = 5;

/// A periodic session write that takes this long or longer (capture and write) is logged, ms;
/// with `--verbose`, every one is.
pub const SESSION_WRITE_LOGGED_MS: u64 = 100;

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

    /// The periodic session write, when it is due (from the timer): the state is captured on
    /// the actor and written on a thread of its own, which says so with
    /// [`Message::SessionsWritten`](crate::actor::Message::SessionsWritten). While one write is
    /// under way no other starts; the next is due once the actor's share of this one (the
    /// capture) has been spaced out ([`next_session_write_unix_ms`]).
    pub(crate) fn start_session_write(&mut self, now: u64) {
        self.reap_session_write();
        if now < self.next_snapshot_unix_ms || self.session_write.is_some() {
            return;
        }
        let captured = self.capture_sessions();
        let took_ms = now_unix_ms().saturating_sub(now);
        self.next_snapshot_unix_ms =
            next_session_write_unix_ms(now, self.snapshot_interval_ms, took_ms);
        let Some(captured) = captured else { return };
        let (dir, inbox, meta_seq) = (self.dir.clone(), self.inbox.clone(), captured.meta_seq);
        let verbose = self.verbose;
        #[expect(clippy::disallowed_methods, reason = "graphd's edge: the session writes' thread")]
        let spawned =
            std::thread::Builder::new().name("session-writes".to_owned()).spawn(move || {
                let started_ms = now_unix_ms();
                let written = captured.write(&dir);
                let write_ms = now_unix_ms().saturating_sub(started_ms);
                if verbose || took_ms.saturating_add(write_ms) >= SESSION_WRITE_LOGGED_MS {
                    log!(
                        "sessions captured in {took_ms} ms on the actor, written in {write_ms} ms"
                    );
                }
                // An actor gone (graphd stopping) joins the thread itself.
                let _told = inbox.send(crate::actor::Message::SessionsWritten);
                written
            });
        match spawned {
            Ok(thread) => self.session_write = Some(SessionWrite { thread, meta_seq }),
            Err(error) => {
                log!("starting the session write failed: {error}");
                self.sessions_unwritten = true;
            }
        }
    }

    /// Takes the outcome of the session write under way if its thread has finished (told by
    /// [`Message::SessionsWritten`](crate::actor::Message::SessionsWritten), which may come
    /// just before the thread returns: then the next timer takes it).
    pub(crate) fn reap_session_write(&mut self) {
        if self.session_write.as_ref().is_some_and(|write| write.thread.is_finished()) {
            self.finish_session_write();
        }
    }

    /// Waits for the session write under way, if any, and takes its outcome: what it wrote is
    /// written, and a failed write makes the next one write everything.
    pub(crate) fn finish_session_write(&mut self) {
        let Some(write) = self.session_write.take() else { return };
        let outcome = write
            .thread
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the session-writes thread panicked")));
        match outcome {
            Ok(()) => self.meta_seq_written = write.meta_seq,
            Err(error) => {
                log!("writing the session snapshots failed: {error:#}");
                self.sessions_unwritten = true;
            }
        }
    }

    /// The meta store and every node's registry, when anything changed since the last write
    /// (or that write failed).
    fn capture_sessions(&mut self) -> Option<CapturedSessions> {
        // Every node's flag is taken (and so cleared), not only up to the first that is set.
        let changed: Vec<bool> =
            self.nodes.iter_mut().map(|host| host.node.take_registry_changed()).collect();
        let registries_changed = changed.contains(&true);
        let meta_seq = self.meta.embedded().map_or(0, |meta| meta.changes_seq());
        let unwritten = std::mem::take(&mut self.sessions_unwritten);
        if !registries_changed && !unwritten && meta_seq == self.meta_seq_written {
            return None;
        }
        let meta = self.meta.embedded().map(MetaStore::capture);
        let nodes = (self.nodes.iter())
            .map(|host| (host.grant.session.slot, host.node.capture()))
            .collect();
        Some(CapturedSessions { meta, nodes, meta_seq })
    }

    /// Writes the sessions now, on the actor, after the write under way (so nothing older
    /// lands after it): at a clean stop, and before a crash's restart reads them.
    pub(crate) fn write_sessions_now(&mut self) -> Result<()> {
        self.finish_session_write();
        let Some(captured) = self.capture_sessions() else { return Ok(()) };
        let meta_seq = captured.meta_seq;
        if let Err(error) = captured.write(&self.dir) {
            self.sessions_unwritten = true;
            return Err(error);
        }
        self.meta_seq_written = meta_seq;
        Ok(())
    }

    /// A clean stop: the sessions, the role table and the leases written for the next start.
    pub(crate) fn shutdown(&mut self) -> Result<()> {
        self.after_step(0);
        // Force the write: a registry unchanged since the last one is written again, cheaply.
        self.sessions_unwritten = true;
        self.write_sessions_now()?;
        // On etcd the slots are released there (`Meta::stop`).
        if self.meta.embedded().is_some() {
            let granted: Vec<_> = self.nodes.iter().map(|host| host.grant).collect();
            self.leases.release(&self.dir, &granted, newest_unix_ms())?;
        }
        log!("stopped; sessions, users and roles written to {}", self.dir.root().display());
        Ok(())
    }
}

/// A periodic session write on its own thread.
#[derive(Debug)]
pub(crate) struct SessionWrite {
    thread: std::thread::JoinHandle<Result<()>>,
    /// Meta's change count it captured.
    meta_seq: u64,
}

/// The sessions as one instant of the actor had them: the meta store (embedded only) and each
/// node's registry by slot, so the files written from them agree. Captures share what they can
/// with the live state (the kernel's `capture`): the snapshots, their records and checksums
/// are made on the thread that writes them, not on the actor.
struct CapturedSessions {
    meta: Option<MetaCapture>,
    nodes: Vec<(u16, Capture)>,
    meta_seq: u64,
}

impl CapturedSessions {
    /// Makes the snapshots, encodes and writes every file (each atomically), meta's first.
    fn write(self, dir: &DataDir) -> Result<()> {
        if let Some(meta) = self.meta {
            dir.write_json(META_FILE, META_KIND, &meta.into_snapshot())?;
        }
        for (slot, captured) in self.nodes {
            dir.write_atomic(&node_file(slot), &captured.into_snapshot().to_bytes())?;
        }
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
