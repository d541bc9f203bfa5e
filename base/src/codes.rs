//! NebulaGraph's error codes: every `ErrorCode` value this workspace returns or reads, named as
//! in NebulaGraph's `ErrorCode` enum, in one list. Each crate's `error_code` module re-exports
//! the ones it returns and says when.
//!
//! The "when" below is NebulaGraph's; where a crate of this workspace returns a code for a case
//! NebulaGraph does not have (its limits, say), that crate's docs say so.

/// `E_ROLE_NOT_FOUND`: revoke from a user with no role in that space ("Role not existed!").
pub const E_ROLE_NOT_FOUND: i32 = -11;

/// `E_USER_NOT_FOUND`: an unknown user on create-session, grant, revoke or drop user ("User not
/// existed!").
pub const E_USER_NOT_FOUND: i32 = -18;

/// `E_BAD_USERNAME_PASSWORD`: login failure.
pub const E_BAD_USERNAME_PASSWORD: i32 = -1001;

/// `E_SESSION_INVALID`: session creation refused (the per-(user, ip) limit included), session id
/// 0, or an unknown or removed session on execute.
pub const E_SESSION_INVALID: i32 = -1002;

/// `E_SESSION_TIMEOUT`: defined by NebulaGraph, never sent by its server.
pub const E_SESSION_TIMEOUT: i32 = -1003;

/// `E_SYNTAX_ERROR`: a statement that does not parse.
pub const E_SYNTAX_ERROR: i32 = -1004;

/// `E_EXECUTION_ERROR`: a statement that could not run, a killed query among them ("Execution
/// had been killed"). Not a session error.
pub const E_EXECUTION_ERROR: i32 = -1005;

/// `E_BAD_PERMISSION`: every permission error (messages prefixed "PermissionError: ").
pub const E_BAD_PERMISSION: i32 = -1008;

/// `E_SEMANTIC_ERROR`: a statement that can never succeed (messages prefixed "SemanticError: ").
pub const E_SEMANTIC_ERROR: i32 = -1009;

/// `E_TOO_MANY_CONNECTIONS`: login when the node already holds its maximum of sessions.
pub const E_TOO_MANY_CONNECTIONS: i32 = -1010;

/// `E_EXISTED`: creating something that exists (CREATE USER of an existing user).
pub const E_EXISTED: i32 = -2002;

/// `E_NOT_DROP`: dropping something that may not be dropped (a GOD user).
pub const E_NOT_DROP: i32 = -2005;

/// `E_IMPROPER_ROLE`: revoke of a role other than the one the user holds ("Improper role!").
pub const E_IMPROPER_ROLE: i32 = -2030;

/// `E_SESSION_NOT_FOUND`: meta has no such session ("Session not existed!").
pub const E_SESSION_NOT_FOUND: i32 = -2069;

/// `E_QUERY_NOT_FOUND`: a kill of a plan that is not running (NebulaGraph shows "Unknown error
/// -2073!").
pub const E_QUERY_NOT_FOUND: i32 = -2073;

/// `E_PLAN_IS_KILLED`: storage refuses work for a killed (session, plan).
pub const E_PLAN_IS_KILLED: i32 = -3060;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_nebulagraphs_value_and_no_two_share_one() {
        let codes = [
            (E_ROLE_NOT_FOUND, -11),
            (E_USER_NOT_FOUND, -18),
            (E_BAD_USERNAME_PASSWORD, -1001),
            (E_SESSION_INVALID, -1002),
            (E_SESSION_TIMEOUT, -1003),
            (E_SYNTAX_ERROR, -1004),
            (E_EXECUTION_ERROR, -1005),
            (E_BAD_PERMISSION, -1008),
            (E_SEMANTIC_ERROR, -1009),
            (E_TOO_MANY_CONNECTIONS, -1010),
            (E_EXISTED, -2002),
            (E_NOT_DROP, -2005),
            (E_IMPROPER_ROLE, -2030),
            (E_SESSION_NOT_FOUND, -2069),
            (E_QUERY_NOT_FOUND, -2073),
            (E_PLAN_IS_KILLED, -3060),
        ];
        for (code, value) in codes {
            assert_eq!(code, value);
        }
        let distinct: std::collections::BTreeSet<i32> =
            codes.iter().map(|(code, _)| *code).collect();
        assert_eq!(distinct.len(), codes.len());
    }
}
