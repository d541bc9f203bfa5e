//! NebulaGraph 3.x's exact answers where an audit against its sources (vesoft-inc/nebula, 3.1 to
//! master of 2025) found graphd answering otherwise: each case names the source file that decides
//! NebulaGraph's answer.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

mod support;

use support::{Client, Graphd, config, fresh_dir, within};

/// A graphd with authorization on, a space `nba`, `alice` (USER in nba, password `a1`) and `bob`
/// (no role), and root's session.
async fn authorized(name: &str) -> (Graphd, Client, i64) {
    let test_dir = fresh_dir(name);
    let mut config = config(&test_dir);
    config.enable_authorize = true;
    let graphd = Graphd::start(config).await.owning(test_dir);
    let mut root = Client::python(graphd.addr()).await;
    let session = root.login("root", "nebula").await;
    for statement in [
        "CREATE SPACE nba",
        "CREATE USER alice WITH PASSWORD 'a1'",
        "CREATE USER bob WITH PASSWORD 'b1'",
        "GRANT ROLE USER ON nba TO alice",
    ] {
        root.execute(session, statement).await.ok();
    }
    (graphd, root, session)
}

/// USE, GRANT and REVOKE of a space that does not exist: NebulaGraph looks the space up before
/// any permission check (`UseValidator::validateImpl`; `GrantRoleExecutor` and
/// `RevokeRoleExecutor` call `getSpaceIdByNameFromCache` before `canWriteRole`), so whoever asks
/// hears -1005 `SpaceNotFound`, after the validator's own semantic checks only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_space_is_found_missing_before_the_permission_check() {
    within(60, async {
        let (graphd, _root, _session) = authorized("missing-space").await;
        let mut alice = Client::python(graphd.addr()).await;
        let session = alice.login("alice", "a1").await;
        let missing = "SpaceNotFound: SpaceName `nowhere`";
        for statement in [
            "USE nowhere",
            "GRANT ROLE GUEST ON nowhere TO bob",
            "REVOKE ROLE GUEST ON nowhere FROM bob",
            "GRANT ROLE GUEST ON nowhere TO alice",
            "GRANT ROLE GOD ON nowhere TO bob",
            "REVOKE ROLE GOD ON nowhere FROM bob",
        ] {
            let reply = alice.execute(session, statement).await;
            assert_eq!((reply.code(), reply.message()), (-1005, missing), "{statement}");
        }
        // The validator's semantic check still comes first.
        let god = alice.execute(session, "GRANT ROLE GUEST ON nowhere TO root").await;
        assert_eq!(
            (god.code(), god.message()),
            (-1009, "SemanticError: User 'root' is GOD, cannot be granted.")
        );
        // A space that exists: the permission check answers.
        let mut bob = Client::python(graphd.addr()).await;
        let bob_session = bob.login("bob", "b1").await;
        let refused = bob.execute(bob_session, "USE nba").await;
        assert_eq!(
            (refused.code(), refused.message()),
            (-1008, "PermissionError: No permission to read space.")
        );
        graphd.stop().await;
    })
    .await;
}

