//! Cluster sync, named scenarios: NebulaGraph issues 5094 and 5585 (see docs/fixes.md) and a
//! failed removal cannot happen here; the kill staleness bound holds; pick-up, start-up reload,
//! SHOW SESSIONS, orphan expiry and bounded batches work; duplicated and stale messages change
//! nothing.
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use crate::cluster_support::{
    Cluster, Faults, Message, START, SYNC_INTERVAL_MS, fast_meta_config, fast_node_config, key, sid,
};
use graphsession_core::cluster::show_sessions_rows;
use graphsession_core::cluster::{
    Answer, GoneReason, NodeConfig, NodeEvent, NodeId, NodeSync, QueryKill, QueryKillResult,
    Refusal, RemoveReason,
};
use graphsession_permission::{Caller, Policy, RoleTable};
use graphsession_query_plan::KillCause;

const TICK_MS: u64 = 10;

/// A cluster of `nodes` nodes, reloaded, with session `id` logged in on node 0 and registered.
fn cluster_with_session(nodes: u16, id: i64) -> Cluster {
    let mut cluster = Cluster::new(nodes, fast_meta_config(), fast_node_config(), 7);
    cluster.run(100, TICK_MS);
    login(&mut cluster, 0, id);
    cluster
}

fn login(cluster: &mut Cluster, node: usize, id: i64) {
    let now = cluster.now;
    let node_ref = cluster.node(node);
    node_ref.local.login(sid(id), "alice", now);
    node_ref.sync.announce(now, sid(id)).unwrap();
    cluster.run(100, TICK_MS);
    assert!(cluster.meta.session(sid(id)).is_some(), "the login reached meta");
    let events = cluster.events(node);
    assert!(events.contains(&NodeEvent::Registered { session: sid(id) }));
}

fn pick_up(cluster: &mut Cluster, node: usize, id: i64) {
    let now = cluster.now;
    cluster.node(node).sync.pick_up(now, sid(id)).unwrap();
    cluster.run(100, TICK_MS);
    assert!(cluster.node(node).local.sessions.contains_key(&sid(id)), "picked up");
    assert!(cluster.events(node).contains(&NodeEvent::PickedUp { session: sid(id) }));
}

#[test]
fn issue_5094_a_session_in_use_on_node_b_is_not_expired_by_node_a() {
    let mut cluster = cluster_with_session(2, 1);
    pick_up(&mut cluster, 1, 1);
    // Node A (0) never touches the session again; node B (1) uses it every second for three
    // idle timeouts. A votes for expiry every round; meta must refuse while B is active.
    for _ in 0..30 {
        let now = cluster.now;
        cluster.node(1).local.touch(sid(1), now);
        cluster.run(1_000, TICK_MS);
        assert!(cluster.meta.session(sid(1)).is_some(), "expired while in use on B");
        assert!(cluster.node(0).local.sessions.contains_key(&sid(1)));
    }
    // B stops: after the idle timeout and a round or two, meta expires it everywhere.
    cluster.run(13_000, TICK_MS);
    assert_eq!(cluster.meta.gone_reason(sid(1)), Some(GoneReason::Expired));
    for node in 0..2 {
        assert!(!cluster.node(node).local.sessions.contains_key(&sid(1)));
        assert_eq!(cluster.node(node).local.dropped, vec![(sid(1), GoneReason::Expired)]);
    }
}

#[test]
fn fix_3_across_nodes_a_running_query_on_any_node_keeps_the_session() {
    let mut cluster = cluster_with_session(2, 1);
    pick_up(&mut cluster, 1, 1);
    let now = cluster.now;
    assert!(cluster.node(1).local.begin(key(1, 9), now));
    // The query runs for three idle timeouts with no other activity anywhere.
    cluster.run(30_000, TICK_MS);
    assert!(cluster.meta.session(sid(1)).is_some());
    let now = cluster.now;
    assert!(cluster.node(1).local.finish(key(1, 9), now));
    cluster.run(9_000, TICK_MS);
    assert!(cluster.meta.session(sid(1)).is_some(), "the query's end counts as activity");
    cluster.run(5_000, TICK_MS);
    assert_eq!(cluster.meta.gone_reason(sid(1)), Some(GoneReason::Expired));
}

