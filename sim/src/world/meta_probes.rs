//! Meta's bounds and expiry rules judged at their edge, on a store of its own built from the
//! world's meta configuration with small bounds (no session of the world, no choice drawn, so
//! no trace changes), once per world:
//!
//! - Admission: a request whose longest text is exactly `text_bytes_max` bytes, or whose
//!   longest list holds exactly `request_items_max` items, is applied; one byte or one item
//!   more is refused with its reason and changes nothing (a node's list of queries included:
//!   exactly at both bounds it is listed, past them it leaves the listing as it was); a request
//!   id not above the node's last is refused as stale; a node past `nodes_max` is refused.
//! - Tombstones: after more removals than `tombstones_max`, exactly `tombstones_max`
//!   tombstones remain (the newest).
//! - Expiry: a session whose only holder voted idle, with no query running, a whole idle
//!   timeout after its last activity ends at that vote; one whose only holder fell silent for
//!   `holder_silence_ms` ends at meta's timer once it is idle for the idle timeout.

use graphsession_core::cluster::{
    Answer, GoneReason, IdleVote, MetaConfig, MetaStore, NodeId, QueryReport, Refusal, Removal,
    RemoveReason, Request, RequestId, SessionReport,
};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_query_plan::{QueryKey, QueryStatus};

use crate::world::Checked;

/// The small bounds of the probe's store.
const TEXT_BYTES_MAX: u32 = 16;
const ITEMS_MAX: u32 = 2;
const NODES_MAX: u32 = 2;
const TOMBSTONES_MAX: u32 = 2;

/// A session id of the probe (its store is its own: any id will do).
pub(super) fn session(id: i64) -> Result<SessionId, String> {
    SessionId::new(id).ok_or_else(|| format!("[meta_probe] {id} is no session id"))
}

/// A report of `session` as a node would send it, active at `now`.
pub(super) fn report(session: SessionId, user: &str, now: u64) -> SessionReport {
    SessionReport::logged_in(session, user, "10.0.0.1", now)
}

/// One node's requests to the probe's store, numbered in turn.
struct Sender {
    node: NodeId,
    round: u64,
}

impl Sender {
    fn next(&mut self) -> Request {
        self.round += 1;
        Request::empty(RequestId { incarnation: 1, round: self.round })
    }
}

/// Whether `answer` applied the request (a refusal is returned as the error).
fn applied(answer: &Answer) -> Result<(), Refusal> {
    match answer {
        Answer::Reply(_) => Ok(()),
        Answer::Refused { refusal, .. } => Err(*refusal),
    }
}

/// Runs every probe of this module on a store built from `config`, starting at `now`.
pub(super) fn check_meta_edges(config: &MetaConfig, now: u64) -> Checked {
    let config = MetaConfig {
        text_bytes_max: TEXT_BYTES_MAX,
        request_items_max: ITEMS_MAX,
        nodes_max: NODES_MAX,
        tombstones_max: TOMBSTONES_MAX,
        ..*config
    };
    let mut meta = MetaStore::new(config)
        .map_err(|error| format!("[meta_probe] the probe's meta config was refused: {error}"))?;
    let mut node = Sender { node: NodeId(0), round: 0 };
    check_admission(&mut meta, &mut node, now)?;
    check_tombstones(&mut meta, &mut node, now)?;
    check_expiry(&mut meta, &mut node, &config, now)
}

fn refusal_expected(what: &str, answer: &Answer, expected: fn(&Refusal) -> bool) -> Checked {
    match applied(answer) {
        Err(refusal) if expected(&refusal) => Ok(()),
        other => Err(format!(
            "[meta_admission] meta given a request with {what} answered {other:?}; expected its \
             refusal for that reason"
        )),
    }
}

fn admitted_expected(what: &str, answer: &Answer) -> Checked {
    applied(answer).map_err(|refusal| {
        format!(
            "[meta_admission] meta refused a request with {what}: {refusal:?}; expected it \
             applied (a bound met exactly)"
        )
    })
}

