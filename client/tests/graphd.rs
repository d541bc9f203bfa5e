//! The client against a real graphd started in this process: statements, parameters, JSON,
//! USE, typed errors with NebulaGraph's codes; close and `Drop` both sign the session out on
//! the server; a pool under concurrent load keeps its accounting and leaves nothing behind;
//! and failover: a session whose graphd link is cut is resumed with the same id through
//! another graphd of the cluster.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use graphsession_client::{Client, Config, Error, PingOutcome, PoolOptions, Value};
use support::{
    Graphd, Proxy, await_signed_out, client, newest_session, root, server_sessions, within,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_runs_statements_and_close_signs_it_out() {
    within(60, async {
        let graphd = Graphd::start("session", 1).await;
        let client = client(&graphd).await;
        let admin = client.session().await.unwrap();
        let before = server_sessions(&admin).await;
        let session = client.session().await.unwrap();
        let id = newest_session(&admin, &before).await;
        let rows = session.execute("YIELD 1 AS one").await.unwrap();
        assert_eq!(rows.columns(), vec!["one".to_owned()]);
        assert_eq!(rows.get(0, 0), Some(&Value::iVal(1)));
        let parameters = BTreeMap::from([("p".to_owned(), Value::iVal(42))]);
        let rows = session.execute_with("RETURN $p", parameters).await.unwrap();
        assert_eq!(rows.get(0, 0), Some(&Value::iVal(42)));
        let json = session.execute_json("YIELD 7 AS seven").await.unwrap();
        assert_eq!(json["results"][0]["data"][0]["row"][0], 7, "{json}");
        let error = session.execute("THIS IS NOT A STATEMENT").await.unwrap_err();
        assert_eq!(error.code(), Some(-1004), "a syntax error: {error}");
        assert!(!error.certainly_not_run(), "a server error says the statement was tried");
        assert_eq!(session.ping().await.unwrap(), PingOutcome::SessionAlive);
        session.execute("CREATE SPACE nba").await.unwrap();
        session.use_space("nba").await.unwrap();
        let space = session.execute("YIELD 1").await.unwrap().space_name();
        assert_eq!(space.as_deref(), Some("nba"));
        let metrics = session.close().await.unwrap();
        assert_eq!(metrics.sessions_created, 1);
        assert_eq!(metrics.sessions_signed_out, 1, "{metrics:?}");
        assert_eq!(metrics.sessions_leaked, 0);
        assert!(!server_sessions(&admin).await.contains(&id), "signed out on the server");
        admin.close().await.unwrap();
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_session_or_a_pool_signs_out_in_the_background() {
    within(60, async {
        let graphd = Graphd::start("drop", 1).await;
        let client = client(&graphd).await;
        let admin = client.session().await.unwrap();
        let before = server_sessions(&admin).await;
        let session = client.session().await.unwrap();
        session.execute("YIELD 1").await.unwrap();
        let id = newest_session(&admin, &before).await;
        drop(session);
        await_signed_out(&admin, id).await;
        let pool = client.pool(PoolOptions { sessions_min: 2, ..PoolOptions::default() }).await;
        let pool = pool.unwrap();
        let leased = pool.get().await.unwrap();
        leased.execute("YIELD 1").await.unwrap();
        let pooled = server_sessions(&admin).await;
        assert!(pooled.len() > before.len(), "the pool's sessions are on the server");
        drop(leased);
        drop(pool);
        for _ in 0..200 {
            if server_sessions(&admin).await == before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(server_sessions(&admin).await, before, "every pooled session signed out");
        admin.close().await.unwrap();
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_under_concurrent_load_runs_everything_and_leaves_nothing() {
    within(90, async {
        let graphd = Graphd::start("pool", 1).await;
        let client = client(&graphd).await;
        let admin = client.session().await.unwrap();
        let before = server_sessions(&admin).await;
        let options = PoolOptions { sessions_min: 1, sessions_max: 4, ..PoolOptions::default() };
        let pool = client.pool(options).await.unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..16_i64 {
            let pool = pool.clone();
            tasks.spawn(async move {
                for n in 0..8_i64 {
                    let rows = pool.execute(format!("YIELD {} AS n", task * 100 + n)).await?;
                    assert_eq!(rows.get(0, 0), Some(&Value::iVal(task * 100 + n)));
                }
                Ok::<(), Error>(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap().unwrap();
        }
        let (stats, _) = pool.stats().await.unwrap();
        assert!(stats.members <= 4 && stats.leaked == 0, "{stats:?}");
        let metrics = pool.close().await.unwrap();
        assert_eq!(metrics.sessions_created, metrics.sessions_signed_out, "{metrics:?}");
        assert_eq!(metrics.sessions_leaked + metrics.sessions_zombie, 0, "{metrics:?}");
        assert_eq!(server_sessions(&admin).await, before);
        admin.close().await.unwrap();
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_link_fails_over_to_another_graphd_with_the_same_session() {
    within(60, async {
        let graphd = Graphd::start("failover", 2).await;
        let admin = client(&graphd).await.session().await.unwrap();
        let mut first = Proxy::start(graphd.addrs[0]).await;
        let second = Proxy::start(graphd.addrs[1]).await;
        let addresses = [first.addr.to_string(), second.addr.to_string()];
        let client = Client::connect(addresses, root()).await.unwrap();
        let before = server_sessions(&admin).await;
        let session = client.session().await.unwrap();
        session.execute("YIELD 1").await.unwrap();
        let id = newest_session(&admin, &before).await;
        first.cut().await;
        let rows = session.execute_idempotent("YIELD 2 AS two").await.unwrap();
        assert_eq!(rows.get(0, 0), Some(&Value::iVal(2)));
        let metrics = session.metrics().await.unwrap();
        assert_eq!(metrics.sessions_created, 1, "resumed, not replaced: {metrics:?}");
        assert!(metrics.reconnects >= 1, "{metrics:?}");
        assert_eq!(server_sessions(&admin).await, before.iter().copied().chain([id]).collect());
        session.close().await.unwrap();
        await_signed_out(&admin, id).await;
        admin.close().await.unwrap();
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_fail_with_nebulagraph_code_and_bad_addresses_fail_typed() {
    within(60, async {
        let graphd = Graphd::start_with("errors", 1, true).await;
        client(&graphd).await.session().await.unwrap().close().await.unwrap();
        let client = Client::connect(graphd.addresses(), Config::new("root", "wrong")).await;
        let error = client.unwrap().session().await.unwrap_err();
        assert_eq!(error.code(), Some(-1001), "{error}");
        let none: [&str; 0] = [];
        assert_eq!(Client::connect(none, root()).await.unwrap_err(), Error::NoAddress);
        let closed = {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().to_string()
        };
        let error = Client::connect([closed], root()).await.unwrap_err();
        assert!(matches!(error, Error::Unreachable { .. }), "{error}");
        let mut config = root();
        config.session.execute_timeout_ms = 0;
        assert!(matches!(Client::connect(graphd.addresses(), config).await, Err(Error::Config(_))));
        graphd.stop().await;
    })
    .await;
}
