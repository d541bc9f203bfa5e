//! How a node applies meta's answers and builds its rounds, and how meta's persisted state is
//! checked: an urgent round reads only what it announces, and steady logins never put the
//! periodic (full) round off; a late answer's "gone" reaches exactly the sessions the node still tracks or holds; a
//! session installed from meta (pick-up, start-up reload) is not reported back unchanged; an
//! answer that drops one session still acknowledges the others; the reload says it is done once,
//! after its last page; a batch gives created sessions their share first and reports changed ones
//! in turn; a registry listing its sessions in any order is read by id; a session signed out after
//! its registry dropped it is removed, not released; the server registry counts the installs it
//! refuses and says whether sync changed it; meta names the sessions its change log moved since a
//! position; a snapshot keeps its format version, and its digest covers a tombstone's reason.
//! An urgent round announces at most a batch; a session dropped here (before or after meta
//! acknowledged it) is released by the next round that sees it, urgent or full, and one signed
//! out is removed instead; each unanswered request doubles the wait before the next. The server
//! registry's light listing is its reports without the names, and a session that ends between a
//! full round's scan and its whole read is left out, then let go of.
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use graphsession_core::cluster::{
    Answer, Gone, GoneReason, LocalSessions, META_FORMAT_VERSION, MetaConfig, MetaSnapshot,
    MetaStore, NodeConfig, NodeEvent, NodeId, NodeSync, PersistError, RemoveReason, Reply, Request,
    RequestId, ServerRegistry, SessionRecord, SessionReport, SessionState,
};
use graphsession_core::server::Config;
use graphsession_id_gen::SessionId;
use graphsession_permission::RoleTable;
use graphsession_query_plan::QueryKey;

use crate::cluster_support::{FakeLocal, START, fast_meta_config, fast_node_config, sid};
use crate::server_support::manager;

/// `fast_node_config`'s sync period.
const ROUND_MS: u64 = 1_000;

/// One node wired to a meta store by hand: each request is answered at once.
struct Node {
    id: NodeId,
    sync: NodeSync,
    local: FakeLocal,
}

impl Node {
    fn new(id: u16, config: NodeConfig, incarnation: u64) -> Node {
        Node {
            id: NodeId(id),
            sync: NodeSync::new(config, incarnation, START).unwrap(),
            local: FakeLocal::default(),
        }
    }

    /// Runs the node's timer at `now`; the request it sends, if any, is answered at once.
    fn round(&mut self, meta: &mut MetaStore, now: u64) -> Option<Request> {
        self.sync.handle_timeout(now, &self.local);
        let request = self.sync.poll_request()?;
        let answer = meta.handle_request(now, self.id, request.clone());
        self.sync.handle_answer(now, answer, &mut self.local);
        self.sync.check_invariants().unwrap();
        meta.check_invariants().unwrap();
        Some(request)
    }

    /// Runs rounds from `now` until the node has nothing urgent, and returns the time after.
    fn settle(&mut self, meta: &mut MetaStore, mut now: u64) -> u64 {
        for _ in 0..10 {
            if self.round(meta, now).is_none() {
                return now;
            }
            now += 1;
        }
        panic!("the node never settled");
    }

    /// A session logged in here and announced to meta.
    fn login(&mut self, session: SessionId, now: u64) {
        self.local.login(session, "alice", now);
        self.sync.announce(now, session).unwrap();
    }

    fn events(&mut self) -> Vec<NodeEvent> {
        std::iter::from_fn(|| self.sync.poll_event()).collect()
    }
}

fn ids(reports: &[SessionReport]) -> Vec<i64> {
    reports.iter().map(|report| report.session.get()).collect()
}

/// An answer to no request in flight (a duplicate, or one to an abandoned request) that says
/// `gone` are gone.
fn late_answer(gone: &[SessionId]) -> Answer {
    Answer::Reply(Reply {
        id: RequestId { incarnation: 1, round: 7 },
        changes_seen_seq: 0,
        more_changes: false,
        resync: false,
        gone: gone.iter().map(|&session| Gone { session, reason: GoneReason::Killed }).collect(),
        records: Vec::new(),
        not_found: Vec::new(),
        kills: Vec::new(),
        removals: Vec::new(),
        query_kills: Vec::new(),
        reload: None,
        sessions: None,
        queries: None,
        shown: Vec::new(),
    })
}