#[test]
fn issue_5585_use_on_node_a_reaches_node_b_at_its_next_sync() {
    let mut cluster = cluster_with_session(2, 1);
    pick_up(&mut cluster, 1, 1);
    let now = cluster.now;
    assert!(cluster.node(0).local.use_space(sid(1), "nba", now));
    // A's next round (within 1 s) brings it to meta, B's next round (within 1 s more) to B.
    cluster.run(2_100, TICK_MS);
    assert_eq!(cluster.meta.session(sid(1)).unwrap().space, "nba");
    assert_eq!(cluster.node(1).local.sessions[&sid(1)].space, "nba");
    // A later USE on B wins on A too; an older copy never overwrites a newer one.
    let now = cluster.now;
    assert!(cluster.node(1).local.use_space(sid(1), "ldbc", now));
    cluster.run(2_100, TICK_MS);
    for node in 0..2 {
        assert_eq!(cluster.node(node).local.sessions[&sid(1)].space, "ldbc");
    }
    // Concurrent USEs in the same millisecond converge on one space everywhere.
    let now = cluster.now;
    assert!(cluster.node(0).local.use_space(sid(1), "a_space", now));
    assert!(cluster.node(1).local.use_space(sid(1), "b_space", now));
    cluster.run(3_100, TICK_MS);
    let meta_space = cluster.meta.session(sid(1)).unwrap().space.clone();
    assert_eq!(meta_space, "b_space");
    for node in 0..2 {
        assert_eq!(cluster.node(node).local.sessions[&sid(1)].space, meta_space);
    }
}

#[test]
fn failed_removal_is_retried_until_meta_acknowledges_it() {
    let mut cluster = cluster_with_session(2, 1);
    pick_up(&mut cluster, 1, 1);
    // Node A's requests fail (meta unreachable) while its client signs out.
    cluster.cut_off.insert(0);
    let now = cluster.now;
    assert!(cluster.node(0).local.end(sid(1)));
    cluster.node(0).sync.remove(now, sid(1), RemoveReason::SignedOut).unwrap();
    cluster.run(10_000, TICK_MS);
    assert!(cluster.meta.session(sid(1)).is_some(), "meta never heard of the removal");
    assert_eq!(cluster.node(0).sync.pending_removals().collect::<Vec<_>>(), vec![sid(1)]);
    // The network heals: the retried removal lands, and B learns at its next round.
    cluster.cut_off.clear();
    cluster.run(2_000, TICK_MS);
    assert_eq!(cluster.meta.gone_reason(sid(1)), Some(GoneReason::SignedOut));
    assert_eq!(cluster.node(0).sync.pending_removals().count(), 0);
    let removed = NodeEvent::Removed { session: sid(1), removed: true };
    assert!(cluster.events(0).contains(&removed));
    assert!(!cluster.node(1).local.sessions.contains_key(&sid(1)));
}

#[test]
fn a_removal_whose_answer_is_lost_is_retried_and_still_counts_as_removed() {
    let mut cluster = cluster_with_session(1, 1);
    let now = cluster.now;
    assert!(cluster.node(0).local.end(sid(1)));
    cluster.node(0).sync.remove(now, sid(1), RemoveReason::Killed).unwrap();
    let node = &mut cluster.nodes[0];
    node.sync.handle_timeout(now, &node.local);
    let request = node.sync.poll_request().unwrap();
    let _lost = cluster.meta.handle_request(now, NodeId(1), request);
    assert_eq!(cluster.meta.gone_reason(sid(1)), Some(GoneReason::Killed));
    // The answer never arrives: the node times out, backs off, resends.
    cluster.run(2_000, TICK_MS);
    let removed = NodeEvent::Removed { session: sid(1), removed: true };
    assert!(cluster.events(0).contains(&removed), "KILL SESSION counts it once, as removed");
}

