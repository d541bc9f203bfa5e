//! Table-driven tests of every permission rule and message of the reference, authorization on and off.
//!
//! Callers are built from rights values (one per role, plus "no role"), so each row reads like the
//! reference: who asks, in which current space, what, and the exact NebulaGraph error (code and text).

use graphsession_permission::{
    Action, Caller, PermissionError, Policy, Rights, Role, Statement, check, check_kill_query,
    check_kill_session, check_read_space, check_role_change_target, check_show_sessions,
    check_statement, check_write_role, may_see_queries_of, may_see_role_row, may_see_space,
};

const ON: Policy = Policy { authorization_enabled: true };
const OFF: Policy = Policy { authorization_enabled: false };

/// Who asks: GOD, each role in space `s1`, or no role at all.
#[derive(Debug, Clone, Copy)]
enum Who {
    God,
    In(Role),
    Nobody,
}

const EVERYONE: [Who; 6] = [
    Who::God,
    Who::In(Role::Admin),
    Who::In(Role::Dba),
    Who::In(Role::User),
    Who::In(Role::Guest),
    Who::Nobody,
];

fn caller(who: Who, current_space: Option<&str>) -> Caller {
    let rights = match who {
        Who::God => Rights::god(),
        Who::In(role) => Rights::from_roles([("s1", role)]),
        Who::Nobody => Rights::none(),
    };
    Caller::from_rights("me", rights, current_space)
}

/// What a NebulaGraph client sees: success, or the error code and text.
type Seen = Result<(), (i32, String)>;

fn message(result: Result<(), PermissionError>) -> Seen {
    result.map_err(|error| (error.code(), error.to_string()))
}

fn refused(text: &str) -> Seen {
    Err((-1008, format!("PermissionError: {text}")))
}

/// One rule: a statement, who is allowed (in the order of `EVERYONE`), and the refusal text.
fn assert_rule(statement: Statement<'_>, allowed: [bool; 6], refusal: &str) {
    for (who, allowed) in EVERYONE.into_iter().zip(allowed) {
        let me = caller(who, Some("s1"));
        let expected = if allowed { Ok(()) } else { refused(refusal) };
        let got = message(check_statement(&me, ON, &statement));
        assert_eq!(got, expected, "{statement:?} by {who:?} with authorization on");
        let off = message(check_statement(&me, OFF, &statement));
        assert_eq!(off, Ok(()), "{statement:?} by {who:?} with authorization off");
    }
}

#[test]
fn read_space_needs_god_or_any_role_in_that_space() {
    for statement in [
        Statement::Use { space: "s1" },
        Statement::DescribeSpace { space: "s1" },
        Statement::ShowCreateSpace { space: "s1" },
    ] {
        assert_rule(
            statement,
            [true, true, true, true, true, false],
            "No permission to read space.",
        );
    }
    // A role in s1 says nothing about s2, even while s1 is the current space.
    let admin = caller(Who::In(Role::Admin), Some("s1"));
    assert_eq!(
        message(check_read_space(&admin, ON, "s2")),
        refused("No permission to read space.")
    );
    let god = caller(Who::God, None);
    assert_eq!(check_read_space(&god, ON, "anything"), Ok(()));
}

#[test]
fn read_schema_or_data_needs_god_or_any_role_in_the_current_space() {
    for statement in [
        Statement::Go,
        Statement::Match,
        Statement::Lookup,
        Statement::FetchVertices,
        Statement::FetchEdges,
        Statement::FindPath,
        Statement::GetSubgraph,
        Statement::Yield,
        Statement::Pipe,
        Statement::OrderBy,
        Statement::Limit,
        Statement::GroupBy,
        Statement::Unwind,
        Statement::Return,
        Statement::DescribeTag,
        Statement::DescribeEdge,
        Statement::DescribeTagIndex,
        Statement::DescribeEdgeIndex,
        Statement::Set,
        Statement::Assignment,
    ] {
        assert_rule(
            statement,
            [true, true, true, true, true, false],
            "No permission to read schema/data.",
        );
    }
}

