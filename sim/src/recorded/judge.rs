//! [`judge`]: the oracles over one real run's events (see the module above).

use std::collections::{BTreeMap, BTreeSet};

use graphsession_core::cluster::{
    Answer, GoneReason, MetaConfig, MetaStore, NodeId, QueryKillResult,
};
use graphsession_id_gen::SessionId;

use crate::oracles::{UniqueIds, kill_within_bound, killed_query_succeeded};
use crate::recorded::{Entry, Recorded};

/// What a run that passed showed the oracles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Distinct log entries replayed.
    pub entries: usize,
    /// Entries applied by some process, counted per process (the replicas' agreement checked).
    pub applied: usize,
    /// Session ids issued.
    pub sessions: usize,
    /// Plan ids issued.
    pub plans: usize,
    /// Sessions meta ended.
    pub meta_ends: usize,
    /// For each (session meta ended, node holding it then): how long after meta's end the node
    /// let it go, ms, sorted.
    pub kill_staleness_ms: Vec<u64>,
    /// For each query answered after meta recorded its KILL QUERY: how long after, ms, sorted.
    pub query_kill_staleness_ms: Vec<u64>,
}

/// Runs every oracle over `events` (in any order between processes, each process's own in its
/// order). `kill_bound_ms` is the staleness bound of the run's configuration.
///
/// # Errors
/// The first violation, its message opening with its property tag.
pub fn judge(events: &[Recorded], kill_bound_ms: u64) -> Result<Verdict, String> {
    let ids = unique_ids(events)?;
    let replay = replay_log(events)?;
    let mut verdict = Verdict {
        entries: replay.entries,
        applied: replay.applied,
        sessions: ids.session_count(),
        plans: ids.plan_count(),
        meta_ends: replay.ends.len(),
        kill_staleness_ms: Vec::new(),
        query_kill_staleness_ms: Vec::new(),
    };
    check_sessions(events, &ids, &replay)?;
    verdict.kill_staleness_ms = check_kills(events, &replay, kill_bound_ms)?;
    verdict.query_kill_staleness_ms = check_query_kills(events, &replay, kill_bound_ms)?;
    Ok(verdict)
}

/// No id issued twice; every session a client was given was issued by a node.
fn unique_ids(events: &[Recorded]) -> Result<UniqueIds, String> {
    let mut ids = UniqueIds::new();
    for event in events {
        match event {
            Recorded::SessionIssued { process, node, session, .. } => {
                ids.session(format_args!("process {process} node {node}"), *session)?;
            }
            Recorded::PlanIssued { process, node, plan, .. } => {
                ids.plan(format_args!("process {process} node {node}"), *plan)?;
            }
            _ => {}
        }
    }
    for event in events {
        if let Recorded::LoggedIn { session, .. } = event
            && !ids.has_session(*session)
        {
            return Err(format!(
                "[unknown_id] a client was given session {session}, which no node issued"
            ));
        }
    }
    Ok(ids)
}

/// The log replayed once.
struct Replay {
    entries: usize,
    applied: usize,
    /// Each session meta ended: when (the entry's clock) and why.
    ends: BTreeMap<i64, (u64, Option<GoneReason>)>,
    /// Meta's live sessions after the last entry.
    live: BTreeSet<i64>,
    /// Each query meta recorded a KILL QUERY for: when (the entry's clock).
    query_kills: BTreeMap<(i64, u64), u64>,
}

