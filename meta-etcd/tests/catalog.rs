//! The catalog register on a real etcd started by the test: turns are taken one at a time, a
//! write is fenced by the lock and by the revision its turn read, the first seed wins, a value
//! above the limit is refused, every process follows every value in order (and reads the value
//! again when etcd compacted the history it wanted), and a stopped holder's lock is free at once.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/node.rs"]
mod node;

use std::time::Duration;

use etcd::EtcdCluster;
use graphsession_core::cluster::MetaConfig;
use graphsession_id_gen::SealKey;
use graphsession_meta_etcd::{
    CatalogTurn, Delivery, EtcdConfig, IdLeaseConfig, MetaEtcd, MetaEtcdError, etcd_meta_config,
};
use node::now;
use tokio::sync::mpsc;

const IDS: IdLeaseConfig =
    IdLeaseConfig { session_lease_ms: 3_600_000, plan_lease_counters: 1 << 20 };
const SEAL: SealKey = SealKey::from_bytes(*b"catalog-testseal");

fn config(cluster: &EtcdCluster, prefix: &str) -> EtcdConfig {
    EtcdConfig {
        endpoints: cluster.endpoints(),
        prefix: prefix.to_owned(),
        lease_ttl_ms: 2_000,
        // No snapshot, so no compaction by the leader: the tests compact by hand.
        snapshot_interval_ms: 3_600_000,
        snapshot_interval_max_ms: 3_600_000,
        call_timeout_ms: 3_000,
        ..EtcdConfig::default()
    }
}

async fn start(config: &EtcdConfig) -> (MetaEtcd, mpsc::Receiver<Delivery>) {
    let meta = etcd_meta_config(MetaConfig::default());
    MetaEtcd::start(config.clone(), meta, (1, IDS), SEAL, now()).await.unwrap()
}

async fn admin(cluster: &EtcdCluster) -> etcd_client::Client {
    etcd_client::Client::connect(cluster.endpoints(), None).await.unwrap()
}

/// The catalog's value as etcd holds it.
async fn stored(admin: &mut etcd_client::Client, prefix: &str) -> Option<Vec<u8>> {
    let found = admin.get(format!("{prefix}catalog/value"), None).await.unwrap();
    found.kvs().first().map(|kv| kv.value().to_vec())
}