#[test]
fn no_space_chosen_counts_as_no_role() {
    let text = "No permission to read schema/data.";
    for role in [Role::Admin, Role::Guest] {
        let before_use = caller(Who::In(role), None);
        assert_eq!(message(check_statement(&before_use, ON, &Statement::Go)), refused(text));
        let elsewhere = caller(Who::In(role), Some("s2"));
        assert_eq!(message(check_statement(&elsewhere, ON, &Statement::Go)), refused(text));
        assert_eq!(check_statement(&before_use, OFF, &Statement::Go), Ok(()));
    }
    assert_eq!(check_statement(&caller(Who::God, None), ON, &Statement::Go), Ok(()));
    let schema = check_statement(&caller(Who::In(Role::Admin), None), ON, &Statement::CreateTag);
    assert_eq!(message(schema), refused("No permission to write schema."));
}

#[test]
fn write_space_is_god_only() {
    for statement in [
        Statement::CreateSpace,
        Statement::CreateSpaceAs,
        Statement::AlterSpace,
        Statement::DropSpace,
        Statement::ClearSpace,
        Statement::CreateSnapshot,
        Statement::DropSnapshot,
        Statement::AddHosts,
        Statement::DropHosts,
        Statement::AddHostsIntoZone,
        Statement::MergeZone,
        Statement::DivideZone,
        Statement::RenameZone,
        Statement::DropZone,
        Statement::UpdateConfigs,
        Statement::GetConfigs,
        Statement::ShowConfigs,
        Statement::SignInTextService,
        Statement::SignOutTextService,
        Statement::BalanceData,
        Statement::BalanceZone,
        Statement::ShowZones,
        Statement::DescribeZone,
    ] {
        assert_rule(
            statement,
            [true, false, false, false, false, false],
            "No permission to write space.",
        );
    }
}

#[test]
fn write_schema_needs_god_admin_or_dba() {
    for statement in [
        Statement::CreateTag,
        Statement::AlterTag,
        Statement::DropTag,
        Statement::CreateEdge,
        Statement::AlterEdge,
        Statement::DropEdge,
        Statement::CreateTagIndex,
        Statement::DropTagIndex,
        Statement::CreateEdgeIndex,
        Statement::DropEdgeIndex,
        Statement::CreateFulltextIndex,
        Statement::DropFulltextIndex,
        Statement::AddListener,
        Statement::RemoveListener,
    ] {
        assert_rule(
            statement,
            [true, true, true, false, false, false],
            "No permission to write schema.",
        );
    }
}

#[test]
fn write_data_and_jobs_need_god_admin_dba_or_user() {
    for statement in [
        Statement::InsertVertices,
        Statement::InsertEdges,
        Statement::UpdateVertex,
        Statement::UpdateEdge,
        Statement::UpsertVertex,
        Statement::UpsertEdge,
        Statement::DeleteVertices,
        Statement::DeleteEdges,
        Statement::DeleteTags,
        Statement::SubmitCompact,
        Statement::SubmitFlush,
        Statement::SubmitStats,
        Statement::RebuildTagIndex,
        Statement::RebuildEdgeIndex,
        Statement::RebuildFulltextIndex,
        Statement::BalanceLeader,
        Statement::StopJob,
        Statement::RecoverJob,
        Statement::SubmitDownload,
        Statement::SubmitIngest,
    ] {
        assert_rule(
            statement,
            [true, true, true, true, false, false],
            "No permission to write data.",
        );
    }
}

#[test]
fn write_user_is_god_only() {
    for statement in [Statement::CreateUser, Statement::AlterUser, Statement::DropUser] {
        assert_rule(
            statement,
            [true, false, false, false, false, false],
            "No permission to write user.",
        );
    }
}

#[test]
fn describe_user_is_god_or_the_user_itself() {
    assert_rule(
        Statement::DescribeUser { user: "other" },
        [true, false, false, false, false, false],
        "No permission to read user `other'.",
    );
    assert_rule(Statement::DescribeUser { user: "me" }, [true; 6], "");
}

/// NebulaGraph checks these in one case with one message: SHOW USERS is refused as the sessions are,
/// not with the write-user message (docs/show-statements.md).
#[test]
fn sessions_users_snapshots_and_service_clients_are_god_only_with_one_message() {
    for statement in [
        Statement::ShowSessions,
        Statement::ShowLocalSessions,
        Statement::ShowSession,
        Statement::ShowUsers,
        Statement::ShowSnapshots,
        Statement::ShowServiceClients,
    ] {
        assert_rule(
            statement,
            [true, false, false, false, false, false],
            "No permission to show users/snapshots/serviceClients",
        );
    }
    assert_rule(
        Statement::KillSession,
        [true, false, false, false, false, false],
        "No permission to kill session",
    );
    let admin = caller(Who::In(Role::Admin), Some("s1"));
    assert_eq!(check_show_sessions(&admin, ON).map_err(|e| e.code()), Err(-1008));
    assert_eq!(check_kill_session(&admin, OFF), Ok(()));
}

