//! The faults of the cluster world, each a weighted step kind: socket resets, client process
//! kills, graph node crashes (state lost, or restored from the node's last snapshot), partitions
//! and their healing, clock steps, and meta's messages lost, duplicated, reordered, or lost with
//! its leader.

use graphsession_core::client::{ConnectionId, TransportEvent};
use graphsession_core::cluster::{MetaSnapshot, MetaStore};

use crate::world::client::Life;
use crate::world::network::Message;
use crate::world::node::SimNode;
use crate::world::{Checked, ClusterWorld, Link, Mark};
use crate::world::{probes, probes_kill, selftest};

/// Meta crashes a run serializes meta's state at, to count its kill marks (`probes.rs`).
const KILL_MARK_TRIES_MAX: u8 = 3;

impl ClusterWorld {
    /// Fault: a random open socket is reset; what was in flight on it is lost both ways.
    pub(super) fn fault_reset(&mut self) {
        let open: Vec<ConnectionId> = self
            .sockets
            .iter()
            .filter(|(_, socket)| socket.open)
            .map(|(connection, _)| *connection)
            .collect();
        if open.is_empty() {
            return;
        }
        let connection = open[self.choose.index(open.len())];
        self.reset_socket(connection);
    }

    /// Socket `connection` is reset: what was in flight on it is lost both ways; its client learns.
    pub(super) fn reset_socket(&mut self, connection: ConnectionId) {
        let _lost = self.network.drop_connection(connection);
        if let Some(socket) = self.sockets.get_mut(&connection) {
            socket.open = false;
            let node = socket.node;
            let delay = self.delay();
            let closed = Message::ClosedAtNode { node, connection };
            self.network.send(self.now_ms, delay, closed);
        }
        self.stats.resets += 1;
        self.trace(connection.0);
        self.note("reset", || format!("socket {:#x}", connection.0));
        let delay = self.delay();
        let event = Message::ToClient { connection, event: TransportEvent::Closed };
        self.network.send(self.now_ms, delay, event);
    }

    /// Fault: a graph node process crashes and a new one starts on the same slot: its sockets
    /// reset, its pending replies are lost, and its registry is empty (it reloads from meta) or,
    /// if the seed keeps snapshots, restored from the last one.
    pub(super) fn fault_node_restart(&mut self) -> Checked {
        let index = self.pick_node_index();
        let node = u16::try_from(index).unwrap_or(0);
        let incarnation = self.nodes[index].incarnation + 1;
        let now = self.node_now(index);
        let snapshot = self.nodes[index].snapshot.take();
        let restore = snapshot.is_some() && self.choose.chance(1, 2);
        let mut fresh = match snapshot {
            Some(snapshot) if restore => {
                let bytes = snapshot.to_bytes();
                let mut fresh = SimNode::restore(
                    node,
                    &self.config,
                    now,
                    incarnation,
                    (&bytes, &self.table),
                    self.options.generator,
                )?;
                selftest::check_restored(node, &snapshot, &bytes, fresh.registry())?;
                #[cfg(feature = "checkers")]
                if self.twist.trust_snapshots {
                    fresh.graph_mut().trust_restored_sessions();
                }
                fresh.note_ended_at_start(&self.meta);
                if !self.snapshot_refusals_checked {
                    self.snapshot_refusals_checked = true;
                    selftest::check_snapshot_refusals(node, &snapshot, &fresh.server, &self.table)?;
                    super::snapshot_bytes::check_body_trailing(node, &snapshot)?;
                    probes::check_event_bound(node, &snapshot, &fresh.server, &self.table)?;
                    probes::check_install_refusals(node, &snapshot, &fresh.server, &self.table)?;
                    probes_kill::check_kill_counts(node, &snapshot, &fresh.server, &self.table)?;
                    probes_kill::check_snapshot_gauges(
                        node,
                        &snapshot,
                        &fresh.server,
                        &self.table,
                    )?;
                    self.stats.counter_probes += 4;
                }
                if fresh.registry().session_count() > 0 {
                    self.marks.hit(Mark::RestoredFromSnapshot);
                }
                fresh
            }
            _ => SimNode::new(node, &self.config, now, incarnation, self.options.generator)?,
        };
        self.note("node_restart", || format!("node {index} (from snapshot: {restore})"));
        // The simulator's own bookkeeping survives the process.
        fresh.counters = self.nodes[index].counters;
        fresh.started = std::mem::take(&mut self.nodes[index].started);
        fresh.killed_plans = std::mem::take(&mut self.nodes[index].killed_plans);
        fresh.plans_seen = std::mem::take(&mut self.nodes[index].plans_seen);
        fresh.ended = std::mem::take(&mut self.nodes[index].ended);
        self.nodes[index] = fresh;
        self.forget_activity_of(index);
        self.stats.node_restarts += 1;
        let reset: Vec<ConnectionId> = self
            .sockets
            .iter()
            .filter(|(_, socket)| socket.open && socket.node == node)
            .map(|(connection, _)| *connection)
            .collect();
        for connection in reset {
            self.reset_socket(connection);
        }
        self.service_node(index)
    }

    /// Fault: a client process dies without closing; its sessions become orphans.
    pub(super) fn fault_kill(&mut self) {
        let slot = self.pick_client();
        if self.clients[slot].life != Life::Running {
            return;
        }
        self.note("kill", || format!("client {slot}"));
        self.clients[slot].life = Life::Killed;
        self.dirty.client(slot);
        let process = self.clients[slot].process;
        self.accounting.killed_processes.insert(process);
        self.close_sockets_of(process);
        self.stats.kills += 1;
    }

