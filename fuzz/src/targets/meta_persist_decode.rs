//! The meta store's persistent form, every way a host reads it back: [`MetaSnapshot`] from raw
//! JSON bytes, from a real snapshot's JSON mutated byte by byte, and from a real snapshot whose
//! JSON values are mutated field by field with the digest recomputed (so mutations reach
//! `MetaStore::restore`'s rebuild and invariant checks instead of stopping at the digest). Bad
//! input must give a typed error ([`PersistError`](graphsession_core::cluster::PersistError) or
//! a JSON error), never a panic; a restored store passes `check_invariants()`, snapshots to
//! exactly what it was restored from, and keeps working: a few requests and a timeout on it keep
//! its invariants.

use std::sync::OnceLock;

use arbitrary::{Result, Unstructured};
use graphsession_base::Fnv1a;
use graphsession_base::codec::Writer;
use graphsession_core::cluster::{
    IdleVote, META_FORMAT_VERSION, MetaSnapshot, MetaStore, NodeId, QueryKill, QueryReport,
    Removal, RemoveReason, Request, RequestId, SessionReport,
};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_query_plan::{QueryKey, QueryStatus};
use serde_json::Value;

use super::meta_store::{CONFIG, persist_and_restore};
use super::snapshot_decode::mutate;
use super::{index, list, within};

const START: u64 = 1_763_900_000_000;
const MUTATIONS_MAX: usize = 8;

fn sid(raw: i64) -> SessionId {
    SessionId::new(raw).unwrap_or_else(|| panic!("fixture session id {raw}"))
}

fn empty_request(round: u64) -> Request {
    Request::empty(RequestId { incarnation: 1, round })
}

fn report(raw: i64, user: &str, at_ms: u64) -> SessionReport {
    SessionReport {
        session: sid(raw),
        user: user.to_owned(),
        client_ip: "10.0.0.1".to_owned(),
        space: if raw % 2 == 0 { "nba".to_owned() } else { String::new() },
        space_set_unix_ms: at_ms,
        created_unix_ms: at_ms,
        last_activity_unix_ms: at_ms,
        running_queries: u32::from(raw == 3),
    }
}

/// A store with live sessions held by two nodes, a pick-up, an idle vote, a tombstone and a
/// kill mark: what a real meta persists.
fn real_store() -> &'static (MetaStore, Vec<u8>) {
    static STORE: OnceLock<(MetaStore, Vec<u8>)> = OnceLock::new();
    STORE.get_or_init(|| {
        let store = MetaStore::new(CONFIG);
        let mut store = store.unwrap_or_else(|error| panic!("the fuzz meta config: {error}"));
        let mut first = empty_request(1);
        first.created =
            vec![report(1, "alice", START), report(2, "bob", START), report(3, "root", START)];
        let _ = store.handle_request(START, NodeId(1), first);
        let mut second = empty_request(1);
        second.pick_ups = vec![sid(2)];
        second.created = vec![report(4, "alice", START + 5)];
        let _ = store.handle_request(START + 10, NodeId(2), second);
        let mut third = empty_request(2);
        third.removals = vec![Removal { session: sid(1), reason: RemoveReason::SignedOut }];
        third.idle = vec![IdleVote {
            session: sid(2),
            last_activity_unix_ms: START,
            voted_unix_ms: START + 20,
        }];
        let key = QueryKey { session: sid(3), plan: PlanId::from_u64(7) };
        third.query_kills =
            vec![QueryKill { key, caller_user: "root".to_owned(), caller_is_god: true }];
        third.queries = Some(vec![QueryReport {
            key,
            start_time_unix_us: START * 1_000,
            status: QueryStatus::Running,
            statement: "YIELD 1".to_owned(),
        }]);
        let _ = store.handle_request(START + 20, NodeId(1), third);
        let json = serde_json::to_vec(&store.snapshot());
        let json = json.unwrap_or_else(|error| panic!("a meta snapshot as JSON: {error}"));
        (store, json)
    })
}