#[test]
fn kill_query_reaches_the_owning_node_within_one_interval_plus_two_delays() {
    // I = 1,000 ms, D = 50 ms (each message is delayed 0..=50 ms), for many phases of the
    // owning node's round timer against the moment of the kill.
    const DELAY_MS: u64 = 50;
    for (offset, seed) in (0..1_000).step_by(130).zip(1..) {
        let mut cluster = Cluster::new(2, fast_meta_config(), fast_node_config(), seed);
        cluster.faults = Faults { delay_max_ms: DELAY_MS, ..Faults::NONE };
        cluster.run(100, TICK_MS);
        login(&mut cluster, 0, 1);
        let now = cluster.now;
        assert!(cluster.node(0).local.begin(key(1, 77), now));
        // Node 0's next round tells meta the query runs (a kill of a plan no holder reported
        // is refused); then the kill comes at `offset` into a later interval.
        cluster.run(SYNC_INTERVAL_MS + 2 * DELAY_MS + offset, TICK_MS);
        let now = cluster.now;
        let kill = QueryKill { key: key(1, 77), caller_user: "alice".into(), caller_is_god: false };
        cluster.node(1).sync.kill_query(now, kill).unwrap();
        let mut recorded_at = None;
        let mut applied_at = None;
        while applied_at.is_none() && cluster.now < now + 5_000 {
            cluster.run(1, 1);
            if recorded_at.is_none() && cluster.meta.kill_mark_count() == 1 {
                recorded_at = Some(cluster.now);
            }
            if cluster.node(0).local.killed.contains(&(key(1, 77), KillCause::User)) {
                applied_at = Some(cluster.now);
            }
        }
        let (recorded_at, applied_at) = (recorded_at.unwrap(), applied_at.unwrap());
        let bound = 1_000 + 2 * DELAY_MS;
        assert!(applied_at - recorded_at <= bound, "offset {offset}: {}", applied_at - recorded_at);
        assert!(applied_at - now <= 1_000 + 5 * DELAY_MS + 1, "from the statement");
        let answered =
            NodeEvent::QueryKillAnswered { key: key(1, 77), result: QueryKillResult::Recorded };
        assert!(cluster.events(1).contains(&answered));
    }
}

#[test]
fn kill_session_on_another_node_takes_effect_within_the_bound() {
    let mut cluster = cluster_with_session(2, 1);
    let now = cluster.now;
    assert!(cluster.node(0).local.begin(key(1, 5), now));
    cluster.run(370, TICK_MS);
    let now = cluster.now;
    cluster.node(1).sync.remove(now, sid(1), RemoveReason::Killed).unwrap();
    cluster.run(1_000 + 4 * TICK_MS, TICK_MS);
    assert!(!cluster.node(0).local.sessions.contains_key(&sid(1)));
    assert_eq!(cluster.node(0).local.killed, vec![(key(1, 5), KillCause::SessionKilled)]);
    let removed = NodeEvent::Removed { session: sid(1), removed: true };
    assert!(cluster.events(1).contains(&removed));
}

#[test]
fn fix_5_a_kill_mark_hits_only_the_query_it_names() {
    let mut cluster = cluster_with_session(2, 1);
    pick_up(&mut cluster, 1, 1);
    let now = cluster.now;
    // Plan ids carry their node's slot: never equal across nodes or restarts.
    assert!(cluster.node(0).local.begin(key(1, (1 << 54) | 1), now));
    assert!(cluster.node(1).local.begin(key(1, (2 << 54) | 1), now));
    // Both nodes report their queries (a kill of a plan no holder reported is refused).
    cluster.run(SYNC_INTERVAL_MS + 100, TICK_MS);
    let now = cluster.now;
    let kill =
        QueryKill { key: key(1, (1 << 54) | 1), caller_user: "root".into(), caller_is_god: true };
    cluster.node(1).sync.kill_query(now, kill).unwrap();
    cluster.run(2_500, TICK_MS);
    assert_eq!(cluster.node(0).local.killed, vec![(key(1, (1 << 54) | 1), KillCause::User)]);
    assert!(cluster.node(1).local.killed.is_empty());
    // The mark stays at meta, but a later query of the same session is another plan.
    let now = cluster.now;
    assert!(cluster.node(0).local.begin(key(1, (1 << 54) | 2), now));
    cluster.run(5_000, TICK_MS);
    assert_eq!(cluster.node(0).local.killed.len(), 1);
    assert!(cluster.node(0).local.queries.contains(&key(1, (1 << 54) | 2)));
}

