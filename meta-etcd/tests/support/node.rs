//! A graph node reduced to its sync machine (`NodeSync`) and a map of sessions, driven against
//! a [`MetaEtcd`]: its requests submitted, the answers delivered fed back.
#![allow(dead_code, reason = "each test file uses part of the support")]
#![allow(
    clippy::unwrap_used,
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "test support"
)]

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use graphsession_core::cluster::{
    GoneReason, LocalSessions, NodeConfig, NodeEvent, NodeId, NodeSync, SessionRecord,
    SessionReport,
};
use graphsession_id_gen::SessionId;
use graphsession_meta_etcd::{Delivery, MetaEtcd};
use graphsession_query_plan::QueryKey;
use tokio::sync::mpsc;

/// Now, Unix ms.
pub(crate) fn now() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// The node's sessions.
#[derive(Debug, Default)]
pub(crate) struct Registry(pub BTreeMap<SessionId, SessionReport>);

impl LocalSessions for Registry {
    fn sessions(&self) -> Vec<SessionReport> {
        self.0.values().cloned().collect()
    }
    fn install(&mut self, record: &SessionRecord) {
        self.0
            .entry(record.session)
            .or_insert_with(|| report(record.session, &record.user, record.created_unix_ms));
    }
    fn adopt_space(&mut self, _record: &SessionRecord) -> bool {
        false
    }
    fn drop_session(&mut self, session: SessionId, _reason: GoneReason) {
        self.0.remove(&session);
    }
    fn kill_query(&mut self, _key: QueryKey) -> bool {
        false
    }
}

/// A session as a node reports it.
pub(crate) fn report(session: SessionId, user: &str, now: u64) -> SessionReport {
    SessionReport::logged_in(session, user, "127.0.0.1", now)
}

/// One node of a process.
pub(crate) struct TestNode {
    pub(crate) id: NodeId,
    pub(crate) sync: NodeSync,
    pub(crate) registry: Registry,
    pub(crate) events: Vec<NodeEvent>,
    pub(crate) deliveries: mpsc::Receiver<Delivery>,
    pub(crate) lease_lost: bool,
}

/// The sync configuration of the tests: rounds every 200 ms, batches that fit the etcd limits.
pub(crate) fn node_config() -> NodeConfig {
    NodeConfig {
        sync_interval_ms: 200,
        request_timeout_ms: 2_000,
        retry_backoff_ms: 100,
        sync_batch_sessions_max: 64,
        ..NodeConfig::default()
    }
}

impl TestNode {
    /// The node of `etcd`'s first slot.
    pub(crate) fn new(etcd: &MetaEtcd, deliveries: mpsc::Receiver<Delivery>) -> TestNode {
        let grant = etcd.grants()[0];
        TestNode {
            id: NodeId(grant.slot()),
            sync: NodeSync::new(node_config(), grant.incarnation, now()).unwrap(),
            registry: Registry::default(),
            events: Vec::new(),
            deliveries,
            lease_lost: false,
        }
    }

    /// A login here: the session created and announced.
    pub(crate) fn login(&mut self, session: SessionId) {
        let at = now();
        self.registry.0.insert(session, report(session, "root", at));
        self.sync.announce(at, session).unwrap();
    }

    /// Runs the node's timer and requests against `etcd` for `duration`.
    pub(crate) async fn pump(&mut self, etcd: &MetaEtcd, duration: Duration) {
        let end = tokio::time::Instant::now() + duration;
        while tokio::time::Instant::now() < end {
            let at = now();
            if self.sync.poll_timeout().is_some_and(|due| due <= at) {
                self.sync.handle_timeout(at, &self.registry);
            }
            while let Some(request) = self.sync.poll_request() {
                etcd.submit(at, self.id, request);
            }
            match tokio::time::timeout(Duration::from_millis(20), self.deliveries.recv()).await {
                Ok(Some(Delivery::Answer { answer, .. })) => {
                    self.sync.handle_answer(now(), *answer, &mut self.registry)
                }
                Ok(Some(Delivery::LeaseLost)) => self.lease_lost = true,
                Ok(
                    Some(Delivery::Applied(_) | Delivery::Peers(_) | Delivery::Catalog { .. })
                    | None,
                )
                | Err(_) => {}
            }
            while let Some(event) = self.sync.poll_event() {
                self.events.push(event);
            }
        }
    }

    /// Sessions meta acknowledged.
    pub(crate) fn registered(&self) -> usize {
        self.events.iter().filter(|event| matches!(event, NodeEvent::Registered { .. })).count()
    }
}
