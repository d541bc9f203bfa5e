//! Counters judged at their edge, on copies of a node's registry restored from its snapshot (the
//! first restore of a run, beside the snapshot refusals of `selftest.rs`): the copies are
//! thrown away, so no choice and no trace changes.
//!
//! - The event queue: a copy whose `events_max` is 1 that logs in two sessions holds 1 event
//!   and counts 1 dropped (`NodeStats::events_dropped`), exactly.
//! - Installs from meta ([`ServerRegistry`], the adapter cluster sync installs through): a
//!   session of a user the role table does not know, or with an address one byte past
//!   `CLIENT_IP_BYTES_MAX`, or into a copy already at its `sessions_max`, is refused and
//!   counted in `installs_refused`; one at the address bound with a known user is installed
//!   and counts nothing.

use graphsession_core::cluster::{
    LocalSessions, MetaSnapshot, NodeId, ServerRegistry, SessionRecord,
};
use graphsession_core::server::{
    CLIENT_IP_BYTES_MAX, Config, Login, PasswordCheck, RestoreParts, SessionManager, Snapshot,
};
use graphsession_id_gen::SessionId;
use graphsession_permission::RoleTable;

use crate::world::Checked;
use crate::world::client::USER;
use crate::world::node::{CLIENT_IP, leased_parts};

/// Id slots of the probes' copies (10 bits; the world's nodes lease slots from 1 up).
const PROBE_SLOT_BASE: u16 = 1_000;

/// Node `node`'s snapshot restored with `config` (room for two more sessions than it holds,
/// no per-(user, ip) limit unless `full`: then exactly its sessions).
pub(super) fn copy(
    node: u16,
    snapshot: &Snapshot,
    config: &Config,
    table: &RoleTable,
    change: impl FnOnce(&mut Config),
) -> Result<SessionManager, String> {
    // A slot no node of the world leases: the copy's new ids are no snapshot session's.
    let parts = leased_parts(PROBE_SLOT_BASE + node, 1)?;
    let mut config = config.clone();
    let held = u64::try_from(snapshot.body.sessions.len()).unwrap_or(u64::MAX);
    config.sessions_max = config.sessions_max.max(held.saturating_add(2));
    config.sessions_per_user_ip_max = 0;
    change(&mut config);
    let parts =
        RestoreParts { config, session_ids: parts.session_ids, plan_ids: parts.plan_ids, table };
    SessionManager::restore_snapshot(snapshot.clone(), parts)
        .map_err(|error| format!("[counter_probe] node {node}'s snapshot did not restore: {error}"))
}

/// The event queue's bound and its dropped count, exactly at the edge.
pub(super) fn check_event_bound(
    node: u16,
    snapshot: &Snapshot,
    config: &Config,
    table: &RoleTable,
) -> Checked {
    let registry = copy(node, snapshot, config, table, |config| config.events_max = 1)?;
    let now = snapshot.body.newest_unix_ms;
    let login = Login { user: USER, client_ip: CLIENT_IP, password: PasswordCheck::Verified };
    for _ in 0..2 {
        registry.login(now, login, table).map_err(|error| {
            format!(
                "[counter_probe] node {node}'s restored copy refused a login with room: {error}"
            )
        })?;
    }
    let stats = registry.stats();
    if (stats.events_queued, stats.events_dropped) != (1, 1) {
        return Err(format!(
            "[events_dropped] node {node}'s registry with events_max 1 logged in two sessions and reports \
             {} events queued, {} dropped; expected 1 and 1 (the second event does not fit)",
            stats.events_queued, stats.events_dropped
        ));
    }
    Ok(())
}

/// A session record meta would send, for an id no session of the snapshot has.
fn record(snapshot: &Snapshot, user: &str, client_ip: String) -> Option<SessionRecord> {
    let top = snapshot.body.sessions.iter().map(|session| session.id.get()).max().unwrap_or(0);
    let now = snapshot.body.newest_unix_ms;
    Some(SessionRecord {
        session: SessionId::new(top.checked_add(1_000)?)?,
        user: user.to_owned(),
        client_ip,
        space: String::new(),
        space_set_unix_ms: 0,
        created_unix_ms: now,
        last_activity_unix_ms: now,
        owner: NodeId(0),
    })
}

/// Installs through cluster sync's adapter: refused and counted where a bound says so, admitted
/// and not counted at the bound.
pub(super) fn check_install_refusals(
    node: u16,
    snapshot: &Snapshot,
    config: &Config,
    table: &RoleTable,
) -> Checked {
    let bound = CLIENT_IP_BYTES_MAX as usize;
    let held = u64::try_from(snapshot.body.sessions.len()).unwrap_or(u64::MAX);
    let full = |config: &mut Config| config.sessions_max = held.max(1);
    let cases: [(&str, &str, String, bool, bool); 4] = [
        ("a user the role table does not know", "nobody-here", CLIENT_IP.to_owned(), false, false),
        ("an address one byte past its bound", USER, "1".repeat(bound + 1), false, false),
        ("an address at its bound", USER, "1".repeat(bound), true, false),
        ("a registry at its sessions_max", USER, CLIENT_IP.to_owned(), false, true),
    ];
    for (what, user, client_ip, admitted, at_max) in cases {
        if at_max && held == 0 {
            continue;
        }
        let registry = copy(node, snapshot, config, table, |config| {
            if at_max {
                full(config);
            }
        })?;
        let Some(record) = record(snapshot, user, client_ip) else { return Ok(()) };
        let mut adapter = ServerRegistry::new(snapshot.body.newest_unix_ms, &registry, table);
        adapter.install(&record);
        let refused = adapter.installs_refused();
        let installed = registry.session_count() == held + 1;
        if (installed, refused) != (admitted, u32::from(!admitted)) {
            return Err(format!(
                "[installs_refused] node {node}'s registry given an install from meta with {what}: installed \
                 {installed}, installs_refused {refused}; expected {}",
                if admitted { "installed, 0 refused" } else { "refused and counted: 1" }
            ));
        }
    }
    Ok(())
}

/// Meta counted `count` kill marks just before it persisted `snapshot`: the marks the snapshot
/// holds. Returns whether it held any (and so whether the count was judged above zero).
pub(super) fn check_kill_mark_count(count: u32, snapshot: &MetaSnapshot) -> Result<bool, String> {
    let value = serde_json::to_value(snapshot)
        .map_err(|error| format!("meta snapshot does not serialize: {error}"))?;
    let held = value.get("kills").and_then(serde_json::Value::as_array).map_or(0, Vec::len);
    if usize::try_from(count).ok() != Some(held) {
        return Err(format!(
            "[kill_mark_count] meta counted {count} kill marks; expected the {held} its persisted state holds"
        ));
    }
    Ok(held > 0)
}
