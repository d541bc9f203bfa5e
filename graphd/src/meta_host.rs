//! Where the meta store lives, behind one small seam ([`Meta`]): embedded in this process (the
//! default, answered at once, as graphd always did) or in etcd (`--meta etcd://...`,
//! `graphsession-meta-etcd`), where a request is appended to the cluster's log and its answer
//! arrives later as a [`Message::MetaAnswer`] once the entry is committed and applied by this
//! process's replica. The actor drives both the same way; only the answer's path differs.

use anyhow::{Context, Result};
use graphsession_base::Violation;
use graphsession_core::cluster::{Answer, MetaConfig, MetaStore, NodeId, Request};
use graphsession_id_gen::{SealKey, SessionIdConfig};
use graphsession_meta_etcd::{Delivery, EtcdConfig, IdLeaseConfig, MetaEtcd, etcd_meta_config};
use tokio::sync::mpsc;

use crate::actor::Message;
use crate::logging::log;
use crate::record::Recorder;
use crate::store::leases::{Granted, PLAN_LEASE_COUNTERS, SESSION_LEASE_MS};

/// The meta store of this process's nodes.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one value per process, made once at start and never moved on a request's path"
)]
pub enum Meta {
    /// In this process.
    Embedded(MetaStore),
    /// In etcd.
    Etcd(MetaEtcd),
}

impl Meta {
    /// `node`'s request: answered at once by the embedded store; appended to the log in etcd
    /// (the answer comes as a [`Message::MetaAnswer`]).
    pub fn request(&mut self, now: u64, node: NodeId, request: Request) -> Option<Answer> {
        match self {
            Meta::Embedded(store) => Some(store.handle_request(now, node, request)),
            Meta::Etcd(etcd) => {
                etcd.submit(now, node, request);
                None
            }
        }
    }

    /// When the embedded store's timer is due (in etcd the leader ticks the log).
    pub fn poll_timeout(&self) -> Option<u64> {
        match self {
            Meta::Embedded(store) => store.poll_timeout(),
            Meta::Etcd(_) => None,
        }
    }

    /// The embedded store's timer.
    pub fn handle_timeout(&mut self, now: u64) {
        if let Meta::Embedded(store) = self {
            let _expired = store.handle_timeout(now);
        }
    }

    /// The embedded store's invariants (each etcd replica checks its own after every entry in
    /// debug builds).
    pub fn check_invariants(&self) -> Result<(), Violation> {
        match self {
            Meta::Embedded(store) => store.check_invariants(),
            Meta::Etcd(_) => Ok(()),
        }
    }

    /// Sessions alive at meta (this process's replica, on etcd).
    pub fn live_count(&self) -> u32 {
        match self {
            Meta::Embedded(store) => store.live_count(),
            Meta::Etcd(etcd) => etcd.with_store(MetaStore::live_count),
        }
    }

    /// The configuration every replica applies with.
    pub fn config(&self) -> MetaConfig {
        match self {
            Meta::Embedded(store) => *store.config(),
            Meta::Etcd(etcd) => etcd.with_store(|store| *store.config()),
        }
    }

    /// The embedded store, which graphd persists in `data_path`; none in etcd.
    pub fn embedded(&self) -> Option<&MetaStore> {
        match self {
            Meta::Embedded(store) => Some(store),
            Meta::Etcd(_) => None,
        }
    }

    /// A clean stop: in etcd, the slots' session bounds lowered to `issued_below_unix_ms` and
    /// the process lease revoked, so the slots and the leadership are free at once.
    pub async fn stop(&mut self, issued_below_unix_ms: u64) -> Result<()> {
        match self {
            Meta::Embedded(_) => Ok(()),
            Meta::Etcd(etcd) => Ok(etcd.shutdown(issued_below_unix_ms).await?),
        }
    }
}

