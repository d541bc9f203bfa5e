//! The role table's transitions with NebulaGraph's errors, the version protocol of fix 4 (see docs/fixes.md),
//! the bounds, and persistence. Every refused transition is checked to leave the table exactly as it was.

use graphsession_permission::{
    Caller, PermissionError, Policy, ROLES_MAX, Rights, Role, RoleTable, SPACE_NAME_BYTES_MAX,
    SPACES_MAX, Statement, USER_NAME_BYTES_MAX, USERS_MAX, check_statement,
};

const ON: Policy = Policy { authorization_enabled: true };
const OFF: Policy = Policy { authorization_enabled: false };

/// root (GOD); alice ADMIN, bob ADMIN, carol DBA, dave GUEST in `s1`; erin with no role.
fn table() -> RoleTable {
    let mut table = RoleTable::new();
    let root = Caller::resolve(&table, "root", None);
    for user in ["alice", "bob", "carol", "dave", "erin"] {
        table.create_user(&root, ON, user).expect("root creates users");
    }
    for (user, role) in
        [("alice", Role::Admin), ("bob", Role::Admin), ("carol", Role::Dba), ("dave", Role::Guest)]
    {
        table.grant(&root, ON, role, "s1", user).expect("root grants");
    }
    table.check_invariants().expect("invariants hold");
    table
}

fn as_user(table: &RoleTable, user: &str) -> Caller {
    Caller::resolve(table, user, None)
}

/// Applies `change`; it must fail with `code` and `text` and leave the table unchanged.
fn assert_refused(
    table: &mut RoleTable,
    code: i32,
    text: &str,
    change: impl FnOnce(&mut RoleTable) -> Result<(), PermissionError>,
) {
    let before = table.clone();
    let Err(error) = change(table) else { panic!("the transition was not refused") };
    assert_eq!((error.code(), error.to_string().as_str()), (code, text));
    assert_eq!(*table, before, "a refused transition changed the table");
    table.check_invariants().expect("invariants hold");
}

#[test]
fn new_table_has_root_as_its_only_god_user() {
    let table = RoleTable::new();
    assert_eq!(table.users().collect::<Vec<_>>(), ["root"]);
    assert!(table.is_god_user("root"));
    assert_eq!(table.role_of("root", "any"), Some(Role::God));
    assert_eq!(table.version(), 0);
    assert_eq!(RoleTable::default(), table);
    let other = RoleTable::with_god("admin").unwrap();
    assert_eq!(other.god_users().collect::<Vec<_>>(), ["admin"]);
    assert_eq!(RoleTable::with_god("").unwrap_err(), PermissionError::UserNameEmpty);
}

#[test]
fn grant_overwrites_and_revoke_removes() {
    let mut table = table();
    let root = as_user(&table, "root");
    table.grant(&root, ON, Role::User, "s1", "carol").unwrap();
    assert_eq!(table.role_of("carol", "s1"), Some(Role::User));
    table.revoke(&root, ON, Role::User, "s1", "carol").unwrap();
    assert_eq!(table.role_of("carol", "s1"), None);
    let rows: Vec<_> = table.roles_in_space("s1").collect();
    assert_eq!(rows, [("alice", Role::Admin), ("bob", Role::Admin), ("dave", Role::Guest)]);
    table.check_invariants().unwrap();
}

#[test]
fn grant_and_revoke_errors_are_nebulagraphs() {
    let mut table = table();
    let root = as_user(&table, "root");
    let alice = as_user(&table, "alice");
    assert_refused(&mut table, -18, "User not existed!", |t| {
        t.grant(&root, ON, Role::User, "s1", "zed")
    });
    assert_refused(&mut table, -18, "User not existed!", |t| {
        t.revoke(&root, ON, Role::User, "s1", "zed")
    });
    assert_refused(&mut table, -11, "Role not existed!", |t| {
        t.revoke(&root, ON, Role::User, "s1", "erin")
    });
    assert_refused(&mut table, -2030, "Improper role!", |t| {
        t.revoke(&root, ON, Role::User, "s1", "dave")
    });
    let god = "PermissionError: No permission to grant/revoke god user.";
    assert_refused(&mut table, -1008, god, |t| t.grant(&root, ON, Role::God, "s1", "erin"));
    // NebulaGraph's `RevokeRoleExecutor` refuses REVOKE of GOD before `canWriteRole`, in its own words.
    let denied = "PermissionError: Permission denied";
    assert_refused(&mut table, -1008, denied, |t| t.revoke(&root, OFF, Role::God, "s1", "root"));
    assert_refused(&mut table, -1008, denied, |t| t.revoke(&root, ON, Role::God, "s1", "erin"));
    let is_god = "SemanticError: User 'root' is GOD, cannot be granted.";
    assert_refused(&mut table, -1009, is_god, |t| t.grant(&alice, ON, Role::Guest, "s1", "root"));
    assert_refused(&mut table, -1009, is_god, |t| t.grant(&alice, OFF, Role::Guest, "s1", "root"));
    let yourself = "PermissionError: No permission to grant/revoke yourself.";
    assert_refused(&mut table, -1008, yourself, |t| {
        t.grant(&alice, ON, Role::Guest, "s1", "alice")
    });
    let carol = as_user(&table, "carol");
    let dba = "PermissionError: No permission to grant/revoke `DBA' to `erin'.";
    assert_refused(&mut table, -1008, dba, |t| t.grant(&carol, ON, Role::Guest, "s1", "erin"));
    let no_role = "PermissionError: No permission to write grant/revoke role.";
    assert_refused(&mut table, -1008, no_role, |t| t.grant(&alice, ON, Role::Guest, "s2", "erin"));
}

