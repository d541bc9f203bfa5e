//! [`MetaEtcd`]: one process's handle on the cluster's meta store in etcd. Started once per
//! process: it checks the cluster's configuration, agrees on the cluster's seal key, takes the
//! process lease, claims the slots of its nodes, restores its replica and starts its tasks
//! (keep-alive, log follower, leader campaign, position report, appends). The host submits each
//! node request ([`MetaEtcd::submit`]) and receives the answers from the delivery channel.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use etcd_client::{Client, Compare, CompareOp, ConnectOptions, Txn, TxnOp};
use graphsession_core::cluster::{MetaConfig, NodeId, Request};
use graphsession_id_gen::SealKey;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

use crate::addrs;
use crate::call::{Counters, bounded};
use crate::catalog::{self, CatalogRegister};
use crate::config::EtcdConfig;
use crate::entry::{LogEntry, check_limits};
use crate::error::MetaEtcdError;
use crate::keys::Keys;
use crate::leader::{self, Duties};
use crate::lease::{self, Lost};
use crate::record;
use crate::replica::{self, Delivery, Local, Shared};
use crate::seal;
use crate::slots::{self, IdLeaseConfig, SlotGrant};
use crate::snapshot_pace::SnapshotPace;

/// The wait between two tries of a failed append, ms.
const APPEND_RETRY_MS: u64 = 50;
/// The longest one try of an append may take, ms (a commit on loopback takes a few).
const APPEND_TRY_MS: u64 = 1_000;

/// One process's handle on the meta store in etcd.
pub struct MetaEtcd {
    client: Client,
    keys: Keys,
    config: EtcdConfig,
    lease: i64,
    grants: Vec<SlotGrant>,
    seal_key: SealKey,
    shared: Shared,
    lost: Arc<Lost>,
    leading: Arc<AtomicBool>,
    counters: Arc<Counters>,
    appends: Arc<Semaphore>,
    tasks: Vec<JoinHandle<()>>,
    /// The host's end of the deliveries (for the address and catalog followers).
    deliveries: mpsc::Sender<Delivery>,
}

impl std::fmt::Debug for MetaEtcd {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("MetaEtcd")
            .field("lease", &self.lease)
            .field("grants", &self.grants)
            .finish()
    }
}

impl MetaEtcd {
    /// Connects, checks the cluster's configuration (the first process writes it), agrees on
    /// the cluster's seal key (`seal_key_candidate` if this process is the first, else the one in
    /// etcd: [`MetaEtcd::seal_key`]), takes the process lease, claims `slots` slots at
    /// `now_unix_ms` and restores the replica. Answers and the lease's loss arrive on the
    /// returned channel. A malformed key in etcd is [`MetaEtcdError::BadSealKey`], before any
    /// lease or slot is taken.
    pub async fn start(
        config: EtcdConfig,
        meta: MetaConfig,
        (slots, ids): (u16, IdLeaseConfig),
        seal_key_candidate: SealKey,
        now_unix_ms: u64,
    ) -> Result<(MetaEtcd, mpsc::Receiver<Delivery>), MetaEtcdError> {
        config.validate()?;
        check_limits(&meta, config.entry_bytes_max)?;
        let timeout_ms = config.call_timeout_ms;
        let options = ConnectOptions::new()
            .with_connect_timeout(std::time::Duration::from_millis(timeout_ms))
            .with_timeout(std::time::Duration::from_millis(timeout_ms))
            .with_keep_alive(
                std::time::Duration::from_secs(1),
                std::time::Duration::from_millis(timeout_ms),
            )
            // A member that lost its leader refuses at once instead of holding the call.
            .with_require_leader(true);
        let mut client =
            bounded(timeout_ms, Client::connect(&config.endpoints, Some(options))).await?;
        let keys = Keys::new(&config.prefix);
        let limits = (config.chunk_bytes_max, timeout_ms);
        let config_revision = record::check(&mut client, &keys, meta, limits).await?;
        let seal_key = seal::agree(&mut client, &keys, seal_key_candidate, timeout_ms).await?;
        let lease = lease::grant(&mut client, config.lease_ttl_ms, timeout_ms).await?;
        let grants = slots::claim(
            &mut client,
            &keys,
            lease,
            (slots, config.slot_max),
            (ids, config_revision),
            (now_unix_ms, timeout_ms),
        )
        .await?;
        let mut restored = replica::restore(&mut client, &keys, meta, timeout_ms).await?;
        restored.recorded = config.deliver_applied.then(Vec::new);
        let shared: Shared = Arc::new(std::sync::Mutex::new(restored));
        let (deliveries, received) = mpsc::channel(config.deliveries_max);
        let mut etcd = MetaEtcd {
            appends: Arc::new(Semaphore::new(config.appends_in_flight_max)),
            client,
            keys,
            config,
            lease,
            grants,
            seal_key,
            shared,
            lost: Arc::new(Lost::default()),
            leading: Arc::new(AtomicBool::new(false)),
            counters: Arc::new(Counters::default()),
            tasks: Vec::new(),
            deliveries: deliveries.clone(),
        };
        etcd.spawn_tasks(meta, deliveries);
        Ok((etcd, received))
    }

