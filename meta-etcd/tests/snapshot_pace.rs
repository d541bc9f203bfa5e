//! The leader's snapshot pace on a real etcd: while the log applied since the last snapshot is
//! small next to it (a node's idle sync rounds), no snapshot is written, however many intervals
//! pass; once the log reaches `snapshot_log_percent` of the last snapshot's bytes, one is;
//! after `snapshot_interval_max_ms` one is written whatever the log; and a new leader paces
//! from the snapshot it found instead of writing the whole state again at once.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/node.rs"]
mod node;

use std::time::Duration;

use etcd::EtcdCluster;
use graphsession_core::cluster::MetaConfig;
use graphsession_id_gen::{SealKey, SessionId};
use graphsession_meta_etcd::{
    Delivery, EtcdConfig, IdLeaseConfig, Manifest, MetaEtcd, etcd_meta_config,
};
use node::{TestNode, now};
use tokio::sync::mpsc;

const IDS: IdLeaseConfig =
    IdLeaseConfig { session_lease_ms: 3_600_000, plan_lease_counters: 1 << 20 };
const SEAL: SealKey = SealKey::from_bytes(*b"pace-tests-seal!");
/// The shortest interval: the quiet phase spans many of them.
const INTERVAL_MS: u64 = 150;
/// Intervals without a new snapshot, while the log moves, that count as settled.
const STABLE_INTERVALS: u64 = 8;

fn config(cluster: &EtcdCluster, prefix: &str, interval_max_ms: u64) -> EtcdConfig {
    EtcdConfig {
        endpoints: cluster.endpoints(),
        prefix: prefix.to_owned(),
        lease_ttl_ms: 2_000,
        snapshot_interval_ms: INTERVAL_MS,
        snapshot_interval_max_ms: interval_max_ms,
        snapshot_log_percent: 100,
        call_timeout_ms: 3_000,
        ..EtcdConfig::default()
    }
}

async fn start(config: &EtcdConfig) -> (MetaEtcd, mpsc::Receiver<Delivery>) {
    let meta = etcd_meta_config(MetaConfig {
        idle_timeout_ms: 600_000,
        holder_silence_ms: 60_000,
        ..MetaConfig::default()
    });
    MetaEtcd::start(config.clone(), meta, (1, IDS), SEAL, now()).await.unwrap()
}

/// The newest manifest under `prefix`, if one was written.
async fn manifest(admin: &mut etcd_client::Client, prefix: &str) -> Option<Manifest> {
    let found = admin.get(format!("{prefix}snapshot/manifest"), None).await.unwrap();
    found.kvs().first().map(|kv| serde_json::from_slice(kv.value()).unwrap())
}

/// Logs in sessions `from..to` and pumps until meta acknowledged all of them.
async fn log_in(node: &mut TestNode, etcd: &MetaEtcd, (from, to): (i64, i64)) {
    let wanted = node.registered() + usize::try_from(to - from).unwrap();
    for value in from..to {
        node.login(SessionId::new(value).unwrap());
    }
    for _ in 0..100 {
        node.pump(etcd, Duration::from_millis(100)).await;
        if node.registered() >= wanted {
            return;
        }
    }
    panic!("meta acknowledged {} of {wanted} sessions", node.registered());
}