/// The target.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(mode) = index(&mut u, 3) else { return };
    match mode {
        0 => {
            if let Ok(snapshot) = serde_json::from_slice::<MetaSnapshot>(u.take_rest()) {
                restore(snapshot, &mut Unstructured::new(&[]));
            }
        }
        1 => {
            let mut json = real_store().1.clone();
            for _ in 0..MUTATIONS_MAX {
                if u.is_empty() || mutate(&mut u, &mut json).is_err() {
                    break;
                }
            }
            if let Ok(snapshot) = serde_json::from_slice::<MetaSnapshot>(&json) {
                restore(snapshot, &mut u);
            }
        }
        _ => {
            let value = serde_json::from_slice::<Value>(&real_store().1);
            let mut value = value.unwrap_or_else(|error| panic!("the fixture's JSON: {error}"));
            let edits = list(&mut u, MUTATIONS_MAX, |u| edit(u, &mut value));
            if let Some(digest) = digest(&value) {
                value["digest"] = Value::from(digest);
            }
            match serde_json::from_value::<MetaSnapshot>(value) {
                Ok(snapshot) => restore(snapshot, &mut u),
                Err(error) => assert!(!edits.is_empty(), "the unedited fixture: {error}"),
            }
        }
    }
}

/// Restores `snapshot`; a success must be sound, exact, and keep working.
fn restore(snapshot: MetaSnapshot, u: &mut Unstructured<'_>) {
    let Ok(mut store) = MetaStore::restore(CONFIG, snapshot.clone()) else { return };
    if let Err(violation) = store.check_invariants() {
        panic!("a restored store breaks its invariants: {violation}");
    }
    // The lists are sets: restore accepts any order, a snapshot lists by key.
    assert_eq!(content(&store.snapshot()), content(&snapshot), "restore is not exact");
    assert_eq!(store.snapshot().format_version(), META_FORMAT_VERSION, "written in this format");
    let store_again = persist_and_restore(&store, "a restored store");
    assert_eq!(store_again.snapshot(), store.snapshot(), "a second restore is not exact");
    // It keeps working: a node reports, picks up and removes; time passes.
    let now = within(u, START..=START + 100_000).unwrap_or(START);
    for (round, node) in [(1_000, NodeId(1)), (1_000, NodeId(3))] {
        let mut request = empty_request(round);
        request.reload = u
            .arbitrary::<bool>()
            .unwrap_or(false)
            .then_some(graphsession_core::cluster::ReloadFrom { after: None });
        request.updated = vec![report(2, "bob", now)];
        request.pick_ups = vec![sid(3), sid(4)];
        request.removals = vec![Removal { session: sid(4), reason: RemoveReason::Killed }];
        request.show_sessions = true;
        let _ = store.handle_request(now, node, request);
        if let Err(violation) = store.check_invariants() {
            panic!("a restored store, after a request of {node:?}: {violation}");
        }
    }
    let _ = store.handle_timeout(now.saturating_add(10_000));
    if let Err(violation) = store.check_invariants() {
        panic!("a restored store, after a timeout: {violation}");
    }
}

/// A snapshot's content: its lists sorted, without the digest over their order.
fn content(snapshot: &MetaSnapshot) -> Value {
    let value = serde_json::to_value(snapshot);
    let mut value = value.unwrap_or_else(|error| panic!("a meta snapshot as JSON: {error}"));
    if let Some(fields) = value.as_object_mut() {
        fields.remove("digest");
        // A format 1 snapshot restores and is written again in the current format.
        fields.remove("format_version");
        for list in ["nodes", "sessions", "kills", "node_queries"] {
            if let Some(Value::Array(items)) = fields.get_mut(list) {
                items.sort_by_key(Value::to_string);
            }
        }
    }
    value
}