    fn spawn_tasks(&mut self, meta: MetaConfig, deliveries: mpsc::Sender<Delivery>) {
        let timeout_ms = self.config.call_timeout_ms;
        let lost_pair = (Arc::clone(&self.lost), Arc::clone(&self.counters));
        let keep_alive = lease::keep_alive(
            self.client.clone(),
            self.lease,
            self.config.lease_ttl_ms,
            timeout_ms,
            lost_pair,
        );
        let (lost, told) = (Arc::clone(&self.lost), deliveries.clone());
        self.tasks.push(tokio::spawn(async move {
            keep_alive.await;
            let _told = told.send(Delivery::LeaseLost).await;
            drop(lost);
        }));
        let claims: BTreeMap<u16, i64> =
            self.grants.iter().map(|grant| (grant.slot(), grant.claim_revision)).collect();
        let local = Local { claims, deliveries };
        let follow = replica::follow(
            self.client.clone(),
            self.keys.clone(),
            meta,
            Arc::clone(&self.shared),
            local,
            timeout_ms,
        );
        self.tasks.push(tokio::spawn(follow));
        let duties = Duties {
            keys: self.keys.clone(),
            lease: self.lease,
            shared: Arc::clone(&self.shared),
            snapshot_pace: SnapshotPace {
                interval_ms: self.config.snapshot_interval_ms,
                interval_max_ms: self.config.snapshot_interval_max_ms,
                log_percent: self.config.snapshot_log_percent,
            },
            chunk_bytes_max: self.config.chunk_bytes_max,
            timeout_ms,
            lease_ttl_ms: self.config.lease_ttl_ms,
            counters: Arc::clone(&self.counters),
            lost: Arc::clone(&self.lost),
            leading: Arc::clone(&self.leading),
        };
        let period_ms = (self.config.lease_ttl_ms / 4).max(100);
        self.tasks.push(tokio::spawn(leader::report_position(
            self.client.clone(),
            duties.clone(),
            period_ms,
        )));
        self.tasks.push(tokio::spawn(leader::run(self.client.clone(), duties)));
    }

    /// The slots this process holds, one per node, in claim order.
    pub fn grants(&self) -> &[SlotGrant] {
        &self.grants
    }

    /// The cluster's seal key: every process of the cluster seals its session ids with it.
    pub fn seal_key(&self) -> SealKey {
        self.seal_key
    }

    /// The process lease.
    pub fn lease(&self) -> i64 {
        self.lease
    }

