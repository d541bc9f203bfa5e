//! GraphNode's statements that change rights and users: GRANT and REVOKE reach an open session
//! at its next request (fix 4); CREATE, DROP and ALTER USER change the role table here and ask
//! the host to change its password store, never showing a password.

use graphsession_core::node::{Reply, SessionStatement};
use graphsession_permission::{Policy, Role};

use crate::node_support::{Harness, PasswordChange, Setup, code, message, space};

fn enforced() -> Harness {
    Harness::with(Setup { policy: Policy::ENFORCED, ..Setup::nodes(1) })
}

fn use_nba() -> SessionStatement {
    SessionStatement::Use { space: "nba".into() }
}

fn create(user: &str, if_not_exists: bool) -> SessionStatement {
    SessionStatement::CreateUser { user: user.into(), if_not_exists, password: "s3cret!".into() }
}

#[test]
fn grant_and_revoke_reach_a_session_already_open_at_its_next_request() {
    let mut h = enforced();
    let (admin, root) = h.open(0, "root");
    let (conn, alice) = h.open(0, "alice");
    let reply = h.run_statement(conn, alice, use_nba());
    assert_eq!(message(&reply), "PermissionError: No permission to read space.");
    let grant =
        SessionStatement::Grant { role: Role::User, space: "nba".into(), user: "alice".into() };
    assert_eq!(code(&h.run_statement(admin, root, grant)), 0);
    let reply = h.run_statement(conn, alice, use_nba());
    assert_eq!(space(&reply), Some("nba"), "the grant reached the open session");
    let revoke =
        SessionStatement::Revoke { role: Role::User, space: "nba".into(), user: "alice".into() };
    assert_eq!(code(&h.run_statement(admin, root, revoke)), 0);
    let reply = h.run_statement(conn, alice, use_nba());
    assert_eq!(code(&reply), -1008, "the revoke reached it too");
    assert_eq!(space(&reply), Some("nba"), "a refused USE keeps the space");
}

#[test]
fn grant_by_a_user_that_is_not_god_is_refused_1008() {
    let mut h = enforced();
    let (conn, alice) = h.open(0, "alice");
    let grant =
        SessionStatement::Grant { role: Role::Admin, space: "nba".into(), user: "bob".into() };
    let reply = h.run_statement(conn, alice, grant);
    assert_eq!(code(&reply), -1008);
    assert_eq!(h.roles.role_of("bob", "nba"), None);
}

#[test]
fn create_user_asks_the_host_to_store_the_password_and_never_shows_it() {
    let mut h = enforced();
    let (admin, root) = h.open(0, "root");
    let reply = h.run_statement(admin, root, create("carol", false));
    assert!(matches!(reply, Reply::Executed { data: None, .. }), "{reply:?}");
    assert!(h.roles.contains_user("carol"));
    let [PasswordChange::Set { user, password, debug }] = h.passwords.as_slice() else {
        panic!("{:?}", h.passwords);
    };
    assert_eq!((user.as_str(), password.as_str()), ("carol", "s3cret!"));
    assert!(!debug.contains("s3cret!") && debug.contains("carol"), "{debug}");
    assert!(!format!("{:?}", create("carol", false)).contains("s3cret!"));
    let logged = format!("{:?}", h.events);
    assert!(!logged.contains("s3cret!"), "no event carries the password");
}

#[test]
fn create_user_of_an_existing_user_fails_unless_if_not_exists() {
    let mut h = enforced();
    let (admin, root) = h.open(0, "root");
    let reply = h.run_statement(admin, root, create("alice", false));
    assert_ne!(code(&reply), 0);
    let reply = h.run_statement(admin, root, create("alice", true));
    assert_eq!(code(&reply), 0);
    assert!(h.passwords.is_empty(), "alice's password is left alone");
}

#[test]
fn drop_user_asks_the_host_to_forget_the_password_and_if_exists_accepts_a_missing_user() {
    let mut h = enforced();
    let (admin, root) = h.open(0, "root");
    let drop = |user: &str, if_exists| SessionStatement::DropUser { user: user.into(), if_exists };
    assert_eq!(code(&h.run_statement(admin, root, drop("bob", false))), 0);
    assert!(!h.roles.contains_user("bob"));
    assert_eq!(h.passwords, [PasswordChange::Forget { user: "bob".into() }]);
    assert_eq!(code(&h.run_statement(admin, root, drop("bob", true))), 0);
    assert_ne!(code(&h.run_statement(admin, root, drop("bob", false))), 0);
    assert_eq!(h.passwords.len(), 1);
}

#[test]
fn drop_user_ends_that_users_open_session_at_its_next_request() {
    let mut h = enforced();
    let (admin, root) = h.open(0, "root");
    let (conn, bob) = h.open(0, "bob");
    let drop = SessionStatement::DropUser { user: "bob".into(), if_exists: false };
    h.run_statement(admin, root, drop);
    h.query(conn, bob, "YIELD 1");
    h.settle();
    assert_eq!(code(&h.last_reply(conn).unwrap()), -1002);
    assert!(!h.holds(0, bob));
}

#[test]
fn alter_user_by_a_user_that_is_not_god_is_refused_1008_and_changes_no_password() {
    let mut h = enforced();
    let (conn, alice) = h.open(0, "alice");
    let alter = SessionStatement::AlterUser { user: "bob".into(), password: "hunter2".into() };
    let reply = h.run_statement(conn, alice, alter.clone());
    assert_eq!(code(&reply), -1008);
    assert_eq!(message(&reply), "PermissionError: No permission to write user.");
    assert!(h.passwords.is_empty());
    let (admin, root) = h.open(0, "root");
    assert_eq!(code(&h.run_statement(admin, root, alter)), 0);
    assert!(matches!(&h.passwords[..], [PasswordChange::Set { user, .. }] if user == "bob"));
}
