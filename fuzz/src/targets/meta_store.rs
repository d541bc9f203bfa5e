//! The meta store against hostile nodes: every request a node can send, built field by field from
//! the fuzzer's bytes (stale and future ids, reload pages, created and updated reports with
//! colliding ids and odd times, idle votes, removals, releases, KILL QUERY by anyone, pick-ups,
//! SHOW pages, the node's queries and the cluster's), interleaved with timeouts, clock steps both ways and a persist-and-restore of the
//! whole store. Meta must never panic; after every step its invariants hold, the answer names the
//! request, survives a JSON round trip and stays within `answer_items_max`, a refused request
//! changes nothing but the clock, and a restored store is the same store.

use arbitrary::{Result, Unstructured};
use graphsession_core::cluster::{
    Answer, IdleVote, MetaConfig, MetaSnapshot, MetaStore, NodeId, QueryKill, QueryReport,
    ReloadFrom, Removal, RemoveReason, Request, RequestId, SessionReport,
};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_query_plan::{QueryKey, QueryStatus};

use super::{index, list, weighted, within};

const START: u64 = 1_763_900_000_000;
const OPS_MAX: usize = 32;
const ITEMS_MAX: usize = 5;
const USERS: [&str; 4] = ["root", "alice", "bob", "a-user-name-longer-than-the-limit"];
const SPACES: [&str; 3] = ["", "nba", "ldbc"];
const STATEMENTS: [&str; 3] = ["", "YIELD 1", "GO FROM 1 OVER e YIELD dst(edge)"];

/// Small limits, so that every limit is reached.
pub(crate) const CONFIG: MetaConfig = MetaConfig {
    idle_timeout_ms: 1_000,
    holder_silence_ms: 5_000,
    tombstone_retention_ms: 3_000,
    kill_mark_retention_ms: 3_000,
    sessions_max: 6,
    tombstones_max: 4,
    kill_marks_max: 3,
    nodes_max: 3,
    request_items_max: 4,
    text_bytes_max: 16,
    answer_items_max: 3,
    changes_scanned_per_answer_max: 8,
    page_rows_max: 2,
    orphan_checks_per_timeout_max: 2,
};

#[derive(Debug)]
enum Op {
    Request { at_ms: u64, node: NodeId, request: Box<Request> },
    Timeout { at_ms: u64 },
    Persist,
}

fn session(u: &mut Unstructured<'_>) -> Result<SessionId> {
    SessionId::new(within(u, 1_i64..=8)?).ok_or(arbitrary::Error::IncorrectFormat)
}

fn time(u: &mut Unstructured<'_>) -> Result<u64> {
    Ok(match weighted(u, &[6, 1, 1])? {
        0 => START + within(u, 0_u64..=20_000)?,
        1 => within(u, 0_u64..=START)?,
        _ => u.arbitrary()?,
    })
}

fn report(u: &mut Unstructured<'_>) -> Result<SessionReport> {
    Ok(SessionReport {
        session: session(u)?,
        user: USERS[index(u, USERS.len())?].to_owned(),
        client_ip: if u.arbitrary()? { "10.0.0.1".to_owned() } else { String::new() },
        space: SPACES[index(u, SPACES.len())?].to_owned(),
        space_set_unix_ms: time(u)?,
        created_unix_ms: time(u)?,
        last_activity_unix_ms: time(u)?,
        running_queries: within(u, 0_u32..=2)?,
    })
}

fn key(u: &mut Unstructured<'_>) -> Result<QueryKey> {
    let plan = PlanId::from_u64(within(u, 0_u64..=3)?);
    Ok(QueryKey { session: session(u)?, plan })
}

fn request(u: &mut Unstructured<'_>, rounds: &mut u64) -> Result<Request> {
    // Mostly the next round of incarnation 1; sometimes stale, repeated or a new incarnation.
    let id = match weighted(u, &[8, 1, 1])? {
        0 => {
            *rounds += 1;
            RequestId { incarnation: 1, round: *rounds }
        }
        1 => RequestId { incarnation: within(u, 0_u64..=2)?, round: within(u, 0_u64..=*rounds)? },
        _ => RequestId { incarnation: u.arbitrary()?, round: u.arbitrary()? },
    };
    let reload = match weighted(u, &[6, 1, 1])? {
        0 => None,
        1 => Some(ReloadFrom { after: None }),
        _ => Some(ReloadFrom { after: Some(session(u)?) }),
    };
    let reason = |u: &mut Unstructured<'_>| -> Result<RemoveReason> {
        Ok(if u.arbitrary()? { RemoveReason::SignedOut } else { RemoveReason::Killed })
    };
    Ok(Request {
        id,
        changes_seen_seq: if u.arbitrary()? { within(u, 0_u64..=40)? } else { u.arbitrary()? },
        reload,
        created: list(u, ITEMS_MAX, report),
        updated: list(u, ITEMS_MAX, report),
        idle: list(u, ITEMS_MAX, |u| {
            Ok(IdleVote {
                session: session(u)?,
                last_activity_unix_ms: time(u)?,
                voted_unix_ms: time(u)?,
            })
        }),
        removals: list(u, ITEMS_MAX, |u| Ok(Removal { session: session(u)?, reason: reason(u)? })),
        released: list(u, ITEMS_MAX, session),
        query_kills: list(u, ITEMS_MAX, |u| {
            Ok(QueryKill {
                key: key(u)?,
                caller_user: USERS[index(u, USERS.len())?].to_owned(),
                caller_is_god: u.arbitrary()?,
            })
        }),
        pick_ups: list(u, ITEMS_MAX, session),
        show_sessions: u.arbitrary()?,
        queries: if u.arbitrary()? { Some(list(u, ITEMS_MAX, query)) } else { None },
        show_queries: u.arbitrary()?,
        show_session_ids: list(u, ITEMS_MAX, session),
    })
}

