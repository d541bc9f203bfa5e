//! Oracles on what a node persists and what it must refuse, run beside the workload: they read
//! the machines and never feed the world, so no choice and no trace changes.
//!
//! - A restored registry holds what its snapshot held (every session's fields, the lockouts,
//!   the counters) and counts its sessions; the snapshot's bytes read back to the snapshot.
//! - A snapshot on disk may be corrupted: the first restore of a run also tries the node's real
//!   snapshot with one thing broken at a time (a byte flipped, bytes trailing, a session's name,
//!   address, space, times, variables or history past its bound, a lockout the throttle never
//!   writes, more sessions than `sessions_max`), each with a valid checksum, and requires a
//!   refusal; the same snapshot with each bound met exactly must be admitted.
//! - Meta's persisted state with one number changed (its digest left as written) is refused.
//! - A node's configuration: the node runs the one it was started with, and the same
//!   configuration with one field out of its range (or at its edge) is refused (or admitted) by
//!   [`Config::validate`], naming that field.

use graphsession_base::fnv1a64;
use graphsession_core::cluster::{MetaConfig, MetaSnapshot, MetaStore};
use graphsession_core::server::{
    CLIENT_IP_BYTES_MAX, Change, Config, GRAPH_ADDR_BYTES_MAX, HistoryEntry, IDLE_TIMEOUT_MS_MAX,
    IDLE_TIMEOUT_MS_MIN, LockoutRecord, NodeStats, QUERY_TIMEOUT_MS_MAX, RestoreParts,
    SHARD_COUNT_MAX, SessionManager, SessionRecord, Snapshot, SnapshotBody,
};
use graphsession_id_gen::SessionId;
use graphsession_permission::{RoleTable, SPACE_NAME_BYTES_MAX, USER_NAME_BYTES_MAX};

use crate::world::Checked;
use crate::world::node::{CLIENT_IP, leased_parts};

/// Bytes of [`Snapshot::to_bytes`] before the body: magic, version, checksum, body length.
const SNAPSHOT_HEADER_BYTES: usize = 8 + 4 + 8 + 8;