/// Names and passwords out of NebulaGraph's bounds (16 bytes, 24 bytes) are semantic errors of
/// the validator, before any permission check (`CreateUserValidator`, `UpdateUserValidator` and
/// `ChangePasswordValidator` in `src/graph/validator/ACLValidator.cpp`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_and_names_out_of_bounds_are_semantic_errors() {
    within(60, async {
        let (graphd, mut root, session) = authorized("password-bounds").await;
        let long_password = "p".repeat(25);
        let long_name = "n".repeat(17);
        let password = "SemanticError: Password exceed maximum length 24 characters.";
        let name = "SemanticError: Username exceed maximum length 16 characters.";
        let cases = [
            (format!("CREATE USER carol WITH PASSWORD '{long_password}'"), password),
            (format!("ALTER USER alice WITH PASSWORD '{long_password}'"), password),
            (format!("CHANGE PASSWORD {long_name} FROM 'a' TO 'b'"), name),
            (
                format!("CHANGE PASSWORD alice FROM '{long_password}' TO 'b'"),
                "SemanticError: Old password exceed maximum length 24 characters.",
            ),
            (
                format!("CHANGE PASSWORD alice FROM 'a1' TO '{long_password}'"),
                "SemanticError: New password exceed maximum length 24 characters.",
            ),
            // The name is checked before the password.
            (format!("CREATE USER {long_name} WITH PASSWORD '{long_password}'"), name),
        ];
        let mut alice = Client::python(graphd.addr()).await;
        let alice_session = alice.login("alice", "a1").await;
        for (statement, message) in &cases {
            for (client, session) in [(&mut root, session), (&mut alice, alice_session)] {
                let reply = client.execute(session, statement).await;
                assert_eq!((reply.code(), reply.message()), (-1009, *message), "{statement}");
            }
        }
        // At the bound: accepted.
        let at_bound = format!("CREATE USER carol WITH PASSWORD '{}'", "p".repeat(24));
        root.execute(session, &at_bound).await.ok();
        Client::python(graphd.addr()).await.login("carol", &"p".repeat(24)).await;
        graphd.stop().await;
    })
    .await;
}

/// KILL QUERY names its session and plan in either order, and session 0 is the current session
/// (`query_unique_identifier` in `src/parser/parser.yy`; `KillQueryExecutor.cpp`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_query_takes_nebulagraphs_forms() {
    within(30, async {
        let graphd = Graphd::fresh("kill-forms").await;
        let mut client = Client::python(graphd.addr()).await;
        let session = client.login("root", "nebula").await;
        for (statement, message) in [
            (
                "KILL QUERY (plan=987654321, session=987654321)",
                "SessionId[987654321] does not exist",
            ),
            ("KILL QUERY (session=-5, plan=1)", "SessionId[-5] does not exist"),
            (
                "KILL QUERY (session=0, plan=987654321)",
                "ExecutionPlanId[987654321] does not exist in current Session.",
            ),
            // A negative plan id is NebulaGraph's `unary_integer` too: no query has one.
            ("KILL QUERY (plan=-5)", "ExecutionPlanId[-5] does not exist in current Session."),
            ("KILL QUERY (session=-5, plan=-7)", "SessionId[-5] does not exist"),
        ] {
            let refused = client.execute(session, statement).await;
            assert_eq!((refused.code(), refused.message()), (-1005, message), "{statement}");
        }
        // The session's own id names the current session (`sessionId == session->id()`).
        let own = format!("KILL QUERY (session={session}, plan=-9)");
        let refused = client.execute(session, &own).await;
        let expected = "ExecutionPlanId[-9] does not exist in current Session.";
        assert_eq!((refused.code(), refused.message()), (-1005, expected), "{own}");
        graphd.stop().await;
    })
    .await;
}

/// REVOKE of the GOD role: NebulaGraph's `RevokeRoleExecutor` refuses it in its own words before
/// `canWriteRole`; GRANT of GOD gets `canWriteRole`'s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_of_god_is_permission_denied() {
    within(60, async {
        let (graphd, mut root, session) = authorized("revoke-god").await;
        let revoke = root.execute(session, "REVOKE ROLE GOD ON nba FROM alice").await;
        assert_eq!(
            (revoke.code(), revoke.message()),
            (-1008, "PermissionError: Permission denied")
        );
        let grant = root.execute(session, "GRANT ROLE GOD ON nba TO alice").await;
        assert_eq!(
            (grant.code(), grant.message()),
            (-1008, "PermissionError: No permission to grant/revoke god user.")
        );
        graphd.stop().await;
    })
    .await;
}

