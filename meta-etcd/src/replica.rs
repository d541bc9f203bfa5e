//! This process's replica of the meta store: restored from the newest snapshot, then following
//! the log through a watch from the revision after the one it has applied. Every entry is applied
//! in etcd's revision order ([`Replica::apply`]); the answer to a request of one of this
//! process's nodes goes to the host. A watch that breaks (a member died, etcd restarted) is
//! opened again from the same position; one that etcd cancels because the position was
//! compacted restores from the newer snapshot first (which lies at or above the compaction).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use etcd_client::{Client, EventType, GetOptions, KeyValue, WatchOptions};
use graphsession_core::cluster::{Answer, MetaConfig, MetaStore, NodeId, Request};
use tokio::sync::mpsc;

use crate::call::bounded;
use crate::entry::LogEntry;
use crate::error::MetaEtcdError;
use crate::keys::Keys;
use crate::snapshot;

/// What the replica tells the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Meta's answer to a request of this process's node `node`, committed in the log.
    Answer {
        /// The node.
        node: NodeId,
        /// The answer.
        answer: Box<Answer>,
    },
    /// The process lease is lost: this process's nodes can no longer reach meta.
    LeaseLost,
    /// A log entry this process's replica applied, in the log's order (only with
    /// [`EtcdConfig::deliver_applied`](crate::EtcdConfig::deliver_applied): a test records its
    /// run with it).
    Applied(Box<Applied>),
    /// Every node's `host:port` known, by slot (after [`MetaEtcd::share_addrs`], at start and
    /// after every change).
    ///
    /// [`MetaEtcd::share_addrs`]: crate::MetaEtcd::share_addrs
    Peers(BTreeMap<u16, String>),
    /// The catalog register changed (after [`MetaEtcd::follow_catalog`]): every newer value,
    /// in revision order, this process's own writes included. A value another write replaced
    /// before it was read again after etcd's compaction is skipped: the newest is delivered.
    ///
    /// [`MetaEtcd::follow_catalog`]: crate::MetaEtcd::follow_catalog
    Catalog {
        /// The catalog key's mod revision.
        revision: i64,
        /// The value (graphd's encoding).
        value: Vec<u8>,
    },
}

/// One log entry as a replica applied it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Its etcd revision.
    pub revision: i64,
    /// Its appender's clock, Unix ms.
    pub now_unix_ms: u64,
    /// A node's request (none for the leader's tick).
    pub request: Option<(NodeId, Box<Request>)>,
    /// Meta's answer to the request.
    pub answer: Option<Box<Answer>>,
}

/// The state every replica holds alike after applying the log up to `applied_revision`.
#[derive(Debug)]
pub(crate) struct Replica {
    /// The meta store.
    pub store: MetaStore,
    /// The revision of the last log entry applied (or of the snapshot restored).
    pub applied_revision: i64,
    /// Entries applied by this process (for the figures).
    pub entries_applied: u64,
    /// Bytes of the log entries applied by this process (the leader paces its snapshots by
    /// them, `snapshot_pace.rs`); kept when a newer snapshot replaces the state.
    pub log_bytes_applied: u64,
    /// Entries applied and not yet delivered, when the host asked for them.
    pub recorded: Option<Vec<Applied>>,
}

/// The replica as the watch task and the leader share it.
pub(crate) type Shared = Arc<Mutex<Replica>>;

