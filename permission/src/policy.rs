//! Whether authorization is on: NebulaGraph's `enable_authorize` flag, as a value the host passes in.

/// Authorization on/off (NebulaGraph's enable_authorize).
///
/// Off (the default, as in NebulaGraph) means every check passes except the few that NebulaGraph applies
/// anyway: granting or revoking GOD, killing another user's query, and the semantic checks, which do not
/// depend on rights (names within bounds, granting to a GOD user). This crate adds two more that hold in
/// both modes: dropping a GOD user (see docs/fixes.md, "DROP USER of a GOD user") and deliberate fix 7
/// (see [`may_see_queries_of`], and docs/fixes.md, "Fix 7").
///
/// [`may_see_queries_of`]: crate::may_see_queries_of
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Policy {
    /// NebulaGraph's `enable_authorize`: when false, permission checks pass except the few noted above.
    pub authorization_enabled: bool,
}

impl Policy {
    /// Authorization on: every rule of the reference applies.
    pub const ENFORCED: Policy = Policy { authorization_enabled: true };
    /// Authorization off: NebulaGraph's default.
    pub const OPEN: Policy = Policy { authorization_enabled: false };
}
