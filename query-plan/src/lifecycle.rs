//! The query lifecycle: its phases, the events that move it, and the one transition table.
//!
//! Every query starts [`QueryPhase::Running`] and ends in exactly one terminal phase: `Finished`,
//! `Failed` or `Killed`. A kill is two steps, because the executor runs on another thread: the
//! registry requests it (`KillRequested`, NebulaGraph's KILLING), which already decides the
//! outcome, and the executor stops at its next checkpoint. Terminal phases are absorbing.
//! [`QueryPhase::apply`] is the only place a phase changes; the atomic word in
//! [`QueryHandle`](crate::QueryHandle) runs every compare-and-swap through it.

/// Why a query was killed, small enough to live in the executor's atomic state word.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum KillCause {
    /// KILL QUERY by a user (the owner's user or GOD).
    User,
    /// The session was killed (KILL SESSION, sign-out, or removed elsewhere in the cluster).
    SessionKilled,
    /// The session was reclaimed after its idle timeout.
    SessionExpired,
    /// The query's deadline passed.
    Timeout,
}

/// A kill with the facts behind it: who asked, or which deadline passed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Kill {
    /// KILL QUERY issued by `user`.
    ByUser {
        /// The user that issued KILL QUERY.
        user: String,
    },
    /// The query's session was killed.
    SessionKilled,
    /// The query's session expired.
    SessionExpired,
    /// The query's deadline passed.
    Timeout {
        /// The deadline that passed, microseconds since the Unix epoch.
        deadline_unix_us: u64,
    },
}

impl Kill {
    /// The cause, without its facts.
    #[must_use]
    pub fn cause(&self) -> KillCause {
        match self {
            Kill::ByUser { .. } => KillCause::User,
            Kill::SessionKilled => KillCause::SessionKilled,
            Kill::SessionExpired => KillCause::SessionExpired,
            Kill::Timeout { .. } => KillCause::Timeout,
        }
    }
}

/// Where a query is in its lifecycle. Each variant says what the query waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum QueryPhase {
    /// Executing; waits for the executor to finish or fail, or for a kill.
    Running,
    /// A kill won (NebulaGraph's KILLING): the outcome is decided, the executor has not stopped
    /// yet. Waits for the executor to end, which makes it `Killed`.
    KillRequested(KillCause),
    /// Terminal: the executor finished before any kill.
    Finished,
    /// Terminal: the executor failed before any kill.
    Failed,
    /// Terminal: killed, and the executor has ended.
    Killed(KillCause),
}

impl QueryPhase {
    /// Whether the phase is terminal (absorbing).
    #[must_use]
    pub fn is_terminal(self) -> bool {
        match self {
            QueryPhase::Running | QueryPhase::KillRequested(_) => false,
            QueryPhase::Finished | QueryPhase::Failed | QueryPhase::Killed(_) => true,
        }
    }

    /// The kill cause, if a kill decided (or will decide) the outcome.
    #[must_use]
    pub fn kill_cause(self) -> Option<KillCause> {
        match self {
            QueryPhase::KillRequested(cause) | QueryPhase::Killed(cause) => Some(cause),
            QueryPhase::Running | QueryPhase::Finished | QueryPhase::Failed => None,
        }
    }

    /// The transition table: the phase after `event`, or why `event` is illegal here.
    ///
    /// An executor that ends after a kill was requested does not get its own outcome: the kill came
    /// first, so `Finish` or `Fail` in `KillRequested(c)` yields `Killed(c)`.
    pub fn apply(self, event: QueryEvent) -> Result<QueryPhase, TransitionError> {
        match (self, event) {
            (QueryPhase::Running, QueryEvent::Finish) => Ok(QueryPhase::Finished),
            (QueryPhase::Running, QueryEvent::Fail) => Ok(QueryPhase::Failed),
            (QueryPhase::Running, QueryEvent::RequestKill(cause)) => {
                Ok(QueryPhase::KillRequested(cause))
            }
            (QueryPhase::KillRequested(cause), QueryEvent::Finish | QueryEvent::Fail) => {
                Ok(QueryPhase::Killed(cause))
            }
            (QueryPhase::KillRequested(cause), QueryEvent::RequestKill(_)) => {
                Err(TransitionError::KillAlreadyRequested { cause })
            }
            (QueryPhase::Finished | QueryPhase::Failed | QueryPhase::Killed(_), event) => {
                Err(TransitionError::AlreadyEnded { phase: self, event })
            }
        }
    }
}