/// The replica, through a poisoned lock too (its state is replaced whole or changed by one
/// total function, so a panic elsewhere cannot leave it half-changed).
pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, Replica> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Replica {
    /// Applies the log entry `bytes` at `key`, written at `revision`. Every replica applies the
    /// same entries in the same order, so every one computes the same state. An entry that does
    /// not decode is skipped by every replica alike. Returns the answer and its node for a
    /// request.
    pub(crate) fn apply(
        &mut self,
        keys: &Keys,
        key: &[u8],
        bytes: &[u8],
        revision: i64,
    ) -> Option<(NodeId, Answer)> {
        if revision <= self.applied_revision {
            return None;
        }
        self.applied_revision = revision;
        self.entries_applied += 1;
        let entry_bytes = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        self.log_bytes_applied = self.log_bytes_applied.saturating_add(entry_bytes);
        let key_text = String::from_utf8_lossy(key);
        let entry = LogEntry::decode(&key_text, bytes).ok()?;
        let (answer, request, now_unix_ms) = match entry {
            LogEntry::Request { now_unix_ms, node, request } => {
                // A request is its own node's: one under another node's key is skipped.
                if keys.node_of_log_key(key) != Some(node.0) {
                    return None;
                }
                let copy = self.recorded.is_some().then(|| (node, request.clone()));
                (
                    Some((node, self.store.handle_request(now_unix_ms, node, *request))),
                    copy,
                    now_unix_ms,
                )
            }
            LogEntry::Tick { now_unix_ms } => {
                let _expired = self.store.handle_timeout(now_unix_ms);
                (None, None, now_unix_ms)
            }
        };
        if let Some(recorded) = &mut self.recorded {
            let answer = answer.as_ref().map(|(_, answer)| Box::new(answer.clone()));
            recorded.push(Applied { revision, now_unix_ms, request, answer });
        }
        if cfg!(debug_assertions)
            && let Err(violation) = self.store.check_invariants()
        {
            panic!("meta replica: {violation:?}");
        }
        answer
    }
}

/// The newest snapshot restored, or an empty store at revision 0.
pub(crate) async fn restore(
    client: &mut Client,
    keys: &Keys,
    meta: MetaConfig,
    timeout_ms: u64,
) -> Result<Replica, MetaEtcdError> {
    let (store, applied_revision) = match snapshot::read(client, keys, meta, timeout_ms).await? {
        Some(restored) => restored,
        None => (MetaStore::new(meta)?, 0),
    };
    Ok(Replica {
        store,
        applied_revision,
        entries_applied: 0,
        log_bytes_applied: 0,
        recorded: None,
    })
}

/// Applies the log from `replica`'s position up to its newest entry, as written when the call
/// starts (the largest revision among the log keys' values): a one-shot catch-up for a process
/// that reads the state while no other runs (`record.rs`). Returns the revision etcd was at
/// when the call started, at or above the newest entry: the replica's state is the log's up to
/// it. A log compacted above the position is refused: compaction never passes the newest
/// snapshot, which `replica` was restored from.
pub(crate) async fn catch_up(
    client: &mut Client,
    keys: &Keys,
    replica: &mut Replica,
    timeout_ms: u64,
) -> Result<i64, MetaEtcdError> {
    let latest = bounded(
        timeout_ms,
        client.get(keys.log(), Some(GetOptions::new().with_prefix().with_keys_only())),
    )
    .await?;
    let at = latest.header().map_or(0, |header| header.revision());
    let newest = latest.kvs().iter().map(KeyValue::mod_revision).max().unwrap_or(0);
    if newest <= replica.applied_revision {
        return Ok(at.max(replica.applied_revision));
    }
    let start = replica.applied_revision + 1;
    let options = WatchOptions::new().with_prefix().with_start_revision(start);
    let mut watcher = client.watch_client().max_decoding_message_size(WATCH_MESSAGE_BYTES_MAX);
    let mut stream = bounded(timeout_ms, watcher.watch(keys.log(), Some(options))).await?;
    while replica.applied_revision < newest {
        let Some(response) = bounded(timeout_ms, stream.message()).await? else {
            return Err(MetaEtcdError::Corrupt {
                key: keys.log(),
                detail: "the log's watch ended before its newest entry".to_owned(),
            });
        };
        if response.canceled() {
            return Err(MetaEtcdError::Corrupt {
                key: keys.log(),
                detail: format!(
                    "the log is compacted at {} above the snapshot's revision {}",
                    response.compact_revision(),
                    replica.applied_revision
                ),
            });
        }
        for event in response.events() {
            let Some(kv) = event.kv().filter(|_| event.event_type() == EventType::Put) else {
                continue;
            };
            let _answer = replica.apply(keys, kv.key(), kv.value(), kv.mod_revision());
        }
    }
    Ok(at.max(replica.applied_revision))
}