/// One revision's entry and each process's answer to it.
type Applications<'a> = (&'a Entry, Vec<(u32, Option<&'a Answer>)>);

/// Every process applied the same entry at a revision and computed the same answer as the log
/// replayed from an empty store, whose invariants hold after every entry.
fn replay_log(events: &[Recorded]) -> Result<Replay, String> {
    let mut config: Option<MetaConfig> = None;
    let mut log: BTreeMap<i64, Applications<'_>> = BTreeMap::new();
    let mut applied = 0;
    for event in events {
        match event {
            Recorded::Started { process, meta, .. } => {
                if config.is_some_and(|known| known != *meta) {
                    return Err(format!(
                        "[replicas_disagree] process {process} applies the log with another \
                         meta configuration: {meta:?} (others {config:?})"
                    ));
                }
                config = Some(*meta);
            }
            Recorded::Applied { process, revision, entry, answer } => {
                applied += 1;
                let slot = log.entry(*revision).or_insert((entry, Vec::new()));
                if slot.0 != entry {
                    return Err(format!(
                        "[replicas_disagree] process {process} applied {entry:?} at revision \
                         {revision}; another applied {:?}",
                        slot.0
                    ));
                }
                slot.1.push((*process, answer.as_deref()));
            }
            _ => {}
        }
    }
    let config = config.ok_or("no process recorded its start")?;
    let mut store =
        MetaStore::new(config).map_err(|error| format!("meta configuration: {error:?}"))?;
    let mut ends = BTreeMap::new();
    let mut live: BTreeSet<i64> = BTreeSet::new();
    let mut query_kills = BTreeMap::new();
    for (revision, (entry, answers)) in &log {
        let answer = match entry {
            Entry::Request { now_ms, node, request } => {
                Some(store.handle_request(*now_ms, NodeId(*node), (**request).clone()))
            }
            Entry::Tick { now_ms } => {
                let _expired = store.handle_timeout(*now_ms);
                None
            }
        };
        store.check_invariants().map_err(|violation| {
            format!("meta invariant: after the entry at revision {revision}: {violation:?}")
        })?;
        for (process, recorded) in answers {
            if *recorded != answer.as_ref() {
                return Err(format!(
                    "[replicas_disagree] process {process} answered {recorded:?} at revision \
                     {revision}; the log replayed answers {answer:?}"
                ));
            }
        }
        if let Some(Answer::Reply(reply)) = &answer {
            for (key, _) in
                reply.query_kills.iter().filter(|(_, r)| *r == QueryKillResult::Recorded)
            {
                let key = (key.session.get(), key.plan.get());
                query_kills.entry(key).or_insert(entry.now_ms());
            }
        }
        let now: BTreeSet<i64> = store.live_sessions().map(SessionId::get).collect();
        for ended in live.difference(&now) {
            let reason = SessionId::new(*ended).and_then(|id| store.gone_reason(id));
            ends.entry(*ended).or_insert((entry.now_ms(), reason));
        }
        live = now;
    }
    Ok(Replay { entries: log.len(), applied, ends, live, query_kills })
}

/// No session lost (ended at meta without the test's kill, or missing at the end), none
/// duplicated or unknown in a listing, none leaked at the end.
fn check_sessions(events: &[Recorded], ids: &UniqueIds, replay: &Replay) -> Result<(), String> {
    let given: BTreeSet<i64> = events
        .iter()
        .filter_map(|event| match event {
            Recorded::LoggedIn { session, .. } => Some(*session),
            _ => None,
        })
        .collect();
    let killed: BTreeSet<i64> = events
        .iter()
        .filter_map(|event| match event {
            Recorded::KilledByClient { session, .. } => Some(*session),
            _ => None,
        })
        .collect();
    for (session, (at_ms, reason)) in &replay.ends {
        if given.contains(session) && !killed.contains(session) {
            return Err(format!(
                "[lost] meta ended session {session} ({reason:?}) at {at_ms}; the test never \
                 killed it or signed it out"
            ));
        }
    }
    for event in events {
        match event {
            Recorded::Listed { sessions, at_ms } => {
                let distinct: BTreeSet<i64> = sessions.iter().copied().collect();
                if distinct.len() != sessions.len() {
                    return Err(format!(
                        "[show_sessions] SHOW SESSIONS at {at_ms} lists a session twice: \
                         {sessions:?}"
                    ));
                }
                if let Some(unknown) = sessions.iter().find(|&&id| !ids.has_session(id)) {
                    return Err(format!(
                        "[unknown_id] SHOW SESSIONS at {at_ms} lists session {unknown}, which no \
                         node issued"
                    ));
                }
            }
            Recorded::End { live, at_ms } => {
                let held: BTreeSet<i64> = live.iter().copied().collect();
                if let Some(lost) = held.difference(&replay.live).next() {
                    return Err(format!(
                        "[lost] at the end ({at_ms}) the test holds session {lost}, which meta's \
                         log does not keep live ({:?})",
                        replay.ends.get(lost)
                    ));
                }
                if let Some(leaked) = replay.live.difference(&held).next() {
                    return Err(format!(
                        "[leak] at the end ({at_ms}) session {leaked} is live at meta; the test \
                         holds only {held:?}"
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The times (start, end) each (process, node) held each session; an end of `None` lasted to
/// the end of the run.
type Holdings = BTreeMap<(i64, u32, u16), Vec<(u64, Option<u64>)>>;

fn holdings(events: &[Recorded]) -> Holdings {
    let mut held: Holdings = BTreeMap::new();
    for event in events {
        match event {
            Recorded::SessionIssued { process, node, session, at_ms }
            | Recorded::SessionHeld { process, node, session, at_ms } => {
                let spans = held.entry((*session, *process, *node)).or_default();
                if spans.last().is_none_or(|span| span.1.is_some()) {
                    spans.push((*at_ms, None));
                }
            }
            Recorded::SessionEnded { process, node, session, at_ms, .. } => {
                let spans = held.entry((*session, *process, *node)).or_default();
                if let Some(span) = spans.last_mut().filter(|span| span.1.is_none()) {
                    span.1 = Some(*at_ms);
                }
            }
            _ => {}
        }
    }
    for event in events {
        if let Recorded::ProcessStopped { process, at_ms } = event {
            for ((_, holder, _), spans) in &mut held {
                for span in spans.iter_mut().filter(|_| holder == process) {
                    span.1 = Some(span.1.map_or(*at_ms, |end| end.min(*at_ms)));
                }
            }
        }
    }
    held
}

/// No node holds a session longer than `bound_ms` after meta ended it (its process stopping
/// ends its holdings). Returns each judged holding's staleness.
fn check_kills(events: &[Recorded], replay: &Replay, bound_ms: u64) -> Result<Vec<u64>, String> {
    let end_ms = events
        .iter()
        .filter_map(|event| match event {
            Recorded::End { at_ms, .. } => Some(*at_ms),
            _ => None,
        })
        .max()
        .ok_or("the run recorded no end")?;
    let held = holdings(events);
    let mut staleness = Vec::new();
    for (&session, &(ended_ms, reason)) in &replay.ends {
        let deadline_ms = ended_ms.saturating_add(bound_ms);
        for ((_, process, node), spans) in
            held.range((session, 0, 0)..=(session, u32::MAX, u16::MAX))
        {
            for &(start_ms, end) in spans {
                if start_ms > ended_ms || end.is_some_and(|end| end < ended_ms) {
                    continue;
                }
                let Some(let_go_ms) = end.or((end_ms > deadline_ms).then_some(end_ms)) else {
                    continue;
                };
                kill_within_bound(
                    &format!("process {process} node {node}: session {session} ({reason:?})"),
                    ended_ms,
                    let_go_ms,
                    bound_ms,
                    "one sync interval plus five delays of an etcd commit and its watch",
                )?;
                staleness.push(let_go_ms.saturating_sub(ended_ms));
            }
        }
    }
    staleness.sort_unstable();
    Ok(staleness)
}

/// A query meta recorded a KILL QUERY for is never answered a success after it, and is answered
/// within `bound_ms`. Returns each such answer's staleness.
fn check_query_kills(
    events: &[Recorded],
    replay: &Replay,
    bound_ms: u64,
) -> Result<Vec<u64>, String> {
    let mut staleness = Vec::new();
    for event in events {
        let Recorded::QueryAnswered { session, plan, code, at_ms } = event else { continue };
        let Some(&killed_ms) = replay.query_kills.get(&(*session, *plan)) else { continue };
        if *at_ms < killed_ms {
            continue;
        }
        if *code == 0 {
            return Err(killed_query_succeeded(
                &format!("the client of session {session}"),
                *plan,
                &format!(
                    "meta recorded its KILL QUERY at {killed_ms}, before the answer at {at_ms}"
                ),
            ));
        }
        kill_within_bound(
            &format!("query (session {session}, plan {plan})"),
            killed_ms,
            *at_ms,
            bound_ms,
            "one sync interval plus five delays of an etcd commit and its watch",
        )?;
        staleness.push(at_ms - killed_ms);
    }
    staleness.sort_unstable();
    Ok(staleness)
}
