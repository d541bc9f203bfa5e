//! A broken invariant, typed: which machine, which property, what was found. Every
//! `check_invariants()` of the workspace returns it, so a test, the simulator or a fuzzer can
//! match on the property instead of parsing a message, and every report reads the same way:
//! `machine: property: detail`.

/// A broken invariant of a machine, found by its `check_invariants()` (or by a restore that
/// checks a persisted state the same way). It is a bug in the machine, or corrupted input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{machine}: {property}: {detail}")]
pub struct Violation {
    /// The machine whose invariant broke: its type's name (`SessionManager`, `MetaStore`).
    pub machine: &'static str,
    /// The property that broke: a short, stable snake_case name
    /// (`user_ip_counts_match_sessions`), for tests and tools to match on.
    pub property: &'static str,
    /// What was found, with the values involved.
    pub detail: String,
}

impl Violation {
    /// `machine` broke `property`; `detail` says how.
    pub fn new(
        machine: &'static str,
        property: &'static str,
        detail: impl Into<String>,
    ) -> Violation {
        Violation { machine, property, detail: detail.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::Violation;

    #[test]
    fn a_violation_reads_machine_property_detail() {
        let violation = Violation::new("MetaStore", "live_count_matches_sessions", "3 live, 2");
        assert_eq!(violation.to_string(), "MetaStore: live_count_matches_sessions: 3 live, 2");
    }
}
