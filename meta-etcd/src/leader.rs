//! The leader: one process at a time, elected through a key bound to its process lease
//! (`leader`, created only if absent: its create revision is the leader's fencing token). The
//! leader appends the meta store's timer ticks to the log, writes snapshots and compacts etcd;
//! requests never wait for it (every node appends its own, see the crate docs). Every leader
//! write is a transaction comparing the leader key's create revision, so a deposed leader's
//! tick, chunk or manifest never lands; it learns it was deposed from the failed compare and
//! campaigns again.
//!
//! Compaction goes up to the lowest revision still needed: the newest snapshot's, or the
//! lowest position a live replica reported (`replicas/LEASE`), whichever is lower. A replica
//! below it (one that had not reported yet) restores from the snapshot.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Client, CompactionOptions, Compare, CompareOp, GetOptions, PutOptions, Txn, TxnOp,
    TxnOpResponse,
};

use crate::call::{Counters, bounded};
use crate::clock::now_unix_ms;
use crate::entry::LogEntry;
use crate::error::MetaEtcdError;
use crate::keys::Keys;
use crate::lease::Lost;
use crate::replica::{Shared, lock};
use crate::snapshot::{self, Fence};
use crate::snapshot_pace::{LastSnapshot, ReplicaPosition, SnapshotPace};

/// What the leader task needs.
#[derive(Debug, Clone)]
pub(crate) struct Duties {
    /// The keys.
    pub keys: Keys,
    /// The process lease.
    pub lease: i64,
    /// The replica.
    pub shared: Shared,
    /// `snapshot_interval_ms`, `snapshot_interval_max_ms` and `snapshot_log_percent`.
    pub snapshot_pace: SnapshotPace,
    /// `chunk_bytes_max`.
    pub chunk_bytes_max: usize,
    /// `call_timeout_ms`.
    pub timeout_ms: u64,
    /// `lease_ttl_ms`: how often a follower tries to become leader.
    pub lease_ttl_ms: u64,
    /// The request counters.
    pub counters: Arc<Counters>,
    /// Set when the lease is lost.
    pub lost: Arc<Lost>,
    /// Set while this process leads (for tests and figures).
    pub leading: Arc<std::sync::atomic::AtomicBool>,
}

const DUTY_PERIOD_MS: u64 = 100;