/// What can happen to a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum QueryEvent {
    /// The executor produced its result.
    Finish,
    /// The executor stopped with an error.
    Fail,
    /// Someone asks the query to stop.
    RequestKill(KillCause),
}

/// An illegal transition. The phase is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The query already reached a terminal phase; terminal phases are absorbing.
    #[error("query already ended as {phase:?}; {event:?} is ignored")]
    AlreadyEnded {
        /// The terminal phase.
        phase: QueryPhase,
        /// The refused event.
        event: QueryEvent,
    },
    /// A kill was already requested; the first cause stays.
    #[error("a kill ({cause:?}) was already requested")]
    KillAlreadyRequested {
        /// The cause of the first kill.
        cause: KillCause,
    },
}

/// How a query ended, as the registry recorded it when it removed the query.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum QueryOutcome {
    /// The executor finished first.
    Finished,
    /// The executor failed first.
    Failed {
        /// The host's reason.
        reason: String,
    },
    /// A kill came first.
    Killed(Kill),
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHASES: [QueryPhase; 6] = [
        QueryPhase::Running,
        QueryPhase::KillRequested(KillCause::User),
        QueryPhase::KillRequested(KillCause::Timeout),
        QueryPhase::Finished,
        QueryPhase::Failed,
        QueryPhase::Killed(KillCause::SessionExpired),
    ];
    const EVENTS: [QueryEvent; 4] = [
        QueryEvent::Finish,
        QueryEvent::Fail,
        QueryEvent::RequestKill(KillCause::User),
        QueryEvent::RequestKill(KillCause::SessionKilled),
    ];

    #[test]
    fn exactly_finished_failed_and_killed_are_terminal() {
        let terminal: Vec<bool> = PHASES.iter().map(|phase| phase.is_terminal()).collect();
        assert_eq!(terminal, [false, false, false, true, true, true]);
        assert!(QueryPhase::Killed(KillCause::Timeout).is_terminal());
    }

    #[test]
    fn terminal_phases_absorb_every_event() {
        for phase in PHASES.into_iter().filter(|p| p.is_terminal()) {
            for event in EVENTS {
                assert_eq!(phase.apply(event), Err(TransitionError::AlreadyEnded { phase, event }));
            }
        }
    }

    #[test]
    fn every_path_of_three_events_ends_in_at_most_one_terminal_phase_and_keeps_it() {
        for a in EVENTS {
            for b in EVENTS {
                for c in EVENTS {
                    let mut phase = QueryPhase::Running;
                    let mut terminal = None;
                    for event in [a, b, c] {
                        phase = phase.apply(event).unwrap_or(phase);
                        if phase.is_terminal() {
                            assert!(
                                terminal.is_none_or(|t| t == phase),
                                "{terminal:?} -> {phase:?}"
                            );
                            terminal = Some(phase);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_requested_kill_decides_the_outcome_and_keeps_its_first_cause() {
        let killing = QueryPhase::KillRequested(KillCause::Timeout);
        assert_eq!(
            killing.apply(QueryEvent::RequestKill(KillCause::User)),
            Err(TransitionError::KillAlreadyRequested { cause: KillCause::Timeout })
        );
        assert_eq!(killing.apply(QueryEvent::Finish), Ok(QueryPhase::Killed(KillCause::Timeout)));
        assert_eq!(killing.apply(QueryEvent::Fail), Ok(QueryPhase::Killed(KillCause::Timeout)));
    }
}
