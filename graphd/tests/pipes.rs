//! Pipes (`SHOW QUERIES | YIELD ... WHERE ... | ORDER BY ... | KILL QUERY (...)`) and DESC USER:
//! NebulaGraph's semantic errors decided before anything runs (the messages of its
//! KillSlowQueryBaseTest.feature), and, over loopback, the slow-query idiom killing exactly the
//! query its filter picks, a pipe that only transforms rows, and DESC USER's rows and rights.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

mod support;

use std::time::Duration;

use graphsession_graphd::parser::{Exec, Parsed, parse_script};
use support::{Client, Graphd, config, fresh_dir, string, within};

fn semantic(text: &str) -> String {
    let pieces = parse_script(text).unwrap();
    match &pieces[0].parsed {
        Parsed::Exec(Exec::Fail { code: -1009, message }) => message.clone(),
        other => panic!("{text}: not a semantic error: {other:?}"),
    }
}

#[test]
fn input_properties_without_a_pipe_or_a_column_are_semantic_errors() {
    assert_eq!(
        semantic("KILL QUERY (session=$-.sid, plan=$-.eid)"),
        "SemanticError: `$-.sid', not exist prop `sid'"
    );
    assert_eq!(
        semantic("KILL QUERY (plan=$-.eid)"),
        "SemanticError: `$-.eid', not exist prop `eid'"
    );
    assert_eq!(
        semantic(
            "SHOW QUERIES | YIELD $-.SessionID AS sid, $-.`Query` AS eid, $-.DurationInUSec AS dur \
             WHERE $-.DurationInUSec > 10000000 | ORDER BY $-.dur \
             | KILL QUERY (session=$-.sid, plan=$-.eid)"
        ),
        "SemanticError: $-.eid, Session ID must be an integer but was STRING"
    );
    assert_eq!(
        semantic("SHOW QUERIES | YIELD $-.Nope AS x"),
        "SemanticError: `$-.Nope', not exist prop `Nope'"
    );
    assert_eq!(
        semantic("SHOW QUERIES | YIELD $-.SessionID AS sid | ORDER BY $-.SessionID"),
        "SemanticError: `$-.SessionID', not exist prop `SessionID'"
    );
}

#[test]
fn a_pipe_is_one_statement_and_its_syntax_errors_are_nebulagraphs() {
    let pieces = parse_script(
        "SHOW QUERIES | YIELD $-.SessionID AS sid, $-.ExecutionPlanID AS eid \
         WHERE $-.DurationInUSec >= 1 AND NOT ($-.`Query` CONTAINS \"x\" OR $-.Status != \"RUNNING\") \
         | ORDER BY $-.sid DESC, $-.eid | LIMIT 3 | KILL QUERY (session=$-.sid, plan=$-.eid); YIELD 1",
    )
    .unwrap();
    assert_eq!(pieces.len(), 2);
    assert!(matches!(pieces[0].parsed, Parsed::Pipe(_)), "{:?}", pieces[0].parsed);
    // A missing plan: the error is at the `)`, as upstream's slowquery_test_008 says.
    let refusal = parse_script("KILL QUERY (session=$-.sid)").unwrap_err();
    assert_eq!(refusal.message, "SyntaxError: syntax error near `)'");
    let refusal = parse_script("SHOW QUERIES |").unwrap_err();
    assert_eq!(refusal.code, -1004);
    let refusal = parse_script("SHOW QUERIES | GO FROM 1 OVER e").unwrap_err();
    assert_eq!(refusal.message, "SyntaxError: syntax error near `GO'");
}

