//! The user's requests waiting for a ready session, bounded, each with a deadline.
//!
//! Requests wait here while the machine connects, authenticates, selects the space or reconnects, so
//! nothing is ever sent without a live session. A request whose reply was lost goes back to the front
//! only if it certainly did not run or is idempotent, and only `execute_attempts_max` times in all.

use crate::client::action::{Idempotency, RequestId};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestKind {
    /// Run a statement.
    Execute {
        /// The statement.
        statement: String,
        /// Whether a lost reply may be answered by re-sending it.
        idempotency: Idempotency,
    },
    /// Probe the session with its real id.
    Ping,
    /// Select a space (and remember it for resumes).
    UseSpace {
        /// The space.
        space: String,
    },
}

/// A request accepted by the machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedRequest {
    /// Its id.
    pub id: RequestId,
    /// What it asks for.
    pub kind: RequestKind,
    /// How many times it was sent.
    pub attempts: u32,
    /// When it fails with `QueueTimedOut` if still queued, host milliseconds.
    pub deadline_ms: u64,
}

/// The queue. Its bound is checked by the machine, counting the request in flight.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RequestQueue {
    items: VecDeque<QueuedRequest>,
}

impl RequestQueue {
    pub(crate) fn len(&self) -> u32 {
        u32::try_from(self.items.len()).unwrap_or(u32::MAX)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn push_back(&mut self, request: QueuedRequest) {
        self.items.push_back(request);
    }

    /// A request that certainly did not run goes back first, to keep the user's order.
    pub(crate) fn push_front(&mut self, request: QueuedRequest) {
        self.items.push_front(request);
    }

    pub(crate) fn pop_front(&mut self) -> Option<QueuedRequest> {
        self.items.pop_front()
    }

    /// Removes and returns the requests whose deadline passed at `now_ms`.
    pub(crate) fn take_expired(&mut self, now_ms: u64) -> Vec<QueuedRequest> {
        let (expired, kept): (Vec<_>, Vec<_>) =
            self.items.drain(..).partition(|request| request.deadline_ms <= now_ms);
        self.items = kept.into();
        expired
    }

    pub(crate) fn drain(&mut self) -> Vec<QueuedRequest> {
        self.items.drain(..).collect()
    }

    pub(crate) fn next_deadline_ms(&self) -> Option<u64> {
        self.items.iter().map(|request| request.deadline_ms).min()
    }
}