/// A configuration change and whether [`Config::validate`] must refuse it.
type ConfigCase = (&'static str, bool, fn(&mut Config));

/// Each field's edges: one past is refused, at is admitted.
const CONFIG_CASES: [ConfigCase; 14] = [
    ("idle_timeout_ms", true, |c| c.idle_timeout_ms = IDLE_TIMEOUT_MS_MIN - 1),
    ("idle_timeout_ms", false, |c| c.idle_timeout_ms = IDLE_TIMEOUT_MS_MIN),
    ("idle_timeout_ms", false, |c| c.idle_timeout_ms = IDLE_TIMEOUT_MS_MAX),
    ("idle_timeout_ms", true, |c| c.idle_timeout_ms = IDLE_TIMEOUT_MS_MAX + 1),
    ("sessions_max", true, |c| c.sessions_max = 0),
    ("sessions_max", false, |c| c.sessions_max = 1),
    ("shard_count", true, |c| c.shard_count = 3),
    ("shard_count", false, |c| c.shard_count = SHARD_COUNT_MAX),
    ("shard_count", true, |c| c.shard_count = 2 * SHARD_COUNT_MAX),
    ("graph_addr", true, |c| c.graph_addr = "g".repeat(GRAPH_ADDR_BYTES_MAX as usize + 1)),
    ("graph_addr", false, |c| c.graph_addr = "g".repeat(GRAPH_ADDR_BYTES_MAX as usize)),
    ("query_timeout_ms", true, |c| c.query_timeout_ms = QUERY_TIMEOUT_MS_MAX + 1),
    ("query_timeout_ms", false, |c| c.query_timeout_ms = QUERY_TIMEOUT_MS_MAX),
    ("events_max", true, |c| c.events_max = 0),
];

/// A node runs the configuration it was started with.
pub(super) fn check_node_config(node: u16, started_with: &Config, runs: &Config) -> Checked {
    if runs != started_with {
        return Err(format!(
            "[node_config] node {node} runs {runs:?}; expected the configuration it was started with: {started_with:?}"
        ));
    }
    Ok(())
}

/// `Config::validate` admits node `node`'s configuration, refuses each field one past its range
/// and admits it at its edge (once per run: it depends on the configuration alone).
pub(super) fn check_config_refusals(node: u16, started_with: &Config) -> Checked {
    started_with.validate().map_err(|error| {
        format!("[config_refusal] node {node}'s own configuration refused: {error}")
    })?;
    for (field, refused, change) in CONFIG_CASES {
        let mut config = started_with.clone();
        change(&mut config);
        match (config.validate(), refused) {
            (Ok(()), false) => {}
            (Err(error), true) if error.field == field => {}
            (result, _) => {
                return Err(format!(
                    "[config_refusal] {field} changed to the edge of its range ({}): validate said {result:?}; \
                     expected {}",
                    describe(&config, field),
                    if refused { "a refusal naming that field" } else { "Ok" }
                ));
            }
        }
    }
    Ok(())
}

fn describe(config: &Config, field: &str) -> String {
    match field {
        "idle_timeout_ms" => config.idle_timeout_ms.to_string(),
        "sessions_max" => config.sessions_max.to_string(),
        "shard_count" => config.shard_count.to_string(),
        "graph_addr" => format!("{} bytes", config.graph_addr.len()),
        "query_timeout_ms" => config.query_timeout_ms.to_string(),
        _ => config.events_max.to_string(),
    }
}

/// A restored registry holds what its snapshot held, and the snapshot's bytes read back to it.
pub(super) fn check_restored(
    node: u16,
    snapshot: &Snapshot,
    bytes: &[u8],
    restored: &SessionManager,
) -> Checked {
    let read = Snapshot::from_bytes(bytes).map_err(|error| {
        format!("[snapshot_bytes] node {node}'s snapshot does not read back: {error}")
    })?;
    if read != *snapshot {
        return Err(format!(
            "[snapshot_bytes] node {node}'s snapshot read back as {:?}; expected {:?}",
            read.body, snapshot.body
        ));
    }
    let gauges = &snapshot.body.stats;
    if (gauges.active, gauges.events_queued, gauges.events_dropped) != (0, 0, 0) {
        return Err(format!(
            "[snapshot_gauges] node {node}'s snapshot carries the gauges {gauges:?}; expected active and events_* 0 \
             (a restore recomputes them, so a snapshot is a function of the sessions, counters and lockouts)"
        ));
    }
    let now = restored.snapshot().body;
    let count = u64::try_from(snapshot.body.sessions.len()).unwrap_or(u64::MAX);
    if now.sessions.len() != snapshot.body.sessions.len()
        || now.sessions.iter().zip(&snapshot.body.sessions).any(|(got, was)| !same_record(got, was))
        || now.lockouts != snapshot.body.lockouts
    {
        return Err(format!(
            "[snapshot_restore] node {node} restored {:?} with lockouts {:?}; expected the snapshot's {:?} with {:?}",
            now.sessions, now.lockouts, snapshot.body.sessions, snapshot.body.lockouts
        ));
    }
    let stats = restored.stats();
    let expected = NodeStats {
        active: count,
        events_queued: stats.events_queued,
        events_dropped: 0,
        ..snapshot.body.stats
    };
    if stats != expected || restored.session_count() != count {
        return Err(format!(
            "[snapshot_restore] node {node} restored {} sessions with stats {stats:?}; expected {count} and {expected:?}",
            restored.session_count()
        ));
    }
    Ok(())
}

/// The same session, but for the history entry a restore adds (the history ends with it).
fn same_record(got: &SessionRecord, was: &SessionRecord) -> bool {
    let restored_last = got.history.last().is_some_and(|entry| entry.change == Change::Restored);
    let strip = |record: &SessionRecord| SessionRecord {
        history: Vec::new(),
        history_dropped: 0,
        ..record.clone()
    };
    restored_last && strip(got) == strip(was)
}

/// A change to a snapshot body (with the restoring configuration) and whether restore must
/// refuse it.
type BodyCase = (&'static str, bool, fn(&mut SnapshotBody, &mut Config));

/// A session for a snapshot that holds none: the cases change the first session.
fn synthetic(newest: u64) -> Option<SessionRecord> {
    Some(SessionRecord {
        id: SessionId::new(1)?,
        user: crate::world::client::USER.to_owned(),
        client_ip: CLIENT_IP.to_owned(),
        space: None,
        space_set_unix_ms: newest,
        origin: graphsession_core::server::Origin::LoggedIn,
        created_unix_ms: newest,
        last_activity_unix_ms: newest,
        queries_run: 0,
        queries_killed: 0,
        variables: std::collections::BTreeMap::new(),
        history: Vec::new(),
        history_dropped: 0,
    })
}

/// The session every case changes (the body holds one: see [`check_snapshot_refusals`]).
fn first(body: &mut SnapshotBody) -> &mut SessionRecord {
    &mut body.sessions[0]
}

/// A second session of the first's user, from another address, with an id no session has.
fn another(body: &mut SnapshotBody) {
    let top = body.sessions.iter().map(|record| record.id.get()).max().unwrap_or(0);
    let mut other = body.sessions[0].clone();
    other.id = SessionId::new(top.saturating_add(1)).unwrap_or(other.id);
    other.client_ip = "10.9.9.9".to_owned();
    body.sessions.push(other);
}

fn variables(
    count: usize,
    name_bytes: usize,
    value_bytes: usize,
) -> std::collections::BTreeMap<String, String> {
    (0..count).map(|index| (format!("{index:0name_bytes$}"), "v".repeat(value_bytes))).collect()
}

fn history(body: &SnapshotBody, count: usize) -> Vec<HistoryEntry> {
    let entry = HistoryEntry { at_unix_ms: body.newest_unix_ms, change: Change::Restored };
    vec![entry; count]
}

fn lockout(remaining_attempts: u32, locked_until_unix_ms: Option<u64>) -> LockoutRecord {
    LockoutRecord { user: "locked".to_owned(), remaining_attempts, locked_until_unix_ms }
}

const BODY_CASES: [BodyCase; 22] = [
    ("an empty user name", true, |b, _| first(b).user = String::new()),
    ("a user name one past its bound", true, |b, _| {
        first(b).user = "u".repeat(USER_NAME_BYTES_MAX as usize + 1);
    }),
    ("a user name at its bound", false, |b, _| {
        first(b).user = "u".repeat(USER_NAME_BYTES_MAX as usize);
    }),
    ("a client ip one past its bound", true, |b, _| {
        first(b).client_ip = "1".repeat(CLIENT_IP_BYTES_MAX as usize + 1);
    }),
    ("a client ip at its bound", false, |b, _| {
        first(b).client_ip = "1".repeat(CLIENT_IP_BYTES_MAX as usize);
    }),
    ("an empty space name", true, |b, _| first(b).space = Some(String::new())),
    ("a space name one past its bound", true, |b, _| {
        first(b).space = Some("s".repeat(SPACE_NAME_BYTES_MAX as usize + 1));
    }),
    ("a space name at its bound", false, |b, _| {
        first(b).space = Some("s".repeat(SPACE_NAME_BYTES_MAX as usize));
    }),
    ("created after its last activity", true, |b, _| {
        let record = first(b);
        record.created_unix_ms = record.last_activity_unix_ms + 1;
    }),
    ("activity after the newest time", true, |b, _| {
        let newest = b.newest_unix_ms;
        let record = first(b);
        record.last_activity_unix_ms = newest + 1;
        record.created_unix_ms = newest;
    }),
    ("created, active and newest at one time", false, |b, _| {
        let newest = b.newest_unix_ms;
        let record = first(b);
        record.created_unix_ms = newest;
        record.last_activity_unix_ms = newest;
    }),
    ("one variable past variables_per_session_max", true, |b, c| {
        let count = c.variables_per_session_max as usize + 1;
        first(b).variables = variables(count, 4, 1);
    }),
    ("variables_per_session_max variables", false, |b, c| {
        let count = c.variables_per_session_max as usize;
        first(b).variables = variables(count, 4, 1);
    }),
    ("a variable one byte past variable_bytes_max", true, |b, c| {
        first(b).variables = variables(1, 1, c.variable_bytes_max as usize);
    }),
    ("a variable of variable_bytes_max bytes", false, |b, c| {
        first(b).variables = variables(1, 2, c.variable_bytes_max as usize - 2);
    }),
    ("history one past session_history_max", true, |b, c| {
        let entries = history(b, c.session_history_max as usize + 1);
        first(b).history = entries;
    }),
    ("session_history_max history entries", false, |b, c| {
        let entries = history(b, c.session_history_max as usize);
        first(b).history = entries;
    }),
    ("the same session twice", true, |b, _| {
        let record = first(b).clone();
        b.sessions.push(record);
    }),
    ("one session past sessions_max", true, |b, c| {
        another(b);
        c.sessions_max = u64::try_from(b.sessions.len() - 1).unwrap_or(1);
    }),
    ("sessions_max sessions", false, |b, c| {
        c.sessions_max = u64::try_from(b.sessions.len()).unwrap_or(u64::MAX);
    }),
    ("a counting lockout with no attempts left", true, |b, _| b.lockouts = vec![lockout(0, None)]),
    ("a locked user with attempts left", true, |b, _| {
        let until = b.newest_unix_ms + 1_000;
        b.lockouts = vec![lockout(1, Some(until))];
    }),
];

/// The body's checksum as [`Snapshot::to_bytes`] writes it.
fn with_checksum(body: SnapshotBody, format_version: u32) -> Snapshot {
    let mut snapshot = Snapshot { format_version, checksum: 0, body };
    let bytes = snapshot.to_bytes();
    snapshot.checksum = fnv1a64(bytes.get(SNAPSHOT_HEADER_BYTES..).unwrap_or_default());
    snapshot
}

/// Restores `snapshot` as node `node`'s next process would: whether it was admitted.
fn admitted(
    snapshot: Snapshot,
    config: Config,
    table: &RoleTable,
    node: u16,
) -> Result<Result<(), String>, String> {
    let parts = leased_parts(node + 1, 1)?;
    let parts =
        RestoreParts { config, session_ids: parts.session_ids, plan_ids: parts.plan_ids, table };
    Ok(SessionManager::restore_snapshot(snapshot, parts)
        .map(|_| ())
        .map_err(|error| error.to_string()))
}

/// Restore refuses the node's real snapshot with one thing broken, and admits it with each bound
/// met exactly; its bytes refuse a flipped byte and a trailing one.
pub(super) fn check_snapshot_refusals(
    node: u16,
    snapshot: &Snapshot,
    config: &Config,
    table: &RoleTable,
) -> Checked {
    let bytes = snapshot.to_bytes();
    let mut flipped = bytes.clone();
    if let Some(byte) = flipped.last_mut() {
        *byte ^= 0x5a;
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    for (what, corrupted) in [("a flipped byte", &flipped), ("a trailing byte", &trailing)] {
        if let Ok(read) = Snapshot::from_bytes(corrupted) {
            return Err(format!(
                "[snapshot_refusal] node {node}'s snapshot bytes with {what} read as {:?}; expected a refusal",
                read.body
            ));
        }
    }
    let mut base = snapshot.body.clone();
    if base.sessions.is_empty() {
        base.sessions.extend(synthetic(base.newest_unix_ms));
    }
    if base.sessions.is_empty() {
        return Ok(());
    }
    for (what, refused, change) in BODY_CASES {
        let mut body = base.clone();
        let mut config = config.clone();
        config.sessions_max =
            config.sessions_max.max(u64::try_from(body.sessions.len() + 2).unwrap_or(u64::MAX));
        change(&mut body, &mut config);
        let result = admitted(with_checksum(body, snapshot.format_version), config, table, node)?;
        if result.is_ok() == refused {
            return Err(format!(
                "[snapshot_refusal] node {node}'s snapshot with {what}: restore said {result:?}; expected {}",
                if refused { "a refusal" } else { "Ok" }
            ));
        }
    }
    Ok(())
}

/// Meta's restore refuses its snapshot with one field changed and the digest as written (a
/// corruption the digest exists to catch): the newest time, then the change-log position.
pub(super) fn check_meta_refusals(config: MetaConfig, snapshot: &MetaSnapshot) -> Checked {
    let value = serde_json::to_value(snapshot)
        .map_err(|error| format!("meta snapshot does not serialize: {error}"))?;
    for field in ["now_unix_ms", "seq"] {
        let mut corrupted = value.clone();
        let Some(number) = corrupted.get_mut(field) else {
            return Err(format!("meta snapshot has no field {field}: {value}"));
        };
        let changed = number.as_u64().map_or(1, |n| n ^ 1);
        *number = serde_json::Value::from(changed);
        let corrupted: MetaSnapshot = serde_json::from_value(corrupted)
            .map_err(|error| format!("corrupted meta snapshot does not deserialize: {error}"))?;
        if MetaStore::restore(config, corrupted).is_ok() {
            return Err(format!(
                "[meta_snapshot_refusal] meta restored its snapshot with {field} changed to {changed} under the \
                 digest written for the old value; expected a digest mismatch"
            ));
        }
    }
    Ok(())
}