/// The session bound a clean stop writes: above every id a generator given clock readings up
/// to `newest_unix_ms` can have issued.
pub fn issued_below_unix_ms(newest_unix_ms: u64) -> u64 {
    newest_unix_ms.saturating_add(SessionIdConfig::default().lookahead_max_ms).saturating_add(1)
}

/// What starting on etcd gives: the handle, each node's slot grant and the answers' channel.
pub struct OnEtcd {
    /// The handle.
    pub etcd: MetaEtcd,
    /// One grant per node, in node order.
    pub granted: Vec<Granted>,
    /// The answers and the lease's loss.
    pub deliveries: mpsc::Receiver<Delivery>,
}

/// Joins the cluster in etcd with `nodes` nodes: the meta configuration checked against the
/// cluster's (the etcd variant of `meta`, whose requests fit one log entry), `nodes` slots
/// claimed with their id leases, the cluster's seal key agreed on (`seal_key_candidate` if this
/// graphd is the first; [`MetaEtcd::seal_key`]).
/// With `recording`, every log entry the replica applies is delivered too. The nodes'
/// addresses (`addrs`, in node order) are shared with every graphd (SHOW SESSIONS' GraphAddr).
pub async fn start_etcd(
    (endpoints, prefix, (lease_ttl_ms, catalog_bytes_max)): (&[String], &str, (u64, usize)),
    (meta, recording): (MetaConfig, bool),
    addrs: &[String],
    seal_key_candidate: SealKey,
    now_unix_ms: u64,
) -> Result<OnEtcd> {
    let nodes = u16::try_from(addrs.len()).context("too many nodes")?;
    let config = EtcdConfig {
        endpoints: endpoints.to_vec(),
        prefix: prefix.to_owned(),
        lease_ttl_ms,
        catalog_bytes_max,
        deliver_applied: recording,
        ..EtcdConfig::default()
    };
    let ids = IdLeaseConfig {
        session_lease_ms: SESSION_LEASE_MS,
        plan_lease_counters: PLAN_LEASE_COUNTERS,
    };
    let (mut etcd, deliveries) = MetaEtcd::start(
        config,
        etcd_meta_config(meta),
        (nodes, ids),
        seal_key_candidate,
        now_unix_ms,
    )
    .await
    .with_context(|| format!("cannot join the meta store in etcd at {endpoints:?}"))?;
    let granted = etcd
        .grants()
        .iter()
        .map(|grant| Granted {
            session: grant.session,
            plan: grant.plan,
            incarnation: grant.incarnation,
        })
        .collect();
    let slots: Vec<u16> = etcd.grants().iter().map(|grant| grant.slot()).collect();
    log!("meta store in etcd at {endpoints:?}: slots {slots:?}, lease {}", etcd.lease());
    let own: Vec<(u16, String)> = slots.iter().copied().zip(addrs.iter().cloned()).collect();
    etcd.share_addrs(&own).await.context("cannot share the nodes' addresses in etcd")?;
    Ok(OnEtcd { etcd, granted, deliveries })
}

/// Hands etcd's deliveries to the actor until either side stops; the entries the replica
/// applied go to the record.
pub fn forward(
    mut deliveries: mpsc::Receiver<Delivery>,
    actor: mpsc::UnboundedSender<Message>,
    recorder: Option<Recorder>,
) {
    tokio::spawn(async move {
        while let Some(delivery) = deliveries.recv().await {
            let message = match delivery {
                Delivery::Answer { node, answer } => Message::MetaAnswer { node, answer },
                Delivery::LeaseLost => Message::MetaLost,
                Delivery::Peers(addrs) => Message::Peers(addrs),
                Delivery::Catalog { revision, value } => {
                    Message::CatalogChanged { revision, value }
                }
                Delivery::Applied(applied) => {
                    if let Some(recorder) = &recorder {
                        recorder.applied(*applied);
                    }
                    continue;
                }
            };
            if actor.send(message).is_err() {
                return;
            }
        }
    });
}
