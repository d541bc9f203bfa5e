//! A node crashed under load: graphd `--nodes 3` in this process, long sessions (many executes
//! each) and short ones (authenticate, execute, signout) on twelve connections spread over the
//! nodes, node 2 crashed as `kill -9` crashes a process (its listener and connections closed
//! at once, its memory dropped) and restarted as a new incarnation. Every session a client
//! held survives (its next execute, re-sent with the same id to another node as nebula3-python
//! re-sends it, succeeds: no -1002), no call fails, and at the end nothing is left: meta's
//! count and every registry reach zero and SHOW SESSIONS lists only the session asking.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

mod support;

use std::time::Duration;

use graphsession_graphd::load::{self, Connection, Flavour, Options};
use tokio::time::Instant;

use support::{Graphd, config, fresh_dir, within};

/// Short, so that a login cut by the crash (a session nobody knows) ends within the test.
const IDLE_TIMEOUT_SECS: u64 = 4;
const RUN: Duration = Duration::from_millis(4_500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_crashed_under_load_loses_no_session_and_leaks_none() {
    within(30, async {
        let test_dir = fresh_dir("crash");
        let mut config = config(&test_dir);
        config.nodes = 3;
        config.session_idle_timeout_secs = IDLE_TIMEOUT_SECS;
        config.max_sessions_per_ip_per_user = 0;
        let mut graphd = Graphd::start(config).await;
        let addrs = graphd.addrs.clone();
        // Six connections hold one session each for the whole run; six cycle through sessions.
        let long =
            Options { executes_per_session: u32::MAX, ..Options::new(addrs.clone(), 6, RUN) };
        let short = Options { flavour: Flavour::Node, ..Options::new(addrs.clone(), 6, RUN) };
        let long = tokio::spawn(load::run(long, "long sessions".to_owned()));
        let short = tokio::spawn(load::run(short, "short sessions".to_owned()));
        tokio::time::sleep(RUN / 3).await;
        let server = graphd.server_mut();
        server.crash_node(1).await.unwrap();
        tokio::time::sleep(RUN / 3).await;
        graphd.server_mut().restart_node(1).await.unwrap();
        let (long, short) = (long.await.unwrap(), short.await.unwrap());
        for report in [&long, &short] {
            let tally = &report.tally;
            assert_eq!(tally.sessions_lost, 0, "{}", report.table());
            assert_eq!(tally.errors, 0, "{}", report.table());
        }
        // Workers 1 and 4 of each load started on node 2: their connections were cut and
        // their sessions went on elsewhere.
        assert!(long.tally.failovers >= 2, "{}", long.table());
        assert_eq!(long.tally.sessions, 6, "every long session signed out: {}", long.table());
        assert!(short.tally.sessions > 6, "{}", short.table());
        nothing_left(&graphd).await;
        graphd.stop().await;
    })
    .await;
}

/// Meta and every node reach zero sessions (a login cut by the crash within the idle timeout
/// and a sync round or two), and SHOW SESSIONS then lists only the asking session.
async fn nothing_left(graphd: &Graphd) {
    let server = graphd.server();
    let started = Instant::now();
    let bound = Duration::from_secs(IDLE_TIMEOUT_SECS + 6);
    loop {
        let census = server.census().await.unwrap();
        if census.meta == 0 && census.nodes.iter().all(|&held| held == 0) {
            break;
        }
        assert!(started.elapsed() < bound, "sessions left: {census:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for addr in &graphd.addrs {
        let mut admin =
            Connection::connect(*addr, Flavour::Python, support::REPLY_WAIT).await.unwrap();
        let session = admin.authenticate("root", "nebula").await.unwrap();
        let rows = admin.execute(session, "SHOW SESSIONS").await.unwrap();
        assert_eq!(rows, 1, "only the asking session, on {addr}");
        admin.sign_out(session).await.unwrap();
    }
    let census = server.census().await.unwrap();
    assert_eq!((census.meta, census.nodes), (0, vec![0, 0, 0]));
}
