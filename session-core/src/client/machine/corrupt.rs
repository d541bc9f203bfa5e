//! Feature `corruption`: break exactly one invariant of a [`SessionMachine`] (meant for a
//! clone: the machine is `Clone`), so a test or a simulator can show that
//! [`SessionMachine::check_invariants`] reports it. Each [`ClientCorruption`] names the
//! property its checker must report, or `None` for a bound met exactly, which must pass.

use graphsession_id_gen::SessionId;

use super::SessionMachine;
use crate::client::state::State;

/// One way to break (or to meet exactly) one invariant of a [`SessionMachine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClientCorruption {
    /// A second session held beside the one the state holds (needs one held).
    SecondSessionHeld,
    /// A sign-out queued for a session the ledger does not know (needs room in the outbox).
    UnknownSignOutQueued,
    /// Phantom sessions added until the budget count is one past its maximum (not closed).
    BudgetOverLimit,
    /// Phantom sessions added until the budget count meets its maximum: sound (not closed).
    BudgetAtLimit,
    /// Consecutive failures two past `failures_max`.
    FailuresOverLimit,
    /// Consecutive failures one past `failures_max`, as far as they may go: sound.
    FailuresAtLimit,
    /// The Closed event reported the other way from the state.
    ClosedEventFlipped,
}

impl ClientCorruption {
    /// Every corruption, in a fixed order.
    pub const ALL: [ClientCorruption; 7] = [
        ClientCorruption::SecondSessionHeld,
        ClientCorruption::UnknownSignOutQueued,
        ClientCorruption::BudgetOverLimit,
        ClientCorruption::BudgetAtLimit,
        ClientCorruption::FailuresOverLimit,
        ClientCorruption::FailuresAtLimit,
        ClientCorruption::ClosedEventFlipped,
    ];

    /// The property [`SessionMachine::check_invariants`] must report once this corruption is
    /// applied; `None`: the machine stays sound and the check must pass.
    #[must_use]
    pub fn property(self) -> Option<&'static str> {
        match self {
            ClientCorruption::SecondSessionHeld => Some("at_most_one_session_held"),
            ClientCorruption::UnknownSignOutQueued => Some("outbox_entries_pending_in_ledger"),
            ClientCorruption::BudgetOverLimit => Some("budget_within_limit"),
            ClientCorruption::FailuresOverLimit => Some("failures_within_limit"),
            ClientCorruption::ClosedEventFlipped => Some("closed_event_matches_state"),
            ClientCorruption::BudgetAtLimit | ClientCorruption::FailuresAtLimit => None,
        }
    }
}

impl SessionMachine {
    /// Applies `corruption` to this machine (call it on a clone: there is no undo); whether it
    /// applied (`false`: nothing changed, the machine's state does not allow it).
    pub fn corrupt(&mut self, corruption: ClientCorruption) -> bool {
        if !self.corruption_applies(corruption) {
            return false;
        }
        let now = self.clock.newest();
        let closed = matches!(self.state, State::Closed);
        match corruption {
            ClientCorruption::SecondSessionHeld => {
                let Some(fresh) = self.unknown_session() else { return false };
                if self.ledger.held().is_none() {
                    return false;
                }
                self.ledger.insert_held(fresh, now);
            }
            ClientCorruption::UnknownSignOutQueued => {
                let Some(fresh) = self.unknown_session() else { return false };
                if self.outbox.push(fresh, now).is_err() {
                    return false;
                }
            }
            ClientCorruption::BudgetOverLimit | ClientCorruption::BudgetAtLimit => {
                let over = u32::from(corruption == ClientCorruption::BudgetOverLimit);
                let target = self.budget.max().saturating_add(over);
                let Some(missing) = target.checked_sub(self.ledger.budget_count()) else {
                    return false;
                };
                if closed || missing == 0 {
                    return false;
                }
                for _ in 0..missing {
                    self.ledger.add_phantom(now);
                }
            }
            ClientCorruption::FailuresOverLimit => {
                self.failures = self.config.failures_max.saturating_add(2);
            }
            ClientCorruption::FailuresAtLimit => {
                self.failures = self.config.failures_max.saturating_add(1);
            }
            ClientCorruption::ClosedEventFlipped => self.closed_reported = !self.closed_reported,
        }
        true
    }