#[test]
fn fix_8_an_admin_cannot_demote_or_revoke_another_admin() {
    let mut table = table();
    let alice = as_user(&table, "alice");
    let text = "PermissionError: No permission to grant/revoke: `bob' holds `ADMIN', which is not below \
                your role `ADMIN'.";
    assert_refused(&mut table, -1008, text, |t| t.grant(&alice, ON, Role::Guest, "s1", "bob"));
    assert_refused(&mut table, -1008, text, |t| t.revoke(&alice, ON, Role::Dba, "s1", "bob"));
    // Below ADMIN is fine, in both directions.
    table.grant(&alice, ON, Role::Guest, "s1", "carol").unwrap();
    table.grant(&alice, ON, Role::Dba, "s1", "carol").unwrap();
    table.grant(&alice, ON, Role::User, "s1", "erin").unwrap();
    table.revoke(&alice, ON, Role::Guest, "s1", "dave").unwrap();
    // GOD is exempt; with authorization off NebulaGraph's behaviour is kept.
    let root = as_user(&table, "root");
    table.grant(&root, ON, Role::Guest, "s1", "bob").unwrap();
    table.grant(&alice, OFF, Role::Admin, "s1", "bob").unwrap();
    table.check_invariants().unwrap();
}

#[test]
fn create_and_drop_user() {
    let mut table = table();
    let root = as_user(&table, "root");
    let alice = as_user(&table, "alice");
    let write_user = "PermissionError: No permission to write user.";
    assert_refused(&mut table, -1008, write_user, |t| t.create_user(&alice, ON, "zed"));
    assert_refused(&mut table, -1008, write_user, |t| t.drop_user(&alice, ON, "bob"));
    assert_refused(&mut table, -2002, "Existed!", |t| t.create_user(&root, ON, "bob"));
    assert_refused(&mut table, -18, "User not existed!", |t| t.drop_user(&root, ON, "zed"));
    let god = "SemanticError: Can't drop root user.";
    assert_refused(&mut table, -1009, god, |t| t.drop_user(&root, ON, "root"));
    assert_refused(&mut table, -1009, god, |t| t.drop_user(&alice, OFF, "root"));
    table.create_user(&alice, OFF, "zed").unwrap();
    table.drop_user(&root, ON, "alice").unwrap();
    assert!(!table.contains_user("alice"));
    assert_eq!(table.role_of("alice", "s1"), None);
    assert_eq!(table.role_count(), 3);
    table.check_invariants().unwrap();
}

#[test]
fn drop_space_forgets_its_roles() {
    let mut table = table();
    let root = as_user(&table, "root");
    table.grant(&root, ON, Role::User, "s2", "erin").unwrap();
    let alice = as_user(&table, "alice");
    let text = "PermissionError: No permission to write space.";
    assert_refused(&mut table, -1008, text, |t| t.drop_space(&alice, ON, "s1"));
    table.drop_space(&root, ON, "s1").unwrap();
    assert_eq!(table.roles_in_space("s1").count(), 0);
    assert_eq!((table.space_count(), table.role_count()), (1, 1));
    assert_eq!(table.role_of("erin", "s2"), Some(Role::User));
    table.check_invariants().unwrap();
}

