//! The order of checks of GRANT, REVOKE, CREATE USER and DROP USER, as NebulaGraph's
//! `Validator::validate` runs them: semantic checks (`validateImpl`: names, GOD targets) before the
//! permission check, whoever asks; then existence, then deliberate fix 8 (docs/fixes.md, "Order of
//! checks" and "Fix 8").
//!
//! The GRANT/REVOKE table has one row per (caller, target): callers GOD, ADMIN, DBA, USER, GUEST and
//! no role in `s1`; targets a GOD user, the caller itself, and a user one role below, at and above the
//! caller's role. Each row is run on a fresh table through the transition, and through
//! `validate_statement` then `check_statement` (an engine's validator), which must agree with the
//! transition up to the end of the permission phase.

use graphsession_permission::{
    Caller, PermissionError, Policy, Role, RoleTable, Statement, check_statement,
    validate_statement,
};

const ON: Policy = Policy::ENFORCED;
const OFF: Policy = Policy::OPEN;

/// Two GOD users (NebulaGraph has only root; a table may hold more, see `RoleTable::with_god` and the
/// persisted form), two users of each role in `s1`, and two with no role.
const FIXTURE: &str = r#"{"version":0,"god_users":["root","zeus"],"users":{
    "root":{},"zeus":{},
    "admin1":{"s1":"ADMIN"},"admin2":{"s1":"ADMIN"},"dba1":{"s1":"DBA"},"dba2":{"s1":"DBA"},
    "user1":{"s1":"USER"},"user2":{"s1":"USER"},"guest1":{"s1":"GUEST"},"guest2":{"s1":"GUEST"},
    "none1":{},"none2":{}}}"#;

fn table() -> RoleTable {
    serde_json::from_str(FIXTURE).expect("the fixture is a valid table")
}

