//! One row per SHOW statement of NebulaGraph 3.x's grammar: its `Statement` kind, who may run it
//! (GOD, ADMIN of the current space, GUEST of it, no role) with authorization on, and the exact
//! refusal; with authorization off everyone may. docs/show-statements.md is the same table in prose,
//! with the NebulaGraph source of each check, and must name every row's statement.

use graphsession_permission::{
    Caller, PermissionError, Policy, Rights, Role, Statement, check_statement,
};

const ON: Policy = Policy::ENFORCED;
const OFF: Policy = Policy::OPEN;

/// The callers of every row, in the order of a row's `allowed`: GOD, ADMIN of `s1`, GUEST of `s1`, no
/// role; `s1` is the current space.
fn callers() -> [(&'static str, Caller); 4] {
    let caller = |rights| Caller::from_rights("me", rights, Some("s1"));
    [
        ("GOD", caller(Rights::god())),
        ("ADMIN", caller(Rights::from_roles([("s1", Role::Admin)]))),
        ("GUEST", caller(Rights::from_roles([("s1", Role::Guest)]))),
        ("no role", caller(Rights::none())),
    ]
}

const ANYONE: [bool; 4] = [true; 4];
const ANY_ROLE: [bool; 4] = [true, true, true, false];
const GOD_ONLY: [bool; 4] = [true, false, false, false];

const READ_DATA: &str = "PermissionError: No permission to read schema/data.";
const READ_SPACE: &str = "PermissionError: No permission to read space.";
const WRITE_SPACE: &str = "PermissionError: No permission to write space.";
const SHOW_GOD: &str = "PermissionError: No permission to show users/snapshots/serviceClients";

/// (statement as written, its kind, who may run it, the refusal of the others).
#[rustfmt::skip]
const SHOW: [(&str, Statement<'static>, [bool; 4], &str); 33] = [
    ("SHOW HOSTS", Statement::ShowHosts, ANYONE, ""),
    ("SHOW SPACES", Statement::ShowSpaces, ANYONE, ""),
    ("SHOW PARTS", Statement::ShowParts, ANY_ROLE, READ_DATA),
    ("SHOW TAGS", Statement::ShowTags, ANY_ROLE, READ_DATA),
    ("SHOW EDGES", Statement::ShowEdges, ANY_ROLE, READ_DATA),
    ("SHOW TAG INDEXES", Statement::ShowTagIndexes, ANY_ROLE, READ_DATA),
    ("SHOW EDGE INDEXES", Statement::ShowEdgeIndexes, ANY_ROLE, READ_DATA),
    ("SHOW USERS", Statement::ShowUsers, GOD_ONLY, SHOW_GOD),
    ("SHOW ROLES IN", Statement::ShowRoles { space: "s1" }, ANY_ROLE, READ_SPACE),
    ("SHOW CONFIGS", Statement::ShowConfigs, GOD_ONLY, WRITE_SPACE),
    ("SHOW CREATE SPACE", Statement::ShowCreateSpace { space: "s1" }, ANY_ROLE, READ_SPACE),
    ("SHOW CREATE TAG", Statement::ShowCreateTag, ANY_ROLE, READ_DATA),
    ("SHOW CREATE TAG INDEX", Statement::ShowCreateTagIndex, ANY_ROLE, READ_DATA),
    ("SHOW CREATE EDGE", Statement::ShowCreateEdge, ANY_ROLE, READ_DATA),
    ("SHOW CREATE EDGE INDEX", Statement::ShowCreateEdgeIndex, ANY_ROLE, READ_DATA),
    ("SHOW TAG INDEX STATUS", Statement::ShowTagIndexStatus, ANY_ROLE, READ_DATA),
    ("SHOW EDGE INDEX STATUS", Statement::ShowEdgeIndexStatus, ANY_ROLE, READ_DATA),
    ("SHOW SNAPSHOTS", Statement::ShowSnapshots, GOD_ONLY, SHOW_GOD),
    ("SHOW CHARSET", Statement::ShowCharset, ANYONE, ""),
    ("SHOW COLLATION", Statement::ShowCollation, ANYONE, ""),
    ("SHOW ZONES", Statement::ShowZones, GOD_ONLY, WRITE_SPACE),
    ("SHOW STATS", Statement::ShowStats, ANY_ROLE, READ_DATA),
    ("SHOW TEXT SEARCH CLIENTS", Statement::ShowServiceClients, GOD_ONLY, SHOW_GOD),
    ("SHOW FULLTEXT INDEXES", Statement::ShowFulltextIndexes, ANY_ROLE, READ_DATA),
    ("SHOW SESSIONS", Statement::ShowSessions, GOD_ONLY, SHOW_GOD),
    ("SHOW LOCAL SESSIONS", Statement::ShowLocalSessions, GOD_ONLY, SHOW_GOD),
    ("SHOW SESSION", Statement::ShowSession, GOD_ONLY, SHOW_GOD),
    ("SHOW META LEADER", Statement::ShowMetaLeader, ANYONE, ""),
    ("SHOW QUERIES", Statement::ShowQueries, ANYONE, ""),
    ("SHOW LOCAL QUERIES", Statement::ShowLocalQueries, ANYONE, ""),
    ("SHOW LISTENER", Statement::ShowListener, ANY_ROLE, READ_DATA),
    ("SHOW JOBS", Statement::ShowJobs, ANY_ROLE, READ_DATA),
    ("SHOW JOB", Statement::ShowJob, ANY_ROLE, READ_DATA),
];

fn client(result: Result<(), PermissionError>) -> Result<(), (i32, String)> {
    result.map_err(|error| (error.code(), error.to_string()))
}

#[test]
fn every_show_statement_has_nebulagraphs_check_and_message() {
    for (text, statement, allowed, refusal) in SHOW {
        for ((who, caller), allowed) in callers().into_iter().zip(allowed) {
            let expected = if allowed { Ok(()) } else { Err((-1008, refusal.to_owned())) };
            let got = client(check_statement(&caller, ON, &statement));
            assert_eq!(got, expected, "{text} by {who}, authorization on");
            let off = client(check_statement(&caller, OFF, &statement));
            assert_eq!(off, Ok(()), "{text} by {who}, authorization off");
        }
    }
}

#[test]
fn show_statements_of_the_current_space_refuse_a_caller_with_no_role_there() {
    // A role in another space does not help; before USE there is no role at all. (NebulaGraph's
    // validator answers "Space was not chosen." before this check; that is the engine's, see the doc.)
    let admin_of_s2 = Rights::from_roles([("s2", Role::Admin)]);
    for current in [Some("s1"), None] {
        let caller = Caller::from_rights("me", admin_of_s2.clone(), current);
        for (text, statement, allowed, refusal) in SHOW {
            if allowed != ANY_ROLE || refusal != READ_DATA {
                continue;
            }
            let got = client(check_statement(&caller, ON, &statement));
            assert_eq!(got, Err((-1008, READ_DATA.to_owned())), "{text} in {current:?}");
        }
    }
}

#[test]
fn the_documented_table_names_every_show_statement() {
    let doc = include_str!("../../docs/show-statements.md");
    for (text, statement, _, _) in SHOW {
        // A row opens with the statement, whole or followed by its arguments.
        let row = [format!("| `{text}`"), format!("| `{text} ")];
        assert!(row.iter().any(|row| doc.contains(row)), "docs/show-statements.md lacks {text}");
        let kind = format!("{statement:?}");
        let kind = kind.split([' ', '{']).next().unwrap_or_default();
        assert!(doc.contains(&format!("`{kind}`")), "docs/show-statements.md lacks {kind}");
    }
}