/// Sessions' rows of SHOW QUERIES whose text is `text`.
async fn running(viewer: &mut Client, viewer_session: i64, text: &str) -> usize {
    let queries = viewer.execute(viewer_session, "SHOW QUERIES").await;
    queries.ok().rows().iter().filter(|row| string(&row[7]) == text).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slow_query_idiom_kills_what_its_filter_picks_and_nothing_else() {
    within(30, async {
        let graphd = Graphd::fresh("pipe-kill").await;
        let slow = "YIELD graphd_sleep(20000) AS slow";
        let spared = "YIELD graphd_sleep(20000) AS spared";
        let mut tasks = Vec::new();
        for text in [slow, spared] {
            let mut client = Client::python(graphd.addr()).await;
            let session = client.login("root", "nebula").await;
            tasks.push(tokio::spawn(async move { client.execute(session, text).await }));
        }
        let mut admin = Client::node_js(graphd.addr()).await;
        let admin_session = admin.login("root", "nebula").await;
        for _ in 0..200 {
            if running(&mut admin, admin_session, slow).await == 1
                && running(&mut admin, admin_session, spared).await == 1
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let picked = admin
            .execute(
                admin_session,
                "SHOW QUERIES | YIELD $-.SessionID AS sid, $-.ExecutionPlanID AS eid, \
                 $-.DurationInUSec AS dur WHERE $-.DurationInUSec > 0 AND $-.`Query` CONTAINS \"AS slow\"",
            )
            .await;
        assert_eq!(picked.ok().columns(), ["sid", "eid", "dur"]);
        assert_eq!(picked.rows().len(), 1);
        let killed = admin
            .execute(
                admin_session,
                "SHOW QUERIES | YIELD $-.SessionID AS sid, $-.ExecutionPlanID AS eid, \
                 $-.DurationInUSec AS dur WHERE $-.`Query` CONTAINS \"AS slow\" \
                 | ORDER BY $-.dur | KILL QUERY (session=$-.sid, plan=$-.eid)",
            )
            .await;
        killed.ok();
        let reply = tasks.remove(0).await.unwrap();
        assert_eq!((reply.code(), reply.message()), (-1005, "Execution had been killed"));
        assert_eq!(running(&mut admin, admin_session, spared).await, 1, "the other query runs on");
        // A filter that picks nothing kills nothing and succeeds.
        admin
            .execute(
                admin_session,
                "SHOW QUERIES | YIELD $-.SessionID AS sid, $-.ExecutionPlanID AS eid \
                 WHERE $-.`Query` CONTAINS \"no such text\" | KILL QUERY (session=$-.sid, plan=$-.eid)",
            )
            .await
            .ok();
        assert_eq!(running(&mut admin, admin_session, spared).await, 1);
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desc_user_lists_roles_to_god_and_to_the_user_alone() {
    within(30, async {
        let test_dir = fresh_dir("desc-user");
        let config = graphsession_graphd::Config { enable_authorize: true, ..config(&test_dir) };
        let graphd = Graphd::start(config).await;
        let mut root = Client::python(graphd.addr()).await;
        let session = root.login("root", "nebula").await;
        for statement in [
            "CREATE SPACE s1(vid_type=INT64)",
            "CREATE SPACE s2(vid_type=INT64)",
            "CREATE USER alice WITH PASSWORD \"pw\"",
            "CREATE USER bob WITH PASSWORD \"pw\"",
            "GRANT ROLE ADMIN ON s1 TO alice",
            "GRANT ROLE GUEST ON s2 TO alice",
        ] {
            root.execute(session, statement).await.ok();
        }
        let god = root.execute(session, "DESC USER root").await;
        assert_eq!(god.ok().columns(), ["role", "space"]);
        assert_eq!(god.rows().len(), 1);
        assert_eq!(
            (string(&god.rows()[0][0]), string(&god.rows()[0][1])),
            ("GOD".into(), String::new())
        );
        let alice =
            root.execute(session, "DESC USER alice | YIELD $-.space AS sp | ORDER BY $-.sp").await;
        let spaces: Vec<String> = alice.ok().rows().iter().map(|row| string(&row[0])).collect();
        assert_eq!(spaces, ["s1", "s2"]);
        let missing = root.execute(session, "DESC USER nobody").await;
        assert_eq!(missing.code(), -1005);
        let mut client = Client::python(graphd.addr()).await;
        let alice_session = client.login("alice", "pw").await;
        client.execute(alice_session, "DESC USER alice").await.ok();
        let other = client.execute(alice_session, "DESC USER bob").await;
        assert_eq!(other.code(), -1008, "{}", other.message());
        graphd.stop().await;
    })
    .await;
}
