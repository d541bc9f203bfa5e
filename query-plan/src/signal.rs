//! The executor's handle: one atomic state word shared by the registry and the executing thread.
//!
//! NebulaGraph marks a killed plan and the executor notices at its next check of a shared map. Here
//! the whole lifecycle phase lives in one `AtomicU8`, so the executor's checkpoint is one load, and
//! the kill and the executor's finish are both compare-and-swaps on that same word: exactly one of
//! them wins, and both sides read the winner from the word. There is no second place where an
//! outcome could be recorded.

use crate::lifecycle::{KillCause, QueryEvent, QueryPhase, TransitionError};
use graphsession_base::sync::{Arc, AtomicU8, Ordering};

// Word layout: bits 0..3 the phase tag, bits 3..5 the kill cause (zero when there is none).
const TAG_RUNNING: u8 = 0;
const TAG_KILL_REQUESTED: u8 = 1;
const TAG_FINISHED: u8 = 2;
const TAG_FAILED: u8 = 3;
const TAG_KILLED: u8 = 4;
const TAG_MASK: u8 = 0b111;
const CAUSE_SHIFT: u32 = 3;
const CAUSE_MASK: u8 = 0b11;
/// `Running` encodes as zero, so the checkpoint's fast path is a compare with zero.
const WORD_RUNNING: u8 = TAG_RUNNING;

fn encode_cause(cause: KillCause) -> u8 {
    let bits = match cause {
        KillCause::User => 0,
        KillCause::SessionKilled => 1,
        KillCause::SessionExpired => 2,
        KillCause::Timeout => 3,
    };
    bits << CAUSE_SHIFT
}

fn decode_cause(word: u8) -> KillCause {
    match (word >> CAUSE_SHIFT) & CAUSE_MASK {
        0 => KillCause::User,
        1 => KillCause::SessionKilled,
        2 => KillCause::SessionExpired,
        _ => KillCause::Timeout,
    }
}

fn encode(phase: QueryPhase) -> u8 {
    match phase {
        QueryPhase::Running => WORD_RUNNING,
        QueryPhase::KillRequested(cause) => TAG_KILL_REQUESTED | encode_cause(cause),
        QueryPhase::Finished => TAG_FINISHED,
        QueryPhase::Failed => TAG_FAILED,
        QueryPhase::Killed(cause) => TAG_KILLED | encode_cause(cause),
    }
}

fn decode(word: u8) -> QueryPhase {
    match word & TAG_MASK {
        TAG_RUNNING => QueryPhase::Running,
        TAG_KILL_REQUESTED => QueryPhase::KillRequested(decode_cause(word)),
        TAG_FINISHED => QueryPhase::Finished,
        TAG_FAILED => QueryPhase::Failed,
        // Only `encode` writes the word, so tags 5..7 never occur; reading them as killed is the
        // safe side.
        _ => QueryPhase::Killed(decode_cause(word)),
    }
}

/// The executor's answer at a checkpoint or at its finish: the query was killed, and why.
///
/// Its message is NebulaGraph's: code -1005, "Execution had been killed". Converts into
/// [`QueryError::Killed`](crate::QueryError::Killed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("Execution had been killed")]
pub struct Killed {
    /// Why.
    pub cause: KillCause,
}

/// The handle a running executor holds: `Clone + Send + Sync`, an `Arc` of one atomic word.
///
/// The registry keeps a clone of the same `Arc`. Executors call [`check`](QueryHandle::check) at
/// their checkpoints (one atomic load) and [`finish`](QueryHandle::finish) when they have their
/// result.
///
/// # Kill racing finish
///
/// A kill (from the registry: KILL QUERY, a timeout, a closed session) and the executor's `finish`
/// are both a compare-and-swap on the word, so exactly one of them changes `Running`:
/// - finish wins: the word says `Finished`; `finish` returns `Ok`; the kill reports that the query
///   no longer exists (E_QUERY_NOT_FOUND), and the registry records `Finished`.
/// - kill wins: the word says `KillRequested(cause)`; every later `check` and the `finish` return
///   `Err(Killed { cause })` (`finish` moves the word to `Killed(cause)`); the kill reports
///   success, and the registry records the kill.
#[derive(Debug, Clone)]
pub struct QueryHandle {
    word: Arc<AtomicU8>,
}

impl QueryHandle {
    pub(crate) fn new() -> QueryHandle {
        QueryHandle { word: Arc::new(AtomicU8::new(WORD_RUNNING)) }
    }

    /// This handle as a new query's, `Running` again, if no clone of it is left (its executor
    /// has dropped its own): nobody can observe the reuse. `None` if a clone is still held.
    #[inline]
    pub(crate) fn into_fresh(mut self) -> Option<QueryHandle> {
        // `get_mut` proves there is no other `Arc` or `Weak`, and it synchronizes with their drops.
        let word = Arc::get_mut(&mut self.word)?;
        *word = AtomicU8::new(WORD_RUNNING);
        Some(self)
    }

