//! Every etcd call goes through [`bounded`]: it fails after `call_timeout_ms` instead of
//! hanging on an unreachable member, and counts the requests and bytes sent ([`Counters`]).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::MetaEtcdError;

/// What this process sent to etcd, for the figures (requests and bytes per session).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    bytes: AtomicU64,
}

impl Counters {
    /// One request of `bytes` payload bytes (keys and values) sent.
    pub(crate) fn count(&self, bytes: usize) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(u64::try_from(bytes).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Requests sent so far.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Payload bytes sent so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// `call`, failed with [`MetaEtcdError::Timeout`] if it takes longer than `timeout_ms`.
pub(crate) async fn bounded<T, F>(timeout_ms: u64, call: F) -> Result<T, MetaEtcdError>
where
    F: Future<Output = Result<T, etcd_client::Error>>,
{
    match tokio::time::timeout(Duration::from_millis(timeout_ms), call).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(MetaEtcdError::Timeout { timeout_ms }),
    }
}
