//! `--nodes 3`: three graph nodes on consecutive ports sharing one embedded meta store. A
//! session created on one node is used through another, SHOW SESSIONS on any node lists every
//! session, SHOW SESSION on any node shows one held by another, and KILL SESSION on one node ends a session in use on another within the sync bound.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

mod support;

use std::time::Duration;

use tokio::time::Instant;

use support::{Client, Graphd, config, fresh_dir, int, string, within};

async fn three_nodes(name: &str) -> Graphd {
    let dir = fresh_dir(name);
    let mut config = config(&dir);
    config.nodes = 3;
    Graphd::start(config).await.owning(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_created_on_one_node_is_used_through_another() {
    within(30, async {
        let graphd = three_nodes("cluster-use").await;
        assert_eq!(graphd.addrs.len(), 3);
        let mut first = Client::python(graphd.addrs[0]).await;
        let session = first.login("root", "nebula").await;
        first.execute(session, "CREATE SPACE nba; USE nba").await.ok();
        // python re-sends the same id on another connection after a failure, maybe to another node.
        let mut second = Client::node_js(graphd.addrs[1]).await;
        let reply = second.execute(session, "YIELD 1").await;
        reply.ok();
        let mut third = Client::python(graphd.addrs[2]).await;
        let admin = third.login("root", "nebula").await;
        // SHOW SESSIONS reads meta: the space set on node 1 is there after node 1's next round.
        let started = Instant::now();
        let (rows, row) = loop {
            let sessions = third.execute(admin, "SHOW SESSIONS").await;
            let rows = sessions.ok().rows().to_vec();
            let row = rows.iter().find(|row| int(&row[0]) == session).expect("listed").clone();
            if string(&row[2]) == "nba" {
                break (rows, row);
            }
            assert!(
                started.elapsed() < Duration::from_millis(2_500),
                "the space never reached meta"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let addrs: Vec<String> = graphd.addrs.iter().map(ToString::to_string).collect();
        assert!(addrs.contains(&string(&row[5])), "GraphAddr {:?}", string(&row[5]));
        assert!(rows.iter().any(|row| int(&row[0]) == admin), "the admin's own session");
        graphd.stop().await;
    })
    .await;
}

/// SHOW SESSION reads meta, as NebulaGraph's does: a session held by another node is shown
/// with that node's address, and an id no node holds is refused in NebulaGraph's words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_session_on_one_node_shows_a_session_held_by_another() {
    within(30, async {
        let graphd = three_nodes("cluster-show-one").await;
        let mut user = Client::python(graphd.addrs[1]).await;
        let session = user.login("root", "nebula").await;
        user.execute(session, "YIELD 1").await.ok();
        let mut admin = Client::node_js(graphd.addrs[0]).await;
        let admin_session = admin.login("root", "nebula").await;
        let shown = admin.execute(admin_session, &format!("SHOW SESSION {session}")).await;
        let rows = shown.ok().rows().to_vec();
        assert_eq!(rows.len(), 1);
        assert_eq!((int(&rows[0][0]), string(&rows[0][1])), (session, "root".to_owned()));
        assert_eq!(string(&rows[0][5]), graphd.addrs[1].to_string(), "its holder's address");
        let missing = admin.execute(admin_session, "SHOW SESSION 4242").await;
        assert_eq!(
            (missing.code(), missing.message()),
            (-1005, "Get session `4242' failed: Session not existed!.")
        );
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_session_on_one_node_ends_it_on_another_within_the_sync_bound() {
    within(30, async {
        let graphd = three_nodes("cluster-kill").await;
        let mut user = Client::python(graphd.addrs[1]).await;
        let session = user.login("root", "nebula").await;
        user.execute(session, "YIELD 1").await.ok();
        let mut admin = Client::node_js(graphd.addrs[0]).await;
        let admin_session = admin.login("root", "nebula").await;
        let killed = admin.execute(admin_session, &format!("KILL SESSION {session}")).await;
        assert_eq!(int(&killed.ok().rows()[0][0]), 1, "meta removed it");
        // The bound: one sync interval (1 s here) plus network delays (in-process: none).
        let killed_at = Instant::now();
        loop {
            let reply = user.execute(session, "YIELD 1").await;
            if reply.code() == -1002 {
                break;
            }
            reply.ok();
            assert!(
                killed_at.elapsed() < Duration::from_millis(2_500),
                "still alive after the bound"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        graphd.stop().await;
    })
    .await;
}