/// Session `id` of `user` from 10.0.0.1, owned by node 2, as meta would hand it to install.
fn record(id: i64, user: &str) -> SessionRecord {
    SessionRecord {
        session: sid(id),
        user: user.to_owned(),
        client_ip: "10.0.0.1".to_owned(),
        space: String::new(),
        space_set_unix_ms: 0,
        created_unix_ms: START,
        last_activity_unix_ms: START,
        owner: NodeId(2),
    }
}

fn gone(session: SessionId) -> NodeEvent {
    NodeEvent::Gone { session, reason: GoneReason::Killed }
}

#[test]
fn a_late_gone_reaches_a_session_held_here_and_repeats_no_event_for_one_already_dropped() {
    let mut sync = NodeSync::new(fast_node_config(), 1, START).unwrap();
    let mut local = FakeLocal::default();
    // Held but not tracked (a registry restored after a restart); session 2 is neither.
    local.login(sid(1), "alice", START);
    sync.handle_answer(START, late_answer(&[sid(1), sid(2)]), &mut local);
    assert_eq!(std::iter::from_fn(|| sync.poll_event()).collect::<Vec<_>>(), [gone(sid(1))]);
    assert_eq!(local.dropped, [(sid(1), GoneReason::Killed)]);
    assert_eq!(sync.counters().0, 1, "counted as ignored");
    sync.check_invariants().unwrap();
}

#[test]
fn a_late_gone_reaches_a_session_created_here_that_meta_has_not_acknowledged() {
    let mut sync = NodeSync::new(fast_node_config(), 1, START).unwrap();
    let mut local = FakeLocal::default();
    // Announced, then ended by the registry on its own: not held, still waiting to be announced.
    sync.announce(START, sid(1)).unwrap();
    sync.handle_answer(START, late_answer(&[sid(1)]), &mut local);
    assert_eq!(sync.poll_event(), Some(gone(sid(1))));
    assert_eq!(sync.poll_event(), None);
    // Nothing is left to announce.
    sync.handle_timeout(START, &local);
    assert_eq!(sync.poll_request().unwrap().created, []);
    sync.check_invariants().unwrap();
}

#[test]
fn a_late_gone_fails_a_pick_up_still_waiting() {
    let mut sync = NodeSync::new(fast_node_config(), 1, START).unwrap();
    let mut local = FakeLocal::default();
    sync.pick_up(START, sid(1)).unwrap();
    sync.handle_answer(START, late_answer(&[sid(1)]), &mut local);
    assert_eq!(sync.poll_event(), Some(NodeEvent::PickUpFailed { session: sid(1) }));
    assert_eq!(sync.poll_event(), Some(gone(sid(1))));
    assert_eq!(sync.poll_event(), None);
    sync.check_invariants().unwrap();
}

#[test]
fn a_picked_up_session_is_not_reported_back_to_meta_unchanged() {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut owner = Node::new(1, fast_node_config(), 1);
    owner.login(sid(1), START);
    let now = owner.settle(&mut meta, START);
    let mut other = Node::new(2, fast_node_config(), 1);
    let now = other.settle(&mut meta, now);
    other.sync.pick_up(now, sid(1)).unwrap();
    let now = other.settle(&mut meta, now);
    assert!(other.events().contains(&NodeEvent::PickedUp { session: sid(1) }));
    assert!(other.local.sessions.contains_key(&sid(1)));
    let request = other.round(&mut meta, now + ROUND_MS).expect("a round is due");
    assert_eq!(ids(&request.updated), Vec::<i64>::new(), "meta has this copy already");
}

#[test]
fn the_start_up_reload_is_done_once_after_its_last_page_and_reports_nothing_back() {
    let meta_config = MetaConfig { page_rows_max: 1, ..fast_meta_config() };
    let mut meta = MetaStore::new(meta_config).unwrap();
    let mut before = Node::new(1, fast_node_config(), 1);
    before.login(sid(1), START);
    before.login(sid(2), START);
    let now = before.settle(&mut meta, START);
    // The process restarts with an empty registry: the reload brings back one session a page.
    let mut node = Node::new(1, fast_node_config(), 2);
    let first = node.round(&mut meta, now).unwrap();
    assert!(first.reload.is_some());
    assert!(!node.sync.is_reloaded());
    assert_eq!(node.events(), [], "one page of more");
    let now = node.settle(&mut meta, now + 1);
    assert!(node.sync.is_reloaded());
    assert_eq!(node.local.sessions.keys().copied().collect::<Vec<_>>(), [sid(1), sid(2)]);
    assert_eq!(node.events(), [NodeEvent::Reloaded]);
    let request = node.round(&mut meta, now + ROUND_MS).expect("a round is due");
    assert_eq!(ids(&request.updated), Vec::<i64>::new(), "meta has these copies already");
}

