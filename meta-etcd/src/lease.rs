//! The process lease: one etcd lease per process, granted at start and kept alive every third
//! of its time to live. Its slots, its leader key and its replica position are bound to it, so
//! they vanish when the process dies or stays cut off from etcd longer than the lease.
//!
//! The process gives the lease up ([`Lost`]) when etcd answers that it is gone, or when no
//! renewal succeeded for twice its time to live since the last one that did (measured from when
//! that keep-alive was *sent*). Not at once after one TTL: etcd extends every lease when it
//! elects a new leader, so a process that could not renew during an election usually still
//! holds its lease, and giving up would stop a healthy graphd. Safety does not depend on this
//! deadline: once the lease has expired in etcd, the slot keys are gone and every append is
//! refused by its compare; the deadline only bounds how long a cut-off process keeps serving
//! clients that cannot be registered (`2 x lease_ttl_ms` plus one call timeout).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use etcd_client::Client;
use tokio::time::Instant;

use crate::call::{Counters, bounded};
use crate::error::MetaEtcdError;

/// The wait before a failed renewal is tried again, ms.
const RETRY_MS: u64 = 50;

/// Set once the lease is known lost; never cleared.
#[derive(Debug, Default)]
pub(crate) struct Lost(AtomicBool);

impl Lost {
    /// Whether the lease is lost.
    pub(crate) fn is_lost(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// A new lease of `ttl_ms` (rounded up to whole seconds, etcd's unit).
pub(crate) async fn grant(
    client: &mut Client,
    ttl_ms: u64,
    timeout_ms: u64,
) -> Result<i64, MetaEtcdError> {
    let ttl_secs = i64::try_from(ttl_ms.div_ceil(1_000)).unwrap_or(i64::MAX);
    let response = bounded(timeout_ms, client.lease_grant(ttl_secs, None)).await?;
    Ok(response.id())
}

/// Keeps `lease` alive until it is lost; then sets `lost` and returns.
pub(crate) async fn keep_alive(
    mut client: Client,
    lease: i64,
    ttl_ms: u64,
    timeout_ms: u64,
    (lost, counters): (Arc<Lost>, Arc<Counters>),
) {
    let period = Duration::from_millis((ttl_ms / 3).max(100));
    let grace = Duration::from_millis(ttl_ms);
    let mut deadline = Instant::now() + Duration::from_millis(ttl_ms) + grace;
    let mut keeper = None;
    loop {
        if Instant::now() >= deadline {
            break;
        }
        if keeper.is_none() {
            keeper = bounded(timeout_ms, client.lease_keep_alive(lease)).await.ok();
        }
        if let Some((sender, stream)) = keeper.as_mut() {
            let sent = Instant::now();
            counters.count(8);
            let renewed = async {
                sender.keep_alive().await?;
                stream.message().await
            };
            match tokio::time::timeout(Duration::from_millis(timeout_ms.min(ttl_ms)), renewed).await
            {
                Ok(Ok(Some(response))) if response.ttl() > 0 => {
                    let ttl = Duration::from_secs(u64::try_from(response.ttl()).unwrap_or(0));
                    deadline = sent + ttl + grace;
                }
                Ok(Ok(Some(_))) => break,
                _ => keeper = None,
            }
        }
        // A failed renewal (a member died, etcd is electing) is tried again soon: the balancer
        // may have sent it to the dead member, and the lease may have little time left.
        let wait = if keeper.is_some() { period } else { Duration::from_millis(RETRY_MS) };
        let wake = (Instant::now() + wait).min(deadline);
        tokio::time::sleep_until(wake).await;
    }
    lost.set();
}