#[test]
fn kill_query_of_a_plan_no_holder_reported_is_refused_at_meta_unless_a_report_is_cut() {
    let mut cluster = cluster_with_session(2, 1);
    let now = cluster.now;
    assert!(cluster.node(0).local.begin(key(1, 5), now));
    cluster.run(SYNC_INTERVAL_MS + 100, TICK_MS);
    let now = cluster.now;
    // Plan 6 runs nowhere: every holder reported all of its queries of the session.
    let kill = QueryKill { key: key(1, 6), caller_user: "alice".into(), caller_is_god: false };
    cluster.node(1).sync.kill_query(now, kill).unwrap();
    cluster.run(200, TICK_MS);
    let not_found = QueryKillResult::QueryNotFound;
    let answered = NodeEvent::QueryKillAnswered { key: key(1, 6), result: not_found };
    assert!(cluster.events(1).contains(&answered));
    assert_eq!((not_found.code(), cluster.meta.kill_mark_count()), (-2073, 0));
    // Node 0 runs more queries than it reports: meta cannot tell, so the mark is recorded.
    cluster.node(0).local.queries_reported_max = Some(1);
    let now = cluster.now;
    assert!(cluster.node(0).local.begin(key(1, 7), now));
    cluster.run(SYNC_INTERVAL_MS + 100, TICK_MS);
    let now = cluster.now;
    let kill = QueryKill { key: key(1, 7), caller_user: "alice".into(), caller_is_god: false };
    cluster.node(1).sync.kill_query(now, kill).unwrap();
    cluster.run(SYNC_INTERVAL_MS + 200, TICK_MS);
    let recorded = QueryKillResult::Recorded;
    let answered = NodeEvent::QueryKillAnswered { key: key(1, 7), result: recorded };
    assert!(cluster.events(1).contains(&answered));
    assert!(cluster.node(0).local.killed.contains(&(key(1, 7), KillCause::User)));
}

#[test]
fn kill_query_of_another_users_session_is_refused_at_meta() {
    let mut cluster = cluster_with_session(2, 1);
    let now = cluster.now;
    let kill = QueryKill { key: key(1, 3), caller_user: "bob".into(), caller_is_god: false };
    cluster.node(1).sync.kill_query(now, kill).unwrap();
    let missing = QueryKill { key: key(99, 3), caller_user: "bob".into(), caller_is_god: true };
    cluster.node(1).sync.kill_query(now, missing).unwrap();
    cluster.run(200, TICK_MS);
    let events = cluster.events(1);
    let denied = QueryKillResult::PermissionDenied;
    assert!(events.contains(&NodeEvent::QueryKillAnswered { key: key(1, 3), result: denied }));
    let not_found = QueryKillResult::SessionNotFound;
    assert!(events.contains(&NodeEvent::QueryKillAnswered { key: key(99, 3), result: not_found }));
    assert_eq!((denied.code(), not_found.code()), (-1008, -2069));
    assert_eq!(cluster.meta.kill_mark_count(), 0);
}

#[test]
fn a_late_report_cannot_resurrect_a_removed_session() {
    let mut cluster = cluster_with_session(2, 1);
    // Node A's requests are lost while node B kills the session; A keeps using it.
    cluster.cut_off.insert(0);
    let now = cluster.now;
    cluster.node(1).sync.remove(now, sid(1), RemoveReason::Killed).unwrap();
    cluster.run(500, TICK_MS);
    assert_eq!(cluster.meta.gone_reason(sid(1)), Some(GoneReason::Killed));
    let now = cluster.now;
    cluster.node(0).local.touch(sid(1), now);
    cluster.cut_off.clear();
    cluster.run(2_000, TICK_MS);
    assert!(cluster.meta.session(sid(1)).is_none(), "A's report did not bring it back");
    assert!(!cluster.node(0).local.sessions.contains_key(&sid(1)));
    assert_eq!(cluster.node(0).local.dropped, vec![(sid(1), GoneReason::Killed)]);
}