#[test]
fn statements_anyone_may_run() {
    for statement in [
        Statement::ShowHosts,
        Statement::ShowCharset,
        Statement::ShowCollation,
        Statement::ShowMetaLeader,
        Statement::ChangePassword,
        Statement::ShowSpaces,
        Statement::ShowQueries,
        Statement::ShowLocalQueries,
    ] {
        assert_rule(statement, [true; 6], "");
        assert_eq!(statement.action(), Action::Anyone);
    }
}

#[test]
fn kill_query_is_owner_or_god_even_with_authorization_off() {
    let text = "Only GOD role could kill others' queries.";
    for who in EVERYONE {
        let me = caller(who, Some("s1"));
        for policy in [ON, OFF] {
            assert_eq!(check_kill_query(&me, policy, "me"), Ok(()));
            let other = message(check_kill_query(&me, policy, "other"));
            let expected = if matches!(who, Who::God) { Ok(()) } else { refused(text) };
            assert_eq!(other, expected, "{who:?} {policy:?}");
            let statement = Statement::KillQuery { owner_user: "other" };
            assert_eq!(message(check_statement(&me, policy, &statement)), expected);
        }
    }
}

#[test]
fn show_queries_rows_are_the_callers_own_user_unless_god_fix_7() {
    for who in EVERYONE {
        let me = caller(who, Some("s1"));
        for policy in [ON, OFF] {
            assert!(may_see_queries_of(&me, policy, "me"));
            assert_eq!(may_see_queries_of(&me, policy, "other"), matches!(who, Who::God));
        }
    }
}

#[test]
fn show_spaces_rows_are_spaces_with_a_role_or_all_for_god() {
    for who in EVERYONE {
        let me = caller(who, Some("s1"));
        let has_role = !matches!(who, Who::Nobody);
        assert_eq!(may_see_space(&me, ON, "s1"), has_role, "{who:?}");
        assert_eq!(may_see_space(&me, ON, "s2"), matches!(who, Who::God), "{who:?}");
        assert!(may_see_space(&me, OFF, "s2"));
    }
}

#[test]
fn show_roles_god_and_admin_see_all_rows_others_their_own_no_role_refused() {
    let statement = Statement::ShowRoles { space: "s1" };
    assert_rule(statement, [true, true, true, true, true, false], "No permission to read space.");
    for who in EVERYONE {
        let me = caller(who, None);
        let all = matches!(who, Who::God | Who::In(Role::Admin));
        let own = !matches!(who, Who::Nobody);
        // NebulaGraph's `ListRolesExecutor` filters the rows with authorization off too (only the
        // statement's permission check, `canReadSpace`, passes everyone then).
        for policy in [ON, OFF] {
            assert_eq!(may_see_role_row(&me, policy, "s1", "other"), all, "{who:?} {policy:?}");
            assert_eq!(may_see_role_row(&me, policy, "s1", "me"), own, "{who:?} {policy:?}");
        }
    }
    assert_eq!(check_statement(&caller(Who::Nobody, None), OFF, &statement), Ok(()));
}

#[test]
fn explain_and_profile_take_the_permission_of_the_statement_inside() {
    let insert = Statement::InsertVertices;
    let explained = Statement::Explain { inner: &insert };
    let profiled = Statement::Profile { inner: &explained };
    for statement in [explained, profiled] {
        assert_eq!(statement.action(), Action::WriteData);
        assert_rule(
            statement,
            [true, true, true, true, false, false],
            "No permission to write data.",
        );
    }
    let grant = Statement::Grant { role: Role::God, space: "s1", user: "x" };
    let explained_grant = Statement::Explain { inner: &grant };
    let result = check_statement(&caller(Who::God, None), OFF, &explained_grant);
    assert_eq!(message(result), refused("No permission to grant/revoke god user."));
}

