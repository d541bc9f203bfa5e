//! The meta store on a real etcd started by the test: every replica applies the same log,
//! a stale slot holder never appends, id floors carry over a hand-over, the leader snapshots
//! and compacts and a new process restores from it, and the log survives etcd's restart and
//! the death of an etcd leader; every process learns every node's address; every process seals
//! session ids with the cluster's one key, and a malformed key refuses the start; a cluster an
//! older build wrote is upgraded once its processes stopped, and a newer build's is refused; a
//! whole-cluster restart changes the meta configuration from the change's revision on; the
//! leader's ticks run meta's timer.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/node.rs"]
mod node;

use std::collections::BTreeMap;
use std::time::Duration;

use etcd::EtcdCluster;
use graphsession_core::cluster::{
    META_FORMAT_VERSION, META_FORMAT_VERSION_OLDEST, MetaConfig, NodeId, Request, RequestId,
};
use graphsession_id_gen::{
    Layout, SealKey, SessionId, SessionIdCodec, SessionIdConfig, SessionIdGenerator,
};
use graphsession_meta_etcd::{
    Delivery, EtcdConfig, IdLeaseConfig, LOG_FORMAT_VERSION, LOG_FORMAT_VERSION_OLDEST, LogEntry,
    MetaEtcd, MetaEtcdError, SlotRecord, etcd_meta_config,
};
use node::{TestNode, now};
use tokio::sync::mpsc;

const IDS: IdLeaseConfig =
    IdLeaseConfig { session_lease_ms: 3_600_000, plan_lease_counters: 1 << 20 };
/// The seal key the tests' processes offer (the first to start writes it).
const SEAL: SealKey = SealKey::from_bytes(*b"store-tests-seal");

fn config(cluster: &EtcdCluster, prefix: &str) -> EtcdConfig {
    EtcdConfig {
        endpoints: cluster.endpoints(),
        prefix: prefix.to_owned(),
        lease_ttl_ms: 2_000,
        snapshot_interval_ms: 300,
        call_timeout_ms: 3_000,
        ..EtcdConfig::default()
    }
}

fn meta() -> MetaConfig {
    etcd_meta_config(MetaConfig {
        idle_timeout_ms: 600_000,
        holder_silence_ms: 60_000,
        ..MetaConfig::default()
    })
}

async fn start(config: &EtcdConfig) -> (MetaEtcd, mpsc::Receiver<Delivery>) {
    MetaEtcd::start(config.clone(), meta(), (1, IDS), SEAL, now()).await.unwrap()
}

