//! Leases for ids: each graph node of a process claims an id-generator slot in etcd, so session
//! and plan ids stay unique across restarts and hand-overs (the protocol of
//! `graphsession_id_gen::lease`, with etcd as the store).
//!
//! A slot has two keys. `slots/N` names its owner and is bound to the owner's process lease: it
//! vanishes when the process dies or is cut off longer than the lease. `floors/N` is durable: the
//! session-id bound and plan-counter bound the last holder wrote, and its incarnation. A claim is
//! one transaction: the slot key is absent *and* the floors are as read, then both are written;
//! so two processes never hold one slot, and the new holder's range starts where every earlier
//! holder's ended. The slot key's create revision is the holder's fencing token: every request
//! it appends compares it (`append.rs`), so a holder whose lease expired can never append again.

use etcd_client::{Client, Compare, CompareOp, GetOptions, PutOptions, Txn, TxnOp};
use graphsession_id_gen::{PlanLease, SessionLease};

use crate::call::bounded;
use crate::error::MetaEtcdError;
use crate::keys::Keys;
use crate::record;

/// How much id space a claim leases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdLeaseConfig {
    /// Session-id time leased per claim, ms (graphd: 30 days).
    pub session_lease_ms: u64,
    /// Plan ids leased per claim.
    pub plan_lease_counters: u64,
}

/// A slot's durable record (`floors/N`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlotRecord {
    /// The last session-id bound written (Unix ms, exclusive).
    pub session_bound_unix_ms: u64,
    /// The last plan counter bound written (exclusive).
    pub plan_bound_counter: u64,
    /// The last incarnation of the slot (meta refuses requests of an older one).
    pub incarnation: u64,
}

/// A slot this process holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotGrant {
    /// Its session-id lease.
    pub session: SessionLease,
    /// Its plan-id lease.
    pub plan: PlanLease,
    /// Its incarnation (the node's request ids start above every earlier holder's).
    pub incarnation: u64,
    /// The create revision of the slot key: the fencing token of this holder's appends.
    pub claim_revision: i64,
}

impl SlotGrant {
    /// The slot.
    pub fn slot(&self) -> u16 {
        self.session.slot
    }
}

/// Claims `count` free slots among `1..=slot_max` for the process holding `lease`, each claim
/// fenced by the revision of the cluster's record the process checked.
pub(crate) async fn claim(
    client: &mut Client,
    keys: &Keys,
    lease: i64,
    (count, slot_max): (u16, u16),
    ids: (IdLeaseConfig, i64),
    (now_unix_ms, timeout_ms): (u64, u64),
) -> Result<Vec<SlotGrant>, MetaEtcdError> {
    let mut grants = Vec::new();
    let mut slot = 1_u16;
    while grants.len() < usize::from(count) {
        if slot > slot_max {
            return Err(MetaEtcdError::NoFreeSlot { slot_max });
        }
        if let Some(grant) =
            try_claim(client, keys, lease, slot, ids, (now_unix_ms, timeout_ms)).await?
        {
            grants.push(grant);
        }
        slot += 1;
    }
    Ok(grants)
}

async fn try_claim(
    client: &mut Client,
    keys: &Keys,
    lease: i64,
    slot: u16,
    (ids, config_revision): (IdLeaseConfig, i64),
    (now_unix_ms, timeout_ms): (u64, u64),
) -> Result<Option<SlotGrant>, MetaEtcdError> {
    let (slot_key, floor_key) = (keys.slot(slot), keys.floor(slot));
    let held = bounded(
        timeout_ms,
        client.get(slot_key.clone(), Some(GetOptions::new().with_count_only())),
    )
    .await?;
    if held.count() > 0 {
        return Ok(None);
    }
    let read = bounded(timeout_ms, client.get(floor_key.clone(), None)).await?;
    let (record, floor_revision) = match read.kvs().first() {
        Some(kv) => (decode_record(&floor_key, kv.value())?, kv.mod_revision()),
        None => (SlotRecord::default(), 0),
    };
    let session_bound =
        now_unix_ms.max(record.session_bound_unix_ms).saturating_add(ids.session_lease_ms);
    let Some(plan_bound) = record.plan_bound_counter.checked_add(ids.plan_lease_counters) else {
        return Err(MetaEtcdError::PlanIdsExhausted { slot });
    };
    let next = SlotRecord {
        session_bound_unix_ms: session_bound,
        plan_bound_counter: plan_bound,
        incarnation: record.incarnation.saturating_add(1),
    };
    let txn = Txn::new()
        .when([
            Compare::create_revision(slot_key.clone(), CompareOp::Equal, 0),
            Compare::mod_revision(floor_key.clone(), CompareOp::Equal, floor_revision),
            // The cluster's record as checked: a newer build may have upgraded it since.
            Compare::mod_revision(keys.config(), CompareOp::Equal, config_revision),
        ])
        .and_then([
            TxnOp::put(slot_key, lease.to_string(), Some(PutOptions::new().with_lease(lease))),
            TxnOp::put(floor_key, encode_record(&next), None),
        ]);
    let response = bounded(timeout_ms, client.txn(txn)).await?;
    if !response.succeeded() {
        if !record::unchanged(client, keys, config_revision, timeout_ms).await? {
            return Err(MetaEtcdError::ConfigChanged { prefix: keys.prefix().to_owned() });
        }
        return Ok(None);
    }
    let claim_revision = response.header().map_or(0, |header| header.revision());
    Ok(Some(SlotGrant {
        session: SessionLease {
            slot,
            floor_unix_ms: record.session_bound_unix_ms,
            bound_unix_ms: session_bound,
        },
        plan: PlanLease {
            slot,
            floor_counter: record.plan_bound_counter,
            bound_counter: plan_bound,
        },
        incarnation: next.incarnation,
        claim_revision,
    }))
}

