//! Runs every example in `client/examples/` against a graphd started in this process: the
//! examples' own `run` functions, so the code a reader copies is the code CI runs.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]
#![allow(clippy::print_stdout, reason = "the examples print their results")]

mod support;

#[path = "../examples/graceful_shutdown.rs"]
mod graceful_shutdown;
#[path = "../examples/minimal.rs"]
mod minimal;
#[path = "../examples/pool_load.rs"]
mod pool_load;

use std::time::Duration;

use support::{Graphd, client, server_sessions, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_runs_and_leaves_no_session() {
    within(120, async {
        let graphd = Graphd::start("examples", 1).await;
        let admin = client(&graphd).await.session().await.unwrap();
        let before = server_sessions(&admin).await;

        assert_eq!(minimal::run(graphd.addresses()).await.unwrap(), 42);
        assert_eq!(server_sessions(&admin).await, before, "minimal left a session");

        let (succeeded, metrics) = pool_load::run(graphd.addresses()).await.unwrap();
        assert_eq!(succeeded, pool_load::TASKS_TIMES_STATEMENTS);
        assert_eq!(metrics.sessions_created, metrics.sessions_signed_out, "{metrics:?}");
        assert_eq!(server_sessions(&admin).await, before, "pool_load left a session");

        let shutdown = tokio::time::sleep(Duration::from_millis(300));
        let (done, metrics) = graceful_shutdown::run(graphd.addresses(), shutdown).await.unwrap();
        assert!(done > 0, "the workers ran statements before the shutdown");
        assert_eq!(metrics.sessions_leaked, 0, "{metrics:?}");
        assert_eq!(metrics.sessions_created, metrics.sessions_signed_out, "{metrics:?}");
        assert_eq!(server_sessions(&admin).await, before, "graceful_shutdown left a session");

        admin.close().await.unwrap();
        graphd.stop().await;
    })
    .await;
}
