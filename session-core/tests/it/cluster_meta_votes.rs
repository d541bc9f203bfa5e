//! The meta store's idle votes, reports and timer at their boundaries: which report withdraws a
//! node's idle vote and which keeps it, a vote beside a running query, the activity a holder
//! that picked a session up starts from, a report repeating the space already recorded, the
//! orphan timer's cursor and count, when the timer asks to run, a text exactly at its limit, and
//! tombstones and kill marks kept up to their bound and their retention, not one past; a node
//! restart voids its idle vote.
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use std::collections::BTreeMap;

use crate::cluster_support::{START, fast_meta_config, sid};
use graphsession_core::cluster::{
    Answer, GoneReason, IdleVote, MetaConfig, MetaStore, NodeId, QueryKill, QueryReport, Refusal,
    Removal, RemoveReason, Reply, Request, SessionReport,
};
use graphsession_query_plan::QueryStatus;

/// `fast_meta_config`'s idle timeout.
const IDLE_MS: u64 = 10_000;
/// `fast_meta_config`'s holder silence.
const SILENCE_MS: u64 = 60_000;

/// A meta store and each node's next request round.
struct Meta {
    store: MetaStore,
    rounds: BTreeMap<NodeId, u64>,
}

impl Meta {
    fn new(config: MetaConfig) -> Meta {
        Meta { store: MetaStore::new(config).unwrap(), rounds: BTreeMap::new() }
    }

    /// Sends `node`'s next request, filled in by `fill`, at `now`, and checks the store after.
    fn send(&mut self, now: u64, node: NodeId, fill: impl FnOnce(&mut Request)) -> Reply {
        let round = self.rounds.entry(node).or_insert(0);
        *round += 1;
        let mut request = crate::cluster_meta::request(*round);
        fill(&mut request);
        let answer = self.store.handle_request(now, node, request);
        self.store.check_invariants().unwrap();
        match answer {
            Answer::Reply(reply) => reply,
            Answer::Refused { refusal, .. } => panic!("refused: {refusal:?}"),
        }
    }

    fn create(&mut self, now: u64, node: NodeId, id: i64) {
        self.send(now, node, |r| r.created.push(report(id, now, 0)));
    }

    fn update(&mut self, now: u64, node: NodeId, id: i64, activity: u64, running: u32) {
        self.send(now, node, |r| r.updated.push(report(id, activity, running)));
    }

    fn vote(&mut self, now: u64, node: NodeId, id: i64, activity: u64) -> Reply {
        let vote =
            IdleVote { session: sid(id), last_activity_unix_ms: activity, voted_unix_ms: now };
        self.send(now, node, |r| r.idle.push(vote))
    }

    fn pick_up(&mut self, now: u64, node: NodeId, id: i64) {
        let reply = self.send(now, node, |r| r.pick_ups.push(sid(id)));
        assert_eq!(reply.records.len(), 1, "node {node:?} picks up session {id}");
    }

    fn is_live(&self, id: i64) -> bool {
        self.store.session(sid(id)).is_some()
    }
}

/// Session `id` as a node reports it: created at `START` in space "nba" (USE at `START`).
fn report(id: i64, activity: u64, running: u32) -> SessionReport {
    SessionReport {
        space: "nba".into(),
        space_set_unix_ms: START,
        last_activity_unix_ms: activity,
        running_queries: running,
        ..SessionReport::logged_in(sid(id), "alice", "10.0.0.1", START)
    }
}

const ONE: NodeId = NodeId(1);
const TWO: NodeId = NodeId(2);

/// Session 1 created on node one at `START` and picked up by node two: two live holders.
fn held_by_two() -> Meta {
    let mut meta = Meta::new(fast_meta_config());
    meta.create(START, ONE, 1);
    meta.pick_up(START + 1, TWO, 1);
    meta
}

#[test]
fn a_report_of_no_newer_activity_and_no_query_keeps_the_nodes_idle_vote() {
    let mut meta = held_by_two();
    let voted = START + IDLE_MS;
    let first = meta.vote(voted, ONE, 1, START);
    assert!(first.gone.is_empty() && meta.is_live(1), "node two has not voted");
    meta.update(voted + 1, ONE, 1, START, 0);
    let second = meta.vote(voted + 2, TWO, 1, START);
    assert_eq!(second.gone.len(), 1, "both nodes vouch for the idle stretch");
    assert_eq!(second.gone[0].reason, GoneReason::Expired);
    assert!(!meta.is_live(1));
}

#[test]
fn a_report_of_a_running_query_withdraws_the_vote_even_after_the_query_ends() {
    let mut meta = held_by_two();
    let voted = START + IDLE_MS;
    meta.vote(voted, ONE, 1, START);
    meta.update(voted + 1, ONE, 1, START, 1);
    meta.update(voted + 2, ONE, 1, START, 0);
    let second = meta.vote(voted + 3, TWO, 1, START);
    assert!(second.gone.is_empty(), "node one's vote was withdrawn by its running query");
    assert!(meta.is_live(1));
}