    /// Fault: a link is cut: a client slot from a node (its sockets' traffic waits), or a node
    /// from meta (messages lost both ways).
    pub(super) fn fault_partition(&mut self) {
        let node = u16::try_from(self.pick_node_index()).unwrap_or(0);
        let link = if self.choose.chance(1, 2) {
            Link::NodeMeta { node }
        } else {
            let client = u16::try_from(self.pick_client()).unwrap_or(0);
            Link::ClientNode { client, node }
        };
        if !self.partitions.insert(link) {
            return;
        }
        self.stats.partitions += 1;
        self.note("partition", || format!("{link:?}"));
        self.apply_link(link, true);
    }

    /// One cut link heals.
    pub(super) fn heal_one(&mut self) {
        let cut: Vec<Link> = self.partitions.iter().copied().collect();
        if cut.is_empty() {
            return;
        }
        let link = cut[self.choose.index(cut.len())];
        self.partitions.remove(&link);
        self.note("heal", || format!("{link:?}"));
        self.apply_link(link, false);
    }

    /// Every cut link heals (the liveness phase).
    pub(super) fn heal_all(&mut self) {
        let cut: Vec<Link> = std::mem::take(&mut self.partitions).into_iter().collect();
        for link in cut {
            self.apply_link(link, false);
        }
        self.network.heal_all();
    }

    fn apply_link(&mut self, link: Link, cut: bool) {
        self.time_oracles.links_changed = true;
        match link {
            Link::NodeMeta { node } => self.network.cut_from_meta(node, cut),
            Link::ClientNode { client, node } => {
                // In id order (the map's), as hold_all and carries_any expect.
                let sockets: Vec<ConnectionId> = self
                    .sockets
                    .iter()
                    .filter(|(_, socket)| socket.client == client && socket.node == node)
                    .map(|(connection, _)| *connection)
                    .collect();
                // Whether traffic waited is a question for a healing only.
                let waiting = !cut && self.network.carries_any(&sockets);
                self.network.hold_all(&sockets, cut);
                if waiting {
                    self.marks.hit(Mark::HealedWithTrafficHeld);
                }
            }
        }
    }

    /// Fault: a node's clock steps forward or back, within the seed's skew bound.
    pub(super) fn fault_clock_step(&mut self) -> Checked {
        let bound = i64::try_from(self.config.clock_skew_max_ms).unwrap_or(0);
        if bound == 0 {
            return Ok(());
        }
        let index = self.pick_node_index();
        let spread = u64::try_from(2 * bound).unwrap_or(0);
        let target = i64::try_from(self.choose.range(0, spread)).unwrap_or(0) - bound;
        let before = self.skew_ms[index];
        self.skew_ms[index] = target;
        if target < before {
            self.marks.hit(Mark::ClockSteppedBack);
        }
        self.stats.clock_steps += 1;
        self.note("clock_step", || format!("node {index}: {before} ms -> {target} ms"));
        self.service_node(index)
    }

    /// Fault: a node-meta message in flight is delivered twice.
    pub(super) fn fault_meta_duplicate(&mut self) {
        let pick = self.choose.any_u64();
        let extra = self.choose.range(0, 4 * self.config.latency_max_ms);
        if self.network.duplicate_meta_message(pick, extra) {
            self.stats.meta_duplicates += 1;
            self.note("meta_duplicate", || format!("+{extra} ms"));
        }
    }

    /// Fault: a node-meta message in flight arrives after later ones.
    pub(super) fn fault_meta_reorder(&mut self) {
        let pick = self.choose.any_u64();
        let extra = self.choose.range(1, 4 * self.config.latency_max_ms + 1);
        if self.network.delay_meta_message(pick, extra) {
            self.stats.meta_reorders += 1;
            self.note("meta_reorder", || format!("+{extra} ms"));
        }
    }

    /// Fault: meta's leader crashes. A new leader restores the state the old one persisted after
    /// its last request (its [`MetaSnapshot`]; the byte form is the fuzz targets' business);
    /// messages in flight to or from meta are lost.
    pub(super) fn fault_meta_crash(&mut self) -> Checked {
        // The old leader is gone: what it persisted is taken from it, not copied.
        let empty = MetaStore::new(self.meta_config)
            .map_err(|error| format!("meta config refused: {error}"))?;
        let kill_marks = self.meta.kill_mark_count();
        let snapshot: MetaSnapshot = std::mem::replace(&mut self.meta, empty).into_snapshot();
        // Meta keeps kill marks only for KILL QUERY the admin asked: until one is, there is
        // nothing to count (and the serialized form is not built); a few crashes after, it is
        // tried at most `KILL_MARK_TRIES_MAX` times a run (serializing meta costs).
        if !self.checker_tests.kill_marks_checked
            && !self.kills_asked.is_empty()
            && self.checker_tests.kill_mark_tries < KILL_MARK_TRIES_MAX
        {
            self.checker_tests.kill_mark_tries += 1;
            self.checker_tests.kill_marks_checked =
                probes::check_kill_mark_count(kill_marks, &snapshot)?;
            self.stats.counter_probes += u64::from(self.checker_tests.kill_marks_checked);
        }
        if !self.meta_refusals_checked {
            self.meta_refusals_checked = true;
            selftest::check_meta_refusals(self.meta_config, &snapshot)?;
        }
        self.meta = MetaStore::restore(self.meta_config, snapshot)
            .map_err(|error| format!("meta restore refused its own snapshot: {error}"))?;
        let lost = self.network.drop_meta_messages();
        // Not marked for `check_all`: `restore` ran `check_invariants` on the very store it
        // returned, and nothing in this step changes it after.
        if self.meta.live_sessions().next().is_some() {
            self.marks.hit(Mark::MetaFailover);
        }
        self.stats.meta_crashes += 1;
        self.note("meta_crash", || format!("{lost} messages lost"));
        Ok(())
    }
}
