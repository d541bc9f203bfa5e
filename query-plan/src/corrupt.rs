//! Feature `corruption`: break exactly one invariant of a live [`QueryRegistry`], so a test or
//! a simulator can show that [`QueryRegistry::check_invariants`] reports it (a checker made
//! weaker is invisible to a caller that only ever builds sound registries). Each
//! [`RegistryCorruption`] names the property its checker must report, or `None` for a bound
//! met exactly, which must pass. [`QueryRegistry::corrupt`] returns what
//! [`QueryRegistry::undo_corruption`] needs to put the registry back exactly as it was; the corruptions
//! change only limits and counters, never a session or a query.

use crate::config::Config;
use crate::metrics::QueryCounters;
use crate::registry::QueryRegistry;

/// One way to break (or to meet exactly) one invariant of a [`QueryRegistry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RegistryCorruption {
    /// The query count one above the queries held.
    QueryCountOff,
    /// `sessions_max` one below the sessions open (needs one open).
    SessionsOverLimit,
    /// `sessions_max` equal to the sessions open: sound.
    SessionsAtLimit,
    /// `statement_bytes_max` one byte below the longest running statement (needs a query with
    /// a non-empty statement).
    StatementOverLimit,
    /// `statement_bytes_max` equal to the longest running statement: sound.
    StatementAtLimit,
    /// One more query counted started than ended or running.
    CountersOff,
}

impl RegistryCorruption {
    /// Every corruption, in a fixed order.
    pub const ALL: [RegistryCorruption; 6] = [
        RegistryCorruption::QueryCountOff,
        RegistryCorruption::SessionsOverLimit,
        RegistryCorruption::SessionsAtLimit,
        RegistryCorruption::StatementOverLimit,
        RegistryCorruption::StatementAtLimit,
        RegistryCorruption::CountersOff,
    ];

    /// The property [`QueryRegistry::check_invariants`] must report once this corruption is
    /// applied; `None`: the registry stays sound (a bound met exactly) and the check must pass.
    #[must_use]
    pub fn property(self) -> Option<&'static str> {
        match self {
            RegistryCorruption::QueryCountOff => Some("query_count_matches_queries"),
            RegistryCorruption::SessionsOverLimit => Some("sessions_within_limit"),
            RegistryCorruption::StatementOverLimit => Some("statement_within_limit"),
            RegistryCorruption::CountersOff => Some("counters_add_up"),
            RegistryCorruption::SessionsAtLimit | RegistryCorruption::StatementAtLimit => None,
        }
    }
}

/// What [`QueryRegistry::undo_corruption`] puts back: the fields a corruption may change.
#[derive(Debug)]
#[must_use = "a corrupted registry stays corrupted until restored"]
pub struct RegistryRestore {
    config: Config,
    query_count: u32,
    counters: QueryCounters,
}

impl QueryRegistry {
    /// Applies `corruption` to this registry; `None` (and nothing changed) when it does not
    /// apply to the registry's state (a limit below an empty registry, a statement where no
    /// query runs). Call [`QueryRegistry::undo_corruption`] with the result before any other call.
    pub fn corrupt(&mut self, corruption: RegistryCorruption) -> Option<RegistryRestore> {
        let restore = RegistryRestore {
            config: self.config,
            query_count: self.query_count,
            counters: self.counters,
        };
        let longest = self.queries.values().map(|entry| entry.statement.len()).max();
        let longest = longest.and_then(|bytes| u32::try_from(bytes).ok());
        match corruption {
            RegistryCorruption::QueryCountOff => {
                self.query_count = self.query_count.checked_add(1)?;
            }
            RegistryCorruption::SessionsOverLimit => {
                self.config.sessions_max = self.session_count().checked_sub(1)?;
            }
            RegistryCorruption::SessionsAtLimit => {
                self.config.sessions_max = self.session_count();
            }
            RegistryCorruption::StatementOverLimit => {
                self.config.statement_bytes_max = longest?.checked_sub(1)?;
            }
            RegistryCorruption::StatementAtLimit => {
                self.config.statement_bytes_max = longest?;
            }
            RegistryCorruption::CountersOff => {
                self.counters.started = self.counters.started.checked_add(1)?;
            }
        }
        Some(restore)
    }

    /// Undoes the corruption `restore` came from: the registry is exactly as it was before.
    pub fn undo_corruption(&mut self, restore: RegistryRestore) {
        self.config = restore.config;
        self.query_count = restore.query_count;
        self.counters = restore.counters;
    }
}

#[cfg(test)]
mod tests {
    use graphsession_id_gen::{PlanId, SessionId};

    use super::RegistryCorruption;
    use crate::{Config, QueryRegistry, Registration};

    fn registry(with_query: bool) -> QueryRegistry {
        let mut registry = QueryRegistry::new(Config::default());
        let session = SessionId::new(7).expect("positive");
        registry.open_session(session, "alice", "graphd:9669").expect("open");
        if with_query {
            let registration = Registration {
                session,
                plan: PlanId::from_u64(1),
                statement: "GO FROM 1 OVER e",
                deadline_unix_us: None,
            };
            registry.register(1_000, registration).expect("register");
        }
        registry.check_invariants().expect("sound");
        registry
    }

    #[test]
    fn each_corruption_is_reported_with_its_property_and_restore_makes_the_registry_sound() {
        for corruption in RegistryCorruption::ALL {
            let mut registry = registry(true);
            let restore = registry.corrupt(corruption).expect("applies with a query running");
            let property = registry.check_invariants().err().map(|violation| violation.property);
            assert_eq!(property, corruption.property(), "{corruption:?}");
            registry.undo_corruption(restore);
            assert_eq!(registry.check_invariants(), Ok(()), "{corruption:?} restored");
        }
    }

    #[test]
    fn a_statement_corruption_does_not_apply_where_no_query_runs() {
        let mut registry = registry(false);
        assert!(registry.corrupt(RegistryCorruption::StatementOverLimit).is_none());
        assert!(registry.corrupt(RegistryCorruption::StatementAtLimit).is_none());
        assert_eq!(registry.check_invariants(), Ok(()));
        let mut empty = QueryRegistry::new(Config::default());
        assert!(empty.corrupt(RegistryCorruption::SessionsOverLimit).is_none());
    }
}