#[test]
fn kill_session_that_overtakes_the_login_announcement_still_wins() {
    let mut cluster = Cluster::new(2, fast_meta_config(), fast_node_config(), 3);
    cluster.run(100, TICK_MS);
    cluster.cut_off.insert(0);
    let now = cluster.now;
    cluster.node(0).local.login(sid(4), "alice", now);
    cluster.node(0).sync.announce(now, sid(4)).unwrap();
    cluster.node(1).sync.remove(now, sid(4), RemoveReason::Killed).unwrap();
    cluster.run(300, TICK_MS);
    let not_removed = NodeEvent::Removed { session: sid(4), removed: false };
    assert!(cluster.events(1).contains(&not_removed));
    cluster.cut_off.clear();
    cluster.run(1_000, TICK_MS);
    assert!(cluster.meta.session(sid(4)).is_none());
    assert!(!cluster.node(0).local.sessions.contains_key(&sid(4)));
}

#[test]
fn duplicated_and_late_answers_are_ignored() {
    let config = fast_node_config();
    let mut meta = graphsession_core::cluster::MetaStore::new(fast_meta_config()).unwrap();
    let mut node = NodeSync::new(config, 1, START).unwrap();
    let mut local = crate::cluster_support::FakeLocal::default();
    local.login(sid(1), "alice", START);
    node.announce(START, sid(1)).unwrap();
    node.handle_timeout(START, &local);
    let first = node.poll_request().unwrap();
    let late = meta.handle_request(START, NodeId(1), first.clone());
    // The first answer is lost; the request times out and is sent again with a new id.
    node.handle_timeout(START + config.request_timeout_ms, &local);
    node.handle_timeout(START + config.request_timeout_ms + config.retry_backoff_ms, &local);
    let second = node.poll_request().unwrap();
    assert!(second.id > first.id);
    assert_eq!(second.created, first.created, "everything unacknowledged is asked again");
    let answer = meta.handle_request(START + 600, NodeId(1), second);
    // The late answer to the first request, then the answer twice.
    node.handle_answer(START + 601, late, &mut local);
    assert!(node.is_awaiting_answer(), "a late answer is not the answer in flight");
    node.handle_answer(START + 602, answer.clone(), &mut local);
    node.handle_answer(START + 603, answer, &mut local);
    assert_eq!(node.counters().0, 2);
    let events: Vec<NodeEvent> = std::iter::from_fn(|| node.poll_event()).collect();
    let registered =
        events.iter().filter(|event| **event == NodeEvent::Registered { session: sid(1) });
    assert_eq!(registered.count(), 1);
    // A duplicated or delayed request is refused by meta and changes nothing.
    let seq = meta.changes_seq();
    match meta.handle_request(START + 700, NodeId(1), first) {
        Answer::Refused { refusal: Refusal::Stale { .. }, .. } => {}
        other => panic!("expected a stale refusal, got {other:?}"),
    }
    assert_eq!(meta.changes_seq(), seq);
    node.check_invariants().unwrap();
    meta.check_invariants().unwrap();
}