    /// The checkpoint: `Ok(())` to continue, `Err(Killed)` to stop. One atomic load.
    ///
    /// Once it returns `Err`, it returns the same `Err` forever.
    #[inline]
    pub fn check(&self) -> Result<(), Killed> {
        // Acquire pairs with the kill's release; the word carries everything, so this is for form
        // only and costs nothing on x86 and one `ldar` on Arm.
        let word = self.word.load(Ordering::Acquire);
        if word == WORD_RUNNING {
            return Ok(());
        }
        Self::slow_check(word)
    }

    #[cold]
    fn slow_check(word: u8) -> Result<(), Killed> {
        match decode(word).kill_cause() {
            Some(cause) => Err(Killed { cause }),
            // Finished or failed: nothing stops an executor that already ended.
            None => Ok(()),
        }
    }

    /// The executor has its result. `Ok(())` if the finish won, `Err(Killed)` if a kill came first.
    ///
    /// Calling it again returns the same answer. The host must still tell the registry
    /// ([`QueryRegistry::finish`](crate::QueryRegistry::finish)), which records this same outcome.
    pub fn finish(&self) -> Result<(), Killed> {
        let phase = match self.apply(QueryEvent::Finish) {
            Ok(phase) => phase,
            Err(TransitionError::AlreadyEnded { phase, .. }) => phase,
            // Finish is never refused as a second kill; read the word as it is.
            Err(TransitionError::KillAlreadyRequested { .. }) => self.phase(),
        };
        match phase.kill_cause() {
            Some(cause) => Err(Killed { cause }),
            None => Ok(()),
        }
    }

    /// Whether this is the only clone and it is `Running`: what a kept handle must be.
    pub(crate) fn is_fresh(&self) -> bool {
        Arc::strong_count(&self.word) == 1 && self.phase() == QueryPhase::Running
    }

    /// The current phase (a snapshot: another thread may move it on).
    #[must_use]
    pub fn phase(&self) -> QueryPhase {
        decode(self.word.load(Ordering::Acquire))
    }

    /// Applies `event` with a compare-and-swap loop over the transition table; returns the new
    /// phase.
    ///
    /// On `Err` the word is unchanged and the error names the phase that refused.
    #[inline]
    pub(crate) fn apply(&self, event: QueryEvent) -> Result<QueryPhase, TransitionError> {
        let mut word = self.word.load(Ordering::Acquire);
        loop {
            let next = decode(word).apply(event)?;
            match self.word.compare_exchange_weak(
                word,
                encode(next),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(next),
                Err(current) => word = current,
            }
        }
    }

    /// Applies an ending event (`Finish` or `Fail`) and returns the terminal phase the word now
    /// holds: the event's own, or the one that was decided before it.
    #[inline]
    pub(crate) fn end(&self, event: QueryEvent) -> QueryPhase {
        match self.apply(event) {
            Ok(phase) => phase,
            Err(TransitionError::AlreadyEnded { phase, .. }) => phase,
            Err(TransitionError::KillAlreadyRequested { .. }) => self.phase(),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn every_phase_survives_the_word_encoding() {
        let causes = [
            KillCause::User,
            KillCause::SessionKilled,
            KillCause::SessionExpired,
            KillCause::Timeout,
        ];
        let mut phases = vec![QueryPhase::Running, QueryPhase::Finished, QueryPhase::Failed];
        for cause in causes {
            phases.push(QueryPhase::KillRequested(cause));
            phases.push(QueryPhase::Killed(cause));
        }
        for phase in phases {
            assert_eq!(decode(encode(phase)), phase);
        }
    }

    #[test]
    fn checkpoint_turns_killed_after_a_kill_and_finish_agrees() {
        let handle = QueryHandle::new();
        assert_eq!(handle.check(), Ok(()));
        handle.apply(QueryEvent::RequestKill(KillCause::Timeout)).unwrap();
        let killed = Err(Killed { cause: KillCause::Timeout });
        assert_eq!(handle.check(), killed);
        assert_eq!(handle.finish(), killed);
        assert_eq!(handle.finish(), killed);
        assert_eq!(handle.phase(), QueryPhase::Killed(KillCause::Timeout));
    }

    #[test]
    fn only_a_handle_without_clones_is_reused_and_it_runs_again() {
        let handle = QueryHandle::new();
        let executor = handle.clone();
        handle.apply(QueryEvent::RequestKill(KillCause::User)).unwrap();
        let handle = handle.into_fresh();
        assert!(handle.is_none(), "the executor's clone still reads the kill");
        assert_eq!(executor.check(), Err(Killed { cause: KillCause::User }));
        let fresh = executor.into_fresh().expect("the last clone");
        assert_eq!(fresh.phase(), QueryPhase::Running);
        assert_eq!(fresh.check(), Ok(()));
    }

    #[test]
    fn a_kill_after_finish_is_refused_and_the_executor_keeps_its_result() {
        let handle = QueryHandle::new();
        assert_eq!(handle.finish(), Ok(()));
        assert!(handle.apply(QueryEvent::RequestKill(KillCause::User)).is_err());
        assert_eq!(handle.check(), Ok(()));
        assert_eq!(handle.phase(), QueryPhase::Finished);
    }
}