#[test]
fn a_session_restored_from_a_snapshot_older_than_its_use_takes_metas_space_at_the_reload() {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut before = Node::new(1, fast_node_config(), 1);
    before.login(sid(1), START);
    let now = before.settle(&mut meta, START);
    // The snapshot is taken before the USE, which meta then records.
    let snapshot = before.local.clone();
    let used_at = now + 1;
    assert!(before.local.use_space(sid(1), "nba", used_at));
    let now = before.settle(&mut meta, now + ROUND_MS);
    assert_eq!(meta.session(sid(1)).unwrap().space, "nba");
    // The process restarts from the snapshot: meta's record has not changed since, so only the
    // reload can hand it over.
    let mut node = Node { local: snapshot, ..Node::new(1, fast_node_config(), 2) };
    assert_eq!(node.local.sessions[&sid(1)].space, "");
    let now = node.settle(&mut meta, now + 1);
    assert!(node.sync.is_reloaded());
    let held = &node.local.sessions[&sid(1)];
    assert_eq!((held.space.as_str(), held.space_set_unix_ms), ("nba", used_at));
    // The reload's round also carried the snapshot's copy, so the next round may report the
    // adopted one once; meta keeps its record, and then there is nothing more to tell.
    let now = node.settle(&mut meta, now + ROUND_MS);
    let record = meta.session(sid(1)).unwrap();
    assert_eq!((record.space.as_str(), record.space_set_unix_ms), ("nba", used_at));
    let request = node.round(&mut meta, now + ROUND_MS).expect("a round is due");
    assert_eq!(ids(&request.updated), Vec::<i64>::new(), "meta's own space is no news to it");
}

#[test]
fn a_pick_up_of_a_session_the_reload_installed_meanwhile_takes_metas_newer_space() {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut owner = Node::new(1, fast_node_config(), 1);
    owner.login(sid(1), START);
    let now = owner.settle(&mut meta, START);
    let mut other = Node::new(2, fast_node_config(), 1);
    other.sync.pick_up(now, sid(1)).unwrap();
    let now = other.settle(&mut meta, now);
    // Node 2's process restarts; meta still counts it a holder, so its reload lists the
    // session. A request for it arrives while the reload is in flight: a pick-up.
    let mut other = Node::new(2, fast_node_config(), 2);
    other.sync.handle_timeout(now, &other.local);
    let reload = other.sync.poll_request().expect("the reload");
    other.sync.pick_up(now, sid(1)).unwrap();
    let answer = meta.handle_request(now, other.id, reload);
    other.sync.handle_answer(now, answer, &mut other.local);
    assert_eq!(other.local.sessions[&sid(1)].space, "", "installed by the reload");
    // A USE on the owner reaches meta before the pick-up's answer, which carries it.
    let used_at = now + 1;
    assert!(owner.local.use_space(sid(1), "nba", used_at));
    let now = owner.settle(&mut meta, used_at + ROUND_MS);
    assert_eq!(meta.session(sid(1)).unwrap().space, "nba");
    let now = other.settle(&mut meta, now + 1);
    assert!(other.events().contains(&NodeEvent::PickedUp { session: sid(1) }));
    let held = &other.local.sessions[&sid(1)];
    assert_eq!((held.space.as_str(), held.space_set_unix_ms), ("nba", used_at));
    // Nothing more comes from meta (its record does not change again): the node holds it.
    let now = other.settle(&mut meta, now + ROUND_MS);
    assert_eq!(other.local.sessions[&sid(1)].space, "nba");
    assert_eq!(ids(&other.round(&mut meta, now + ROUND_MS).unwrap().updated), Vec::<i64>::new());
}