#[test]
fn fix_4_every_change_bumps_the_version_and_reaches_open_sessions() {
    let mut table = table();
    let root = as_user(&table, "root");
    let mut dave = Caller::resolve(&table, "dave", Some("s1"));
    assert!(!dave.is_stale(&table));
    assert!(!dave.refresh(&table));
    assert_eq!(check_statement(&dave, ON, &Statement::Go), Ok(()));

    let before = table.version();
    table.revoke(&root, ON, Role::Guest, "s1", "dave").unwrap();
    assert_eq!(table.version(), before + 1);
    assert!(dave.is_stale(&table));
    // The cached caller keeps its old rights until it refreshes (copy on write, no shared mutation).
    assert_eq!(dave.current_role(), Some(Role::Guest));
    assert!(dave.refresh(&table));
    assert_eq!(dave.current_space(), Some("s1"));
    assert_eq!(dave.current_space_shared().map(|space| &**space), Some("s1"));
    let nowhere = Caller::resolve(&table, "dave", None);
    assert_eq!((nowhere.current_space(), nowhere.current_space_shared()), (None, None));
    assert_eq!(check_statement(&dave, ON, &Statement::Go), Err(PermissionError::ReadSchemaOrData));

    // DROP USER reaches the session too, and tells the host the user is gone.
    table.grant(&root, ON, Role::User, "s1", "dave").unwrap();
    assert!(dave.refresh(&table));
    assert_eq!(dave.current_role(), Some(Role::User));
    table.drop_user(&root, ON, "dave").unwrap();
    assert!(dave.refresh(&table));
    assert!(!dave.user_exists());
    assert_eq!(dave.current_role(), None);

    // A refused change does not bump the version.
    let version = table.version();
    let _ = table.grant(&root, ON, Role::God, "s1", "erin");
    assert_eq!(table.version(), version);
}

#[test]
fn transitions_use_the_tables_rights_not_a_stale_callers() {
    let mut table = table();
    let root = as_user(&table, "root");
    let stale_alice = as_user(&table, "alice");
    table.revoke(&root, ON, Role::Admin, "s1", "alice").unwrap();
    let text = "PermissionError: No permission to write grant/revoke role.";
    assert_refused(&mut table, -1008, text, |t| t.grant(&stale_alice, ON, Role::Dba, "s1", "erin"));
    // A caller built from a value is always re-resolved, so it cannot claim rights it does not hold.
    let forged = Caller::from_rights("erin", graphsession_permission::Rights::god(), None);
    let text = "PermissionError: No permission to write user.";
    assert_refused(&mut table, -1008, text, |t| t.create_user(&forged, ON, "mallory"));
}

#[test]
fn names_are_bounded() {
    let mut table = table();
    let root = as_user(&table, "root");
    let long_user = "u".repeat(USER_NAME_BYTES_MAX as usize + 1);
    let text = "SemanticError: Username exceed maximum length 16 characters.";
    assert_refused(&mut table, -1009, text, |t| t.create_user(&root, ON, &long_user));
    assert_refused(&mut table, -1009, "SemanticError: Username is empty.", |t| {
        t.create_user(&root, ON, "")
    });
    table.create_user(&root, ON, &"u".repeat(USER_NAME_BYTES_MAX as usize)).unwrap();
    let long_space = "s".repeat(SPACE_NAME_BYTES_MAX as usize + 1);
    let text = "SemanticError: Space name exceed maximum length 256 bytes.";
    assert_refused(&mut table, -1009, text, |t| {
        t.grant(&root, ON, Role::User, &long_space, "erin")
    });
    let empty = "SemanticError: Space name is empty.";
    assert_refused(&mut table, -1009, empty, |t| t.grant(&root, ON, Role::User, "", "erin"));
}

#[test]
fn users_spaces_and_roles_are_bounded() {
    let mut table = RoleTable::new();
    let mut root = as_user(&table, "root");
    for i in 1..USERS_MAX {
        table.create_user(&root, ON, &format!("u{i}")).unwrap();
    }
    let text = format!("Too many users: the role table holds at most {USERS_MAX}.");
    assert_refused(&mut table, -1005, &text, |t| t.create_user(&root, ON, "one_more"));

    root.refresh(&table);
    for space in 0..SPACES_MAX {
        table.grant(&root, ON, Role::Guest, &format!("s{space}"), "u1").unwrap();
        root.refresh(&table);
    }
    let text = format!(
        "Too many spaces with roles: the role table holds roles in at most {SPACES_MAX} spaces."
    );
    assert_refused(&mut table, -1005, &text, |t| t.grant(&root, ON, Role::Guest, "new", "u2"));
    // Overwriting an existing role needs no room.
    table.grant(&root, ON, Role::User, "s0", "u1").unwrap();

    let spaces_needed = ROLES_MAX / (USERS_MAX - 1) + 1;
    'fill: for space in 0..spaces_needed {
        for user in 2..USERS_MAX {
            if table.role_count() == ROLES_MAX {
                break 'fill;
            }
            root.refresh(&table);
            table.grant(&root, ON, Role::Guest, &format!("s{space}"), &format!("u{user}")).unwrap();
        }
    }
    let text = format!("Too many roles: the role table holds at most {ROLES_MAX}.");
    assert_refused(&mut table, -1005, &text, |t| t.grant(&root, ON, Role::Guest, "s4000", "u9"));
    table.check_invariants().unwrap();
}

