//! Where a session registry takes its ids from: [`SessionIdGenerator`] in production, another
//! source only where a test must show what a weaker one breaks (the simulator's naive
//! generator, which the cluster world must catch issuing an id twice).

use core::fmt::Debug;

use crate::error::IdError;
use crate::session_generator::SessionIdGenerator;
use crate::session_id::SessionId;

/// A source of session ids a registry can share among threads.
pub trait SessionIdSource: Send + Sync + Debug {
    /// Issues a new id at `now_unix_ms` (the host's wall clock, Unix milliseconds).
    fn next_session_id(&self, now_unix_ms: u64) -> Result<SessionId, IdError>;
}

impl SessionIdSource for SessionIdGenerator {
    #[inline]
    fn next_session_id(&self, now_unix_ms: u64) -> Result<SessionId, IdError> {
        self.next(now_unix_ms)
    }
}