/// At a clean stop: each slot's session bound lowered to `issued_below_unix_ms` (above every id
/// its generator can have issued), never below its floor, written only while the slot is still
/// this holder's. A slot already lost keeps the bound of its claim.
pub(crate) async fn release(
    client: &mut Client,
    keys: &Keys,
    grants: &[SlotGrant],
    issued_below_unix_ms: u64,
    timeout_ms: u64,
) -> Result<(), MetaEtcdError> {
    for grant in grants {
        let slot = grant.slot();
        let bound =
            grant.session.bound_unix_ms.min(issued_below_unix_ms.max(grant.session.floor_unix_ms));
        let record = SlotRecord {
            session_bound_unix_ms: bound,
            plan_bound_counter: grant.plan.bound_counter,
            incarnation: grant.incarnation,
        };
        let txn = Txn::new()
            .when([Compare::create_revision(
                keys.slot(slot),
                CompareOp::Equal,
                grant.claim_revision,
            )])
            .and_then([TxnOp::put(keys.floor(slot), encode_record(&record), None)]);
        bounded(timeout_ms, client.txn(txn)).await?;
    }
    Ok(())
}

fn encode_record(record: &SlotRecord) -> Vec<u8> {
    serde_json::to_vec(record).unwrap_or_default()
}

/// A slot's record from its bytes.
pub(crate) fn decode_record(key: &str, bytes: &[u8]) -> Result<SlotRecord, MetaEtcdError> {
    serde_json::from_slice(bytes)
        .map_err(|error| MetaEtcdError::Corrupt { key: key.to_owned(), detail: error.to_string() })
}

#[cfg(test)]
mod tests {
    //! A claim is fenced by the cluster's record as the process checked it.

    use etcd_client::{Client, GetOptions};
    use graphsession_core::cluster::MetaConfig;

    use super::{IdLeaseConfig, claim};
    use crate::error::MetaEtcdError;
    use crate::keys::Keys;
    use crate::test_etcd::EtcdCluster;
    use crate::{etcd_meta_config, record};

    const IDS: IdLeaseConfig = IdLeaseConfig { session_lease_ms: 60_000, plan_lease_counters: 64 };

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_claim_after_the_record_changed_is_refused_and_takes_no_slot() {
        let cluster = EtcdCluster::start(1);
        let mut client = Client::connect(cluster.endpoints(), None).await.unwrap();
        let keys = Keys::new("/fence/");
        let meta = etcd_meta_config(MetaConfig::default());
        let checked = record::check(&mut client, &keys, meta, (1 << 16, 3_000)).await.unwrap();
        let lease = client.lease_grant(30, None).await.unwrap().id();
        // Between this process's check and its claim, a newer build's first process upgraded
        // the record (its own check passed: no slot was held yet).
        let stored = client.get(keys.config(), None).await.unwrap();
        let newer = String::from_utf8(stored.kvs()[0].value().to_vec())
            .unwrap()
            .replace("\"log_format_version\":", "\"log_format_version\":9");
        client.put(keys.config(), newer, None).await.unwrap();
        let refused = claim(&mut client, &keys, lease, (1, 4), (IDS, checked), (1, 3_000)).await;
        assert!(matches!(refused, Err(MetaEtcdError::ConfigChanged { .. })), "{refused:?}");
        let slots = GetOptions::new().with_prefix().with_count_only();
        assert_eq!(client.get(keys.slots(), Some(slots.clone())).await.unwrap().count(), 0);
        // With the record's revision as it stands, the claim goes through.
        let stored = client.get(keys.config(), None).await.unwrap();
        let current = stored.kvs()[0].mod_revision();
        let grants =
            claim(&mut client, &keys, lease, (2, 4), (IDS, current), (1, 3_000)).await.unwrap();
        assert_eq!(grants.iter().map(|grant| grant.slot()).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(client.get(keys.slots(), Some(slots)).await.unwrap().count(), 2);
    }
}
