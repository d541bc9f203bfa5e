//! The snapshot in etcd: the replica's `MetaSnapshot` at a log revision, as JSON split into
//! chunks of at most `chunk_bytes_max` (each written in its own transaction, so etcd's request
//! limit holds whatever the state's size), then a manifest naming the revision, the chunk count,
//! the size and an FNV-1a digest, written last. A reader sees either the previous manifest or
//! the new one, and the chunks a manifest names are complete before it is written.
//!
//! Every write is fenced by the leader key, so a deposed leader's chunk or manifest never lands;
//! or, for a reconfiguration while no process runs, by the cluster's record, the slots and the
//! leader key all as read (`record.rs`).

use etcd_client::{Client, Compare, CompareOp, DeleteOptions, GetOptions, Txn, TxnOp};
use graphsession_base::fnv1a64;
use graphsession_core::cluster::{MetaConfig, MetaSnapshot, MetaStore};

use crate::call::{Counters, bounded};
use crate::error::MetaEtcdError;
use crate::keys::Keys;

/// The manifest of the newest snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The state is the log applied up to this revision (inclusive).
    pub revision: i64,
    /// Chunks `0..chunks`.
    pub chunks: u32,
    /// Their total size.
    pub bytes: u64,
    /// FNV-1a-64 of their concatenation.
    pub digest: u64,
}

fn digest(bytes: &[u8]) -> u64 {
    fnv1a64(bytes)
}

/// What every snapshot write compares: it lands only while its writer may write.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fence<'a> {
    /// The leader's: its leader key, created at `leader_revision`.
    Leader {
        /// The leader key.
        key: &'a str,
        /// Its create revision when this process won the election.
        leader_revision: i64,
    },
    /// A reconfiguration's, while no process runs (`record.rs`): the cluster's record still at
    /// `record_revision`, no slot held (so nothing is appended to the log), no leader, and,
    /// with `log_revision`, no log entry after it (none appended by a process that came and
    /// went in between).
    Stopped {
        /// The cluster's keys.
        keys: &'a Keys,
        /// The record's revision when it was read.
        record_revision: i64,
        /// The revision the log was read up to, if it was.
        log_revision: Option<i64>,
    },
}

impl Fence<'_> {
    /// The compares every write under this fence carries.
    pub(crate) fn compares(&self) -> Vec<Compare> {
        match *self {
            Fence::Leader { key, leader_revision } => {
                vec![Compare::create_revision(key, CompareOp::Equal, leader_revision)]
            }
            Fence::Stopped { keys, record_revision, log_revision } => {
                let mut compares = vec![
                    Compare::mod_revision(keys.config(), CompareOp::Equal, record_revision),
                    Compare::create_revision(keys.slots(), CompareOp::Equal, 0).with_prefix(),
                    Compare::create_revision(keys.leader(), CompareOp::Equal, 0),
                ];
                if let Some(read_up_to) = log_revision {
                    // Every log key as read: none written since.
                    let after = read_up_to.saturating_add(1);
                    compares.push(
                        Compare::mod_revision(keys.log(), CompareOp::Less, after).with_prefix(),
                    );
                }
                compares
            }
        }
    }
}

/// A snapshot written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Written {
    /// The etcd revision of its manifest's transaction.
    pub manifest_revision: i64,
    /// Its size, in bytes (the manifest's `bytes`).
    pub bytes: u64,
}