#[test]
fn a_report_of_newer_activity_withdraws_the_vote_even_when_still_idle_long_enough() {
    let mut meta = held_by_two();
    let voted = START + IDLE_MS + 100;
    meta.vote(voted, ONE, 1, START);
    // Newer than what node one had reported, but still a full timeout before both votes.
    meta.update(voted + 1, ONE, 1, START + 50, 0);
    let second = meta.vote(voted + 2, TWO, 1, START + 50);
    assert!(second.gone.is_empty(), "node one's vote predates activity it reported after");
    assert!(meta.is_live(1));
}

#[test]
fn a_vote_beside_a_running_query_never_expires_the_session() {
    let mut meta = Meta::new(fast_meta_config());
    meta.create(START, ONE, 1);
    meta.update(START + 1, ONE, 1, START, 1);
    let reply = meta.vote(START + 2 * IDLE_MS, ONE, 1, START);
    assert!(reply.gone.is_empty(), "the node still runs a query of the session");
    assert_eq!(meta.store.handle_timeout(START + 3 * IDLE_MS), 0);
    assert!(meta.is_live(1));
}

#[test]
fn a_holder_that_picked_a_session_up_starts_from_the_records_activity() {
    let mut meta = Meta::new(fast_meta_config());
    meta.create(START, ONE, 1);
    meta.pick_up(START + 1, TWO, 1);
    let voted = START + IDLE_MS;
    meta.vote(voted, TWO, 1, 0);
    // Older than the activity node two was handed: no news, so the vote stands.
    meta.update(voted + 1, TWO, 1, START - 1, 0);
    let reply = meta.vote(voted + 2, ONE, 1, START);
    assert_eq!(reply.gone.len(), 1, "node two's vote still counts");
    assert!(!meta.is_live(1));
}

#[test]
fn a_report_repeating_the_recorded_space_is_no_change_to_send_and_a_newer_use_is() {
    let mut meta = held_by_two();
    let seen = meta.store.changes_seq();
    meta.update(START + 2, ONE, 1, START + 2, 0);
    assert_eq!(meta.store.changes_seq(), seen, "same (time of USE, space): nothing changed");
    let reply = meta.send(START + 3, TWO, |r| r.changes_seen_seq = seen);
    assert!(reply.records.is_empty(), "node two is not sent the session again");
    let mut newer = report(1, START + 4, 0);
    newer.space = "nbb".into();
    meta.send(START + 4, ONE, |r| r.updated.push(newer));
    assert!(meta.store.changes_seq() > seen);
    let reply = meta.send(START + 5, TWO, |r| r.changes_seen_seq = seen);
    assert_eq!(reply.records.len(), 1, "node two holds it and learns the new space");
    assert_eq!(reply.records[0].space, "nbb");
}

#[test]
fn the_orphan_timer_walks_on_from_its_cursor_and_wraps_as_soon_as_it_reaches_the_end() {
    let config = MetaConfig { orphan_checks_per_timeout_max: 2, ..fast_meta_config() };
    let mut meta = Meta::new(config);
    // Session 10 is held by node two, which stays in touch for a while; 20 to 50 by node one,
    // which goes silent at once.
    meta.create(START, TWO, 10);
    for id in [20, 30, 40, 50] {
        meta.create(START, ONE, id);
    }
    let last_contact = START + 40_000;
    meta.send(last_contact, TWO, |_| {});
    let one_silent = START + SILENCE_MS + 10_000;
    assert!(one_silent < last_contact + SILENCE_MS, "node two is still alive then");
    // Two checks per call: 10 (alive) and 20, then 30 and 40, then 50 and the end of the walk.
    assert_eq!(meta.store.handle_timeout(one_silent), 1);
    assert_eq!(meta.store.handle_timeout(one_silent + 1), 2);
    assert_eq!(meta.store.handle_timeout(one_silent + 2), 1);
    let live: Vec<_> = meta.store.live_sessions().collect();
    assert_eq!(live, [sid(10)]);
    meta.store.check_invariants().unwrap();
    // Node two is silent now too: the next call starts over at the beginning and ends 10.
    assert_eq!(meta.store.handle_timeout(last_contact + SILENCE_MS), 1);
    assert_eq!(meta.store.gone_reason(sid(10)), Some(GoneReason::Expired));
    assert_eq!(meta.store.live_count(), 0);
    meta.store.check_invariants().unwrap();
}

#[test]
fn the_timer_runs_a_tenth_of_the_shorter_of_idle_timeout_and_silence_after_its_last_run() {
    let mut meta = Meta::new(fast_meta_config());
    // New: due at once.
    assert_eq!(meta.store.poll_timeout(), Some(0));
    let _expired = meta.store.handle_timeout(START);
    assert_eq!(meta.store.poll_timeout(), Some(START + IDLE_MS / 10));
    // Requests move the clock but not the timer: a node syncing more often than the period
    // must not starve the orphan expiry.
    meta.send(START + IDLE_MS / 20, ONE, |_| {});
    meta.send(START + IDLE_MS / 10 - 1, ONE, |_| {});
    assert_eq!(meta.store.poll_timeout(), Some(START + IDLE_MS / 10));
    let config = MetaConfig { holder_silence_ms: 3_000, ..fast_meta_config() };
    let mut meta = Meta::new(config);
    let _expired = meta.store.handle_timeout(START);
    assert_eq!(meta.store.poll_timeout(), Some(START + 300));
}