#[test]
fn an_urgent_round_reads_only_the_sessions_it_announces_and_the_periodic_one_reads_all() {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut node = Node::new(1, fast_node_config(), 1);
    for id in 1..=100 {
        node.login(sid(id), START);
    }
    let now = node.settle(&mut meta, START);
    assert_eq!(meta.live_count(), 100);
    // One session changes, and a login comes before the periodic round is due: the urgent
    // round announces the login alone, without reading the 100 sessions held.
    assert!(node.local.use_space(sid(7), "nba", now + 1));
    node.login(sid(101), now + 2);
    let reads = node.local.full_reads.get();
    let urgent = node.round(&mut meta, now + 2).expect("the login is urgent");
    assert_eq!(node.local.full_reads.get(), reads, "an urgent round read every session");
    assert_eq!((ids(&urgent.created), ids(&urgent.updated)), (vec![101], vec![]));
    assert!(urgent.idle.is_empty() && urgent.reload.is_none());
    // The periodic round, due a sync interval after the last full one, reads them all once
    // and reports the USE.
    assert!(node.round(&mut meta, START + ROUND_MS - 1).is_none(), "not due yet");
    let periodic = node.round(&mut meta, START + ROUND_MS).expect("the periodic round");
    assert_eq!(node.local.full_reads.get(), reads + 1);
    assert_eq!(ids(&periodic.updated), vec![7]);
    assert_eq!(meta.session(sid(7)).unwrap().space, "nba");
}

#[test]
fn steady_logins_never_put_the_periodic_round_off() {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut node = Node::new(1, fast_node_config(), 1);
    node.login(sid(1), START);
    let mut now = node.settle(&mut meta, START);
    let first_full = START;
    assert!(node.local.touch(sid(1), now + 1));
    // A login every 100 ms, each sending an urgent round, for three sync intervals: the
    // periodic rounds still come every interval and report the activity.
    let mut periodic_at = Vec::new();
    for id in 2..32 {
        now += 100;
        node.login(sid(id), now);
        let reads = node.local.full_reads.get();
        node.round(&mut meta, now).expect("the login is urgent");
        if node.local.full_reads.get() > reads {
            periodic_at.push(now);
        }
        node.settle(&mut meta, now);
    }
    // Due at START + 1,000, 2,001 and 3,001: each is the first login's round at or after its
    // due time (the logins come at START + 1 + 100k), which then sets the next one.
    let interval = ROUND_MS;
    assert_eq!(periodic_at, [1, 2, 3].map(|rounds| first_full + 1 + rounds * interval));
    let record = meta.session(sid(1)).unwrap();
    assert_eq!(record.last_activity_unix_ms, START + 2, "reported by the first periodic round");
}

#[test]
fn a_login_meta_registers_is_acknowledged_in_the_answer_that_refuses_another() {
    let meta_config = MetaConfig { sessions_max: 1, ..fast_meta_config() };
    let mut meta = MetaStore::new(meta_config).unwrap();
    let mut node = Node::new(1, fast_node_config(), 1);
    let now = node.settle(&mut meta, START);
    assert_eq!(node.events(), [NodeEvent::Reloaded]);
    node.login(sid(1), now);
    node.login(sid(2), now);
    let request = node.round(&mut meta, now).unwrap();
    assert_eq!(ids(&request.created), [1, 2], "both in one round");
    assert_eq!(
        node.events(),
        [
            NodeEvent::Gone { session: sid(2), reason: GoneReason::Refused },
            NodeEvent::Registered { session: sid(1) },
        ]
    );
    // Session 1 is acknowledged: it is not announced again.
    let request = node.round(&mut meta, now + ROUND_MS).expect("a round is due");
    assert_eq!(request.created, []);
}

#[test]
fn a_session_signed_out_after_its_registry_dropped_it_is_removed_not_released() {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut node = Node::new(1, fast_node_config(), 1);
    node.login(sid(1), START);
    let now = node.settle(&mut meta, START);
    assert!(node.local.end(sid(1)));
    node.sync.remove(now, sid(1), RemoveReason::SignedOut).unwrap();
    let request = node.round(&mut meta, now).unwrap();
    assert_eq!(request.removals.len(), 1);
    assert_eq!(request.released, []);
}

#[test]
fn created_sessions_take_their_share_of_a_batch_before_changed_ones() {
    let config = NodeConfig { sync_batch_sessions_max: 2, ..fast_node_config() };
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut node = Node::new(1, config, 1);
    node.login(sid(1), START);
    node.login(sid(2), START);
    let now = node.settle(&mut meta, START) + ROUND_MS;
    assert!(node.local.touch(sid(1), now));
    assert!(node.local.touch(sid(2), now));
    node.login(sid(3), now);
    let request = node.round(&mut meta, now).unwrap();
    assert_eq!(ids(&request.created), [3]);
    assert_eq!(ids(&request.updated), [1], "the batch holds two sessions");
    let request = node.round(&mut meta, now + 1).expect("the rest follows at once");
    assert_eq!(ids(&request.updated), [2]);
}