/// What a statement meets, and in which phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The change is made.
    Done,
    /// A semantic check refuses it (-1009), before any permission check.
    Semantic(&'static str),
    /// NebulaGraph's permission check refuses it (-1008).
    Permission(&'static str),
    /// A check after the permission phase refuses it: the target's lookup, fix 8, REVOKE's roles.
    After(i32, &'static str),
}

use Expect::{After, Done, Permission, Semantic};

const GOD_ROOT: Expect = Semantic("SemanticError: User 'root' is GOD, cannot be granted.");
const GOD_ZEUS: Expect = Semantic("SemanticError: User 'zeus' is GOD, cannot be granted.");
const YOURSELF: Expect = Permission("PermissionError: No permission to grant/revoke yourself.");
const NO_ROLE: Expect = Permission("PermissionError: No permission to write grant/revoke role.");
const ROLE_NOT_FOUND: Expect = After(-11, "Role not existed!");
/// Fix 8: the target's role is not below the caller's (NebulaGraph: "Role not existed!", -11).
const ROOT_NOT_BELOW_ADMIN: Expect = After(
    -1008,
    "PermissionError: No permission to grant/revoke: `root' holds `GOD', which is not below your \
     role `ADMIN'.",
);
/// Fix 8: an ADMIN may not demote another ADMIN (NebulaGraph: allowed).
const ADMIN_NOT_BELOW_ADMIN: Expect = After(
    -1008,
    "PermissionError: No permission to grant/revoke: `admin2' holds `ADMIN', which is not below \
     your role `ADMIN'.",
);

/// NebulaGraph's refusal of a caller holding `$role` in the space: "grant/revoke `ROLE' to `user'.".
macro_rules! not_allowed {
    ($role:literal, $user:literal) => {
        Permission(concat!(
            "PermissionError: No permission to grant/revoke `",
            $role,
            "' to `",
            $user,
            "'."
        ))
    };
}

/// (caller, which target, target, GRANT GUEST ON s1 TO target, REVOKE <target's role> ON s1 FROM
/// target). REVOKE names the role the target holds in s1, or GUEST when it holds none (GOD users).
/// There is no row for a target above GOD or ADMIN (only GOD is above ADMIN: the "GOD user" row) nor
/// below no role.
#[rustfmt::skip]
const GRANT_REVOKE: &[(&str, &str, &str, Expect, Expect)] = &[
    ("root", "GOD user = itself", "root", GOD_ROOT, YOURSELF),
    ("root", "below", "admin1", Done, Done),
    ("root", "equal (GOD)", "zeus", GOD_ZEUS, ROLE_NOT_FOUND),
    ("admin1", "GOD user", "root", GOD_ROOT, ROOT_NOT_BELOW_ADMIN),
    ("admin1", "itself", "admin1", YOURSELF, YOURSELF),
    ("admin1", "below", "dba1", Done, Done),
    ("admin1", "equal", "admin2", ADMIN_NOT_BELOW_ADMIN, not_allowed!("ADMIN", "admin2")),
    ("dba1", "GOD user", "root", GOD_ROOT, not_allowed!("DBA", "root")),
    ("dba1", "itself", "dba1", YOURSELF, YOURSELF),
    ("dba1", "below", "user1", not_allowed!("DBA", "user1"), not_allowed!("DBA", "user1")),
    ("dba1", "equal", "dba2", not_allowed!("DBA", "dba2"), not_allowed!("DBA", "dba2")),
    ("dba1", "above", "admin1", not_allowed!("DBA", "admin1"), not_allowed!("DBA", "admin1")),
    ("user1", "GOD user", "root", GOD_ROOT, not_allowed!("USER", "root")),
    ("user1", "itself", "user1", YOURSELF, YOURSELF),
    ("user1", "below", "guest1", not_allowed!("USER", "guest1"), not_allowed!("USER", "guest1")),
    ("user1", "equal", "user2", not_allowed!("USER", "user2"), not_allowed!("USER", "user2")),
    ("user1", "above", "dba1", not_allowed!("USER", "dba1"), not_allowed!("USER", "dba1")),
    ("guest1", "GOD user", "root", GOD_ROOT, not_allowed!("GUEST", "root")),
    ("guest1", "itself", "guest1", YOURSELF, YOURSELF),
    ("guest1", "below", "none1", not_allowed!("GUEST", "none1"), not_allowed!("GUEST", "none1")),
    ("guest1", "equal", "guest2", not_allowed!("GUEST", "guest2"), not_allowed!("GUEST", "guest2")),
    ("guest1", "above", "user1", not_allowed!("GUEST", "user1"), not_allowed!("GUEST", "user1")),
    ("none1", "GOD user", "root", GOD_ROOT, NO_ROLE),
    ("none1", "itself", "none1", YOURSELF, YOURSELF),
    ("none1", "equal", "none2", NO_ROLE, NO_ROLE),
    ("none1", "above", "guest1", NO_ROLE, NO_ROLE),
];

/// What the client sees for `expect`: nothing, or the code and text.
fn seen(expect: Expect) -> Result<(), (i32, String)> {
    match expect {
        Done => Ok(()),
        Semantic(text) => Err((-1009, text.to_owned())),
        Permission(text) => Err((-1008, text.to_owned())),
        After(code, text) => Err((code, text.to_owned())),
    }
}

/// What an engine's validator answers: the same as the transition up to the permission phase, and
/// nothing for what only the transition checks.
fn seen_by_validator(expect: Expect) -> Result<(), (i32, String)> {
    match expect {
        Done | After(..) => Ok(()),
        Semantic(_) | Permission(_) => seen(expect),
    }
}

fn client(result: Result<(), PermissionError>) -> Result<(), (i32, String)> {
    result.map_err(|error| (error.code(), error.to_string()))
}

/// Runs `statement` by `caller` on a fresh table, through the transition and through the validator.
fn run(caller: &str, statement: Statement<'_>, policy: Policy, expect: Expect, row: &str) {
    let mut table = table();
    let me = Caller::resolve(&table, caller, None);
    let validator = validate_statement(&table, &statement)
        .and_then(|()| check_statement(&me, policy, &statement));
    assert_eq!(client(validator), seen_by_validator(expect), "validator: {row}");
    let before = table.clone();
    let transition = match statement {
        Statement::Grant { role, space, user } => table.grant(&me, policy, role, space, user),
        Statement::Revoke { role, space, user } => table.revoke(&me, policy, role, space, user),
        other => panic!("not a role change: {other:?}"),
    };
    let refused = transition.is_err();
    assert_eq!(client(transition), seen(expect), "transition: {row}");
    assert_eq!(
        refused,
        table == before,
        "a refused change leaves the table, else it changes: {row}"
    );
    table.check_invariants().expect("invariants hold");
}

/// The role REVOKE names for `target`: the one it holds in s1, or GUEST when it holds none or is GOD.
fn held_or_guest(target: &str) -> Role {
    match table().role_of(target, "s1") {
        Some(Role::God) | None => Role::Guest,
        Some(role) => role,
    }
}

#[test]
fn grant_and_revoke_check_semantics_then_permission_then_fix_8_for_every_caller_and_target() {
    for &(caller, which, target, grant, revoke) in GRANT_REVOKE {
        let row = format!("{caller} -> {which} {target}");
        let statement = Statement::Grant { role: Role::Guest, space: "s1", user: target };
        run(caller, statement, ON, grant, &format!("GRANT GUEST, {row}"));
        let role = held_or_guest(target);
        let statement = Statement::Revoke { role, space: "s1", user: target };
        run(caller, statement, ON, revoke, &format!("REVOKE {role}, {row}"));
    }
}

#[test]
fn a_god_target_is_refused_before_any_permission_check_with_authorization_off_too() {
    for caller in ["root", "zeus", "admin1", "dba1", "user1", "guest1", "none1"] {
        for (target, refusal) in [("root", GOD_ROOT), ("zeus", GOD_ZEUS)] {
            // Even granting the GOD role itself: the GOD target is the semantic check, and comes first.
            for role in [Role::Guest, Role::Admin, Role::God] {
                let grant = Statement::Grant { role, space: "s1", user: target };
                let row = format!("GRANT {role} by {caller} to {target}");
                run(caller, grant, ON, refusal, &row);
                run(caller, grant, OFF, refusal, &format!("{row}, authorization off"));
            }
            // REVOKE has no semantic GOD-target check in NebulaGraph; off, nothing else refuses first.
            let revoke = Statement::Revoke { role: Role::Guest, space: "s1", user: target };
            let row = format!("REVOKE GUEST by {caller} from {target}, authorization off");
            run(caller, revoke, OFF, ROLE_NOT_FOUND, &row);
        }
    }
}

#[test]
fn names_out_of_bounds_are_refused_before_the_permission_check() {
    let long_user = "u".repeat(17);
    let too_long = Semantic("SemanticError: Username exceed maximum length 16 characters.");
    let no_space = Semantic("SemanticError: Space name is empty.");
    for caller in ["guest1", "none1"] {
        let grant = Statement::Grant { role: Role::Guest, space: "s1", user: &long_user };
        run(caller, grant, ON, too_long, &format!("GRANT to a long name by {caller}"));
        let revoke = Statement::Revoke { role: Role::Guest, space: "s1", user: &long_user };
        run(caller, revoke, ON, too_long, &format!("REVOKE from a long name by {caller}"));
        let grant = Statement::Grant { role: Role::Guest, space: "", user: "none2" };
        run(caller, grant, ON, no_space, &format!("GRANT on no space by {caller}"));
    }
    // The same checks reach through EXPLAIN and PROFILE.
    let grant = Statement::Grant { role: Role::Guest, space: "s1", user: "root" };
    let explained = Statement::Explain { inner: &grant };
    let profiled = Statement::Profile { inner: &explained };
    assert_eq!(client(validate_statement(&table(), &profiled)), seen(GOD_ROOT));
    let describe = Statement::DescribeUser { user: &long_user };
    assert_eq!(client(validate_statement(&table(), &describe)), seen(too_long));
    let use_space = Statement::Use { space: "" };
    assert_eq!(client(validate_statement(&table(), &use_space)), seen(no_space));
    assert_eq!(validate_statement(&table(), &Statement::Go), Ok(()));
}

/// What a user statement is expected to answer: nothing, or the code and text.
type Answer<'a> = Result<(), (i32, &'a str)>;

/// Applies `change` to a fresh table; the outcome must be `expect`, and a refusal changes nothing.
fn assert_user_change(
    expect: Answer<'_>,
    row: &str,
    change: impl FnOnce(&mut RoleTable) -> Result<(), PermissionError>,
) {
    let mut table = table();
    let before = table.clone();
    let got = client(change(&mut table));
    assert_eq!(got, expect.map_err(|(code, text)| (code, text.to_owned())), "{row}");
    if got.is_err() {
        assert_eq!(table, before, "a refused change changed the table: {row}");
    }
    table.check_invariants().expect("invariants hold");
}

#[test]
fn drop_user_checks_the_name_then_permission_then_god_then_existence() {
    let root_text = "SemanticError: Can't drop root user.";
    let zeus_text = "SemanticError: Can't drop GOD user 'zeus'.";
    let write_user = "PermissionError: No permission to write user.";
    let long_text = "SemanticError: Username exceed maximum length 16 characters.";
    let long_user = "u".repeat(17);
    #[rustfmt::skip]
    let rows: [(&str, Policy, &str, Answer<'_>); 13] = [
        ("root", ON, "root", Err((-1009, root_text))),
        ("root", OFF, "root", Err((-1009, root_text))),
        ("root", ON, "zeus", Err((-1009, zeus_text))),
        ("zeus", ON, "root", Err((-1009, root_text))),
        // NebulaGraph checks the right to write users first, then refuses root (DropUserValidator).
        ("admin1", ON, "root", Err((-1008, write_user))),
        ("none1", ON, "zeus", Err((-1008, write_user))),
        // With authorization off NebulaGraph would drop root; we keep every GOD user.
        ("admin1", OFF, "root", Err((-1009, root_text))),
        ("none1", OFF, "zeus", Err((-1009, zeus_text))),
        // The name is a semantic check: before the permission check, whoever asks.
        ("none1", ON, &long_user, Err((-1009, long_text))),
        ("root", ON, "", Err((-1009, "SemanticError: Username is empty."))),
        ("root", ON, "nobody", Err((-18, "User not existed!"))),
        ("admin1", ON, "nobody", Err((-1008, write_user))),
        ("root", ON, "admin1", Ok(())),
    ];
    for (caller, policy, user, expect) in rows {
        let row = format!("DROP USER {user:?} by {caller} with {policy:?}");
        assert_user_change(expect, &row, |table| {
            let me = Caller::resolve(table, caller, None);
            table.drop_user(&me, policy, user)
        });
    }
}

#[test]
fn create_user_checks_the_name_before_the_permission_check() {
    let long_user = "u".repeat(17);
    let long_text = "SemanticError: Username exceed maximum length 16 characters.";
    #[rustfmt::skip]
    let rows: [(&str, &str, Answer<'_>); 5] = [
        ("admin1", &long_user, Err((-1009, long_text))),
        ("none1", "", Err((-1009, "SemanticError: Username is empty."))),
        ("admin1", "newbie", Err((-1008, "PermissionError: No permission to write user."))),
        ("root", "admin1", Err((-2002, "Existed!"))),
        ("root", "newbie", Ok(())),
    ];
    for (caller, user, expect) in rows {
        let row = format!("CREATE USER {user:?} by {caller}");
        assert_user_change(expect, &row, |table| {
            let me = Caller::resolve(table, caller, None);
            table.create_user(&me, ON, user)
        });
    }
}