#[test]
fn the_store_keeps_the_configuration_it_was_built_with() {
    let config =
        MetaConfig { orphan_checks_per_timeout_max: 7, text_bytes_max: 9, ..fast_meta_config() };
    let meta = MetaStore::new(config).unwrap();
    assert_eq!(meta.config(), &config);
}

#[test]
fn a_text_exactly_at_its_byte_limit_is_taken_and_one_byte_more_is_refused() {
    let config = MetaConfig { text_bytes_max: 8, ..fast_meta_config() };
    let mut meta = Meta::new(config);
    let mut at_limit = report(1, START, 0);
    at_limit.user = "12345678".into();
    meta.send(START, ONE, |r| r.created.push(at_limit));
    assert!(meta.is_live(1));
    let mut over = report(2, START, 0);
    over.user = "123456789".into();
    let mut request = crate::cluster_meta::request(2);
    request.created.push(over);
    match meta.store.handle_request(START + 1, ONE, request) {
        Answer::Refused { refusal: Refusal::TextTooLong { bytes, bytes_max }, .. } => {
            assert_eq!((bytes, bytes_max), (9, 8));
        }
        other => panic!("{other:?}"),
    }
    assert!(!meta.is_live(2));
}

fn kill_session(meta: &mut Meta, now: u64, id: i64) {
    let removal = Removal { session: sid(id), reason: RemoveReason::Killed };
    meta.send(now, ONE, |r| r.removals.push(removal));
}

#[test]
fn tombstones_are_kept_up_to_their_bound_and_the_oldest_go_first() {
    let config = MetaConfig { tombstones_max: 2, ..fast_meta_config() };
    let mut meta = Meta::new(config);
    for id in 1..=3 {
        meta.create(START, ONE, id);
    }
    for id in 1..=3_i64 {
        kill_session(&mut meta, START + 10 * id.unsigned_abs(), id);
    }
    let reasons: Vec<_> = (1..=3).map(|id| meta.store.gone_reason(sid(id))).collect();
    assert_eq!(reasons, [None, Some(GoneReason::Killed), Some(GoneReason::Killed)]);
}

#[test]
fn tombstones_and_kill_marks_are_collected_exactly_at_their_retention() {
    let config = MetaConfig {
        tombstone_retention_ms: 5_000,
        kill_mark_retention_ms: 3_000,
        ..fast_meta_config()
    };
    let mut meta = Meta::new(config);
    meta.create(START, ONE, 1);
    meta.create(START, ONE, 2);
    let kill = QueryKill {
        key: crate::cluster_support::key(2, 7),
        caller_user: "alice".into(),
        caller_is_god: false,
    };
    meta.send(START + 100, ONE, |r| {
        // Session 2 runs plan 7 here, as this request reports.
        r.updated.push(report(2, START + 100, 1));
        r.queries = Some(vec![QueryReport {
            key: kill.key,
            start_time_unix_us: START * 1_000,
            status: QueryStatus::Running,
            statement: "YIELD 1".to_owned(),
        }]);
        r.query_kills.push(kill);
    });
    kill_session(&mut meta, START + 100, 1);
    assert_eq!(meta.store.kill_mark_count(), 1);
    meta.store.handle_timeout(START + 100 + 3_000 - 1);
    assert_eq!(meta.store.kill_mark_count(), 1, "one ms before its retention ends");
    meta.store.handle_timeout(START + 100 + 3_000);
    assert_eq!(meta.store.kill_mark_count(), 0, "collected as its retention ends");
    meta.store.handle_timeout(START + 100 + 5_000 - 1);
    assert_eq!(meta.store.gone_reason(sid(1)), Some(GoneReason::Killed));
    meta.store.handle_timeout(START + 100 + 5_000);
    assert_eq!(meta.store.gone_reason(sid(1)), None);
    meta.store.check_invariants().unwrap();
}

#[test]
fn a_node_restart_voids_its_idle_vote_so_the_other_holders_vote_alone_expires_nothing() {
    for restart in [false, true] {
        let mut meta = held_by_two();
        let voted = START + IDLE_MS;
        meta.vote(voted, ONE, 1, START);
        if restart {
            let mut reload =
                graphsession_core::cluster::Request::empty(graphsession_core::cluster::RequestId {
                    incarnation: 2,
                    round: 0,
                });
            reload.reload = Some(graphsession_core::cluster::ReloadFrom { after: None });
            let answer = meta.store.handle_request(voted + 1, ONE, reload);
            assert!(matches!(answer, Answer::Reply(_)), "{answer:?}");
        }
        let reply = meta.vote(voted + 2, TWO, 1, START);
        // Without the restart both holders voted: it expires. With it, node one's vote died with
        // its process and its new process has not voted.
        assert_eq!(meta.is_live(1), restart, "restart: {restart}");
        assert_eq!(reply.gone.is_empty(), restart);
    }
}
