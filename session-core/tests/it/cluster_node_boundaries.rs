//! The node-side machine against a real meta store at its boundaries: a session is reported
//! again exactly when it says something meta has not acknowledged; a full queue of
//! announcements or remote kills still takes the one already waiting; events the host does not
//! drain are dropped oldest first and counted.
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use crate::cluster_support::{FakeLocal, START, fast_meta_config, fast_node_config, key, sid};
use graphsession_core::cluster::{
    MetaStore, NodeConfig, NodeError, NodeEvent, NodeId, NodeSync, QueryKill, Request,
};

const NODE: NodeId = NodeId(1);
/// `fast_node_config`'s sync period.
const ROUND_MS: u64 = 1_000;

struct Wired {
    meta: MetaStore,
    sync: NodeSync,
    local: FakeLocal,
}

impl Wired {
    fn new(config: NodeConfig) -> Wired {
        Wired {
            meta: MetaStore::new(fast_meta_config()).unwrap(),
            sync: NodeSync::new(config, 1, START).unwrap(),
            local: FakeLocal::default(),
        }
    }

    /// Runs the node's timer at `now`; the request it sends, if any, is answered at once.
    fn round(&mut self, now: u64) -> Option<Request> {
        self.sync.handle_timeout(now, &self.local);
        let request = self.sync.poll_request()?;
        let answer = self.meta.handle_request(now, NODE, request.clone());
        self.sync.handle_answer(now, answer, &mut self.local);
        self.sync.check_invariants().unwrap();
        self.meta.check_invariants().unwrap();
        Some(request)
    }

    /// Runs rounds from `now` until the node has nothing urgent, and returns the time after.
    fn settle(&mut self, mut now: u64) -> u64 {
        for _ in 0..10 {
            if self.round(now).is_none() {
                return now;
            }
            now += 1;
        }
        panic!("the node never settled");
    }

    /// The sessions the next periodic round reports as changed.
    fn updated_at(&mut self, now: u64) -> Vec<i64> {
        let request = self.round(now).expect("a round is due");
        request.updated.iter().map(|report| report.session.get()).collect()
    }
}

#[test]
fn a_session_is_reported_again_exactly_when_it_says_something_new() {
    let mut wired = Wired::new(fast_node_config());
    wired.local.login(sid(1), "alice", START);
    wired.local.login(sid(2), "alice", START);
    wired.sync.announce(START, sid(1)).unwrap();
    wired.sync.announce(START, sid(2)).unwrap();
    assert!(!wired.sync.is_reloaded());
    let mut now = wired.settle(START);
    assert_eq!(wired.meta.live_count(), 2);
    assert!(wired.sync.is_reloaded());
    assert!(wired.meta.changes_seq() >= 2);
    assert_eq!(wired.sync.changes_seen_seq(), wired.meta.changes_seq());
    now += ROUND_MS;
    assert_eq!(wired.updated_at(now), Vec::<i64>::new(), "nothing new since meta's ack");
    // Newer activity alone.
    assert!(wired.local.touch(sid(1), now + 10));
    now += ROUND_MS;
    assert_eq!(wired.updated_at(now), [1]);
    now += ROUND_MS;
    assert_eq!(wired.updated_at(now), Vec::<i64>::new(), "acknowledged");
    // Each other field alone, the activity unchanged: the running queries, the time of the
    // last USE, the space.
    let changes: [fn(&mut graphsession_core::cluster::SessionReport); 3] = [
        |report| report.running_queries = 1,
        |report| report.space_set_unix_ms += 1,
        |report| report.space = "nba".into(),
    ];
    for change in changes {
        change(wired.local.sessions.get_mut(&sid(2)).unwrap());
        now += ROUND_MS;
        assert_eq!(wired.updated_at(now), [2]);
        now += ROUND_MS;
        assert_eq!(wired.updated_at(now), Vec::<i64>::new());
    }
}

#[test]
fn a_full_queue_of_announcements_still_takes_the_session_already_waiting() {
    let config = NodeConfig { unannounced_max: 1, ..fast_node_config() };
    let mut sync = NodeSync::new(config, 1, START).unwrap();
    sync.announce(START, sid(1)).unwrap();
    sync.announce(START, sid(1)).unwrap();
    match sync.announce(START, sid(2)) {
        Err(NodeError::UnannouncedFull { session, pending_max: 1 }) => assert_eq!(session, sid(2)),
        other => panic!("{other:?}"),
    }
    sync.check_invariants().unwrap();
}

#[test]
fn a_full_queue_of_remote_kills_still_takes_the_kill_already_waiting() {
    let config = NodeConfig { pending_query_kills_max: 1, ..fast_node_config() };
    let mut sync = NodeSync::new(config, 1, START).unwrap();
    let kill = |session, plan| QueryKill {
        key: key(session, plan),
        caller_user: "alice".into(),
        caller_is_god: false,
    };
    sync.kill_query(START, kill(1, 1)).unwrap();
    sync.kill_query(START, kill(1, 1)).unwrap();
    match sync.kill_query(START, kill(1, 2)) {
        Err(NodeError::QueryKillsFull { key: refused, pending_max: 1 }) => {
            assert_eq!(refused, key(1, 2));
        }
        other => panic!("{other:?}"),
    }
    sync.check_invariants().unwrap();
}

#[test]
fn events_the_host_does_not_drain_are_dropped_oldest_first_and_counted() {
    let config = NodeConfig { events_max: 2, ..fast_node_config() };
    let mut wired = Wired::new(config);
    let now = wired.settle(START);
    assert_eq!(wired.sync.poll_event(), Some(NodeEvent::Reloaded));
    assert_eq!(wired.sync.poll_event(), None);
    for id in 1..=3 {
        wired.local.login(sid(id), "alice", now);
        wired.sync.announce(now, sid(id)).unwrap();
    }
    let now = wired.settle(now);
    // Three sessions registered, two events kept: the first one's is gone.
    assert_eq!(wired.sync.counters().1, 1);
    let mut kept = Vec::new();
    while let Some(event) = wired.sync.poll_event() {
        kept.push(event);
    }
    let expected: Vec<_> = [2, 3].map(|id| NodeEvent::Registered { session: sid(id) }).into();
    assert_eq!(kept, expected);
    // Announcing a session meta has already registered says so again, at once.
    wired.sync.announce(now, sid(1)).unwrap();
    assert_eq!(wired.sync.poll_event(), Some(NodeEvent::Registered { session: sid(1) }));
    assert_eq!(wired.sync.counters().1, 1);
}