#[test]
fn start_up_reload_restores_this_nodes_sessions_page_by_page() {
    let meta_config =
        graphsession_core::cluster::MetaConfig { page_rows_max: 2, ..fast_meta_config() };
    let mut cluster = Cluster::new(2, meta_config, fast_node_config(), 5);
    cluster.run(100, TICK_MS);
    for id in 1..=5 {
        login(&mut cluster, 0, id);
    }
    login(&mut cluster, 1, 6);
    // Node A restarts: a new process, empty registry, a higher incarnation.
    let now = cluster.now;
    cluster.nodes[0].sync = NodeSync::new(fast_node_config(), 2, now).unwrap();
    cluster.nodes[0].local = crate::cluster_support::FakeLocal::default();
    cluster.run(200, TICK_MS);
    assert!(cluster.nodes[0].sync.is_reloaded());
    let held: Vec<i64> = cluster.nodes[0].local.sessions.keys().map(|id| id.get()).collect();
    assert_eq!(held, vec![1, 2, 3, 4, 5]);
    assert!(cluster.events(0).contains(&NodeEvent::Reloaded));
}

#[test]
fn a_restart_with_an_incarnation_that_did_not_grow_moves_above() {
    let mut cluster = cluster_with_session(1, 1);
    let now = cluster.now;
    cluster.nodes[0].sync = NodeSync::new(fast_node_config(), 1, now).unwrap();
    cluster.nodes[0].local = crate::cluster_support::FakeLocal::default();
    cluster.run(300, TICK_MS);
    assert!(cluster.nodes[0].sync.is_reloaded());
    assert!(cluster.nodes[0].local.sessions.contains_key(&sid(1)));
    assert!(cluster.nodes[0].sync.next_request_id().incarnation >= 2);
}

#[test]
fn pick_up_of_a_session_meta_does_not_have_fails() {
    let mut cluster = cluster_with_session(2, 1);
    let now = cluster.now;
    cluster.node(1).sync.pick_up(now, sid(404)).unwrap();
    cluster.run(100, TICK_MS);
    assert!(cluster.events(1).contains(&NodeEvent::PickUpFailed { session: sid(404) }));
    assert_eq!(graphsession_core::cluster::error_code::E_SESSION_INVALID, -1002);
}

#[test]
fn show_sessions_reads_meta_and_show_local_sessions_reads_the_node() {
    let mut cluster = cluster_with_session(2, 1);
    login(&mut cluster, 1, 2);
    let now = cluster.now;
    cluster.node(0).sync.show_sessions(now);
    cluster.run(100, TICK_MS);
    let page = cluster.events(0).into_iter().find_map(|event| match event {
        NodeEvent::Sessions(page) => Some(page),
        _ => None,
    });
    let page = page.unwrap();
    let rows: Vec<(i64, NodeId)> =
        page.records.iter().map(|record| (record.session.get(), record.owner)).collect();
    assert_eq!(rows, vec![(1, NodeId(1)), (2, NodeId(2))]);
    assert_eq!(page.next_after, None);
    let local: Vec<i64> = cluster.node(0).local.sessions.keys().map(|id| id.get()).collect();
    assert_eq!(local, vec![1]);
    // In the server's row format, GOD only.
    let address = |node: NodeId| format!("graphd-{}:9669", node.0);
    let table = RoleTable::with_god("root").unwrap();
    let root = Caller::resolve(&table, "root", None);
    let rows = show_sessions_rows(&root, Policy::ENFORCED, &page, address).unwrap();
    assert_eq!(
        (rows[1].graph_addr.as_str(), rows[1].user_name.as_str()),
        ("graphd-2:9669", "alice")
    );
    let alice = Caller::resolve(&table, "alice", None);
    let refused = show_sessions_rows(&alice, Policy::ENFORCED, &page, address).unwrap_err();
    assert_eq!(refused.code(), -1008);
}

#[test]
fn a_dead_nodes_sessions_expire_at_meta() {
    let mut cluster = cluster_with_session(2, 1);
    cluster.cut_off.insert(0);
    cluster.run(fast_meta_config().holder_silence_ms + 2_000, 500);
    assert_eq!(cluster.meta.gone_reason(sid(1)), Some(GoneReason::Expired));
}