#[test]
fn a_long_dirty_list_is_reported_in_turn_so_none_starves() {
    let config = NodeConfig { sync_batch_sessions_max: 2, ..fast_node_config() };
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut node = Node::new(1, config, 1);
    for id in 1..=4 {
        node.login(sid(id), START);
    }
    let now = node.settle(&mut meta, START) + ROUND_MS;
    let mut reported = Vec::new();
    for now in [now, now + 1] {
        // Every session is busy before every round: all four always have something new.
        for id in 1..=4 {
            assert!(node.local.touch(sid(id), now));
        }
        reported.push(ids(&node.round(&mut meta, now).unwrap().updated));
    }
    assert_eq!(reported, [[1, 2], [3, 4]]);
}

/// A registry that lists its sessions from the highest id down.
struct Reversed(FakeLocal);

impl LocalSessions for Reversed {
    fn sessions(&self) -> Vec<SessionReport> {
        self.0.sessions.values().rev().cloned().collect()
    }
    fn install(&mut self, record: &SessionRecord) {
        self.0.install(record);
    }
    fn adopt_space(&mut self, record: &SessionRecord) -> bool {
        self.0.adopt_space(record)
    }
    fn drop_session(&mut self, session: SessionId, reason: GoneReason) {
        self.0.drop_session(session, reason);
    }
    fn kill_query(&mut self, key: QueryKey) -> bool {
        self.0.kill_query(key)
    }
}

#[test]
fn a_registry_listing_its_sessions_out_of_order_is_read_by_id() {
    let mut sync = NodeSync::new(fast_node_config(), 1, START).unwrap();
    let mut local = Reversed(FakeLocal::default());
    for id in 1..=5 {
        local.0.login(sid(id), "alice", START);
        sync.announce(START, sid(id)).unwrap();
    }
    sync.handle_timeout(START, &local);
    let request = sync.poll_request().unwrap();
    assert_eq!(ids(&request.created), [1, 2, 3, 4, 5]);
}

#[test]
fn installs_the_server_registry_refuses_are_counted_and_leave_nothing_held() {
    let sessions = manager(Config::default());
    let table = RoleTable::new();
    let mut registry = ServerRegistry::new(START, &sessions, &table);
    assert_eq!(registry.installs_refused(), 0);
    // Users the role table does not know.
    registry.install(&record(1, "bob"));
    registry.install(&record(2, "carol"));
    assert_eq!(registry.installs_refused(), 2);
    assert_eq!(registry.sessions(), []);
    registry.install(&record(3, "root"));
    assert_eq!(registry.installs_refused(), 2, "an install that succeeds is not counted");
    assert_eq!(ids(&registry.sessions()), [3]);
}

#[test]
fn the_server_registry_says_whether_sync_changed_it() {
    let sessions = manager(Config::default());
    let table = RoleTable::new();
    let record = record(3, "root");
    let mut registry = ServerRegistry::new(START, &sessions, &table);
    assert!(!registry.changed());
    assert_eq!(registry.sessions(), [], "reading the sessions changes nothing");
    assert!(!registry.changed());
    registry.install(&record);
    assert!(registry.changed());
    for what in ["adopt_space", "drop_session", "kill_query"] {
        let mut registry = ServerRegistry::new(START, &sessions, &table);
        match what {
            "adopt_space" => {
                let _adopted = registry.adopt_space(&record);
            }
            "drop_session" => registry.drop_session(record.session, GoneReason::Expired),
            _ => {
                let plan = graphsession_id_gen::PlanId::from_u64(1);
                let _killed = registry.kill_query(QueryKey { session: record.session, plan });
            }
        }
        assert!(registry.changed(), "{what}");
    }
}