/// Campaigns, and leads while elected, until the lease is lost.
pub(crate) async fn run(mut client: Client, duties: Duties) {
    while !duties.lost.is_lost() {
        match campaign(&mut client, &duties).await {
            Ok(Some(leader_revision)) => {
                duties.leading.store(true, std::sync::atomic::Ordering::Release);
                let _deposed = lead(&mut client, &duties, leader_revision).await;
                duties.leading.store(false, std::sync::atomic::Ordering::Release);
            }
            Ok(None) | Err(_) => {
                let wait = Duration::from_millis((duties.lease_ttl_ms / 4).max(DUTY_PERIOD_MS));
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// The leader key's create revision if this process won.
async fn campaign(client: &mut Client, duties: &Duties) -> Result<Option<i64>, MetaEtcdError> {
    let key = duties.keys.leader();
    let put = PutOptions::new().with_lease(duties.lease);
    let txn = Txn::new()
        .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
        .and_then([TxnOp::put(key.clone(), duties.lease.to_string(), Some(put))])
        .or_else([TxnOp::get(key, None)]);
    duties.counters.count(16);
    let response = bounded(duties.timeout_ms, client.txn(txn)).await?;
    if response.succeeded() {
        return Ok(Some(response.header().map_or(0, |header| header.revision())));
    }
    // The key may be this process's own: it stopped leading after a failed call (etcd was
    // unreachable) while its lease lived on. It leads again with the same fencing token.
    let own = response.op_responses().into_iter().find_map(|op| match op {
        TxnOpResponse::Get(get) => {
            get.kvs().first().filter(|kv| kv.lease() == duties.lease).map(|kv| kv.create_revision())
        }
        _ => None,
    });
    Ok(own)
}

/// The leader's duties until deposed (a fenced write failed) or the lease is lost.
async fn lead(
    client: &mut Client,
    duties: &Duties,
    leader_revision: i64,
) -> Result<(), MetaEtcdError> {
    let key = duties.keys.leader();
    let fence = Fence::Leader { key: &key, leader_revision };
    let mut tick_pending_at: Option<i64> = None;
    let mut last_snapshot = adopt_newest_snapshot(client, duties).await?;
    // Compaction follows the replicas' reported positions between snapshots too: one that
    // lagged when the last snapshot was written must not hold the log back until the next.
    let mut next_compaction_unix_ms = 0_u64;
    let mut compacted_floor = 0_i64;
    while !duties.lost.is_lost() {
        tokio::time::sleep(Duration::from_millis(DUTY_PERIOD_MS)).await;
        let now = now_unix_ms();
        let (due, applied, position) = {
            let replica = lock(&duties.shared);
            let position = ReplicaPosition {
                applied_revision: replica.applied_revision,
                log_bytes_applied: replica.log_bytes_applied,
            };
            (replica.store.poll_timeout(), replica.applied_revision, position)
        };
        // One tick at a time: the next only once the last is applied here.
        if tick_pending_at.is_some_and(|at| applied >= at) {
            tick_pending_at = None;
        }
        if tick_pending_at.is_none() && due.is_some_and(|at| at <= now) {
            match tick(client, duties, fence, now).await {
                Ok(Some(revision)) => tick_pending_at = Some(revision),
                Ok(None) => return Ok(()),
                Err(_) => {}
            }
        }
        if duties.snapshot_pace.is_due(now, position, last_snapshot.as_ref()) {
            let (state, revision, log_bytes_applied) = {
                let replica = lock(&duties.shared);
                (replica.store.snapshot(), replica.applied_revision, replica.log_bytes_applied)
            };
            let limits = (duties.chunk_bytes_max, duties.timeout_ms, duties.counters.as_ref());
            let fenced = (fence, None);
            let written =
                snapshot::write(client, &duties.keys, fenced, (&state, revision), limits).await?;
            let Some(written) = written else { return Ok(()) };
            last_snapshot = Some(LastSnapshot {
                at_unix_ms: now,
                revision,
                bytes: written.bytes,
                log_bytes_applied,
            });
            next_compaction_unix_ms = now;
        }
        if let Some(last) = last_snapshot
            && now >= next_compaction_unix_ms
        {
            next_compaction_unix_ms = now.saturating_add(duties.snapshot_pace.interval_ms);
            compacted_floor = compact(client, duties, last.revision, compacted_floor).await?;
        }
    }
    Ok(())
}

/// The newest snapshot, whoever wrote it, as this leader's last, taken now: a new leader paces
/// its first from it instead of writing the whole state again at every change of leader (a
/// rolling restart changes it once per process). The log applied between that snapshot and now
/// is not counted, so the next may wait for up to about twice its share of log.
async fn adopt_newest_snapshot(
    client: &mut Client,
    duties: &Duties,
) -> Result<Option<LastSnapshot>, MetaEtcdError> {
    let Some(manifest) = snapshot::manifest(client, &duties.keys, duties.timeout_ms).await? else {
        return Ok(None);
    };
    let log_bytes_applied = lock(&duties.shared).log_bytes_applied;
    Ok(Some(LastSnapshot {
        at_unix_ms: now_unix_ms(),
        revision: manifest.revision,
        bytes: manifest.bytes,
        log_bytes_applied,
    }))
}

/// Appends a timer tick; its revision, or `None` when deposed.
async fn tick(
    client: &mut Client,
    duties: &Duties,
    fence: Fence<'_>,
    now: u64,
) -> Result<Option<i64>, MetaEtcdError> {
    let entry = LogEntry::Tick { now_unix_ms: now }.encode();
    duties.counters.count(entry.len());
    let txn = Txn::new().when(fence.compares()).and_then([TxnOp::put(
        duties.keys.log_tick(),
        entry,
        None,
    )]);
    let response = bounded(duties.timeout_ms, client.txn(txn)).await?;
    Ok(response.succeeded().then(|| response.header().map_or(0, |header| header.revision())))
}

/// Compacts below the lowest revision still needed, if that is above `compacted_floor` (the
/// floor of this leader's last compaction); the floor compacted to now.
async fn compact(
    client: &mut Client,
    duties: &Duties,
    snapshot_revision: i64,
    compacted_floor: i64,
) -> Result<i64, MetaEtcdError> {
    let options = GetOptions::new().with_prefix();
    let replicas =
        bounded(duties.timeout_ms, client.get(duties.keys.replicas(), Some(options))).await?;
    let lowest_replica = replicas
        .kvs()
        .iter()
        .filter_map(|kv| std::str::from_utf8(kv.value()).ok()?.parse::<i64>().ok())
        .min();
    let floor = lowest_replica.map_or(snapshot_revision, |lowest| lowest.min(snapshot_revision));
    if floor <= 1 || floor <= compacted_floor {
        return Ok(compacted_floor);
    }
    duties.counters.count(8);
    // A failed call is tried again at the next round. etcd refuses a compaction at or below an
    // earlier one (another leader's): nothing to do then, and the next round asks again, one
    // call per interval, until the floor passes it.
    let compaction = client.compact(floor, Some(CompactionOptions::new()));
    match bounded(duties.timeout_ms, compaction).await {
        Ok(_) => Ok(floor),
        Err(_) => Ok(compacted_floor),
    }
}

/// Reports this replica's applied revision every `period_ms` while it moves (bound to the
/// lease: a dead process stops holding compaction back).
pub(crate) async fn report_position(mut client: Client, duties: Duties, period_ms: u64) {
    let mut reported = -1_i64;
    while !duties.lost.is_lost() {
        let applied = lock(&duties.shared).applied_revision;
        if applied != reported {
            let options = PutOptions::new().with_lease(duties.lease);
            let put =
                client.put(duties.keys.replica(duties.lease), applied.to_string(), Some(options));
            duties.counters.count(24);
            if bounded(duties.timeout_ms, put).await.is_ok() {
                reported = applied;
            }
        }
        tokio::time::sleep(Duration::from_millis(period_ms)).await;
    }
}