#[test]
fn sync_batches_are_bounded_and_no_session_starves() {
    let config = NodeConfig { sync_batch_sessions_max: 2, ..fast_node_config() };
    let mut cluster = Cluster::new(1, fast_meta_config(), config, 11);
    cluster.run(100, TICK_MS);
    for id in 1..=7 {
        login(&mut cluster, 0, id);
    }
    // Every session changes at once: 7 reports, at most 2 per request.
    let now = cluster.now;
    for id in 1..=7 {
        cluster.node(0).local.use_space(sid(id), "nba", now + 1);
    }
    // Changes ride the periodic round; a backlog makes the following rounds urgent.
    cluster.now = cluster.nodes[0].sync.poll_timeout().unwrap().max(now + 1);
    let mut requests = 0;
    for _ in 0..10 {
        let now = cluster.now;
        let node = &mut cluster.nodes[0];
        if node.sync.poll_timeout().unwrap() > now {
            break;
        }
        node.sync.handle_timeout(now, &node.local);
        let Some(request) = node.sync.poll_request() else { break };
        assert!(request.created.len() + request.updated.len() <= 2);
        let answer = cluster.meta.handle_request(now, NodeId(1), request);
        let node = &mut cluster.nodes[0];
        node.sync.handle_answer(now, answer, &mut node.local);
        requests += 1;
    }
    assert_eq!(requests, 4, "2 + 2 + 2 + 1 reports, each round at once after the last");
    for id in 1..=7 {
        assert_eq!(cluster.meta.session(sid(id)).unwrap().space, "nba");
    }
}

#[test]
fn a_regressing_clock_is_clamped() {
    let mut cluster = cluster_with_session(1, 1);
    let now = cluster.now;
    let meta_now = cluster.meta.now_unix_ms();
    let node = &mut cluster.nodes[0];
    node.sync.handle_timeout(now - 1_000_000, &node.local);
    assert!(node.sync.poll_timeout().unwrap() >= now - TICK_MS);
    assert_eq!(cluster.meta.handle_timeout(now - 1_000_000), 0);
    assert_eq!(cluster.meta.now_unix_ms(), meta_now);
    cluster.run(1_000, TICK_MS);
    assert!(cluster.meta.session(sid(1)).is_some());
}

#[test]
fn a_copy_ended_by_one_nodes_own_registry_neither_ends_the_session_nor_blocks_its_expiry() {
    let mut cluster = cluster_with_session(2, 1);
    pick_up(&mut cluster, 1, 1);
    // Node A's registry ends its copy on its own (say its local idle timer, if the host kept
    // it on): A releases the session at meta; the session lives on at B.
    cluster.node(0).local.sessions.remove(&sid(1));
    for _ in 0..15 {
        let now = cluster.now;
        cluster.node(1).local.touch(sid(1), now);
        cluster.run(1_000, TICK_MS);
    }
    assert!(cluster.meta.session(sid(1)).is_some());
    assert!(cluster.node(1).local.sessions.contains_key(&sid(1)));
    // A is alive and syncing but no longer holds it, so B's idleness alone expires it.
    cluster.run(13_000, TICK_MS);
    assert_eq!(cluster.meta.gone_reason(sid(1)), Some(GoneReason::Expired));
    assert!(!cluster.node(1).local.sessions.contains_key(&sid(1)));
}

/// Found by `cluster_node.rs`: a login announced again for a session meta already has (or one
/// installed from meta) must not wait for a registration that will never come.
#[test]
fn announcing_a_session_meta_already_has_is_acknowledged_at_once() {
    let mut cluster = cluster_with_session(1, 1);
    let now = cluster.now;
    cluster.node(0).sync.announce(now, sid(1)).unwrap();
    let event = cluster.node(0).sync.poll_event();
    assert_eq!(event, Some(NodeEvent::Registered { session: sid(1) }));
    cluster.check();
}