/// Waits until `a` and `b` applied the same revision, then compares their states.
async fn same_state(a: &MetaEtcd, b: &MetaEtcd) {
    for _ in 0..200 {
        if a.applied().0 == b.applied().0 {
            let (left, right) =
                (a.with_store(|store| store.snapshot()), b.with_store(|store| store.snapshot()));
            if a.applied().0 == b.applied().0 {
                assert_eq!(left, right, "two replicas at one revision disagree");
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the replicas did not reach one revision: {:?} {:?}", a.applied(), b.applied());
}

fn session(value: i64) -> SessionId {
    SessionId::new(value).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_replica_applies_the_same_log_and_answers_its_own_nodes() {
    let cluster = EtcdCluster::start(1);
    let config = config(&cluster, "/same-log/");
    let (a, a_deliveries) = start(&config).await;
    let (b, b_deliveries) = start(&config).await;
    assert_ne!(a.grants()[0].slot(), b.grants()[0].slot(), "two processes hold one slot");
    let (mut node_a, mut node_b) =
        (TestNode::new(&a, a_deliveries), TestNode::new(&b, b_deliveries));
    for value in 1..=40 {
        node_a.login(session(value));
        node_b.login(session(1_000 + value));
    }
    let (_, _) = tokio::join!(
        node_a.pump(&a, Duration::from_secs(2)),
        node_b.pump(&b, Duration::from_secs(2))
    );
    assert_eq!((node_a.registered(), node_b.registered()), (40, 40));
    same_state(&a, &b).await;
    let owners = b.with_store(|store| {
        (store.session(session(7)).map(|r| r.owner), store.session(session(1_007)).map(|r| r.owner))
    });
    assert_eq!(owners, (Some(node_a.id), Some(node_b.id)));
    assert_eq!(
        [a.is_leader(), b.is_leader()].iter().filter(|leads| **leads).count(),
        1,
        "one leader"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_holder_never_appends_and_the_next_holder_starts_above_its_ids() {
    let cluster = EtcdCluster::start(1);
    let config = config(&cluster, "/stale/");
    let (a, a_deliveries) = start(&config).await;
    let mut node_a = TestNode::new(&a, a_deliveries);
    node_a.login(session(5));
    node_a.pump(&a, Duration::from_millis(800)).await;
    assert_eq!(node_a.registered(), 1);
    // The lease expires as if the process were cut off: revoked behind its back.
    let mut admin = etcd_client::Client::connect(cluster.endpoints(), None).await.unwrap();
    admin.lease_revoke(a.lease()).await.unwrap();
    let (b, _b_deliveries) = start(&config).await;
    let (old, new) = (a.grants()[0], b.grants()[0]);
    assert_eq!(new.slot(), old.slot(), "the freed slot is claimed again");
    assert_eq!(new.session.floor_unix_ms, old.session.bound_unix_ms);
    assert_eq!(new.plan.floor_counter, old.plan.bound_counter);
    assert_eq!(new.incarnation, old.incarnation + 1);
    let key = format!("/stale/log/node/{:05}", old.slot());
    let before = admin.get(key.clone(), None).await.unwrap().kvs()[0].mod_revision();
    node_a.login(session(6));
    node_a.pump(&a, Duration::from_secs(3)).await;
    let after = admin.get(key, None).await.unwrap().kvs()[0].mod_revision();
    assert_eq!(before, after, "the stale holder appended");
    assert!(node_a.lease_lost && a.is_lost(), "the stale holder was not told");
    assert!(b.with_store(|store| store.session(session(6)).is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_snapshots_and_compacts_and_a_new_process_restores_and_takes_over() {
    let cluster = EtcdCluster::start(1);
    let config = config(&cluster, "/snap/");
    let (mut a, a_deliveries) = start(&config).await;
    let mut node_a = TestNode::new(&a, a_deliveries);
    for value in 1..=30 {
        node_a.login(session(value));
    }
    node_a.pump(&a, Duration::from_secs(2)).await;
    assert!(a.is_leader());
    let mut admin = etcd_client::Client::connect(cluster.endpoints(), None).await.unwrap();
    let manifest = admin.get("/snap/snapshot/manifest", None).await.unwrap();
    assert_eq!(manifest.kvs().len(), 1, "no snapshot written");
    let old = admin
        .get("/snap/log/node/00001", Some(etcd_client::GetOptions::new().with_revision(2)))
        .await;
    assert!(old.is_err(), "the log below the snapshot was not compacted");
    let (c, _c_deliveries) = start(&config).await;
    same_state(&a, &c).await;
    assert_eq!(c.with_store(|store| store.session(session(30)).map(|r| r.owner)), Some(NodeId(1)));
    let stopped_at = now();
    a.shutdown(stopped_at).await.unwrap();
    // A clean stop frees the slot at once and writes back the bound of the ids it could issue.
    let slot = admin.get("/snap/slots/00001", None).await.unwrap();
    assert!(slot.kvs().is_empty(), "the slot is still held");
    let floor = admin.get("/snap/floors/00001", None).await.unwrap();
    let record: SlotRecord = serde_json::from_slice(floor.kvs()[0].value()).unwrap();
    assert_eq!(record.session_bound_unix_ms, stopped_at.min(a.grants()[0].session.bound_unix_ms));
    for _ in 0..100 {
        if c.is_leader() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the surviving process did not take the leadership over");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_survives_a_restart_of_etcd_and_the_death_of_its_leader() {
    let mut cluster = EtcdCluster::start(3);
    let config = config(&cluster, "/faults/");
    let (a, a_deliveries) = start(&config).await;
    let mut node_a = TestNode::new(&a, a_deliveries);
    node_a.login(session(1));
    node_a.pump(&a, Duration::from_secs(1)).await;
    assert_eq!(node_a.registered(), 1);
    let mut admin = etcd_client::Client::connect(cluster.endpoints(), None).await.unwrap();
    let leader = admin.status().await.unwrap().leader();
    let members = admin.member_list().await.unwrap();
    let index = members.members().iter().position(|member| member.id() == leader).unwrap();
    let name = members.members()[index].name().to_owned();
    let index: usize = name.trim_start_matches('m').parse::<usize>().unwrap() - 1;
    cluster.kill(index);
    node_a.login(session(2));
    node_a.pump(&a, Duration::from_secs(4)).await;
    assert_eq!(node_a.registered(), 2, "no answer after the etcd leader died");
    for member in 0..cluster.size() {
        cluster.kill(member);
    }
    for member in 0..cluster.size() {
        cluster.restart(member);
    }
    node_a.login(session(3));
    node_a.pump(&a, Duration::from_secs(6)).await;
    assert_eq!(node_a.registered(), 3, "no answer after etcd restarted");
    assert!(!a.is_lost(), "a restart shorter than the lease cost the lease");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_of_several_nodes_claims_distinct_slots_and_a_bad_configuration_is_refused() {
    let cluster = EtcdCluster::start(1);
    let config = config(&cluster, "/slots/");
    let (a, _a_deliveries) =
        MetaEtcd::start(config.clone(), meta(), (3, IDS), SEAL, now()).await.unwrap();
    let (b, _b_deliveries) =
        MetaEtcd::start(config.clone(), meta(), (2, IDS), SEAL, now()).await.unwrap();
    let slots: Vec<u16> = a.grants().iter().chain(b.grants()).map(|grant| grant.slot()).collect();
    assert_eq!(slots, [1, 2, 3, 4, 5]);
    assert!(
        a.grants().iter().all(|grant| grant.incarnation == 1 && grant.session.floor_unix_ms == 0)
    );
    // Another meta configuration beside running processes would make the replicas diverge:
    // refused before anything runs.
    let other = MetaConfig { idle_timeout_ms: 1_000, ..meta() };
    let refused = MetaEtcd::start(config.clone(), other, (1, IDS), SEAL, now()).await;
    assert!(matches!(refused, Err(MetaEtcdError::ClusterRunning { slots_held: 5, .. })));
    // So would requests too large for one entry.
    let too_large = MetaEtcd::start(config, MetaConfig::default(), (1, IDS), SEAL, now()).await;
    assert!(matches!(too_large, Err(MetaEtcdError::Config { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_replica_catches_up_a_log_larger_than_a_grpc_message() {
    let cluster = EtcdCluster::start(1);
    let config = config(&cluster, "/big/");
    let mut admin = etcd_client::Client::connect(cluster.endpoints(), None).await.unwrap();
    // 64 entries of about 300 KB each (64 sessions with 1 KB names, twice): 19 MB of history,
    // which etcd sends a catching-up watcher in responses of up to 1,000 revisions.
    let name = "x".repeat(256);
    for round in 1..=64_u64 {
        let reports: Vec<_> = (0..64_i64)
            .map(|index| {
                let id = SessionId::new(i64::try_from(round).unwrap() * 100 + index).unwrap();
                let mut report = node::report(id, &name, now());
                report.client_ip.clone_from(&name);
                report.space.clone_from(&name);
                report
            })
            .collect();
        let id = graphsession_core::cluster::RequestId { incarnation: 1, round };
        let mut request = graphsession_core::cluster::Request::empty(id);
        request.created = reports.clone();
        request.updated = reports;
        let entry = graphsession_meta_etcd::LogEntry::Request {
            now_unix_ms: now(),
            node: NodeId(900),
            request: Box::new(request),
        };
        admin.put("/big/log/node/00900", entry.encode(), None).await.unwrap();
    }
    let last = admin.get("/big/log/node/00900", None).await.unwrap().kvs()[0].mod_revision();
    let (a, _deliveries) = start(&config).await;
    for _ in 0..300 {
        if a.applied().0 >= last {
            assert_eq!(a.with_store(|store| store.live_count()), 64 * 64);
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the replica is stuck at {:?} below {last}", a.applied());
}

/// The next map of addresses with `count` nodes delivered on `deliveries`.
async fn peers(deliveries: &mut mpsc::Receiver<Delivery>, count: usize) -> BTreeMap<u16, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let delivery = tokio::time::timeout_at(deadline, deliveries.recv()).await;
        if let Delivery::Peers(addrs) = delivery.expect("no addresses delivered").unwrap()
            && addrs.len() >= count
        {
            return addrs;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_process_learns_every_address_which_outlives_its_process_until_replaced() {
    let cluster = EtcdCluster::start(1);
    let config = config(&cluster, "/addrs/");
    let (mut a, mut a_deliveries) = start(&config).await;
    let (mut b, mut b_deliveries) = start(&config).await;
    let (slot_a, slot_b) = (a.grants()[0].slot(), b.grants()[0].slot());
    a.share_addrs(&[(slot_a, "10.0.0.1:9669".to_owned())]).await.unwrap();
    b.share_addrs(&[(slot_b, "10.0.0.2:9669".to_owned())]).await.unwrap();
    let both = BTreeMap::from([
        (slot_a, "10.0.0.1:9669".to_owned()),
        (slot_b, "10.0.0.2:9669".to_owned()),
    ]);
    assert_eq!(peers(&mut a_deliveries, 2).await, both);
    assert_eq!(peers(&mut b_deliveries, 2).await, both);
    // A clean stop frees the slot and the lease; the address stays (NebulaGraph lists an
    // offline host the same way) until the slot's next owner writes its own.
    b.shutdown(now()).await.unwrap();
    drop(b);
    let mut admin = etcd_client::Client::connect(cluster.endpoints(), None).await.unwrap();
    let key = format!("/addrs/addrs/{slot_b:05}");
    let kept = admin.get(key, None).await.unwrap();
    assert_eq!(kept.kvs()[0].value_str().unwrap(), "10.0.0.2:9669");
    let (mut c, _c_deliveries) = start(&config).await;
    let slot_c = c.grants()[0].slot();
    assert_eq!(slot_c, slot_b, "the freed slot is claimed again");
    c.share_addrs(&[(slot_c, "10.0.0.3:9669".to_owned())]).await.unwrap();
    loop {
        let seen = peers(&mut a_deliveries, 2).await;
        if seen.get(&slot_c).map(String::as_str) == Some("10.0.0.3:9669") {
            assert_eq!(seen.get(&slot_a).map(String::as_str), Some("10.0.0.1:9669"));
            break;
        }
    }
}

/// `count` session ids issued by `etcd`'s first slot with the cluster's seal key.
fn issue(etcd: &MetaEtcd, count: usize) -> Vec<i64> {
    let lease = etcd.grants()[0].session;
    let ids = SessionIdGenerator::new(lease, etcd.seal_key(), SessionIdConfig::default()).unwrap();
    let at = now();
    (0..count).map(|_| ids.next(at).unwrap().get()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_process_seals_with_the_first_key_and_a_malformed_key_refuses_the_start() {
    let cluster = EtcdCluster::start(1);
    let config = config(&cluster, "/seal/");
    let (key_a, key_b) = (SealKey::from_bytes([0xa1; 16]), SealKey::from_bytes([0xb2; 16]));
    let (a, _a_deliveries) =
        MetaEtcd::start(config.clone(), meta(), (1, IDS), key_a, now()).await.unwrap();
    let (b, _b_deliveries) =
        MetaEtcd::start(config.clone(), meta(), (1, IDS), key_b, now()).await.unwrap();
    assert_eq!((a.seal_key(), b.seal_key()), (key_a, key_a), "the second key won");
    let mut admin = etcd_client::Client::connect(cluster.endpoints(), None).await.unwrap();
    let stored = admin.get("/seal/seal-key", None).await.unwrap();
    assert_eq!(stored.kvs()[0].value(), key_a.to_hex().as_bytes());
    // Each process's ids open with the other's codec to the slot that issued them: one key.
    let (slot_a, slot_b) = (a.grants()[0].slot(), b.grants()[0].slot());
    let (ids_a, ids_b) = (issue(&a, 2_000), issue(&b, 2_000));
    let all: std::collections::BTreeSet<i64> = ids_a.iter().chain(&ids_b).copied().collect();
    assert_eq!(all.len(), 4_000, "a session id issued twice");
    let opened = |key: SealKey, id: i64| SessionIdCodec::sealed(Layout::SESSION, key).open(id);
    assert!(ids_a.iter().all(|&id| opened(b.seal_key(), id).unwrap().slot == slot_a));
    assert!(ids_b.iter().all(|&id| opened(a.seal_key(), id).unwrap().slot == slot_b));
    // Opened with b's own candidate (what b sealed with before), they give a random slot of
    // 1,024 (about 2 of 2,000 by chance): the check above fails when the keys differ.
    let own = ids_b.iter().filter(|&&id| opened(key_b, id).is_ok_and(|d| d.slot == slot_b));
    assert!(own.count() < 50, "another key opened b's ids to b's slot");
    // A malformed key refuses the start before a lease or a slot is taken.
    let config = self::config(&cluster, "/bad-seal/");
    let leases = admin.leases().await.unwrap().leases().len();
    let too_short = "0".repeat(31);
    let not_hex = format!("{}g", "0".repeat(31));
    for bad in ["", too_short.as_str(), not_hex.as_str(), &key_a.to_hex().repeat(2)] {
        admin.put("/bad-seal/seal-key", bad, None).await.unwrap();
        let refused = MetaEtcd::start(config.clone(), meta(), (1, IDS), key_b, now()).await;
        let Err(error) = refused else { panic!("a malformed key {bad:?} was taken") };
        assert!(matches!(error, MetaEtcdError::BadSealKey { .. }), "{bad:?}: {error}");
        assert!(error.to_string().contains("/bad-seal/seal-key"), "{error}");
    }
    let slots = etcd_client::GetOptions::new().with_prefix().with_count_only();
    assert_eq!(admin.get("/bad-seal/slots/", Some(slots)).await.unwrap().count(), 0);
    assert_eq!(
        admin.leases().await.unwrap().leases().len(),
        leases,
        "a refused start kept a lease"
    );
    // Deleted (every process stopped), the next process writes its own.
    admin.delete("/bad-seal/seal-key", None).await.unwrap();
    let (c, _c_deliveries) = MetaEtcd::start(config, meta(), (1, IDS), key_b, now()).await.unwrap();
    assert_eq!(c.seal_key(), key_b);
}

/// A login of `session` by `node` as log format 1 wrote its entry: no query list.
fn format_one_login(node: NodeId, id: RequestId, session: SessionId) -> String {
    let mut request = Request::empty(id);
    request.created.push(node::report(session, "root", now()));
    let entry = LogEntry::Request { now_unix_ms: now(), node, request: Box::new(request) };
    let written = String::from_utf8(entry.encode()).unwrap();
    let added = ",\"queries\":null,\"show_queries\":false";
    assert!(written.contains(added), "this build no longer writes {added}: {written}");
    written.replace(added, "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_build_s_cluster_is_upgraded_once_its_processes_stop_and_a_newer_one_refused() {
    let cluster = EtcdCluster::start(1);
    // One snapshot, before the older format's entry (the leader writes its first at once and
    // the next an hour later): the upgraded process replays that entry from the log.
    let config = EtcdConfig {
        snapshot_interval_ms: 3_600_000,
        snapshot_interval_max_ms: 3_600_000,
        ..config(&cluster, "/upgrade/")
    };
    let mut admin = etcd_client::Client::connect(cluster.endpoints(), None).await.unwrap();
    // A process of the older build: its record says format 1 and its log holds a format-1 entry.
    let (mut a, a_deliveries) = start(&config).await;
    let mut node_a = TestNode::new(&a, a_deliveries);
    node_a.login(session(5));
    node_a.pump(&a, Duration::from_millis(800)).await;
    assert_eq!(node_a.registered(), 1);
    snapshot_written(&mut admin, "/upgrade/").await;
    let older = serde_json::json!({
        "log_format_version": LOG_FORMAT_VERSION_OLDEST,
        "meta_format_version": META_FORMAT_VERSION_OLDEST,
        "meta": meta(),
    });
    admin.put("/upgrade/config", older.to_string(), None).await.unwrap();
    let grant = a.grants()[0];
    let id = RequestId { incarnation: grant.incarnation, round: 1 << 40 };
    let entry = format_one_login(node_a.id, id, session(6));
    admin.put(format!("/upgrade/log/node/{:05}", grant.slot()), entry, None).await.unwrap();
    let kept = |etcd: &MetaEtcd| {
        etcd.with_store(|store| [5, 6].map(|value| store.session(session(value)).is_some()))
    };
    for _ in 0..100 {
        if kept(&a) == [true, true] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(kept(&a), [true, true], "format 1 not applied");
    // While it runs, this build refuses to start: it would write what the older one cannot read.
    let refused = MetaEtcd::start(config.clone(), meta(), (1, IDS), SEAL, now()).await;
    let Err(error) = refused else { panic!("started beside a process of the older build") };
    assert!(matches!(error, MetaEtcdError::ClusterRunning { slots_held: 1, .. }), "{error}");
    let text = error.to_string();
    assert!(text.contains("/upgrade/") && text.contains("log_format_version: the cluster 1"));
    let stored = admin.get("/upgrade/config", None).await.unwrap();
    assert_eq!(stored.kvs()[0].value(), older.to_string().as_bytes(), "upgraded while it ran");
    // Once it stopped, the first process of this build upgrades the record and replays the log.
    a.shutdown(now()).await.unwrap();
    drop((a, node_a));
    let (b, _b_deliveries) = start(&config).await;
    let stored = admin.get("/upgrade/config", None).await.unwrap();
    let record: serde_json::Value = serde_json::from_slice(stored.kvs()[0].value()).unwrap();
    assert_eq!(record["log_format_version"], LOG_FORMAT_VERSION);
    assert_eq!(record["meta_format_version"], META_FORMAT_VERSION);
    assert_eq!(record["meta"], older["meta"]);
    for _ in 0..100 {
        if kept(&b) == [true, true] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(kept(&b), [true, true], "the older build's sessions were not replayed");
    // Later processes of this build find the record current.
    let (c, _c_deliveries) = start(&config).await;
    same_state(&b, &c).await;
    // A newer build's record is refused: this build may not read what that one writes.
    let mut newer = record.clone();
    newer["log_format_version"] = (LOG_FORMAT_VERSION + 1).into();
    admin.put("/upgrade/config", newer.to_string(), None).await.unwrap();
    let refused = MetaEtcd::start(config, meta(), (1, IDS), SEAL, now()).await;
    assert!(matches!(refused, Err(MetaEtcdError::ConfigMismatch { .. })), "{refused:?}");
}

/// Waits until the cluster under `prefix` has a snapshot.
async fn snapshot_written(admin: &mut etcd_client::Client, prefix: &str) {
    for _ in 0..150 {
        if admin.get(format!("{prefix}snapshot/manifest"), None).await.unwrap().count() > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no snapshot under {prefix}");
}

/// Waits until `etcd`'s replica holds every session of `values`; whether it does.
async fn holds_all(etcd: &MetaEtcd, values: &[i64]) -> bool {
    let all =
        || values.iter().all(|&value| etcd.with_store(|s| s.session(session(value)).is_some()));
    for _ in 0..150 {
        if all() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    all()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_cluster_restart_changes_the_meta_configuration_from_its_revision_on() {
    let cluster = EtcdCluster::start(1);
    // One snapshot, written before the request the change is about (the leader writes its
    // first at once and the next an hour later): that request lives in the log alone.
    let config = EtcdConfig {
        snapshot_interval_ms: 3_600_000,
        snapshot_interval_max_ms: 3_600_000,
        ..config(&cluster, "/reconfigure/")
    };
    let mut admin = etcd_client::Client::connect(cluster.endpoints(), None).await.unwrap();
    let (mut a, a_deliveries) = start(&config).await;
    let mut node_a = TestNode::new(&a, a_deliveries);
    node_a.login(session(1_000));
    node_a.pump(&a, Duration::from_millis(500)).await;
    snapshot_written(&mut admin, "/reconfigure/").await;
    // Forty logins in one round: one request of 40 items, above the limit lowered below.
    let values: Vec<i64> = (1..=40).collect();
    for &value in &values {
        node_a.login(session(value));
    }
    node_a.pump(&a, Duration::from_millis(1_000)).await;
    assert_eq!(node_a.registered(), 41);
    let lowered = MetaConfig { request_items_max: 32, ..meta() };
    // While a process runs, another configuration is refused, naming what differs.
    let refused = MetaEtcd::start(config.clone(), lowered, (1, IDS), SEAL, now()).await;
    let Err(error) = refused else { panic!("reconfigured a running cluster") };
    assert!(matches!(error, MetaEtcdError::ClusterRunning { slots_held: 1, .. }), "{error}");
    assert!(error.to_string().contains("request_items_max: the cluster 64, this process 32"));
    a.shutdown(now()).await.unwrap();
    drop((a, node_a));
    // A limit the state does not fit (41 sessions, at most 10) is refused, the record kept.
    let too_few = MetaConfig { sessions_max: 10, ..meta() };
    let refused = MetaEtcd::start(config.clone(), too_few, (1, IDS), SEAL, now()).await;
    assert!(matches!(refused, Err(MetaEtcdError::StateDoesNotFit { .. })), "{refused:?}");
    let stored = admin.get("/reconfigure/config", None).await.unwrap();
    let record: serde_json::Value = serde_json::from_slice(stored.kvs()[0].value()).unwrap();
    assert_eq!(record["meta"]["sessions_max"], meta().sessions_max);
    // Once every process stopped, the first one with the new configuration changes it. The
    // request of 40 items stays applied: it is before the change, which the new configuration
    // would have refused.
    let (b, b_deliveries) =
        MetaEtcd::start(config.clone(), lowered, (1, IDS), SEAL, now()).await.unwrap();
    let stored = admin.get("/reconfigure/config", None).await.unwrap();
    let record: serde_json::Value = serde_json::from_slice(stored.kvs()[0].value()).unwrap();
    assert_eq!(record["meta"]["request_items_max"], 32);
    assert!(holds_all(&b, &values).await, "a request applied before the change was lost");
    // The new configuration applies after it, and a later process restores the same state.
    let mut node_b = TestNode::new(&b, b_deliveries);
    node_b.login(session(100));
    node_b.pump(&b, Duration::from_millis(800)).await;
    assert_eq!(node_b.registered(), 1);
    let (c, _c_deliveries) =
        MetaEtcd::start(config.clone(), lowered, (1, IDS), SEAL, now()).await.unwrap();
    assert!(holds_all(&c, &[1, 40, 100]).await);
    same_state(&b, &c).await;
    // The old configuration is now the one refused while these run.
    let refused = MetaEtcd::start(config, meta(), (1, IDS), SEAL, now()).await;
    assert!(matches!(refused, Err(MetaEtcdError::ClusterRunning { slots_held: 2, .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_s_ticks_run_meta_s_timer_so_a_dead_process_s_idle_session_expires() {
    let cluster = EtcdCluster::start(1);
    let config = config(&cluster, "/ticks/");
    let quick = MetaConfig { idle_timeout_ms: 1_000, holder_silence_ms: 1_000, ..meta() };
    let (a, a_deliveries) =
        MetaEtcd::start(config.clone(), quick, (1, IDS), SEAL, now()).await.unwrap();
    let (b, _b_deliveries) =
        MetaEtcd::start(config.clone(), quick, (1, IDS), SEAL, now()).await.unwrap();
    let mut node_a = TestNode::new(&a, a_deliveries);
    node_a.login(session(9));
    node_a.pump(&a, Duration::from_millis(800)).await;
    assert_eq!(node_a.registered(), 1);
    // a's process dies: its lease (so its slot and any leadership) gone, its node silent. Only
    // meta's timer, run by the leader's ticks in the log, can end the session now.
    let mut admin = etcd_client::Client::connect(cluster.endpoints(), None).await.unwrap();
    admin.lease_revoke(a.lease()).await.unwrap();
    drop((a, node_a));
    let gone = || b.with_store(|store| store.gone_reason(session(9)));
    for _ in 0..250 {
        if gone().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(gone(), Some(graphsession_core::cluster::GoneReason::Expired));
    assert!(b.is_leader(), "the survivor leads");
}