/// One edit of a JSON value: a number, a string, a bool or null replaced, an array element
/// removed or duplicated.
fn edit(u: &mut Unstructured<'_>, value: &mut Value) -> Result<()> {
    let mut paths = Vec::new();
    collect_paths(value, &mut Vec::new(), &mut paths);
    let path = &paths[index(u, paths.len())?];
    let Some(target) = path.iter().try_fold(&mut *value, |node, step| match step {
        Step::Key(key) => node.get_mut(key.as_str()),
        Step::At(at) => node.get_mut(*at),
    }) else {
        return Ok(());
    };
    match target {
        Value::Array(items) if !items.is_empty() => {
            let at = index(u, items.len())?;
            if u.arbitrary()? {
                items.remove(at);
            } else {
                let copy = items[at].clone();
                items.insert(at, copy);
            }
        }
        _ => {
            *target = match index(u, 6)? {
                0 => Value::from(within(u, 0_u64..=8)?),
                1 => Value::from(u.arbitrary::<u64>()?),
                2 => Value::from(target.as_u64().unwrap_or(0).wrapping_add(1)),
                3 => Value::from(target.as_u64().unwrap_or(0).wrapping_sub(1)),
                4 => Value::Null,
                _ => Value::from(*u.choose(&["", "alice", "nba", "Live", "Removed"])?),
            };
        }
    }
    Ok(())
}

enum Step {
    Key(String),
    At(usize),
}

fn collect_paths(value: &Value, at: &mut Vec<Step>, paths: &mut Vec<Vec<Step>>) {
    let copy = |at: &[Step]| {
        at.iter()
            .map(|step| match step {
                Step::Key(key) => Step::Key(key.clone()),
                Step::At(index) => Step::At(*index),
            })
            .collect::<Vec<_>>()
    };
    paths.push(copy(at));
    match value {
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                at.push(Step::At(index));
                collect_paths(item, at, paths);
                at.pop();
            }
        }
        Value::Object(fields) => {
            for (key, field) in fields {
                at.push(Step::Key(key.clone()));
                collect_paths(field, at, paths);
                at.pop();
            }
        }
        _ => {}
    }
}

/// FNV-1a, 64 bits, fed as `MetaSnapshot`'s digest is: to make an edited snapshot's digest
/// right again. `None` when the value no longer has the snapshot's shape.
fn digest(value: &Value) -> Option<u64> {
    let mut fnv = Fnv::new(Fnv1a::new());
    for field in ["format_version", "now_unix_ms", "seq", "gc_floor_seq"] {
        fnv.u64(value.get(field)?.as_u64()?);
    }
    fnv.u64(id(value.get("orphan_cursor")?)?);
    let nodes = value.get("nodes")?.as_array()?;
    fnv.length(nodes.len());
    for pair in nodes {
        let entry = pair.get(1)?;
        fnv.u64(pair.get(0)?.as_u64()?);
        fnv.u64(entry.get("last_request")?.get("incarnation")?.as_u64()?);
        fnv.u64(entry.get("last_request")?.get("round")?.as_u64()?);
        fnv.u64(entry.get("last_seen_unix_ms")?.as_u64()?);
    }
    let sessions = value.get("sessions")?.as_array()?;
    fnv.length(sessions.len());
    for pair in sessions {
        fnv.u64(id(pair.get(0)?)?);
        let entry = pair.get(1)?;
        fnv.u64(entry.get("seq")?.as_u64()?);
        digest_state(&mut fnv, entry.get("state")?)?;
    }
    let kills = value.get("kills")?.as_array()?;
    fnv.length(kills.len());
    for pair in kills {
        let key = pair.get(0)?;
        fnv.u64(id(key.get("session")?)?);
        fnv.u64(key.get("plan")?.as_u64()?);
        fnv.u64(pair.get(1)?.get("seq")?.as_u64()?);
        fnv.u64(pair.get(1)?.get("recorded_unix_ms")?.as_u64()?);
    }
    if value.get("format_version")?.as_u64()? >= 2 {
        let node_queries = value.get("node_queries")?.as_array()?;
        fnv.length(node_queries.len());
        for pair in node_queries {
            fnv.u64(pair.get(0)?.as_u64()?);
            let queries = pair.get(1)?.as_array()?;
            fnv.length(queries.len());
            for query in queries {
                fnv.u64(id(query.get("key")?.get("session")?)?);
                fnv.u64(query.get("key")?.get("plan")?.as_u64()?);
                fnv.u64(query.get("start_time_unix_us")?.as_u64()?);
                fnv.u64(match query.get("status")?.as_str()? {
                    "RUNNING" => 1,
                    "KILLING" => 2,
                    _ => return None,
                });
                fnv.str(query.get("statement")?.as_str()?);
            }
        }
    }
    Some(fnv.into_inner().finish())
}