#[test]
fn meta_names_the_sessions_its_change_log_moved_since_a_position() {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut node = Node::new(1, fast_node_config(), 1);
    let start_seq = meta.changes_seq();
    node.login(sid(1), START);
    node.login(sid(2), START);
    let now = node.settle(&mut meta, START);
    let created: Vec<SessionId> = meta.sessions_changed_after(start_seq).collect();
    assert_eq!(created, [sid(1), sid(2)]);
    let seen = meta.changes_seq();
    assert_eq!(meta.sessions_changed_after(seen).count(), 0);
    assert!(node.local.end(sid(1)));
    node.sync.remove(now, sid(1), RemoveReason::SignedOut).unwrap();
    node.settle(&mut meta, now);
    // The tombstone took a new position; the live session's did not move.
    let moved: Vec<SessionId> = meta.sessions_changed_after(seen).collect();
    assert_eq!(moved, [sid(1)]);
    assert_eq!(meta.gone_reason(sid(1)), Some(GoneReason::SignedOut));
}

/// A store holding one session signed out (a tombstone) and one live.
fn store_with_a_tombstone() -> MetaStore {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut node = Node::new(1, fast_node_config(), 1);
    node.login(sid(1), START);
    node.login(sid(2), START);
    let now = node.settle(&mut meta, START);
    assert!(node.local.end(sid(1)));
    node.sync.remove(now, sid(1), RemoveReason::SignedOut).unwrap();
    node.settle(&mut meta, now);
    assert_eq!(meta.live_count(), 1);
    meta
}

/// `snapshot` through JSON, with `edit` applied to the text.
fn edited(snapshot: &MetaSnapshot, edit: impl Fn(String) -> String) -> MetaSnapshot {
    let json = serde_json::to_string(snapshot).unwrap();
    let changed = edit(json.clone());
    assert_ne!(changed, json, "the edit changed something");
    serde_json::from_str(&changed).unwrap()
}

#[test]
fn a_snapshot_keeps_the_format_version_it_was_written_with() {
    let snapshot = store_with_a_tombstone().snapshot();
    assert_eq!(snapshot.format_version(), META_FORMAT_VERSION);
    let from = format!("\"format_version\":{META_FORMAT_VERSION}");
    for unknown in [0, META_FORMAT_VERSION + 1] {
        let to = format!("\"format_version\":{unknown}");
        let other = edited(&snapshot, |json| json.replace(&from, &to));
        assert_eq!(other.format_version(), unknown);
        assert_eq!(
            MetaStore::restore(fast_meta_config(), other).err(),
            Some(PersistError::UnsupportedVersion {
                found: unknown,
                supported: META_FORMAT_VERSION
            })
        );
    }
}

#[test]
fn a_tombstone_whose_reason_was_altered_fails_the_digest() {
    let snapshot = store_with_a_tombstone().snapshot();
    assert!(MetaStore::restore(fast_meta_config(), snapshot.clone()).is_ok());
    for reason in ["Killed", "Expired", "Refused", "Unknown"] {
        let altered =
            edited(&snapshot, |json| json.replace("\"SignedOut\"", &format!("\"{reason}\"")));
        let restored = MetaStore::restore(fast_meta_config(), altered);
        assert!(
            matches!(restored, Err(PersistError::DigestMismatch { .. })),
            "{reason}: {:?}",
            restored.err()
        );
    }
}

/// Meta refuses a duplicated copy of a request as stale, naming the request itself: found by the
/// simulator (seed 7300109274), where that refusal arrived before the request's own answer, the
/// node moved its incarnation up to the one its next process then started with, and that process
/// took an answer meant for this one as its own: the restored session it had reported was
/// counted as acknowledged, and meta, which had killed it, never told the node. The refusal is
/// ignored; the request's own answer is applied when it comes.
#[test]
fn a_duplicates_stale_refusal_leaves_the_request_awaiting_its_own_answer() {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut node = Node::new(1, fast_node_config(), 5);
    let now = node.settle(&mut meta, START);
    node.login(sid(7), now);
    node.sync.handle_timeout(now + ROUND_MS, &node.local);
    let request = node.sync.poll_request().unwrap();
    let answer = meta.handle_request(now + ROUND_MS, node.id, request.clone());
    let duplicate = meta.handle_request(now + ROUND_MS, node.id, request.clone());
    let refusal = Answer::Refused {
        id: request.id,
        refusal: graphsession_core::cluster::Refusal::Stale { last: request.id },
    };
    assert_eq!(duplicate, refusal, "meta refuses the copy, naming the request itself");
    let (ignored_before, _) = node.sync.counters();
    node.sync.handle_answer(now + ROUND_MS, duplicate, &mut node.local);
    node.sync.check_invariants().unwrap();
    assert_eq!(node.sync.counters().0, ignored_before + 1, "counted as an ignored answer");
    assert_eq!(node.sync.next_request_id().incarnation, 5, "the incarnation moved up");
    node.sync.handle_answer(now + ROUND_MS, answer, &mut node.local);
    let registered = node
        .events()
        .into_iter()
        .any(|event| matches!(event, NodeEvent::Registered { session } if session == sid(7)));
    assert!(registered, "the request's own answer was not applied as the awaited one");
}

