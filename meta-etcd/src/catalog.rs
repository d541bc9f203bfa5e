//! The catalog register: one opaque value (users, roles, spaces, password hashes; graphd owns
//! its encoding) that the processes of one cluster change one at a time and every process
//! follows.
//!
//! A change is a *turn*: [`CatalogRegister::take_turn`] waits for the catalog lock and reads the
//! value, [`CatalogRegister::write`] writes the new value, [`CatalogRegister::end_turn`] lets the
//! lock go. The lock is this crate's own, not etcd's lock service (whose call, timed out here,
//! can still acquire in etcd and leave a lock nobody releases): `catalog/lock` created holding
//! the taker's lease id, bound to that lease, in one transaction that reads the holder when the
//! key exists. A process holds the lock when the key holds its lease id, so a try whose reply
//! was lost but whose transaction committed is found to be its own at the next try; a process
//! that dies frees the lock when its lease expires. The lock alone is not trusted: a write
//! compares, in its transaction, both the lock key's value (still this lease) and the catalog's
//! mod revision (the one the turn read), so a process whose lease expired mid-turn, or that
//! read before another's write, never overwrites a change it did not see
//! ([`MetaEtcdError::CatalogFenced`]). The value is durable (no lease): the first process of a
//! cluster seeds it ([`CatalogRegister::seed`], written only if absent).
//!
//! Every process follows the value ([`follow`]) from a revision on: every newer value arrives
//! as a [`Delivery::Catalog`], in revision order; a broken watch reopens after the last
//! revision delivered, and a watch refused because etcd compacted that history reads the
//! value again (the values in between are skipped: the newest holds them).

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, EventType, PutOptions, Txn, TxnOp, WatchOptions};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::call::{Counters, bounded};
use crate::error::MetaEtcdError;
use crate::keys::Keys;
use crate::lease::Lost;
use crate::replica::{Delivery, WATCH_MESSAGE_BYTES_MAX};

/// The wait between two tries of the catalog lock, ms.
const LOCK_POLL_MS: u64 = 20;
/// The wait before a broken watch of the catalog is opened again, ms.
const REWATCH_MS: u64 = 200;

/// One process's handle on the catalog register: cheap to clone (etcd's client is a handle).
/// Built by [`MetaEtcd::catalog`](crate::MetaEtcd::catalog).
#[derive(Clone)]
pub struct CatalogRegister {
    client: Client,
    keys: Keys,
    lease: i64,
    catalog_bytes_max: usize,
    timeout_ms: u64,
    counters: Arc<Counters>,
    lost: Arc<Lost>,
}

impl std::fmt::Debug for CatalogRegister {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CatalogRegister")
            .field("prefix", &self.keys.prefix())
            .field("lease", &self.lease)
            .finish()
    }
}

/// The register as read at the start of a turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogTurn {
    /// The catalog key's mod revision when read; 0 when the key is absent.
    pub revision: i64,
    /// The value, None when absent.
    pub value: Option<Vec<u8>>,
}

impl CatalogRegister {
    /// The register of the process holding `lease`.
    pub(crate) fn new(
        client: Client,
        keys: Keys,
        lease: i64,
        (catalog_bytes_max, timeout_ms): (usize, u64),
        (counters, lost): (Arc<Counters>, Arc<Lost>),
    ) -> CatalogRegister {
        CatalogRegister { client, keys, lease, catalog_bytes_max, timeout_ms, counters, lost }
    }

    /// Waits (trying every 20 ms) until this process holds the catalog lock, at most `wait_ms`
    /// ([`MetaEtcdError::CatalogBusy`] after that), then reads the catalog. A try under way
    /// when the wait ends finishes first (each call is bounded by `call_timeout_ms`). A holder
    /// taking its turn again gets it at once. A failed etcd call is tried again within the wait; if the wait ends on one (or the read fails), the lock is
    /// let go in case the failed try took it, and the call's error returned. The lost process
    /// lease is [`MetaEtcdError::LeaseLost`].
    pub async fn take_turn(&self, wait_ms: u64) -> Result<CatalogTurn, MetaEtcdError> {
        let deadline = Instant::now() + Duration::from_millis(wait_ms);
        let mut client = self.client.clone();
        loop {
            if self.lost.is_lost() {
                return Err(MetaEtcdError::LeaseLost { lease: self.lease });
            }
            let failed = match self.try_lock(&mut client).await {
                Ok(true) => break,
                Ok(false) => None,
                Err(error) => Some(error),
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(match failed {
                    Some(error) => {
                        let _released = self.end_turn().await;
                        error
                    }
                    None => MetaEtcdError::CatalogBusy { wait_ms },
                });
            }
            let wake = (now + Duration::from_millis(LOCK_POLL_MS)).min(deadline);
            tokio::time::sleep_until(wake).await;
        }
        match self.read(&mut client).await {
            Ok(turn) => Ok(turn),
            Err(error) => {
                let _released = self.end_turn().await;
                Err(error)
            }
        }
    }