/// A node's queries: exactly `request_items_max` of them, each statement exactly
/// `text_bytes_max` bytes, are applied and listed; a statement one byte longer is refused and
/// leaves the listing as it was.
fn check_query_admission(
    meta: &mut MetaStore,
    node: &mut Sender,
    session: SessionId,
    now: u64,
) -> Checked {
    let query = |plan: u64, bytes: usize| QueryReport {
        key: QueryKey { session, plan: PlanId::from_u64(plan) },
        start_time_unix_us: now.saturating_mul(1_000),
        status: QueryStatus::Running,
        statement: "q".repeat(bytes),
    };
    let bound = TEXT_BYTES_MAX as usize;
    let mut request = node.next();
    request.queries = Some((1..=u64::from(ITEMS_MAX)).map(|plan| query(plan, bound)).collect());
    let answer = meta.handle_request(now, node.node, request);
    admitted_expected("exactly request_items_max queries of text_bytes_max bytes", &answer)?;
    let listed = meta.listed_queries();
    if listed.len() != ITEMS_MAX as usize {
        return Err(format!(
            "[meta_admission] meta lists {} queries after a node reported {ITEMS_MAX}: {listed:?}",
            listed.len()
        ));
    }
    let mut request = node.next();
    request.queries = Some(vec![query(1, bound + 1)]);
    let answer = meta.handle_request(now, node.node, request);
    refusal_expected("a statement one byte past text_bytes_max", &answer, |refusal| {
        matches!(refusal, Refusal::TextTooLong { .. })
    })?;
    if meta.listed_queries() != listed {
        return Err(format!(
            "[meta_admission] a refused list of queries changed meta's: {:?}; expected {listed:?}",
            meta.listed_queries()
        ));
    }
    Ok(())
}

fn check_admission(meta: &mut MetaStore, node: &mut Sender, now: u64) -> Checked {
    let bound = TEXT_BYTES_MAX as usize;
    let first = session(1)?;
    let mut request = node.next();
    request.created.push(report(first, &"u".repeat(bound), now));
    let answer = meta.handle_request(now, node.node, request);
    admitted_expected("a user name of exactly text_bytes_max bytes", &answer)?;
    let seq = meta.changes_seq();
    let mut request = node.next();
    let mut longer = report(first, &"u".repeat(bound), now + 1);
    longer.space = "s".repeat(bound + 1);
    longer.space_set_unix_ms = now + 1;
    request.updated.push(longer);
    let answer = meta.handle_request(now + 1, node.node, request);
    refusal_expected("a space one byte past text_bytes_max", &answer, |refusal| {
        matches!(refusal, Refusal::TextTooLong { .. })
    })?;
    let unchanged = meta.session(first).is_some_and(|record| record.space.is_empty());
    if meta.changes_seq() != seq || !unchanged {
        return Err(format!(
            "[meta_admission] a refused request changed meta: change log at {} (was {seq}), \
             space {:?}; expected nothing changed",
            meta.changes_seq(),
            meta.session(first).map(|record| record.space.clone())
        ));
    }
    check_query_admission(meta, node, first, now + 1)?;
    let unknown = [session(900)?, session(901)?, session(902)?];
    let mut request = node.next();
    request.pick_ups.extend(&unknown[..ITEMS_MAX as usize]);
    let answer = meta.handle_request(now + 2, node.node, request);
    admitted_expected("exactly request_items_max pick-ups", &answer)?;
    let mut request = node.next();
    request.pick_ups.extend(&unknown);
    let answer = meta.handle_request(now + 2, node.node, request);
    refusal_expected("one pick-up past request_items_max", &answer, |refusal| {
        matches!(refusal, Refusal::TooManyItems { .. })
    })?;
    // The refused round was not handled: the one before it is the last.
    let stale = Request::empty(RequestId { incarnation: 1, round: node.round - 1 });
    let answer = meta.handle_request(now + 2, node.node, stale);
    refusal_expected("the id of the last request handled again", &answer, |refusal| {
        matches!(refusal, Refusal::Stale { .. })
    })?;
    let mut other = Sender { node: NodeId(1), round: 0 };
    let answer = meta.handle_request(now + 2, other.node, other.next());
    admitted_expected("the second node of nodes_max 2", &answer)?;
    let mut third = Sender { node: NodeId(2), round: 0 };
    let answer = meta.handle_request(now + 2, third.node, third.next());
    refusal_expected("a third node past nodes_max 2", &answer, |refusal| {
        matches!(refusal, Refusal::NodesFull { .. })
    })
}

