//! Every statement graphd parses, over both client framings: columns, values, codes and
//! messages as NebulaGraph gives them; anything else is NebulaGraph's syntax error.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

mod support;

use std::collections::BTreeMap;

use graphsession_wire::Method;
use graphsession_wire::nebula_common::types::Value;
use support::{Client, Graphd, config, fresh_dir, int, string, within};

async fn both_framings(graphd: &Graphd) -> [Client; 2] {
    [Client::python(graphd.addr()).await, Client::node_js(graphd.addr()).await]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_check_and_login_in_both_framings() {
    within(30, async {
        let graphd = Graphd::fresh("login").await;
        for mut client in both_framings(&graphd).await {
            assert_eq!(client.verify("3.0.0").await, (0, String::new()));
            let (code, message) = client.verify("2.0.0").await;
            assert_eq!(code, -3061);
            assert!(
                message.starts_with("Graph client version(2.0.0) is not accepted"),
                "{message}"
            );
            let session = client.login("root", "nebula").await;
            assert!(session > 0);
            let ping = client.execute(0, "YIELD 1;").await;
            assert_eq!(ping.code(), -1002, "session 0 is the clients' ping");
        }
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yield_and_return_of_literals_and_parameters() {
    within(30, async {
        let graphd = Graphd::fresh("yield").await;
        for mut client in both_framings(&graphd).await {
            let session = client.login("root", "nebula").await;
            let reply = client.execute(session, r#"YIELD 1 AS a, "x", -2.5, true, NULL"#).await;
            reply.ok();
            assert_eq!(reply.columns(), ["a", "\"x\"", "-2.5", "true", "NULL"]);
            let row = &reply.rows()[0];
            assert_eq!((int(&row[0]), string(&row[1])), (1, "x".to_owned()));
            assert_eq!(row[3], Value::bVal(true));
            let reply = client.execute(session, "RETURN 'a' AS s").await;
            assert_eq!(string(&reply.ok().rows()[0][0]), "a");
            let parameters = BTreeMap::from([(b"p".to_vec(), Value::iVal(42))]);
            let reply = (client.execute_with(
                Method::ExecuteWithParameter,
                session,
                "RETURN $p",
                parameters,
            ))
            .await;
            assert_eq!(
                (reply.ok().columns(), int(&reply.rows()[0][0])),
                (vec!["$p".to_owned()], 42)
            );
            let missing = client.execute(session, "RETURN $q").await;
            assert_eq!(missing.code(), -1009);
        }
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anything_else_is_nebulagraphs_syntax_error() {
    within(30, async {
        let graphd = Graphd::fresh("syntax").await;
        let mut client = Client::python(graphd.addr()).await;
        let session = client.login("root", "nebula").await;
        let cases = [
            ("GO FROM 1 OVER follow", "SyntaxError: syntax error near `GO'"),
            ("SHOW TAGS", "SyntaxError: syntax error near `TAGS'"),
            ("YIELD 1; MATCH (v) RETURN v", "SyntaxError: syntax error near `MATCH'"),
            ("SHOW", "SyntaxError: syntax error at 1.5"),
            ("YIELD (", "SyntaxError: syntax error near `('"),
        ];
        for (statement, message) in cases {
            let reply = client.execute(session, statement).await;
            assert_eq!((reply.code(), reply.message()), (-1004, message), "{statement}");
        }
        let empty = client.execute(session, " ; ").await;
        assert_eq!(empty.code(), -1006);
        // A syntax error anywhere runs nothing: the space is not created.
        let script = client.execute(session, "CREATE SPACE s1; FOO").await;
        assert_eq!(script.code(), -1004);
        let spaces = client.execute(session, "SHOW SPACES").await;
        assert!(spaces.ok().rows().is_empty());
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spaces_use_and_scripts() {
    within(30, async {
        let graphd = Graphd::fresh("spaces").await;
        for mut client in both_framings(&graphd).await {
            let session = client.login("root", "nebula").await;
            let missing = client.execute(session, "USE nba").await;
            assert_eq!(
                (missing.code(), missing.message()),
                (-1005, "SpaceNotFound: SpaceName `nba`")
            );
            let script = "CREATE SPACE IF NOT EXISTS nba(vid_type=FIXED_STRING(30)); USE nba";
            let used = client.execute(session, script).await;
            assert_eq!(used.ok().space(), "nba");
            let again = client.execute(session, "CREATE SPACE nba").await;
            assert_eq!((again.code(), again.message(), again.space()), (-1005, "Existed!", "nba"));
            let spaces = client.execute(session, "SHOW SPACES").await;
            assert_eq!(spaces.ok().columns(), ["Name"]);
            assert_eq!(string(&spaces.rows()[0][0]), "nba");
            let hosts = client.execute(session, "SHOW HOSTS").await;
            assert_eq!(hosts.ok().columns()[..4], ["Host", "Port", "Status", "Role"]);
            assert_eq!(int(&hosts.rows()[0][1]), i64::from(graphd.addr().port()));
            client.execute(session, "DROP SPACE nba").await.ok();
            client.execute(session, "DROP SPACE IF EXISTS nba").await.ok();
        }
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_roles_and_passwords() {
    within(60, async {
        let test_dir = fresh_dir("users");
        let mut config = config(&test_dir);
        config.enable_authorize = true;
        let graphd = Graphd::start(config).await;
        let mut root = Client::python(graphd.addr()).await;
        let session = root.login("root", "nebula").await;
        root.execute(session, "CREATE SPACE nba").await.ok();
        root.execute(session, "CREATE USER alice WITH PASSWORD 'a1'").await.ok();
        root.execute(session, "CREATE USER IF NOT EXISTS alice WITH PASSWORD 'other'").await.ok();
        let exists = root.execute(session, "CREATE USER alice").await;
        // Meta's -2002 is shown as NebulaGraph's graph service shows it: -1005, its message kept.
        assert_eq!((exists.code(), exists.message()), (-1005, "Existed!"), "{exists:?}");
        root.execute(session, "GRANT ROLE USER ON nba TO alice").await.ok();
        let roles = root.execute(session, "SHOW ROLES IN nba").await;
        assert_eq!(roles.ok().columns(), ["Account", "Role Type"]);
        assert_eq!(
            (string(&roles.rows()[0][0]), string(&roles.rows()[0][1])),
            ("alice".into(), "USER".into())
        );
        let users = root.execute(session, "SHOW USERS").await;
        let names: Vec<String> = users.ok().rows().iter().map(|row| string(&row[0])).collect();
        assert_eq!(names, ["alice", "root"]);
        let on_nowhere = root.execute(session, "GRANT ROLE USER ON nowhere TO alice").await;
        assert_eq!(on_nowhere.message(), "SpaceNotFound: SpaceName `nowhere`");

        let mut alice = Client::node_js(graphd.addr()).await;
        let alice_session = alice.login("alice", "a1").await;
        alice.execute(alice_session, "USE nba").await.ok();
        let refused = alice.execute(alice_session, "SHOW USERS").await;
        assert_eq!(
            (refused.code(), refused.message()),
            (-1008, "PermissionError: No permission to show users/snapshots/serviceClients")
        );
        let refused = alice.execute(alice_session, "CREATE SPACE mine").await;
        assert_eq!(refused.message(), "PermissionError: No permission to write space.");
        let changed = alice.execute(alice_session, "CHANGE PASSWORD alice FROM 'a1' TO 'a2'").await;
        changed.ok();
        let wrong = alice.execute(alice_session, "CHANGE PASSWORD alice FROM 'a1' TO 'a3'").await;
        // NebulaGraph's User.feature: a wrong old password is an ExecutionError, not a login's -1001.
        assert_eq!((wrong.code(), wrong.message()), (-1005, "Invalid password!"));
        assert_eq!(
            Client::python(graphd.addr()).await.authenticate("alice", "a1").await.error_code.0,
            -1001
        );
        Client::python(graphd.addr()).await.login("alice", "a2").await;

        root.execute(session, "ALTER USER alice WITH PASSWORD 'a4'").await.ok();
        Client::python(graphd.addr()).await.login("alice", "a4").await;
        root.execute(session, "REVOKE ROLE USER ON nba FROM alice").await.ok();
        let no_role = alice.execute(alice_session, "YIELD 1").await;
        assert_eq!(no_role.message(), "PermissionError: No permission to read schema/data.");
        root.execute(session, "DROP USER alice").await.ok();
        root.execute(session, "DROP USER IF EXISTS alice").await.ok();
        let gone = Client::python(graphd.addr()).await.authenticate("alice", "a4").await;
        assert_eq!(gone.error_code.0, -1001);
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_listed_shown_and_killed() {
    within(30, async {
        let graphd = Graphd::fresh("show").await;
        let mut admin = Client::python(graphd.addr()).await;
        let session = admin.login("root", "nebula").await;
        let mut other = Client::node_js(graphd.addr()).await;
        let victim = other.login("root", "nebula").await;
        let local = admin.execute(session, "SHOW LOCAL SESSIONS").await;
        assert_eq!(
            local.ok().columns(),
            [
                "SessionId",
                "UserName",
                "SpaceName",
                "CreateTime",
                "UpdateTime",
                "GraphAddr",
                "Timezone",
                "ClientIp"
            ]
        );
        let ids: Vec<i64> = local.rows().iter().map(|row| int(&row[0])).collect();
        assert!(ids.contains(&session) && ids.contains(&victim), "{ids:?}");
        let all = admin.execute(session, "SHOW SESSIONS").await;
        assert_eq!(all.ok().rows().len(), 2);
        let one = admin.execute(session, &format!("SHOW SESSION {victim}")).await;
        assert_eq!(int(&one.ok().rows()[0][0]), victim);
        assert_eq!(string(&one.rows()[0][5]), graphd.addr().to_string());
        let queries = admin.execute(session, "SHOW LOCAL QUERIES").await;
        assert_eq!(queries.ok().columns()[..2], ["SessionID", "ExecutionPlanID"]);
        let killed = admin.execute(session, &format!("KILL SESSION {victim}")).await;
        assert_eq!(killed.ok().columns(), ["Number of session killed"]);
        assert_eq!(int(&killed.rows()[0][0]), 1);
        let dead = other.execute(victim, "YIELD 1").await;
        assert_eq!(dead.code(), -1002);
        let not_int = admin.execute(session, "KILL SESSION 1.5").await;
        assert_eq!(
            (not_int.code(), not_int.message()),
            (-1009, "SemanticError: 1.5, Session ID must be an integer but was FLOAT")
        );
        let json =
            admin.execute_with(Method::ExecuteJson, session, "SHOW SPACES", BTreeMap::new()).await;
        assert_eq!((json.code(), json.columns()), (0, vec!["Name".to_owned()]));
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_refusals_are_execution_errors_with_their_message() {
    within(30, async {
        let test_dir = fresh_dir("meta-codes");
        let mut config = config(&test_dir);
        config.enable_authorize = true;
        let graphd = Graphd::start(config).await;
        for mut client in both_framings(&graphd).await {
            let session = client.login("root", "nebula").await;
            client.execute(session, "CREATE SPACE IF NOT EXISTS nba").await.ok();
            client.execute(session, "CREATE USER IF NOT EXISTS bob").await.ok();
            client.execute(session, "GRANT ROLE DBA ON nba TO bob").await.ok();
            // NebulaGraph's User.feature and KillSlowQueryBaseTest.feature: ExecutionErrors.
            for (statement, message) in [
                ("DROP USER nobody", "User not existed!"),
                ("CREATE USER bob", "Existed!"),
                ("REVOKE ROLE ADMIN ON nba FROM bob", "Improper role!"),
                (
                    "KILL QUERY (plan=987654321)",
                    "ExecutionPlanId[987654321] does not exist in current Session.",
                ),
                ("KILL QUERY (session=987654321, plan=1)", "SessionId[987654321] does not exist"),
            ] {
                let refused = client.execute(session, statement).await;
                assert_eq!((refused.code(), refused.message()), (-1005, message), "{statement}");
            }
            client.execute(session, "REVOKE ROLE DBA ON nba FROM bob").await.ok();
            // The graph service's own codes are kept.
            let dropped = client.execute(session, "DROP USER root").await;
            assert_eq!(
                (dropped.code(), dropped.message()),
                (-1009, "SemanticError: Can't drop root user.")
            );
            let god = client.execute(session, "GRANT ROLE GOD ON nba TO bob").await;
            assert_eq!(god.code(), -1008, "{god:?}");
            assert_eq!(client.execute(session, "KILL QUERY ()").await.code(), -1004);
            client.execute(session, "DROP USER bob").await.ok();
        }
        graphd.stop().await;
    })
    .await;
}