/// Pumps until the newest manifest stayed the same for `STABLE_INTERVALS` intervals while the
/// log moved (the node's idle sync rounds append an entry every 200 ms); that manifest. A
/// leader that snapshots at every interval while the log moves never gets here.
async fn settled(
    node: &mut TestNode,
    etcd: &MetaEtcd,
    admin: &mut etcd_client::Client,
    prefix: &str,
) -> Manifest {
    let stable_ms = STABLE_INTERVALS * INTERVAL_MS;
    let mut last = manifest(admin, prefix).await;
    let mut since = tokio::time::Instant::now();
    for _ in 0..60 {
        node.pump(etcd, Duration::from_millis(INTERVAL_MS)).await;
        let found = manifest(admin, prefix).await;
        if found != last {
            (last, since) = (found, tokio::time::Instant::now());
        } else if let Some(settled) =
            last.filter(|_| since.elapsed() >= Duration::from_millis(stable_ms))
        {
            return settled;
        }
    }
    panic!("the snapshots did not settle: the newest is {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_log_waits_and_a_log_as_large_as_the_snapshot_writes_the_next() {
    let cluster = EtcdCluster::start(1);
    let prefix = "/pace/";
    let config = config(&cluster, prefix, 600_000);
    let (etcd, deliveries) = start(&config).await;
    let mut admin = etcd_client::Client::connect(cluster.endpoints(), None).await.unwrap();
    let mut node = TestNode::new(&etcd, deliveries);
    log_in(&mut node, &etcd, (1, 301)).await;
    let held = settled(&mut node, &etcd, &mut admin, prefix).await;
    assert!(held.bytes > 30_000, "the snapshot holds {} bytes of 300 sessions", held.bytes);

    // Quiet: the node's idle sync rounds move the log by a few hundred bytes each.
    let applied_before = etcd.applied().0;
    node.pump(&etcd, Duration::from_millis(20 * INTERVAL_MS)).await;
    assert!(etcd.applied().0 > applied_before, "the idle rounds did not move the log");
    let quiet = manifest(&mut admin, prefix).await.unwrap();
    assert_eq!(quiet, held, "a snapshot was written for a log far smaller than the last one");

    // Busy: twice as many sessions as the snapshot holds log more bytes than it has.
    log_in(&mut node, &etcd, (301, 901)).await;
    for _ in 0..30 {
        let found = manifest(&mut admin, prefix).await.unwrap();
        if found.revision > held.revision {
            assert!(found.bytes > held.bytes, "the next snapshot holds the new sessions");
            return;
        }
        node.pump(&etcd, Duration::from_millis(100)).await;
    }
    panic!("no snapshot after a log larger than the last snapshot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_longest_interval_writes_one_for_a_small_log() {
    let cluster = EtcdCluster::start(1);
    let prefix = "/pace-max/";
    let interval_max_ms = 4_000;
    let config = config(&cluster, prefix, interval_max_ms);
    let (etcd, deliveries) = start(&config).await;
    let mut admin = etcd_client::Client::connect(cluster.endpoints(), None).await.unwrap();
    let mut node = TestNode::new(&etcd, deliveries);
    log_in(&mut node, &etcd, (1, 301)).await;
    let held = settled(&mut node, &etcd, &mut admin, prefix).await;
    for _ in 0..80 {
        node.pump(&etcd, Duration::from_millis(100)).await;
        let found = manifest(&mut admin, prefix).await.unwrap();
        if found.revision > held.revision {
            return;
        }
    }
    panic!("no snapshot within twice the longest interval");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_paces_from_the_snapshot_it_found() {
    let cluster = EtcdCluster::start(1);
    let prefix = "/pace-takeover/";
    let config = config(&cluster, prefix, 600_000);
    let (a, a_deliveries) = start(&config).await;
    let (b, b_deliveries) = start(&config).await;
    let mut admin = etcd_client::Client::connect(cluster.endpoints(), None).await.unwrap();
    let (mut node_a, mut node_b) =
        (TestNode::new(&a, a_deliveries), TestNode::new(&b, b_deliveries));
    let (mut leader, node, follower, other) = if a.is_leader() {
        (a, &mut node_a, b, &mut node_b)
    } else {
        (b, &mut node_b, a, &mut node_a)
    };
    log_in(node, &leader, (1, 301)).await;
    let held = settled(node, &leader, &mut admin, prefix).await;
    leader.shutdown(now()).await.unwrap();
    for _ in 0..100 {
        if follower.is_leader() {
            break;
        }
        other.pump(&follower, Duration::from_millis(50)).await;
    }
    assert!(follower.is_leader(), "the follower did not take the leadership over");
    // Quiet: the new leader's node's idle rounds move the log; the snapshot it found stands.
    let applied_before = follower.applied().0;
    other.pump(&follower, Duration::from_millis(15 * INTERVAL_MS)).await;
    assert!(follower.applied().0 > applied_before, "the idle rounds did not move the log");
    let found = manifest(&mut admin, prefix).await.unwrap();
    assert_eq!(found, held, "the new leader wrote the whole state again at once");
}