    /// One try: creates the lock key with this lease if it is absent, else reads its holder.
    /// Whether this process holds the lock afterwards.
    async fn try_lock(&self, client: &mut Client) -> Result<bool, MetaEtcdError> {
        let lock = self.keys.catalog_lock();
        let holder = self.lease.to_string();
        let free = Compare::create_revision(lock.as_str(), CompareOp::Equal, 0);
        let take = TxnOp::put(
            lock.as_str(),
            holder.as_str(),
            Some(PutOptions::new().with_lease(self.lease)),
        );
        let read = TxnOp::get(lock.as_str(), None);
        let txn = Txn::new().when([free]).and_then([take]).or_else([read]);
        self.counters.count(lock.len() * 3 + holder.len());
        let response = bounded(self.timeout_ms, client.txn(txn)).await?;
        if response.succeeded() {
            return Ok(true);
        }
        let held = response.op_responses().into_iter().any(|op| match op {
            etcd_client::TxnOpResponse::Get(got) => {
                got.kvs().iter().any(|kv| kv.value() == holder.as_bytes())
            }
            _ => false,
        });
        Ok(held)
    }

    /// Reads the catalog (linearizable).
    async fn read(&self, client: &mut Client) -> Result<CatalogTurn, MetaEtcdError> {
        let key = self.keys.catalog();
        self.counters.count(key.len());
        let response = bounded(self.timeout_ms, client.get(key, None)).await?;
        Ok(match response.kvs().first() {
            Some(kv) => {
                CatalogTurn { revision: kv.mod_revision(), value: Some(kv.value().to_vec()) }
            }
            None => CatalogTurn { revision: 0, value: None },
        })
    }

    /// Writes `value` if this process still holds the lock and nobody wrote the catalog since
    /// `turn` was read: one transaction comparing the lock key's value (this lease) and the
    /// catalog's mod revision (`turn.revision`; absent when it is 0). Returns the new revision.
    /// Refused: a value longer than `catalog_bytes_max` ([`MetaEtcdError::CatalogTooLarge`],
    /// nothing sent); a failed compare ([`MetaEtcdError::CatalogFenced`]). The lock stays held
    /// either way: end the turn with [`CatalogRegister::end_turn`].
    pub async fn write(&self, turn: &CatalogTurn, value: &[u8]) -> Result<i64, MetaEtcdError> {
        self.check_size(value)?;
        let (key, lock) = (self.keys.catalog(), self.keys.catalog_lock());
        let holder = self.lease.to_string();
        let held = Compare::value(lock.as_str(), CompareOp::Equal, holder.as_str());
        let unchanged = if turn.revision == 0 {
            Compare::create_revision(key.as_str(), CompareOp::Equal, 0)
        } else {
            Compare::mod_revision(key.as_str(), CompareOp::Equal, turn.revision)
        };
        let put = TxnOp::put(key.as_str(), value, None);
        let txn = Txn::new().when([held, unchanged]).and_then([put]);
        self.counters.count(lock.len() + holder.len() + key.len() * 2 + value.len());
        let mut client = self.client.clone();
        let response = bounded(self.timeout_ms, client.txn(txn)).await?;
        if !response.succeeded() {
            return Err(MetaEtcdError::CatalogFenced);
        }
        Ok(response.header().map_or(0, |header| header.revision()))
    }

    /// Lets the catalog lock go if this process holds it (a transaction deleting the lock key
    /// if it holds this lease). Idempotent.
    pub async fn end_turn(&self) -> Result<(), MetaEtcdError> {
        let lock = self.keys.catalog_lock();
        let holder = self.lease.to_string();
        let held = Compare::value(lock.as_str(), CompareOp::Equal, holder.as_str());
        let release = TxnOp::delete(lock.as_str(), None);
        let txn = Txn::new().when([held]).and_then([release]);
        self.counters.count(lock.len() * 2 + holder.len());
        let mut client = self.client.clone();
        bounded(self.timeout_ms, client.txn(txn)).await?;
        Ok(())
    }