fn digest_state(fnv: &mut Fnv, state: &Value) -> Option<()> {
    if let Some(live) = state.get("Live") {
        let record = live.get("record")?;
        fnv.u64(1);
        for field in ["user", "client_ip", "space"] {
            fnv.str(record.get(field)?.as_str()?);
        }
        for field in ["space_set_unix_ms", "created_unix_ms", "last_activity_unix_ms", "owner"] {
            fnv.u64(record.get(field)?.as_u64()?);
        }
        let holders = live.get("holders")?.as_object()?;
        let mut sorted = Vec::new();
        for (node, holder) in holders {
            sorted.push((node.parse::<u16>().ok()?, holder));
        }
        sorted.sort_by_key(|(node, _)| *node);
        fnv.length(sorted.len());
        for (node, holder) in sorted {
            fnv.u64(u64::from(node));
            fnv.u64(holder.get("activity_unix_ms")?.as_u64()?);
            fnv.u64(holder.get("running_queries")?.as_u64()?);
            let vote = holder.get("idle_vote_unix_ms")?;
            fnv.u64(if vote.is_null() { u64::MAX } else { vote.as_u64()? });
        }
        return Some(());
    }
    let tombstone = state.get("Removed")?;
    fnv.u64(2);
    let reason = match tombstone.get("reason")?.as_str()? {
        "SignedOut" => 1,
        "Killed" => 2,
        "Expired" => 3,
        "Refused" => 4,
        "Unknown" => 5,
        _ => return None,
    };
    fnv.u64(reason);
    fnv.u64(tombstone.get("removed_unix_ms")?.as_u64()?);
    let by = tombstone.get("removed_by")?;
    fnv.u64(if by.is_null() { u64::MAX } else { by.as_u64()? });
    fnv.u64(u64::from(tombstone.get("ended_live")?.as_bool()?));
    let holders = tombstone.get("holders")?.as_array()?;
    fnv.length(holders.len());
    for node in holders {
        fnv.u64(node.as_u64()?);
    }
    Some(())
}

/// A session id as the digest takes it (0 for none).
fn id(value: &Value) -> Option<u64> {
    if value.is_null() {
        return Some(0);
    }
    Some(value.as_i64()?.unsigned_abs())
}

/// FNV-1a-64 of the values in the workspace's canonical encoding, as `MetaSnapshot` digests.
type Fnv = Writer<Fnv1a>;

/// Hand-made valid inputs: a real store's snapshot as JSON (mode 0), a byte mutation of it
/// (mode 1) and a field edit with the digest fixed (mode 2).
pub fn seeds() -> Vec<Vec<u8>> {
    let json = &real_store().1;
    vec![[&[0][..], json].concat(), vec![1, 30, 1, 0x31], vec![2, 5, 0, 3, 2], vec![2]]
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::{digest, real_store};

    #[test]
    fn the_json_digest_is_the_stores_own_on_the_fixture_with_its_queries() {
        let value: Value = serde_json::from_slice(&real_store().1).unwrap();
        assert!(!value["node_queries"].as_array().unwrap().is_empty(), "the fixture has queries");
        assert_eq!(digest(&value), value["digest"].as_u64());
    }
}
