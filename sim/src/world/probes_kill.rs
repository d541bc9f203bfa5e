//! More counter probes on throw-away copies of a node's registry restored from its snapshot
//! (beside `probes.rs`, at the same first restore of a run: no choice and no trace changes):
//!
//! - **Kills counted by cause.** A copy runs a query in a new session and meta ends that session
//!   (expired, then another ended elsewhere): each end kills its query, and the copy's
//!   `check_invariants` must still hold, among them the query registry's `counters_add_up`
//!   (`started == finished + failed + killed() + running`), so every cause of a kill counts
//!   in `killed()` once. The swarm's sessions with a running query never expire at meta, so
//!   only a probe reaches the expiry kill.
//! - **A snapshot holds no gauge.** A copy with an event queued (a login no one polled) writes
//!   a snapshot whose stats say 0 active, 0 events queued and 0 dropped: a restore recomputes
//!   them, so a snapshot is a function of the sessions, counters and lockouts.

use graphsession_core::server::{
    ClusterEnd, Config, Login, PasswordCheck, SessionManager, Snapshot,
};
use graphsession_permission::RoleTable;

use crate::world::Checked;
use crate::world::client::USER;
use crate::world::node::CLIENT_IP;
use crate::world::probes::copy;

/// A statement the probes' copies run (held open until its session ends).
const PROBE_STATEMENT: &str = "GO FROM 1 OVER follow";

/// One session logged in on `registry`, which has room for it.
fn log_in(
    node: u16,
    registry: &SessionManager,
    now: u64,
    table: &RoleTable,
) -> Result<graphsession_id_gen::SessionId, String> {
    let login = Login { user: USER, client_ip: CLIENT_IP, password: PasswordCheck::Verified };
    registry.login(now, login, table).map_err(|error| {
        format!("[kill_count_probe] node {node}'s restored copy refused a login with room: {error}")
    })
}

/// One session logged in on `registry` with one query running in it.
fn session_with_query(
    node: u16,
    registry: &SessionManager,
    now: u64,
    table: &RoleTable,
) -> Result<graphsession_id_gen::SessionId, String> {
    let session = log_in(node, registry, now, table)?;
    // The executor's handle goes with the start: only the registry's end is judged.
    let _start =
        registry.begin_query(now, session.get(), PROBE_STATEMENT, table).map_err(|error| {
            format!("[kill_count_probe] node {node}'s restored copy refused a query: {error}")
        })?;
    Ok(session)
}

/// Each cluster end kills its session's query, and the copy's invariants (its query counters
/// adding up) hold after each.
pub(super) fn check_kill_counts(
    node: u16,
    snapshot: &Snapshot,
    config: &Config,
    table: &RoleTable,
) -> Checked {
    let registry = copy(node, snapshot, config, table, |_| {})?;
    let now = snapshot.body.newest_unix_ms;
    for end in [ClusterEnd::Expired, ClusterEnd::EndedElsewhere] {
        let session = session_with_query(node, &registry, now, table)?;
        if !registry.end_from_cluster(now, session, end) {
            return Err(format!(
                "[kill_count_probe] node {node}'s restored copy did not hold session {session} \
                 when meta ended it ({end:?})"
            ));
        }
        judge_kill_counts(node, end, registry.check_invariants().map_err(|v| format!("{v:?}")))?;
    }
    Ok(())
}

/// The verdict on a copy's invariants after a kill by `end`.
fn judge_kill_counts(node: u16, end: ClusterEnd, found: Result<(), String>) -> Checked {
    found.map_err(|violation| {
        format!(
            "[kill_counts] node {node}'s restored copy, a query killed by meta's end of its \
             session ({end:?}): check_invariants said {violation}; expected every kill counted \
             once, by its cause"
        )
    })
}

/// A snapshot written with an event queued carries no gauge.
pub(super) fn check_snapshot_gauges(
    node: u16,
    snapshot: &Snapshot,
    config: &Config,
    table: &RoleTable,
) -> Checked {
    let registry = copy(node, snapshot, config, table, |_| {})?;
    let now = snapshot.body.newest_unix_ms;
    log_in(node, &registry, now, table)?;
    let queued = registry.stats().events_queued;
    let written = registry.snapshot().body.stats;
    judge_gauges(node, queued, (written.active, written.events_queued, written.events_dropped))
}

/// The verdict on the gauges `(active, events_queued, events_dropped)` of a snapshot written
/// while `queued` events waited.
fn judge_gauges(node: u16, queued: u64, gauges: (u64, u64, u64)) -> Checked {
    if gauges == (0, 0, 0) {
        return Ok(());
    }
    Err(format!(
        "[snapshot_written_gauges] node {node}'s restored copy, with {queued} events queued, \
         wrote a snapshot with (active, events_queued, events_dropped) {gauges:?}; expected \
         (0, 0, 0): a restore recomputes them"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_miscounted_kill_is_reported() {
        assert!(judge_kill_counts(0, ClusterEnd::Expired, Ok(())).is_ok());
        let found = Err("counters_add_up: counters do not add up".to_owned());
        let error = judge_kill_counts(2, ClusterEnd::Expired, found).unwrap_err();
        assert!(error.starts_with("[kill_counts] node 2"), "{error}");
    }

    #[test]
    fn a_snapshot_with_a_gauge_is_reported() {
        assert!(judge_gauges(0, 1, (0, 0, 0)).is_ok());
        let error = judge_gauges(1, 1, (0, 1, 0)).unwrap_err();
        assert!(error.starts_with("[snapshot_written_gauges] node 1"), "{error}");
    }
}