#[test]
fn an_urgent_round_announces_at_most_a_batch_and_the_rest_follows() {
    let config = NodeConfig { sync_batch_sessions_max: 2, ..fast_node_config() };
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut node = Node::new(1, config, 1);
    let now = node.settle(&mut meta, START) + 1;
    for id in 1..=3 {
        node.login(sid(id), now);
    }
    let request = node.round(&mut meta, now).expect("the logins are urgent");
    assert_eq!(ids(&request.created), [1, 2], "the batch holds two sessions");
    let request = node.round(&mut meta, now + 1).expect("the rest follows at once");
    assert_eq!(ids(&request.created), [3]);
    assert_eq!(meta.live_count(), 3);
}

/// A session the registry dropped before meta heard of it (evicted, refused) is released at
/// meta by the next round, urgent or full: meta may hold it (a create applied whose answer was
/// lost). One signed out is removed instead, never also released.
#[test]
fn a_session_dropped_before_its_announcement_is_released_and_one_signed_out_is_removed() {
    for full in [false, true] {
        let mut meta = MetaStore::new(fast_meta_config()).unwrap();
        let mut node = Node::new(1, fast_node_config(), 1);
        let settled = node.settle(&mut meta, START);
        // At the periodic round's due time the round is full; just after the settle, urgent.
        let now = if full { START + ROUND_MS } else { settled + 1 };
        node.login(sid(1), now);
        node.login(sid(2), now);
        assert!(node.local.end(sid(1)), "dropped here, not signed out");
        assert!(node.local.end(sid(2)));
        node.sync.remove(now, sid(2), RemoveReason::SignedOut).unwrap();
        let reads = node.local.full_reads.get();
        let request = node.round(&mut meta, now).expect("a round is due");
        assert_eq!(node.local.full_reads.get() > reads, full, "full round: {full}");
        assert_eq!(request.created, [], "full round: {full}");
        assert_eq!(request.released, [sid(1)], "full round: {full}");
        assert_eq!(request.removals.len(), 1, "full round: {full}");
    }
}

/// A session meta acknowledged and the registry then dropped is released at the periodic
/// round; one signed out meanwhile is removed, not released.
#[test]
fn the_periodic_round_releases_an_acknowledged_session_dropped_here_and_removes_one_signed_out() {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut node = Node::new(1, fast_node_config(), 1);
    node.login(sid(1), START);
    node.login(sid(2), START);
    node.settle(&mut meta, START);
    let now = START + ROUND_MS;
    assert!(node.local.end(sid(1)), "dropped here, not signed out");
    assert!(node.local.end(sid(2)));
    node.sync.remove(now, sid(2), RemoveReason::SignedOut).unwrap();
    let reads = node.local.full_reads.get();
    let request = node.round(&mut meta, now).expect("the periodic round");
    assert_eq!(node.local.full_reads.get(), reads + 1, "a full round");
    assert_eq!(request.released, [sid(1)]);
    assert_eq!(request.removals.len(), 1);
    // Released, not ended: meta keeps session 1 for its idle timeout with no holder.
    assert_eq!(meta.live_count(), 1);
    assert!(meta.holders(sid(1)).is_empty());
    assert!(meta.session(sid(2)).is_none(), "removed");
}

/// A request meta never answers is sent again after `retry_backoff_ms`, and each further
/// failure doubles the wait, up to `retry_backoff_max_ms`.
#[test]
fn each_unanswered_request_doubles_the_wait_before_the_next() {
    let config = fast_node_config();
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut node = Node::new(1, config, 1);
    let mut now = node.settle(&mut meta, START) + 1;
    node.login(sid(1), now);
    let mut waits_ms = Vec::new();
    for _ in 0..5 {
        node.sync.handle_timeout(now, &node.local);
        assert!(node.sync.poll_request().is_some(), "sent at {now}");
        let timeout = node.sync.poll_timeout().unwrap();
        assert_eq!(timeout, now + config.request_timeout_ms);
        node.sync.handle_timeout(timeout, &node.local);
        assert!(node.sync.poll_request().is_none(), "backing off");
        let resend = node.sync.poll_timeout().unwrap();
        waits_ms.push(resend - timeout);
        node.sync.check_invariants().unwrap();
        now = resend;
    }
    assert_eq!(waits_ms, [100, 200, 400, 800, 800]);
}