/// Whose answers go to the host: this process's slots, each from the revision it was claimed
/// at (an earlier holder's answers are not this process's).
#[derive(Debug, Clone)]
pub(crate) struct Local {
    /// Claim revision by slot.
    pub claims: BTreeMap<u16, i64>,
    /// The host's end.
    pub deliveries: mpsc::Sender<Delivery>,
}

const REWATCH_MS: u64 = 200;

/// The largest watch response this replica decodes, in bytes: gRPC's own maximum. etcd sends a
/// watcher catching up up to 1,000 revisions per response, each an entry of up to
/// `entry_bytes_max`; a smaller limit (tonic's default is 4 MiB) would refuse such a response
/// again after every reopening, and the replica would never catch up.
pub(crate) const WATCH_MESSAGE_BYTES_MAX: usize = 0x7FFF_FFFF;

/// Follows the log forever (the host aborts the task at shutdown).
pub(crate) async fn follow(
    mut client: Client,
    keys: Keys,
    meta: MetaConfig,
    shared: Shared,
    local: Local,
    timeout_ms: u64,
) {
    loop {
        let start = lock(&shared).applied_revision + 1;
        let options = WatchOptions::new().with_prefix().with_start_revision(start);
        let mut watcher = client.watch_client().max_decoding_message_size(WATCH_MESSAGE_BYTES_MAX);
        let Ok(mut stream) = bounded(timeout_ms, watcher.watch(keys.log(), Some(options))).await
        else {
            tokio::time::sleep(Duration::from_millis(REWATCH_MS)).await;
            continue;
        };
        loop {
            let response = match stream.message().await {
                Ok(Some(response)) => response,
                Ok(None) | Err(_) => break,
            };
            if response.canceled() {
                if response.compact_revision() > 0 {
                    restore_newer(&mut client, &keys, meta, &shared, timeout_ms).await;
                }
                break;
            }
            let mut answers = Vec::new();
            {
                let mut replica = lock(&shared);
                for event in response.events() {
                    let Some(kv) = event.kv() else { continue };
                    if event.event_type() != EventType::Put {
                        continue;
                    }
                    let revision = kv.mod_revision();
                    let answer = replica.apply(&keys, kv.key(), kv.value(), revision);
                    if let Some(recorded) = &mut replica.recorded {
                        answers.extend(recorded.drain(..).map(|a| Delivery::Applied(Box::new(a))));
                    }
                    if let Some((node, answer)) = answer
                        && local.claims.get(&node.0).is_some_and(|&claimed| revision > claimed)
                    {
                        answers.push(Delivery::Answer { node, answer: Box::new(answer) });
                    }
                }
            }
            for answer in answers {
                if local.deliveries.send(answer).await.is_err() {
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(REWATCH_MS)).await;
    }
}

/// The log was compacted above this replica's position: the newest snapshot replaces it.
async fn restore_newer(
    client: &mut Client,
    keys: &Keys,
    meta: MetaConfig,
    shared: &Shared,
    timeout_ms: u64,
) {
    if let Ok(Some((store, revision))) = snapshot::read(client, keys, meta, timeout_ms).await {
        let mut replica = lock(shared);
        if revision > replica.applied_revision {
            replica.store = store;
            replica.applied_revision = revision;
        }
    }
}

#[cfg(test)]
mod tests {
    //! What every replica does alike with each entry: a request applied once in revision
    //! order and answered, a repeated or older revision skipped, an entry that does not decode
    //! or names another node's key skipped, a tick run.

    use graphsession_core::cluster::{Answer, MetaConfig, MetaStore, NodeId, Request, RequestId};

    use super::Replica;
    use crate::entry::LogEntry;
    use crate::keys::Keys;

    fn request(round: u64) -> Request {
        Request::empty(RequestId { incarnation: 1, round })
    }

    fn entry(node: u16, round: u64) -> Vec<u8> {
        let request = Box::new(request(round));
        LogEntry::Request { now_unix_ms: 1_000, node: NodeId(node), request }.encode()
    }

    fn replica() -> Replica {
        let store = MetaStore::new(MetaConfig::default()).unwrap();
        Replica {
            store,
            applied_revision: 0,
            entries_applied: 0,
            log_bytes_applied: 0,
            recorded: None,
        }
    }

    #[test]
    fn a_request_is_applied_once_in_revision_order_and_answered() {
        let keys = Keys::new("/p/");
        let mut replica = replica();
        let key = keys.log_node(3);
        let answer = replica.apply(&keys, key.as_bytes(), &entry(3, 1), 10);
        assert!(matches!(answer, Some((NodeId(3), Answer::Reply(_)))));
        assert_eq!(replica.applied_revision, 10);
        // The same revision again (a watch reopened from an older position) changes nothing.
        let before = replica.store.snapshot();
        assert_eq!(replica.apply(&keys, key.as_bytes(), &entry(3, 2), 10), None);
        assert_eq!(replica.apply(&keys, key.as_bytes(), &entry(3, 2), 9), None);
        assert_eq!(replica.store.snapshot(), before);
        // A later revision of a request already applied: meta refuses it as stale.
        let again = replica.apply(&keys, key.as_bytes(), &entry(3, 1), 11);
        assert!(matches!(again, Some((_, Answer::Refused { .. }))));
    }

    #[test]
    fn an_entry_that_does_not_decode_or_names_another_key_is_skipped_alike() {
        let keys = Keys::new("/p/");
        let (mut left, mut right) = (replica(), replica());
        for replica in [&mut left, &mut right] {
            assert_eq!(replica.apply(&keys, keys.log_node(1).as_bytes(), b"not json", 5), None);
            assert_eq!(replica.apply(&keys, keys.log_node(2).as_bytes(), &entry(1, 1), 6), None);
            let tick = LogEntry::Tick { now_unix_ms: 2_000 }.encode();
            assert_eq!(replica.apply(&keys, keys.log_tick().as_bytes(), &tick, 7), None);
        }
        assert_eq!(left.applied_revision, 7);
        assert_eq!(left.store.snapshot(), right.store.snapshot());
        assert!(left.store.live_count() == 0 && left.store.poll_timeout() > Some(2_000));
    }

    #[test]
    fn a_recording_replica_keeps_each_entry_it_applied_with_its_answer() {
        let keys = Keys::new("/p/");
        let mut replica = replica();
        replica.recorded = Some(Vec::new());
        let answer = replica.apply(&keys, keys.log_node(3).as_bytes(), &entry(3, 1), 10);
        let tick = LogEntry::Tick { now_unix_ms: 2_000 }.encode();
        assert_eq!(replica.apply(&keys, keys.log_tick().as_bytes(), &tick, 11), None);
        assert_eq!(replica.apply(&keys, keys.log_node(1).as_bytes(), b"not json", 12), None);
        let recorded = replica.recorded.take().unwrap();
        assert_eq!(recorded.len(), 2, "{recorded:?}");
        assert_eq!((recorded[0].revision, recorded[0].now_unix_ms), (10, 1_000));
        assert_eq!(recorded[0].request, Some((NodeId(3), Box::new(request(1)))));
        assert_eq!(recorded[0].answer.as_deref(), answer.as_ref().map(|(_, answer)| answer));
        assert_eq!(
            (recorded[1].revision, &recorded[1].request, &recorded[1].answer),
            (11, &None, &None)
        );
    }
}