#[test]
fn a_kill_in_an_answer_that_arrives_after_the_request_timeout_still_applies() {
    // Found by the simulator's cluster world: with delays beyond request_timeout_ms every answer
    // was dropped whole, "gone" and kill marks included, so a killed query kept running.
    let mut cluster = cluster_with_session(2, 1);
    let now = cluster.now;
    assert!(cluster.node(0).local.begin(key(1, 77), now));
    // Node 0 reports the query (meta refuses a kill of a plan no holder reported).
    cluster.run(SYNC_INTERVAL_MS, 1);
    let now = cluster.now;
    let kill = QueryKill { key: key(1, 77), caller_user: "alice".into(), caller_is_god: false };
    cluster.node(1).sync.kill_query(now, kill).unwrap();
    // Every answer to node 0 is held back: all of them will arrive late.
    let mut held = Vec::new();
    let deadline = now + 5_000;
    while cluster.now < deadline && !held.iter().any(|answer: &Answer| carries_kill(answer)) {
        cluster.run(1, 1);
        let (late, on_time): (Vec<_>, Vec<_>) = cluster
            .network
            .drain(..)
            .partition(|(_, _, message)| matches!(message, Message::ToNode { to: 0, .. }));
        cluster.network = on_time;
        held.extend(late.into_iter().filter_map(|(_, _, message)| match message {
            Message::ToNode { answer, .. } => Some(answer),
            Message::ToMeta { .. } => None,
        }));
    }
    assert!(held.iter().any(carries_kill), "meta put the kill in an answer to node 0");
    // Let node 0's request time out (400 ms) while its answers stay held.
    for _ in 0..100 {
        cluster.run(10, 10);
        cluster.network.retain(|(_, _, message)| !matches!(message, Message::ToNode { to: 0, .. }));
    }
    assert!(cluster.node(0).local.killed.is_empty(), "nothing reached node 0 yet");
    let now = cluster.now;
    let node = cluster.node(0);
    for answer in held {
        node.sync.handle_answer(now, answer, &mut node.local);
    }
    assert_eq!(node.local.killed, vec![(key(1, 77), KillCause::User)]);
    node.sync.check_invariants().unwrap();
}

fn carries_kill(answer: &Answer) -> bool {
    matches!(answer, Answer::Reply(reply) if reply.kills.contains(&key(1, 77)))
}

/// Found by the simulator (a node restarted from its registry snapshot): a node reports a
/// session meta has already ended, its round times out and is sent again, and the first answer,
/// now late, is the one that says "gone". A late answer's "gone" applied only to sessions the
/// node had acknowledged, so this session, held here but never acknowledged, stayed and kept
/// running queries after its KILL SESSION. A late "gone" now applies to any session held here.
#[test]
fn a_late_gone_drops_a_session_held_here_but_never_acknowledged() {
    let mut cluster = cluster_with_session(2, 1);
    // KILL SESSION 1 through node 0: meta tombstones it.
    let now = cluster.now;
    cluster.node(0).sync.remove(now, sid(1), RemoveReason::Killed).unwrap();
    cluster.run(100, TICK_MS);
    assert_eq!(cluster.meta.gone_reason(sid(1)), Some(GoneReason::Killed));
    // Node 1 restarts with the session in its registry (restored from an older snapshot), and
    // a query of it running.
    let mut sync = NodeSync::new(fast_node_config(), 2, cluster.now).unwrap();
    let mut local = crate::cluster_support::FakeLocal::default();
    local.login(sid(1), "alice", cluster.now);
    assert!(local.begin(key(1, 7), cluster.now));
    let node = NodeId(2);
    // Round 1 (reload, and the session reported) reaches meta; its answer is held back.
    let mut now = cluster.now;
    sync.handle_timeout(now, &local);
    let first = sync.poll_request().unwrap();
    let late = cluster.meta.handle_request(now, node, first);
    // The round times out; round 2 goes out; then round 1's answer arrives, late.
    now += fast_node_config().request_timeout_ms + fast_node_config().retry_backoff_max_ms + 1;
    sync.handle_timeout(now, &local);
    now += fast_node_config().retry_backoff_max_ms + 1;
    sync.handle_timeout(now, &local);
    assert!(sync.poll_request().is_some(), "round 2 went out");
    sync.handle_answer(now, late, &mut local);
    assert!(!local.sessions.contains_key(&sid(1)), "the late gone dropped the session");
    assert_eq!(local.killed, vec![(key(1, 7), KillCause::SessionKilled)]);
}
