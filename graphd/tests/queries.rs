//! The long-running statement (`graphd_sleep`): SHOW QUERIES lists it, KILL QUERY ends it and
//! its client is told "Execution had been killed" (on the node that runs it, and from another
//! node through meta), and a query that outlives the idle timeout keeps its session (fix 3).
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

mod support;

use std::time::Duration;

use support::{Client, Graphd, config, fresh_dir, int, string, within};

/// Finds the plan of `session`'s running query whose text is `text`, as `viewer` sees it.
async fn plan_of(viewer: &mut Client, viewer_session: i64, session: i64, text: &str) -> i64 {
    for _ in 0..200 {
        let queries = viewer.execute(viewer_session, "SHOW QUERIES").await;
        queries.ok();
        let found = (queries.rows().iter())
            .find(|row| int(&row[0]) == session && string(&row[7]) == text)
            .map(|row| int(&row[1]));
        if let Some(plan) = found {
            return plan;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the query {text:?} of {session} never showed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_query_reaches_the_client_of_the_killed_statement() {
    within(30, async {
        let graphd = Graphd::fresh("kill-query").await;
        let mut runner = Client::python(graphd.addr()).await;
        let session = runner.login("root", "nebula").await;
        let running = tokio::spawn(async move {
            let reply = runner.execute(session, "YIELD graphd_sleep(20000) AS slept").await;
            (runner, reply)
        });
        let mut admin = Client::node_js(graphd.addr()).await;
        let admin_session = admin.login("root", "nebula").await;
        let plan =
            plan_of(&mut admin, admin_session, session, "YIELD graphd_sleep(20000) AS slept").await;
        let kill = format!("KILL QUERY (session={session}, plan={plan})");
        admin.execute(admin_session, &kill).await.ok();
        let (mut runner, reply) = running.await.unwrap();
        assert_eq!((reply.code(), reply.message()), (-1005, "Execution had been killed"));
        // The connection and the session go on.
        runner.execute(session, "YIELD 1").await.ok();
        let unknown = admin.execute(admin_session, &kill).await;
        assert_ne!(unknown.code(), 0, "a finished query cannot be killed again");
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleep_that_is_not_killed_yields_its_duration() {
    within(30, async {
        let graphd = Graphd::fresh("sleep").await;
        let mut client = Client::python(graphd.addr()).await;
        let session = client.login("root", "nebula").await;
        let reply = client.execute(session, "YIELD graphd_sleep(50)").await;
        assert_eq!(
            (reply.ok().columns(), int(&reply.rows()[0][0])),
            (vec!["graphd_sleep(50)".to_owned()], 50)
        );
        graphd.stop().await;
    })
    .await;
}

/// A session statement is listed by its nGQL text (the node writes it back: it never sees the
/// client's text), the way a user query is listed by what the client sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_queries_lists_itself_as_ngql() {
    within(30, async {
        let graphd = Graphd::fresh("show-queries-text").await;
        let mut client = Client::python(graphd.addr()).await;
        let session = client.login("root", "nebula").await;
        for (statement, listed) in
            [("SHOW QUERIES", "SHOW QUERIES"), ("show local queries", "SHOW LOCAL QUERIES")]
        {
            let reply = client.execute(session, statement).await;
            let texts: Vec<String> = (reply.ok().rows().iter())
                .filter(|row| int(&row[0]) == session)
                .map(|row| string(&row[7]))
                .collect();
            assert_eq!(texts, vec![listed.to_owned()], "{statement}");
        }
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_query_from_another_node_goes_through_meta() {
    within(30, async {
        let test_dir = fresh_dir("kill-remote");
        let mut config = config(&test_dir);
        config.nodes = 2;
        let graphd = Graphd::start(config).await;
        let mut runner = Client::python(graphd.addrs[0]).await;
        let session = runner.login("root", "nebula").await;
        let running =
            tokio::spawn(async move { runner.execute(session, "YIELD graphd_sleep(20000)").await });
        let mut admin = Client::python(graphd.addrs[1]).await;
        let admin_session = admin.login("root", "nebula").await;
        // SHOW QUERIES lists every node's queries: the admin's node lists the runner's, as
        // node 0 reported it to meta.
        let mut viewer = Client::python(graphd.addrs[1]).await;
        let viewer_session = viewer.login("root", "nebula").await;
        let plan = plan_of(&mut viewer, viewer_session, session, "YIELD graphd_sleep(20000)").await;
        admin
            .execute(admin_session, &format!("KILL QUERY (session={session}, plan={plan})"))
            .await
            .ok();
        let reply = running.await.unwrap();
        assert_eq!((reply.code(), reply.message()), (-1005, "Execution had been killed"));
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_longer_than_the_idle_timeout_keeps_its_session() {
    within(30, async {
        let test_dir = fresh_dir("long-query");
        let mut config = config(&test_dir);
        config.session_idle_timeout_secs = 1;
        let graphd = Graphd::start(config).await;
        let mut client = Client::python(graphd.addr()).await;
        let session = client.login("root", "nebula").await;
        client.execute(session, "YIELD graphd_sleep(3000)").await.ok();
        client.execute(session, "YIELD 1").await.ok();
        // Idle for longer than the timeout (plus a sync round): now it is gone.
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert_eq!(client.execute(session, "YIELD 1").await.code(), -1002);
        graphd.stop().await;
    })
    .await;
}

/// `--query_timeout_ms` kills a query at its deadline, and `SET SESSION query_timeout_ms`
/// overrides it for one session (0: none); the client is told -1005 "Execution had been
/// killed: query timed out", never a result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_its_timeout_is_killed_and_its_client_told_so() {
    const TIMED_OUT: (i32, &str) = (-1005, "Execution had been killed: query timed out");
    within(30, async {
        let test_dir = fresh_dir("query-timeout");
        let mut config = config(&test_dir);
        config.query_timeout_ms = 300;
        let graphd = Graphd::start(config).await;
        let mut client = Client::python(graphd.addr()).await;
        let session = client.login("root", "nebula").await;
        let reply = client.execute(session, "YIELD graphd_sleep(20000)").await;
        assert_eq!((reply.code(), reply.message()), TIMED_OUT);
        // This session turns the node's timeout off, then sets its own.
        client.execute(session, "SET SESSION query_timeout_ms = 0").await.ok();
        let reply = client.execute(session, "YIELD graphd_sleep(600)").await;
        assert_eq!(int(&reply.ok().rows()[0][0]), 600);
        let refused = client.execute(session, "SET SESSION query_timeout_ms = 'soon'").await;
        assert_eq!(refused.code(), -1009, "{}", refused.message());
        client.execute(session, "set session `query_timeout_ms` = 100").await.ok();
        let reply = client.execute(session, "YIELD graphd_sleep(20000)").await;
        assert_eq!((reply.code(), reply.message()), TIMED_OUT);
        // Another session keeps the node's timeout.
        let mut other = Client::node_js(graphd.addr()).await;
        let other_session = other.login("root", "nebula").await;
        let reply = other.execute(other_session, "YIELD graphd_sleep(20000)").await;
        assert_eq!((reply.code(), reply.message()), TIMED_OUT);
        graphd.stop().await;
    })
    .await;
}
