//! The checks after every step: the invariants of every machine a step may have changed, and
//! the oracles on what clients send; the counters a run reports.

use graphsession_core::client::Request;

use crate::world::client::{Life, SimClient};
use crate::world::marks::Mark;
use crate::world::{Checked, ClusterWorld, LastStep, bits};

impl ClusterWorld {
    /// The invariants of every machine that took an input since the last check; the per-node
    /// count oracle for the registries among them. A node's sync and its registry are two
    /// machines: a sync round that only reads the registry (most of them) leaves the registry
    /// as it was, and with it the result of its check.
    pub(super) fn check_all(&mut self) -> Checked {
        let dirty = std::mem::take(&mut self.dirty);
        // A registry takes inputs only through its node's, which mark the node.
        let mut registries = 0_u64;
        for index in bits(dirty.nodes) {
            if self.nodes[index].take_registry_touched() {
                registries |= 1 << (index % 64);
            }
        }
        self.check_user_ip_counts(bits(registries))?;
        self.time_oracles.meta_changed |= dirty.meta;
        self.accounting.meta_changed |= dirty.meta;
        self.accounting.servers_changed |= dirty.meta || dirty.nodes != 0 || registries != 0;
        self.accounting.clients_changed |= dirty.clients;
        self.accounting.timers_stale.0 |= dirty.nodes | registries;
        self.accounting.timers_stale.1 |= dirty.clients;
        // A step that gave no machine an input (a tick, a partition, a lost message) changes no
        // session's existence or accounting: the per-session oracles skip it.
        let servers = dirty.meta || dirty.nodes != 0 || registries != 0;
        let changed = servers || dirty.clients != 0;
        self.last_step = LastStep { changed, servers, clients: dirty.clients };
        if dirty.meta {
            self.meta.check_invariants().map_err(|error| format!("meta invariant: {error:?}"))?;
        }
        for index in bits(dirty.nodes | registries) {
            let node = &self.nodes[index];
            if dirty.nodes & (1 << index) != 0 {
                node.sync()
                    .check_invariants()
                    .map_err(|error| format!("node {index} sync invariant: {error:?}"))?;
                node.graph()
                    .check_own()
                    .map_err(|error| format!("node {index} invariant: {error:?}"))?;
            }
            if registries & (1 << index) != 0 {
                let registry = node.registry();
                registry
                    .check_invariants()
                    .map_err(|error| format!("node {index} registry invariant: {error:?}"))?;
                let (active, held) = (registry.stats().active, registry.session_count());
                if active != held {
                    return Err(format!(
                        "[node_stats] node {index} reports {active} active sessions; expected the {held} it holds"
                    ));
                }
            }
        }
        for slot in bits(dirty.clients) {
            let client = &mut self.clients[slot];
            if client.life == Life::Running {
                client
                    .check_invariants()
                    .map_err(|error| format!("client {slot} invariant: {error}"))?;
            }
        }
        Ok(())
    }

    pub(super) fn collect_counters(&mut self) {
        for node in &self.nodes {
            self.stats.sessions_created += node.counters.created;
            self.stats.sessions_signed_out += node.counters.signed_out;
            self.stats.sessions_expired += node.counters.expired;
            self.stats.sessions_ended_other += node.counters.ended_other;
            self.stats.queries += node.counters.queries;
            self.stats.pick_ups += node.counters.pick_ups;
            self.stats.long_queries += node.counters.long_queries;
            self.stats.long_queries_killed += node.counters.long_queries_killed;
            self.stats.long_queries_timed_out += node.counters.long_queries_timed_out;
            self.stats.uses += node.counters.uses;
        }
        if self.stats.pick_ups > 0 {
            self.marks.hit(Mark::PickUpOnAnotherNode);
        }
        if self.stats.long_queries_killed > 0 {
            self.marks.hit(Mark::LongQueryKilled);
        }
        if self.stats.long_queries_timed_out > 0 {
            self.marks.hit(Mark::QueryTimedOut);
        }
    }
}

/// Oracles: a client names only session ids an `AuthenticateOk` gave it, and never logs in
/// after its application closed it.
pub(super) fn check_request_names_given_id(
    client: &SimClient,
    slot: usize,
    request: &Request,
) -> Checked {
    let named = match request {
        Request::Authenticate { .. } if client.close_requested => {
            return Err(format!(
                "[login_after_close] client {slot} (process {}) sent Authenticate after its application closed it; \
                 expected no new session after close",
                client.process
            ));
        }
        Request::Execute { session_id, .. } if *session_id != 0 => *session_id,
        Request::SignOut { session_id } => session_id.get(),
        _ => return Ok(()),
    };
    if client.given.contains(&named) {
        return Ok(());
    }
    Err(format!(
        "[unknown_id] client {slot} (process {}) sent {request:?} naming session {named}; expected only ids it was given: {:?}",
        client.process, client.given
    ))
}