/// GRANT and REVOKE share one check; every step of NebulaGraph's order, with its message. REVOKE of
/// the GOD role is refused before it, with NebulaGraph's `RevokeRoleExecutor`'s own text.
#[test]
fn write_role_follows_nebulagraphs_order_of_checks() {
    let grant_god = Statement::Grant { role: Role::God, space: "s1", user: "other" };
    let revoke_god = Statement::Revoke { role: Role::God, space: "s1", user: "me" };
    for who in EVERYONE {
        for policy in [ON, OFF] {
            let me = caller(who, Some("s1"));
            let got = message(check_statement(&me, policy, &grant_god));
            assert_eq!(got, refused("No permission to grant/revoke god user."), "{who:?}");
            let got = message(check_statement(&me, policy, &revoke_god));
            assert_eq!(got, refused("Permission denied"), "{who:?}");
        }
    }
    let cases: [(Who, Role, &str, &str, Seen); 10] = [
        (Who::God, Role::Admin, "s1", "me", refused("No permission to grant/revoke yourself.")),
        (
            Who::In(Role::Admin),
            Role::Guest,
            "s1",
            "me",
            refused("No permission to grant/revoke yourself."),
        ),
        (Who::God, Role::Admin, "s9", "other", Ok(())),
        (
            Who::In(Role::Admin),
            Role::Dba,
            "s2",
            "other",
            refused("No permission to write grant/revoke role."),
        ),
        (
            Who::Nobody,
            Role::Guest,
            "s1",
            "other",
            refused("No permission to write grant/revoke role."),
        ),
        (Who::In(Role::Admin), Role::Dba, "s1", "other", Ok(())),
        (Who::In(Role::Admin), Role::Guest, "s1", "other", Ok(())),
        (
            Who::In(Role::Admin),
            Role::Admin,
            "s1",
            "other",
            refused("No permission to grant/revoke `ADMIN' to `other'."),
        ),
        (
            Who::In(Role::Dba),
            Role::Guest,
            "s1",
            "other",
            refused("No permission to grant/revoke `DBA' to `other'."),
        ),
        (
            Who::In(Role::Guest),
            Role::Guest,
            "s1",
            "other",
            refused("No permission to grant/revoke `GUEST' to `other'."),
        ),
    ];
    for (who, role, space, user, expected) in cases {
        let me = caller(who, Some("s1"));
        let got = message(check_write_role(&me, ON, role, space, user));
        assert_eq!(got, expected, "{who:?} {role} ON {space} TO {user}");
        let revoke = Statement::Revoke { role, space, user };
        assert_eq!(message(check_statement(&me, ON, &revoke)), expected);
        // Off: only the GOD-role check applies.
        assert_eq!(check_write_role(&me, OFF, role, space, user), Ok(()));
    }
}

#[test]
fn fix_8_target_must_hold_a_role_strictly_below_the_callers() {
    let admin = caller(Who::In(Role::Admin), None);
    for (target, allowed) in [
        (None, true),
        (Some(Role::Guest), true),
        (Some(Role::User), true),
        (Some(Role::Dba), true),
        (Some(Role::Admin), false),
        (Some(Role::God), false),
    ] {
        let got = message(check_role_change_target(&admin, ON, "s1", "other", target));
        let expected = match target {
            Some(held) if !allowed => refused(&format!(
                "No permission to grant/revoke: `other' holds `{held}', which is not below your role `ADMIN'."
            )),
            _ => Ok(()),
        };
        assert_eq!(got, expected, "{target:?}");
        assert_eq!(check_role_change_target(&admin, OFF, "s1", "other", target), Ok(()));
    }
    let god = caller(Who::God, None);
    assert_eq!(check_role_change_target(&god, ON, "s1", "other", Some(Role::God)), Ok(()));
}

#[test]
fn check_dispatches_each_action_to_its_rule() {
    let guest = caller(Who::In(Role::Guest), Some("s1"));
    assert_eq!(check(&guest, ON, Action::ReadCurrentSpace), Ok(()));
    assert_eq!(check(&guest, ON, Action::WriteData), Err(PermissionError::WriteData));
    assert_eq!(check(&guest, ON, Action::WriteSpace), Err(PermissionError::WriteSpace));
    assert_eq!(check(&guest, ON, Action::Anyone), Ok(()));
}