#[test]
fn the_server_registrys_session_states_are_its_reports_without_the_names() {
    let sessions = manager(Config::default());
    let table = RoleTable::new();
    let now = START + 50;
    let registry = ServerRegistry::new(now, &sessions, &table);
    assert_eq!(registry.session_states(), [], "an empty registry lists nothing");
    let mut registry = ServerRegistry::new(now, &sessions, &table);
    // Installed with a space, installed without one, and one logged in here running a query.
    registry.install(&SessionRecord {
        space: "nba".to_owned(),
        space_set_unix_ms: START,
        ..record(3, "root")
    });
    registry.install(&record(9, "root"));
    let login = graphsession_core::server::Login {
        user: "root",
        client_ip: "10.0.0.2",
        password: graphsession_core::server::PasswordCheck::Verified,
    };
    let here = sessions.login(now, login, &table).unwrap();
    let _query = sessions.begin_query(now, here.get(), "GO", &table).unwrap();
    let registry = ServerRegistry::new(now, &sessions, &table);
    let reports = registry.sessions();
    assert_eq!(reports.len(), 3);
    assert!(reports.iter().any(|report| report.running_queries == 1 && report.space.is_empty()));
    assert!(reports.iter().any(|report| report.space == "nba"));
    let states: Vec<SessionState> = reports.iter().map(SessionState::of).collect();
    assert_eq!(registry.session_states(), states);
}

/// A registry one of whose sessions ends between a full round's two reads: listed in the scan,
/// gone when the round reads it whole, and gone from every later listing.
struct EndsMidRound {
    local: FakeLocal,
    ending: SessionId,
    scanned: std::cell::Cell<bool>,
}

impl LocalSessions for EndsMidRound {
    fn sessions(&self) -> Vec<SessionReport> {
        let ended = self.scanned.get();
        let held = self.local.sessions.values();
        held.filter(|report| !ended || report.session != self.ending).cloned().collect()
    }
    fn session_states(&self) -> Vec<SessionState> {
        let states = self.sessions().iter().map(SessionState::of).collect();
        self.scanned.set(true);
        states
    }
    fn session(&self, session: SessionId) -> Option<SessionReport> {
        self.sessions().into_iter().find(|report| report.session == session)
    }
    fn install(&mut self, record: &SessionRecord) {
        self.local.install(record);
    }
    fn adopt_space(&mut self, record: &SessionRecord) -> bool {
        self.local.adopt_space(record)
    }
    fn drop_session(&mut self, session: SessionId, reason: GoneReason) {
        self.local.drop_session(session, reason);
    }
    fn kill_query(&mut self, key: QueryKey) -> bool {
        self.local.kill_query(key)
    }
}

#[test]
fn a_session_ended_between_a_full_rounds_scan_and_its_report_is_left_out_then_let_go_of() {
    let mut meta = MetaStore::new(fast_meta_config()).unwrap();
    let mut sync = NodeSync::new(fast_node_config(), 1, START).unwrap();
    let ending = sid(2);
    let mut local =
        EndsMidRound { local: FakeLocal::default(), ending, scanned: std::cell::Cell::new(false) };
    for id in 1..=3 {
        local.local.login(sid(id), "alice", START);
        sync.announce(START, sid(id)).unwrap();
    }
    // The first round is the periodic one: it scans, and reads each session it reports whole.
    let now = START + ROUND_MS;
    sync.handle_timeout(now, &local);
    let first = sync.poll_request().unwrap();
    assert_eq!(ids(&first.created), [1, 3], "the one gone by its read is not reported");
    assert_eq!(first.released, []);
    sync.handle_answer(now, meta.handle_request(now, NodeId(1), first), &mut local);
    sync.check_invariants().unwrap();
    // The next full round no longer finds it: released (meta never had it: a no-op there).
    let later = now + ROUND_MS;
    sync.handle_timeout(later, &local);
    let second = sync.poll_request().unwrap();
    assert_eq!(ids(&second.created), Vec::<i64>::new());
    assert_eq!(second.released, [ending]);
    sync.check_invariants().unwrap();
}