/// SHOW ROLES IN with authorization off: anyone may run it, and NebulaGraph's `ListRolesExecutor`
/// still shows GOD and ADMIN every row, another role its own, no role none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_roles_filters_rows_with_authorization_off_too() {
    within(60, async {
        let graphd = Graphd::fresh("roles-off").await;
        let mut root = Client::python(graphd.addr()).await;
        let session = root.login("root", "nebula").await;
        let script = "CREATE SPACE nba; CREATE USER alice; CREATE USER bob; CREATE USER carol; \
                      GRANT ROLE USER ON nba TO alice; GRANT ROLE ADMIN ON nba TO carol";
        root.execute(session, script).await.ok();
        for (user, expected) in [
            ("root", vec!["alice", "carol"]),
            ("carol", vec!["alice", "carol"]),
            ("alice", vec!["alice"]),
            ("bob", vec![]),
        ] {
            let mut client = Client::python(graphd.addr()).await;
            let own = client.login(user, "").await;
            let reply = client.execute(own, "SHOW ROLES IN nba").await;
            let mut rows: Vec<String> =
                reply.ok().rows().iter().map(|row| support::string(&row[0])).collect();
            rows.sort();
            assert_eq!(rows, expected, "{user}");
        }
        graphd.stop().await;
    })
    .await;
}

/// SHOW HOSTS of a given kind answers with the git-info columns for every kind (NebulaGraph's
/// `ShowHostsExecutor` uses the leader and partition columns only for plain SHOW HOSTS); graphd
/// has no storage, agent or listener hosts, so those are empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_hosts_of_a_kind_has_the_git_info_columns() {
    within(30, async {
        let graphd = Graphd::fresh("hosts-kinds").await;
        let mut client = Client::python(graphd.addr()).await;
        let session = client.login("root", "nebula").await;
        let columns = ["Host", "Port", "Status", "Role", "Git Info Sha", "Version"];
        for statement in ["SHOW HOSTS STORAGE", "SHOW HOSTS AGENT", "SHOW HOSTS STORAGE LISTENER"] {
            let reply = client.execute(session, statement).await;
            assert_eq!(reply.ok().columns(), columns, "{statement}");
            assert!(reply.rows().is_empty(), "{statement}");
        }
        for statement in ["SHOW HOSTS GRAPH", "SHOW HOSTS META"] {
            let reply = client.execute(session, statement).await;
            assert_eq!(reply.ok().columns(), columns, "{statement}");
            assert_eq!(reply.rows().len(), 1, "{statement}");
        }
        graphd.stop().await;
    })
    .await;
}

/// A pipe is a statement of its own to NebulaGraph's `PermissionCheck` (`kPipe`: read schema or
/// data, a role in the current space), checked after its source's own check: SHOW QUERIES is
/// anyone's, but piped, a user with no space chosen is refused, and the kills of a
/// `SHOW QUERIES | KILL QUERY` never run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipe_needs_a_role_in_the_current_space() {
    within(60, async {
        let (graphd, mut root, root_session) = authorized("pipe-check").await;
        let refused = "PermissionError: No permission to read schema/data.";
        let mut alice = Client::python(graphd.addr()).await;
        let session = alice.login("alice", "a1").await;
        let plain = alice.execute(session, "SHOW QUERIES").await;
        assert_eq!(plain.code(), 0, "{}", plain.message());
        for statement in [
            "SHOW QUERIES | YIELD $-.SessionID",
            "SHOW QUERIES | KILL QUERY (session=$-.SessionID, plan=$-.ExecutionPlanID)",
        ] {
            let reply = alice.execute(session, statement).await;
            assert_eq!((reply.code(), reply.message()), (-1008, refused), "{statement}");
        }
        // With a role in the current space, and for GOD, the pipe runs.
        let used = alice.execute(session, "USE nba").await;
        assert_eq!(used.code(), 0, "{}", used.message());
        let piped = alice.execute(session, "SHOW QUERIES | YIELD $-.SessionID").await;
        assert_eq!(piped.code(), 0, "{}", piped.message());
        let god = root.execute(root_session, "SHOW QUERIES | YIELD $-.SessionID").await;
        assert_eq!(god.code(), 0, "{}", god.message());
        graphd.stop().await;
    })
    .await;
}