fn check_tombstones(meta: &mut MetaStore, node: &mut Sender, now: u64) -> Checked {
    let now = now + 3;
    let ids = [session(1)?, session(2)?, session(3)?, session(4)?];
    for pair in ids[1..].chunks(2) {
        let mut request = node.next();
        request.created.extend(pair.iter().map(|&id| report(id, "user", now)));
        admitted_expected("sessions to create", &meta.handle_request(now, node.node, request))?;
    }
    for pair in ids.chunks(2) {
        let mut request = node.next();
        let removals =
            pair.iter().map(|&session| Removal { session, reason: RemoveReason::SignedOut });
        request.removals.extend(removals);
        admitted_expected("removals", &meta.handle_request(now, node.node, request))?;
    }
    let kept: Vec<SessionId> =
        ids.iter().copied().filter(|&id| meta.gone_reason(id).is_some()).collect();
    if kept.len() != TOMBSTONES_MAX as usize || meta.live_count() != 0 {
        return Err(format!(
            "[meta_tombstones] meta with tombstones_max {TOMBSTONES_MAX} removed 4 sessions and \
             keeps the tombstones of {kept:?} ({} live); expected exactly {TOMBSTONES_MAX}, none live",
            meta.live_count()
        ));
    }
    Ok(())
}

fn check_expiry(meta: &mut MetaStore, node: &mut Sender, config: &MetaConfig, now: u64) -> Checked {
    let idle_ms = config.idle_timeout_ms;
    // An idle vote a whole idle timeout after the session's last activity ends it.
    let start = now + 4;
    let voted = session(5)?;
    let mut request = node.next();
    request.created.push(report(voted, "user", start));
    admitted_expected("a session to create", &meta.handle_request(start, node.node, request))?;
    let mut request = node.next();
    let at = start + idle_ms;
    request.idle.push(IdleVote { session: voted, last_activity_unix_ms: start, voted_unix_ms: at });
    admitted_expected("an idle vote", &meta.handle_request(at, node.node, request))?;
    if meta.gone_reason(voted) != Some(GoneReason::Expired) {
        return Err(format!(
            "[meta_expiry] session {voted}, held by one node that voted it idle with no query \
             running a whole idle timeout ({idle_ms} ms) after its last activity, is {:?} at meta; \
             expected expired at the vote",
            meta.gone_reason(voted).map_or("live or unknown".to_owned(), |r| format!("{r:?}"))
        ));
    }
    // A holder silent for holder_silence_ms no longer keeps a session idle that long alive.
    let orphan = session(6)?;
    let mut silent = Sender { node: NodeId(1), round: 1 };
    let mut request = silent.next();
    request.created.push(report(orphan, "user", at));
    admitted_expected("a session to create", &meta.handle_request(at, silent.node, request))?;
    let due = at + idle_ms.max(config.holder_silence_ms);
    meta.handle_timeout(due);
    if meta.gone_reason(orphan) != Some(GoneReason::Expired) {
        return Err(format!(
            "[meta_expiry] session {orphan}, whose only holder has been silent since its creation \
             at {at} (holder_silence_ms {}, idle timeout {idle_ms} ms), is {:?} at meta's timer at \
             {due}; expected expired",
            config.holder_silence_ms,
            meta.gone_reason(orphan).map_or("live or unknown".to_owned(), |r| format!("{r:?}"))
        ));
    }
    Ok(())
}