    /// Whether this process leads now.
    pub fn is_leader(&self) -> bool {
        self.leading.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether the process lease is lost.
    pub fn is_lost(&self) -> bool {
        self.lost.is_lost()
    }

    /// (requests, payload bytes) sent to etcd so far.
    pub fn sent(&self) -> (u64, u64) {
        (self.counters.requests(), self.counters.bytes())
    }

    /// The replica's applied revision and the entries it applied.
    pub fn applied(&self) -> (i64, u64) {
        let replica = replica::lock(&self.shared);
        (replica.applied_revision, replica.entries_applied)
    }

    /// The replica's meta store, read under its lock.
    pub fn with_store<T>(
        &self,
        read: impl FnOnce(&graphsession_core::cluster::MetaStore) -> T,
    ) -> T {
        read(&replica::lock(&self.shared).store)
    }

    /// Appends `node`'s `request` at `now_unix_ms` to the log, in the background, fenced by the
    /// node's slot key. Its answer arrives as a [`Delivery::Answer`] once the entry is committed
    /// and applied. Dropped (the node resends after its request timeout) when
    /// `appends_in_flight_max` appends are under way, when etcd fails, or when `node` is not
    /// one of this process's slots; a refused compare means the lease is lost.
    pub fn submit(&self, now_unix_ms: u64, node: NodeId, request: Request) {
        let Some(grant) = self.grants.iter().find(|grant| grant.slot() == node.0) else { return };
        let Ok(permit) = Arc::clone(&self.appends).try_acquire_owned() else { return };
        let entry = LogEntry::Request { now_unix_ms, node, request: Box::new(request) }.encode();
        if entry.len() > self.config.entry_bytes_max {
            return;
        }
        let (mut client, keys, counters) =
            (self.client.clone(), self.keys.clone(), Arc::clone(&self.counters));
        let (claim_revision, timeout_ms) = (grant.claim_revision, self.config.call_timeout_ms);
        tokio::spawn(async move {
            append(&mut client, &keys, (node, claim_revision), &entry, (timeout_ms, &counters))
                .await;
            drop(permit);
        });
    }

    /// Shares this process's nodes' addresses (`(slot, host:port)`, durable) and
    /// follows every process's: the map arrives as [`Delivery::Peers`] at once and after every
    /// change (`addrs.rs`).
    pub async fn share_addrs(&mut self, own: &[(u16, String)]) -> Result<(), MetaEtcdError> {
        let timeout_ms = self.config.call_timeout_ms;
        addrs::publish(&mut self.client, &self.keys, own, timeout_ms).await?;
        let follow = addrs::follow(
            self.client.clone(),
            self.keys.clone(),
            self.deliveries.clone(),
            timeout_ms,
        );
        self.tasks.push(tokio::spawn(follow));
        Ok(())
    }

    /// This process's handle on the cluster's catalog register (users, roles, spaces, password
    /// hashes: `catalog.rs`), its turns bound to the process lease.
    pub fn catalog(&self) -> CatalogRegister {
        CatalogRegister::new(
            self.client.clone(),
            self.keys.clone(),
            self.lease,
            (self.config.catalog_bytes_max, self.config.call_timeout_ms),
            (Arc::clone(&self.counters), Arc::clone(&self.lost)),
        )
    }

    /// Follows the catalog register from after `after_revision` (the revision this process
    /// last read or seeded): every newer value arrives as a [`Delivery::Catalog`], in revision
    /// order, until shutdown.
    pub fn follow_catalog(&mut self, after_revision: i64) {
        let follow = catalog::follow(
            self.client.clone(),
            self.keys.clone(),
            self.deliveries.clone(),
            after_revision,
            (self.config.call_timeout_ms, Arc::clone(&self.counters)),
        );
        self.tasks.push(tokio::spawn(follow));
    }

    /// A clean stop: the slots' session bounds lowered to `issued_below_unix_ms`, the tasks
    /// stopped, and the lease revoked (so its slots and leadership are free at once).
    pub async fn shutdown(&mut self, issued_below_unix_ms: u64) -> Result<(), MetaEtcdError> {
        for task in &self.tasks {
            task.abort();
        }
        if self.is_lost() {
            // The slots are gone already; etcd is likely out of reach.
            return Ok(());
        }
        let timeout_ms = self.config.call_timeout_ms;
        slots::release(
            &mut self.client,
            &self.keys,
            &self.grants,
            issued_below_unix_ms,
            timeout_ms,
        )
        .await?;
        bounded(timeout_ms, self.client.lease_revoke(self.lease)).await?;
        Ok(())
    }
}

impl Drop for MetaEtcd {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Appends `node`'s `entry`, fenced by its slot key's create revision. A failed call (a member
/// died, etcd is electing) is tried again until the call timeout has passed: one request
/// appended twice is harmless (meta refuses the second as stale), and the node would otherwise
/// wait for its whole request timeout.
async fn append(
    client: &mut Client,
    keys: &Keys,
    (node, claim_revision): (NodeId, i64),
    entry: &[u8],
    (timeout_ms, counters): (u64, &Counters),
) {
    let started = tokio::time::Instant::now();
    let budget = std::time::Duration::from_millis(timeout_ms);
    loop {
        let fence = Compare::create_revision(keys.slot(node.0), CompareOp::Equal, claim_revision);
        let put = TxnOp::put(keys.log_node(node.0), entry, None);
        counters.count(entry.len());
        let txn = Txn::new().when([fence]).and_then([put]);
        let tried = bounded(timeout_ms.min(APPEND_TRY_MS), client.txn(txn)).await;
        if tried.is_ok() || started.elapsed() >= budget {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(APPEND_RETRY_MS)).await;
    }
}