/// Writes `snapshot` as the state at `revision`, with `also` in the manifest's transaction;
/// `Ok(None)` if the fence no longer holds (nothing of it counts: no manifest names it).
pub(crate) async fn write(
    client: &mut Client,
    keys: &Keys,
    (fence, also): (Fence<'_>, Option<TxnOp>),
    (snapshot, revision): (&MetaSnapshot, i64),
    (chunk_bytes_max, timeout_ms, counters): (usize, u64, &Counters),
) -> Result<Option<Written>, MetaEtcdError> {
    let bytes = serde_json::to_vec(snapshot).unwrap_or_default();
    let mut chunks = 0_u32;
    for chunk in bytes.chunks(chunk_bytes_max) {
        let txn = Txn::new().when(fence.compares()).and_then([TxnOp::put(
            keys.chunk(revision, chunks),
            chunk,
            None,
        )]);
        counters.count(chunk.len());
        if !bounded(timeout_ms, client.txn(txn)).await?.succeeded() {
            return Ok(None);
        }
        chunks += 1;
    }
    let manifest = Manifest {
        revision,
        chunks,
        bytes: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
        digest: digest(&bytes),
    };
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    // The older snapshots' chunks go in the same transaction as the new manifest.
    let older = DeleteOptions::new().with_range(keys.chunks(revision));
    let mut ops = vec![
        TxnOp::put(keys.manifest(), manifest_bytes.clone(), None),
        TxnOp::delete(keys.chunks_start(), Some(older)),
    ];
    ops.extend(also);
    let txn = Txn::new().when(fence.compares()).and_then(ops);
    counters.count(manifest_bytes.len());
    let response = bounded(timeout_ms, client.txn(txn)).await?;
    let manifest_revision = response.header().map_or(0, |header| header.revision());
    Ok(response.succeeded().then_some(Written { manifest_revision, bytes: manifest.bytes }))
}

/// The newest manifest, without its chunks; `None` when no snapshot was written yet.
pub(crate) async fn manifest(
    client: &mut Client,
    keys: &Keys,
    timeout_ms: u64,
) -> Result<Option<Manifest>, MetaEtcdError> {
    let key = keys.manifest();
    let response = bounded(timeout_ms, client.get(key.clone(), None)).await?;
    let Some(kv) = response.kvs().first() else { return Ok(None) };
    let manifest = serde_json::from_slice(kv.value())
        .map_err(|error| MetaEtcdError::Corrupt { key, detail: error.to_string() })?;
    Ok(Some(manifest))
}

/// The newest snapshot as one consistent read: the manifest, then its chunks at the manifest's
/// read revision (a linearizable read: it reflects every committed write). `None` when no
/// snapshot was written yet.
pub(crate) async fn read(
    client: &mut Client,
    keys: &Keys,
    meta: MetaConfig,
    timeout_ms: u64,
) -> Result<Option<(MetaStore, i64)>, MetaEtcdError> {
    let key = keys.manifest();
    let response = bounded(timeout_ms, client.get(key.clone(), None)).await?;
    let at = response.header().map_or(0, |header| header.revision());
    let Some(kv) = response.kvs().first() else { return Ok(None) };
    let corrupt = |detail: String| MetaEtcdError::Corrupt { key: key.clone(), detail };
    let manifest: Manifest =
        serde_json::from_slice(kv.value()).map_err(|error| corrupt(error.to_string()))?;
    let mut bytes = Vec::new();
    for index in 0..manifest.chunks {
        let options = GetOptions::new().with_revision(at);
        let chunk =
            bounded(timeout_ms, client.get(keys.chunk(manifest.revision, index), Some(options)))
                .await?;
        let Some(kv) = chunk.kvs().first() else {
            return Err(corrupt(format!("chunk {index} of {} is missing", manifest.chunks)));
        };
        bytes.extend_from_slice(kv.value());
    }
    if digest(&bytes) != manifest.digest {
        return Err(corrupt("the chunks do not match the manifest's digest".to_owned()));
    }
    let snapshot: MetaSnapshot =
        serde_json::from_slice(&bytes).map_err(|error| corrupt(error.to_string()))?;
    Ok(Some((MetaStore::restore(meta, snapshot)?, manifest.revision)))
}

#[cfg(test)]
mod tests {
    //! The reconfiguration's fence on a real etcd: each of its conditions alone stops a write.

    use etcd_client::{Client, PutOptions, Txn, TxnOp};

    use super::Fence;
    use crate::keys::Keys;
    use crate::test_etcd::EtcdCluster;

    /// Whether a write fenced by `fence` lands.
    async fn lands(client: &mut Client, fence: Fence<'_>) -> bool {
        let txn = Txn::new().when(fence.compares()).and_then([TxnOp::put("/probe", "x", None)]);
        client.txn(txn).await.unwrap().succeeded()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stopped_cluster_s_fence_fails_on_a_record_slot_leader_or_log_write() {
        let cluster = EtcdCluster::start(1);
        let mut client = Client::connect(cluster.endpoints(), None).await.unwrap();
        let keys = Keys::new("/fenced/");
        let record = client.put(keys.config(), "{}", None).await.unwrap();
        let record_revision = record.header().unwrap().revision();
        let entry = client.put(keys.log_node(1), "entry", None).await.unwrap();
        let log_read = entry.header().unwrap().revision();
        let fence = |log_revision| Fence::Stopped { keys: &keys, record_revision, log_revision };
        assert!(lands(&mut client, fence(Some(log_read))).await);
        // A log entry after the one read (a process came, appended and went).
        let later = client.put(keys.log_tick(), "tick", None).await.unwrap();
        assert!(!lands(&mut client, fence(Some(log_read))).await);
        assert!(lands(&mut client, fence(None)).await, "without the log read, entries count not");
        let log_read = later.header().unwrap().revision();
        assert!(lands(&mut client, fence(Some(log_read))).await);
        // A slot held, a leader, or the record changed.
        let lease = client.lease_grant(30, None).await.unwrap().id();
        let leased = Some(PutOptions::new().with_lease(lease));
        client.put(keys.slot(3), "held", leased.clone()).await.unwrap();
        assert!(!lands(&mut client, fence(Some(log_read))).await);
        client.delete(keys.slot(3), None).await.unwrap();
        client.put(keys.leader(), "leads", leased).await.unwrap();
        assert!(!lands(&mut client, fence(Some(log_read))).await);
        client.lease_revoke(lease).await.unwrap();
        assert!(lands(&mut client, fence(Some(log_read))).await, "the leader's key outlived it");
        client.put(keys.config(), "{ }", None).await.unwrap();
        assert!(!lands(&mut client, fence(Some(log_read))).await);
    }
}