#[test]
fn persisted_table_round_trips_and_broken_ones_are_refused() {
    let table = table();
    let json = serde_json::to_string(&table).unwrap();
    let back: RoleTable = serde_json::from_str(&json).unwrap();
    assert_eq!(back, table);
    assert_eq!(back.version(), table.version());
    back.check_invariants().unwrap();
    assert!(json.contains(r#""god_users":["root"]"#), "{json}");
    assert!(json.contains(r#""alice":{"s1":"ADMIN"}"#), "{json}");

    for broken in [
        r#"{"version":1,"god_users":[],"users":{"a":{}}}"#,
        r#"{"version":1,"god_users":["root"],"users":{}}"#,
        r#"{"version":1,"god_users":["root"],"users":{"root":{"s":"GUEST"}}}"#,
        r#"{"version":1,"god_users":["root"],"users":{"root":{},"a":{"s":"GOD"}}}"#,
        r#"{"version":1,"god_users":["root"],"users":{"root":{},"aaaaaaaaaaaaaaaaa":{}}}"#,
        r#"{"version":1,"god_users":["root"],"users":{"root":{},"a":{"":"USER"}}}"#,
    ] {
        assert!(serde_json::from_str::<RoleTable>(broken).is_err(), "{broken}");
    }
}

#[test]
fn roles_serialize_by_name() {
    assert_eq!(serde_json::to_string(&Role::Dba).unwrap(), r#""DBA""#);
    assert_eq!(serde_json::from_str::<Role>(r#""GUEST""#).unwrap(), Role::Guest);
    let policy: Policy = serde_json::from_str(r#"{"authorization_enabled":true}"#).unwrap();
    assert_eq!(policy, ON);
}

#[test]
fn rights_of_and_is_god_user_answer_for_each_kind_of_user() {
    let table = table();
    assert_eq!(table.rights_of("alice"), Some(&Rights::from_roles([("s1", Role::Admin)])));
    assert_eq!(table.rights_of("erin"), Some(&Rights::none()));
    assert_eq!(table.rights_of("root"), Some(&Rights::god()));
    assert_eq!(table.rights_of("nobody"), None);
    assert!(table.is_god_user("root"));
    for user in ["alice", "erin", "nobody"] {
        assert!(!table.is_god_user(user), "{user} is not GOD");
    }
}

#[test]
fn a_resolved_caller_holds_the_users_rights_at_the_tables_version() {
    let table = table();
    assert_ne!(table.version(), 0, "the fixture made changes");
    let carol = Caller::resolve(&table, "carol", Some("s1"));
    assert_eq!(carol.rights(), table.rights_of("carol").unwrap());
    assert_eq!(carol.version(), Some(table.version()));
    let unknown = Caller::resolve(&table, "nobody", None);
    assert_eq!((unknown.rights(), unknown.version()), (&Rights::none(), Some(table.version())));
    let detached = Caller::from_rights("carol", Rights::from_roles([("s1", Role::Dba)]), None);
    assert_eq!(detached.version(), None);
}

/// A table adopted from elsewhere takes the other's contents under its own next version, so a
/// caller resolved before re-resolves even when the other table's version equals its own.
#[test]
fn adopt_takes_contents_under_own_next_version() {
    let mut here = RoleTable::new();
    let root = Caller::resolve(&here, "root", None);
    here.create_user(&root, ON, "alice").unwrap();
    here.grant(&root, ON, Role::Dba, "nba", "alice").unwrap();
    let alice = Caller::resolve(&here, "alice", Some("nba"));
    assert_eq!(alice.current_role(), Some(Role::Dba));
    // Another process's table at the same version 2, with other contents.
    let mut there = RoleTable::new();
    there.create_user(&root, ON, "alice").unwrap();
    there.grant(&root, ON, Role::Guest, "nba", "alice").unwrap();
    assert_eq!(there.version(), here.version());
    here.adopt(there).unwrap();
    assert_eq!(here.version(), 3);
    assert_eq!(here.role_of("alice", "nba"), Some(Role::Guest));
    let mut alice = alice;
    assert!(alice.refresh(&here));
    assert_eq!(alice.current_role(), Some(Role::Guest));
    here.check_invariants().unwrap();
}

/// A table whose version counter is exhausted refuses to adopt and keeps its contents.
#[test]
fn adopt_refuses_when_the_version_is_exhausted() {
    let mut here: RoleTable = serde_json::from_str(
        r#"{"version":18446744073709551615,"god_users":["root"],"users":{"root":{}}}"#,
    )
    .expect("a valid table at the last version");
    let before = here.clone();
    let error = here.adopt(table()).unwrap_err();
    assert_eq!(error, graphsession_permission::AdoptError::VersionExhausted);
    assert_eq!(here, before);
}
