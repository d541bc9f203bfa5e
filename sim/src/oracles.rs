//! Oracles that do not depend on how a run was produced: the cluster world calls them at every
//! step of a simulated run, and [`crate::recorded`] calls the same code over the events a real
//! run recorded (graphd processes on etcd). Each returns the violation's message, opening with
//! its property tag (see [`crate::property`]).

use std::collections::BTreeSet;

/// Every session id and every plan id is issued once in a run, over every node, process,
/// restart and hand-over (`[duplicate_id]`).
#[derive(Debug, Default, Clone)]
pub struct UniqueIds {
    sessions: BTreeSet<i64>,
    plans: BTreeSet<u64>,
}

impl UniqueIds {
    /// No id seen yet.
    #[must_use]
    pub fn new() -> UniqueIds {
        UniqueIds::default()
    }

    /// `by` (a node, named for the message, and written only then) issued session id `session`.
    ///
    /// # Errors
    /// `[duplicate_id]` when it was issued before.
    pub fn session(&mut self, by: impl std::fmt::Display, session: i64) -> Result<(), String> {
        if !self.sessions.insert(session) {
            return Err(format!(
                "[duplicate_id] {by} issued session id {session} twice; expected every id unique"
            ));
        }
        Ok(())
    }

    /// `by` issued plan id `plan`.
    ///
    /// # Errors
    /// `[duplicate_id]` when it was issued before.
    pub fn plan(&mut self, by: impl std::fmt::Display, plan: u64) -> Result<(), String> {
        if !self.plans.insert(plan) {
            return Err(format!(
                "[duplicate_id] {by} issued plan id {plan} twice; expected every id unique"
            ));
        }
        Ok(())
    }

    /// Whether session id `session` was issued.
    #[must_use]
    pub fn has_session(&self, session: i64) -> bool {
        self.sessions.contains(&session)
    }

    /// Session ids issued.
    #[must_use]
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Plan ids issued.
    #[must_use]
    pub fn plan_count(&self) -> usize {
        self.plans.len()
    }
}

/// The kill oracle: something meta ended at `ended_ms` (a session, or the session of a running
/// query) is still alive on a node at `now_ms`; it may be for at most `bound_ms` (the staleness
/// bound, `bound_why` says how it is made).
///
/// # Errors
/// A message naming `what` once `now_ms` is past `ended_ms + bound_ms` (untagged, as the
/// simulator's kill oracle always was: `unclassified`).
pub fn kill_within_bound(
    what: &str,
    ended_ms: u64,
    now_ms: u64,
    bound_ms: u64,
    bound_why: &str,
) -> Result<(), String> {
    if now_ms > ended_ms.saturating_add(bound_ms) {
        return Err(format!(
            "kill oracle: {what} still runs {} ms after meta ended its session; \
             expected killed within {bound_ms} ms ({bound_why})",
            now_ms - ended_ms
        ));
    }
    Ok(())
}

/// What a party is told: a killed query is never a success. `who` was told plan `plan`
/// succeeded though it was killed (`why` says how the oracle knows).
#[must_use]
pub fn killed_query_succeeded(who: &str, plan: u64, why: &str) -> String {
    format!("[killed_query_succeeded] {who} was told plan {plan} succeeded; {why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_issued_twice_or_not_positive_is_caught() {
        let mut ids = UniqueIds::new();
        assert_eq!(ids.session("node 0", 7), Ok(()));
        assert!(ids.session("node 1", 7).unwrap_err().starts_with("[duplicate_id]"));
        assert_eq!(ids.plan("node 0", 7), Ok(()));
        assert!(ids.plan("node 0", 7).unwrap_err().starts_with("[duplicate_id]"));
        assert!(ids.has_session(7) && !ids.has_session(8));
        assert_eq!((ids.session_count(), ids.plan_count()), (1, 1));
    }

    #[test]
    fn a_killed_query_told_a_success_is_tagged() {
        let message = killed_query_succeeded("client 1", 7, "it was killed");
        assert_eq!(crate::property::property_of(&message), "killed_query_succeeded");
    }

    #[test]
    fn a_kill_is_late_only_past_the_bound() {
        assert_eq!(kill_within_bound("q", 100, 150, 50, "b"), Ok(()));
        assert!(kill_within_bound("q", 100, 151, 50, "b").unwrap_err().starts_with("kill oracle"));
    }
}