    /// Whether [`corrupt`](Self::corrupt) would apply `corruption` to this machine, without
    /// changing it: a caller trying corruptions on many machines clones only those it applies
    /// to. (`corrupt` asks this first, so it never applies one this refuses.)
    #[must_use]
    pub fn corruption_applies(&self, corruption: ClientCorruption) -> bool {
        let closed = matches!(self.state, State::Closed);
        match corruption {
            ClientCorruption::SecondSessionHeld => {
                self.unknown_session().is_some() && self.ledger.held().is_some()
            }
            ClientCorruption::UnknownSignOutQueued => self.unknown_session().is_some_and(|fresh| {
                self.outbox.contains(fresh) || self.outbox.len() < self.outbox.max()
            }),
            ClientCorruption::BudgetOverLimit | ClientCorruption::BudgetAtLimit => {
                let over = u32::from(corruption == ClientCorruption::BudgetOverLimit);
                let target = self.budget.max().saturating_add(over);
                let missing = target.checked_sub(self.ledger.budget_count());
                !closed && missing.is_some_and(|missing| missing != 0)
            }
            ClientCorruption::FailuresOverLimit
            | ClientCorruption::FailuresAtLimit
            | ClientCorruption::ClosedEventFlipped => true,
        }
    }

    /// A session id the ledger does not hold: one past the largest it holds.
    fn unknown_session(&self) -> Option<SessionId> {
        let top = self.ledger.iter().map(|(session, _)| session.get()).max().unwrap_or(0);
        SessionId::new(top.checked_add(1)?)
    }
}

#[cfg(test)]
mod tests {
    use super::ClientCorruption;
    use crate::client::config::ClientConfig;
    use crate::client::machine::SessionMachine;

    /// The invariant tests' ready machine (session 7 on its first socket) for alice.
    fn ready() -> SessionMachine {
        let config = ClientConfig { user: "alice".into(), ..ClientConfig::default() };
        super::super::invariants::tests::ready(config)
    }

    #[test]
    fn each_corruption_is_reported_with_its_property_and_each_edge_passes() {
        let machine = ready();
        for corruption in ClientCorruption::ALL {
            let mut copy = machine.clone();
            assert!(copy.corrupt(corruption), "{corruption:?} applies to a ready machine");
            let property = copy.check_invariants().err().map(|violation| violation.property);
            assert_eq!(property, corruption.property(), "{corruption:?}");
        }
        assert_eq!(machine.check_invariants(), Ok(()), "the original is untouched");
    }

    #[test]
    fn applies_says_what_corrupt_does() {
        let mut closed = SessionMachine::new(ClientConfig::default()).expect("valid");
        closed.close(0);
        let unopened = SessionMachine::new(ClientConfig::default()).expect("valid");
        for machine in [ready(), closed, unopened] {
            for corruption in ClientCorruption::ALL {
                let applied = machine.clone().corrupt(corruption);
                assert_eq!(machine.corruption_applies(corruption), applied, "{corruption:?}");
            }
        }
    }

    #[test]
    fn a_closed_machine_takes_no_phantom_and_an_unopened_one_holds_no_session() {
        let mut closed = SessionMachine::new(ClientConfig::default()).expect("valid");
        closed.close(0);
        assert!(!closed.clone().corrupt(ClientCorruption::BudgetOverLimit));
        assert!(!closed.clone().corrupt(ClientCorruption::SecondSessionHeld));
        let mut copy = closed.clone();
        assert!(copy.corrupt(ClientCorruption::ClosedEventFlipped));
        let property = copy.check_invariants().err().map(|violation| violation.property);
        assert_eq!(property, Some("closed_event_matches_state"));
    }
}
