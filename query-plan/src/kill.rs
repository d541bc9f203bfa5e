//! KILL QUERY, with deliberate fix 6 (see docs/fixes.md, "Fix 6").
//!
//! NebulaGraph checks permission before existence on one path and after it on the other, so a
//! caller can probe which plans another user runs. Here every path checks, in order: the session
//! exists, the caller may act on that session's user (the permission crate's
//! [`check_kill_query`](graphsession_permission::check_kill_query), -1008), the plan runs in it. A
//! refused caller learns nothing about another user's plans.

use crate::error::QueryError;
use crate::lifecycle::Kill;
use crate::registry::{KillOutcome, QueryRegistry};
use graphsession_id_gen::{PlanId, SessionId};
use graphsession_permission::{Caller, Policy, check_kill_query};

/// Which query KILL QUERY names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KillTarget {
    /// `KILL QUERY (plan=p)`: a plan of the caller's current session.
    CurrentSession {
        /// The plan.
        plan: PlanId,
    },
    /// `KILL QUERY (session=s, plan=p)`: a plan of any session on this node.
    Session {
        /// The session.
        session: SessionId,
        /// The plan.
        plan: PlanId,
    },
}

impl QueryRegistry {
    /// KILL QUERY by `caller`, whose session is `current_session`. On success the query's outcome
    /// is killed ([`Kill::ByUser`] with the caller's user) and its executor stops at its next
    /// checkpoint; a query already being killed keeps its first cause
    /// ([`KillOutcome::AlreadyRequested`]).
    ///
    /// Errors, in the order checked: [`QueryError::SessionNotFound`] (-2069),
    /// [`QueryError::Permission`] (-1008), [`QueryError::QueryNotFoundInCurrentSession`] or
    /// [`QueryError::QueryNotFoundInSession`] (-2073, also for a query whose executor finished
    /// first). Nothing changes on error.
    pub fn kill_query(
        &mut self,
        caller: &Caller,
        policy: Policy,
        current_session: SessionId,
        target: KillTarget,
    ) -> Result<KillOutcome, QueryError> {
        let (session, plan) = match target {
            KillTarget::CurrentSession { plan } => (current_session, plan),
            KillTarget::Session { session, plan } => (session, plan),
        };
        let Some(owner_user) = self.session_user(session) else {
            return Err(QueryError::SessionNotFound { session });
        };
        check_kill_query(caller, policy, owner_user)?;
        let kill = Kill::ByUser { user: caller.user().to_owned() };
        self.request_kill(session, plan, kill).map_err(|error| match (error, target) {
            (QueryError::QueryNotFoundInSession { .. }, KillTarget::CurrentSession { plan }) => {
                QueryError::QueryNotFoundInCurrentSession { plan }
            }
            (error, _) => error,
        })
    }
}