/// A query a node reports: any key (repeated ones too), a statement within or past the limit.
fn query(u: &mut Unstructured<'_>) -> Result<QueryReport> {
    Ok(QueryReport {
        key: key(u)?,
        start_time_unix_us: time(u)?.saturating_mul(1_000),
        status: if u.arbitrary()? { QueryStatus::Running } else { QueryStatus::Killing },
        statement: STATEMENTS[index(u, STATEMENTS.len())?].to_owned(),
    })
}

fn op(u: &mut Unstructured<'_>, rounds: &mut [u64; 4]) -> Result<Op> {
    Ok(match weighted(u, &[8, 2, 1])? {
        0 => {
            let node = index(u, rounds.len())?;
            let at_ms = time(u)?;
            let request = request(u, &mut rounds[node])?;
            let node = NodeId(u16::try_from(node + 1).unwrap_or(u16::MAX));
            Op::Request { at_ms, node, request: Box::new(request) }
        }
        1 => Op::Timeout { at_ms: time(u)? },
        _ => Op::Persist,
    })
}

/// The persisted state but the clock and the digest over it: what a refused request keeps.
fn without_clock(snapshot: &MetaSnapshot) -> serde_json::Value {
    let mut value = serde_json::to_value(snapshot)
        .unwrap_or_else(|error| panic!("a meta snapshot as JSON: {error}"));
    if let Some(fields) = value.as_object_mut() {
        fields.remove("now_unix_ms");
        fields.remove("digest");
    }
    value
}

/// The target.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut rounds = [0_u64; 4];
    let ops = list(&mut u, OPS_MAX, |u| op(u, &mut rounds));
    let store = MetaStore::new(CONFIG);
    let mut store = store.unwrap_or_else(|error| panic!("the fuzz meta config: {error}"));
    for (step, op) in ops.into_iter().enumerate() {
        let context = format!("step {step}: {op:?}");
        match op {
            Op::Request { at_ms, node, request } => {
                let before = without_clock(&store.snapshot());
                let id = request.id;
                let answer = store.handle_request(at_ms, node, *request);
                assert_eq!(answer.id(), id, "{context}: the answer names another request");
                check_answer(&answer, &context);
                if matches!(answer, Answer::Refused { .. }) {
                    let after = without_clock(&store.snapshot());
                    assert_eq!(after, before, "{context}: a refused request changed the store");
                }
            }
            Op::Timeout { at_ms } => {
                let _expired = store.handle_timeout(at_ms);
            }
            Op::Persist => store = persist_and_restore(&store, &context),
        }
        if let Err(violation) = store.check_invariants() {
            panic!("{context}: {violation}");
        }
    }
}

/// The answer survives JSON, no list is longer than `answer_items_max`, and the queries
/// listed are within what the nodes may report.
fn check_answer(answer: &Answer, context: &str) {
    let json = serde_json::to_vec(answer);
    let json = json.unwrap_or_else(|error| panic!("{context}: an answer as JSON: {error}"));
    let back = serde_json::from_slice::<Answer>(&json);
    let back = back.unwrap_or_else(|error| panic!("{context}: an answer from JSON: {error}"));
    assert_eq!(&back, answer, "{context}: the answer changed through JSON");
    if let Answer::Reply(reply) = answer {
        let max = CONFIG.answer_items_max as usize;
        let long =
            [reply.gone.len(), reply.records.len(), reply.not_found.len(), reply.kills.len()];
        assert!(long.iter().all(|&len| len <= max), "{context}: an answer list above {max}");
        let listed = reply.queries.as_ref().map_or(0, Vec::len);
        let listed_max = (CONFIG.nodes_max * CONFIG.request_items_max) as usize;
        assert!(listed <= listed_max, "{context}: {listed} queries listed, above {listed_max}");
    }
}

/// Persists the store through JSON and restores it: the same store comes back.
pub(crate) fn persist_and_restore(store: &MetaStore, context: &str) -> MetaStore {
    let snapshot = store.snapshot();
    let json = serde_json::to_vec(&snapshot);
    let json = json.unwrap_or_else(|error| panic!("{context}: a meta snapshot as JSON: {error}"));
    let back = serde_json::from_slice::<MetaSnapshot>(&json);
    let back = back.unwrap_or_else(|error| panic!("{context}: a meta snapshot from JSON: {error}"));
    assert_eq!(back, snapshot, "{context}: the snapshot changed through JSON");
    let restored = MetaStore::restore(*store.config(), back);
    let restored = restored.unwrap_or_else(|error| panic!("{context}: restoring meta: {error}"));
    assert_eq!(restored.snapshot(), snapshot, "{context}: restore changed the store");
    restored
}