/// The next `count` catalog values delivered (other deliveries skipped), or fewer after
/// `wait_ms`.
async fn catalogs(
    deliveries: &mut mpsc::Receiver<Delivery>,
    (count, wait_ms): (usize, u64),
) -> Vec<(i64, Vec<u8>)> {
    let mut found = Vec::new();
    let end = tokio::time::Instant::now() + Duration::from_millis(wait_ms);
    while found.len() < count {
        match tokio::time::timeout_at(end, deliveries.recv()).await {
            Ok(Some(Delivery::Catalog { revision, value })) => found.push((revision, value)),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    found
}

fn too_large<T>(result: &Result<T, MetaEtcdError>) -> bool {
    matches!(result, Err(MetaEtcdError::CatalogTooLarge { bytes: 17, bytes_max: 16 }))
}

fn is_busy(result: &Result<CatalogTurn, MetaEtcdError>, wait: u64) -> bool {
    matches!(result, Err(MetaEtcdError::CatalogBusy { wait_ms }) if *wait_ms == wait)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turns_are_taken_one_at_a_time_and_the_next_reads_the_last_write() {
    let cluster = EtcdCluster::start(1);
    let config = config(&cluster, "/turns/");
    let ((a, _a_deliveries), (b, _b_deliveries)) = (start(&config).await, start(&config).await);
    let (a, b) = (a.catalog(), b.catalog());
    let turn = a.take_turn(1_000).await.unwrap();
    assert_eq!(turn, CatalogTurn { revision: 0, value: None });
    let written = a.write(&turn, b"users: root").await.unwrap();
    let started = tokio::time::Instant::now();
    let refused = b.take_turn(300).await;
    assert!(is_busy(&refused, 300), "B took a turn while A held one: {refused:?}");
    assert!(started.elapsed() >= Duration::from_millis(300), "B gave up before its wait");
    // The holder taking its turn again (a retry whose reply was lost) finds the lock its own.
    let again = a.take_turn(100).await.unwrap();
    assert_eq!(again, CatalogTurn { revision: written, value: Some(b"users: root".to_vec()) });
    a.end_turn().await.unwrap();
    a.end_turn().await.unwrap();
    let turn = b.take_turn(1_000).await.unwrap();
    assert_eq!(turn, CatalogTurn { revision: written, value: Some(b"users: root".to_vec()) });
    let refused = a.take_turn(100).await;
    assert!(is_busy(&refused, 100), "A took a turn while B held one: {refused:?}");
    // A's end of turn does not release B's lock.
    a.end_turn().await.unwrap();
    assert!(is_busy(&a.take_turn(100).await, 100), "A's end_turn released B's lock");
    b.end_turn().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_is_fenced_by_the_revision_it_read_and_by_the_lock() {
    let cluster = EtcdCluster::start(1);
    let config = config(&cluster, "/fenced/");
    let ((a, _a_deliveries), (b, _b_deliveries)) = (start(&config).await, start(&config).await);
    let (a, b) = (a.catalog(), b.catalog());
    let mut admin = admin(&cluster).await;
    // Another writer creates the catalog after A read it absent.
    let turn = a.take_turn(1_000).await.unwrap();
    admin.put("/fenced/catalog/value", "raw-1", None).await.unwrap();
    let refused = a.write(&turn, b"mine").await;
    assert!(matches!(refused, Err(MetaEtcdError::CatalogFenced)), "{refused:?}");
    assert_eq!(stored(&mut admin, "/fenced/").await.unwrap(), b"raw-1");
    // Another writer changes the catalog after A read it present.
    let turn = a.take_turn(1_000).await.unwrap();
    assert_eq!(turn.value.as_deref(), Some(&b"raw-1"[..]));
    admin.put("/fenced/catalog/value", "raw-2", None).await.unwrap();
    let refused = a.write(&turn, b"mine").await;
    assert!(matches!(refused, Err(MetaEtcdError::CatalogFenced)), "{refused:?}");
    assert_eq!(stored(&mut admin, "/fenced/").await.unwrap(), b"raw-2");
    // Read again, the write lands.
    let turn = a.take_turn(1_000).await.unwrap();
    let written = a.write(&turn, b"mine").await.unwrap();
    assert!(written > turn.revision);
    assert_eq!(stored(&mut admin, "/fenced/").await.unwrap(), b"mine");
    // A write without the lock, on an up-to-date read: refused while nobody holds it...
    let turn = a.take_turn(1_000).await.unwrap();
    a.end_turn().await.unwrap();
    let refused = a.write(&turn, b"unlocked").await;
    assert!(matches!(refused, Err(MetaEtcdError::CatalogFenced)), "{refused:?}");
    // ... and while another process holds it.
    let b_turn = b.take_turn(1_000).await.unwrap();
    assert_eq!(b_turn, turn);
    let refused = a.write(&turn, b"unlocked").await;
    assert!(matches!(refused, Err(MetaEtcdError::CatalogFenced)), "{refused:?}");
    assert_eq!(stored(&mut admin, "/fenced/").await.unwrap(), b"mine");
    b.write(&b_turn, b"b's").await.unwrap();
    b.end_turn().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_seed_wins() {
    let cluster = EtcdCluster::start(1);
    let config = config(&cluster, "/seed/");
    let ((a, _a_deliveries), (b, _b_deliveries)) = (start(&config).await, start(&config).await);
    let (revision, value) = a.catalog().seed(b"first").await.unwrap();
    assert!(revision > 0);
    assert_eq!(value, b"first");
    assert_eq!(b.catalog().seed(b"second").await.unwrap(), (revision, b"first".to_vec()));
    assert_eq!(a.catalog().seed(b"third").await.unwrap(), (revision, b"first".to_vec()));
    let mut admin = admin(&cluster).await;
    assert_eq!(stored(&mut admin, "/seed/").await.unwrap(), b"first");
    let turn = b.catalog().take_turn(1_000).await.unwrap();
    assert_eq!(turn, CatalogTurn { revision, value: Some(b"first".to_vec()) });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_above_the_limit_is_refused_and_nothing_changes() {
    let cluster = EtcdCluster::start(1);
    let config = EtcdConfig { catalog_bytes_max: 16, ..config(&cluster, "/large/") };
    let (a, _a_deliveries) = start(&config).await;
    let a = a.catalog();
    assert!(too_large(&a.seed(&[7; 17]).await));
    let mut admin = admin(&cluster).await;
    assert_eq!(stored(&mut admin, "/large/").await, None);
    let (revision, _) = a.seed(&[1; 16]).await.unwrap();
    let turn = a.take_turn(1_000).await.unwrap();
    assert_eq!(turn.revision, revision);
    assert!(too_large(&a.write(&turn, &[2; 17]).await));
    assert_eq!(stored(&mut admin, "/large/").await.unwrap(), [1; 16]);
    assert!(a.write(&turn, &[3; 16]).await.unwrap() > revision);
    a.end_turn().await.unwrap();
    for catalog_bytes_max in [0, graphsession_meta_etcd::ETCD_REQUEST_BYTES_MAX + 1] {
        let bad = EtcdConfig { catalog_bytes_max, ..config.clone() }.validate();
        assert!(
            matches!(bad, Err(MetaEtcdError::Config { field: "catalog_bytes_max", .. })),
            "{catalog_bytes_max}: {bad:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_process_follows_every_value_in_order_and_reads_again_after_compaction() {
    let cluster = EtcdCluster::start(1);
    let config = config(&cluster, "/follow/");
    let ((a, _a_deliveries), (mut b, mut b_deliveries)) =
        (start(&config).await, start(&config).await);
    let catalog = a.catalog();
    let (seeded, _) = catalog.seed(b"v0").await.unwrap();
    b.follow_catalog(seeded);
    let mut written = Vec::new();
    for value in [&b"v1"[..], b"v2", b"v3"] {
        let turn = catalog.take_turn(1_000).await.unwrap();
        written.push((catalog.write(&turn, value).await.unwrap(), value.to_vec()));
        catalog.end_turn().await.unwrap();
    }
    assert!(written.windows(2).all(|pair| pair[0].0 < pair[1].0));
    assert_eq!(catalogs(&mut b_deliveries, (3, 5_000)).await, written);
    // Nothing is delivered twice.
    assert_eq!(catalogs(&mut b_deliveries, (1, 1_000)).await, []);
    // A follower from just before the first write, started after the writes, gets all three.
    let (mut d, mut d_deliveries) = start(&config).await;
    d.follow_catalog(written[0].0 - 1);
    assert_eq!(catalogs(&mut d_deliveries, (3, 5_000)).await, written);
    // The history before the newest value compacted: a follower from the seed reads it again.
    let mut admin = admin(&cluster).await;
    let newest = written[2].0;
    admin.put("/follow/unrelated", "x", None).await.unwrap();
    admin.compact(newest + 1, None).await.unwrap();
    let (mut c, mut c_deliveries) = start(&config).await;
    c.follow_catalog(seeded);
    assert_eq!(catalogs(&mut c_deliveries, (1, 5_000)).await, [written[2].clone()]);
    let turn = catalog.take_turn(1_000).await.unwrap();
    let fourth = catalog.write(&turn, b"v4").await.unwrap();
    catalog.end_turn().await.unwrap();
    assert_eq!(catalogs(&mut c_deliveries, (2, 1_000)).await, [(fourth, b"v4".to_vec())]);
    assert_eq!(catalogs(&mut b_deliveries, (2, 1_000)).await, [(fourth, b"v4".to_vec())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_holder_frees_the_lock() {
    let cluster = EtcdCluster::start(1);
    let config = config(&cluster, "/freed/");
    let ((mut a, _a_deliveries), (b, _b_deliveries)) = (start(&config).await, start(&config).await);
    let (a_catalog, b_catalog) = (a.catalog(), b.catalog());
    let turn = a_catalog.take_turn(1_000).await.unwrap();
    let written = a_catalog.write(&turn, b"a's").await.unwrap();
    assert!(is_busy(&b_catalog.take_turn(200).await, 200));
    // A stops without ending its turn: the lease revoked at shutdown takes the lock with it.
    a.shutdown(now()).await.unwrap();
    let turn = b_catalog.take_turn(1_000).await.unwrap();
    assert_eq!(turn, CatalogTurn { revision: written, value: Some(b"a's".to_vec()) });
    b_catalog.write(&turn, b"b's").await.unwrap();
    // The stopped process's handle can neither take a turn nor write.
    assert!(a_catalog.take_turn(100).await.is_err());
    let refused = a_catalog.write(&turn, b"stale").await;
    assert!(matches!(refused, Err(MetaEtcdError::CatalogFenced)), "{refused:?}");
    b_catalog.end_turn().await.unwrap();
}