    /// Puts `value` only if the catalog is absent (the first process of a cluster seeds it);
    /// returns the catalog as it stands afterwards: (mod revision, value). A value longer than
    /// `catalog_bytes_max` is [`MetaEtcdError::CatalogTooLarge`], nothing sent.
    pub async fn seed(&self, value: &[u8]) -> Result<(i64, Vec<u8>), MetaEtcdError> {
        self.check_size(value)?;
        let key = self.keys.catalog();
        let absent = Compare::create_revision(key.as_str(), CompareOp::Equal, 0);
        let put = TxnOp::put(key.as_str(), value, None);
        let read = TxnOp::get(key.as_str(), None);
        let txn = Txn::new().when([absent]).and_then([put]).or_else([read]);
        self.counters.count(key.len() * 3 + value.len());
        let mut client = self.client.clone();
        let response = bounded(self.timeout_ms, client.txn(txn)).await?;
        if response.succeeded() {
            let revision = response.header().map_or(0, |header| header.revision());
            return Ok((revision, value.to_vec()));
        }
        for op in response.op_responses() {
            if let etcd_client::TxnOpResponse::Get(got) = op
                && let Some(kv) = got.kvs().first()
            {
                return Ok((kv.mod_revision(), kv.value().to_vec()));
            }
        }
        // Deleted by hand between the compare and the read: not possible in one transaction.
        Err(MetaEtcdError::Corrupt { key, detail: "present and absent at once".to_owned() })
    }

    fn check_size(&self, value: &[u8]) -> Result<(), MetaEtcdError> {
        if value.len() > self.catalog_bytes_max {
            return Err(MetaEtcdError::CatalogTooLarge {
                bytes: value.len(),
                bytes_max: self.catalog_bytes_max,
            });
        }
        Ok(())
    }
}

/// Follows the catalog after `after_revision` until the host goes away (or the task is
/// aborted): every newer value is delivered as a [`Delivery::Catalog`], in revision order.
pub(crate) async fn follow(
    mut client: Client,
    keys: Keys,
    deliveries: mpsc::Sender<Delivery>,
    after_revision: i64,
    (timeout_ms, counters): (u64, Arc<Counters>),
) {
    let key = keys.catalog();
    // Every value below `next` was delivered or is older than one delivered.
    let mut delivered = after_revision;
    let mut next = after_revision.saturating_add(1).max(1);
    loop {
        let options = WatchOptions::new().with_start_revision(next);
        let mut watcher = client.watch_client().max_decoding_message_size(WATCH_MESSAGE_BYTES_MAX);
        counters.count(key.len());
        if let Ok(mut stream) =
            bounded(timeout_ms, watcher.watch(key.as_str(), Some(options))).await
        {
            while let Ok(Some(response)) = stream.message().await {
                if response.canceled() {
                    if response.compact_revision() > 0 {
                        // The history from `next` is gone: read the value as it stands.
                        counters.count(key.len());
                        let Ok(found) = bounded(timeout_ms, client.get(key.as_str(), None)).await
                        else {
                            break;
                        };
                        if let Some(kv) = found.kvs().first()
                            && kv.mod_revision() > delivered
                        {
                            let (revision, value) = (kv.mod_revision(), kv.value().to_vec());
                            if deliveries.send(Delivery::Catalog { revision, value }).await.is_err()
                            {
                                return;
                            }
                            delivered = revision;
                        }
                        let read_at = found.header().map_or(0, |header| header.revision());
                        next = next.max(read_at.saturating_add(1)).max(delivered.saturating_add(1));
                    }
                    break;
                }
                let puts = response.events().iter().filter(|e| e.event_type() == EventType::Put);
                for kv in puts.filter_map(|event| event.kv()) {
                    let revision = kv.mod_revision();
                    if revision <= delivered {
                        continue;
                    }
                    let value = kv.value().to_vec();
                    if deliveries.send(Delivery::Catalog { revision, value }).await.is_err() {
                        return;
                    }
                    delivered = revision;
                    next = next.max(revision.saturating_add(1));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(REWATCH_MS)).await;
    }
}
