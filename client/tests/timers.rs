//! The machine's timers, carried out by the client's one timer against a real graphd:
//! keepalives keep an idle session alive past the server's idle timeout; a statement that
//! outlives `execute_timeout_ms` fails with an unknown outcome, its socket is discarded and the
//! session goes on, the same one, on a new socket.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

mod support;

use std::time::Duration;

use graphsession_client::{Client, Error};
use graphsession_core::client::{OutcomeError, RequestError, TransportError};
use support::{Graphd, root, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalives_keep_an_idle_session_past_the_server_idle_timeout() {
    within(60, async {
        let graphd = Graphd::start_configured("keepalive", 1, false, 2).await;
        let mut config = root();
        config.session.server_idle_timeout_ms = 2_000;
        config.session.keepalive_interval_ms = 400;
        config.session.execute_timeout_ms = 1_500;
        config.session.expiry_margin_ms = 1_000;
        let client = Client::connect(graphd.addresses(), config).await.unwrap();
        let session = client.session().await.unwrap();
        session.execute("YIELD 1").await.unwrap();
        // Idle for twice the server's timeout (and its 1 s reclaim round) with no statement.
        tokio::time::sleep(Duration::from_millis(4_500)).await;
        session.execute("YIELD 1").await.unwrap();
        let metrics = session.metrics().await.unwrap();
        assert_eq!(metrics.sessions_created, 1, "the same session: {metrics:?}");
        assert_eq!(metrics.sessions_invalidated + metrics.sessions_zombie, 0, "{metrics:?}");
        session.close().await.unwrap();
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_past_its_timeout_has_an_unknown_outcome_and_the_session_goes_on() {
    within(60, async {
        let graphd = Graphd::start("timeout", 1).await;
        let mut config = root();
        config.session.execute_timeout_ms = 300;
        let client = Client::connect(graphd.addresses(), config).await.unwrap();
        let session = client.session().await.unwrap();
        let error = session.execute("YIELD graphd_sleep(2000)").await.unwrap_err();
        let unknown =
            RequestError::Outcome(OutcomeError::Unknown { cause: TransportError::ReplyTimedOut });
        assert_eq!(error, Error::Request(unknown));
        assert!(!error.certainly_not_run());
        session.execute("YIELD 1").await.unwrap();
        let metrics = session.metrics().await.unwrap();
        assert_eq!(metrics.sessions_created, 1, "resumed on a new socket: {metrics:?}");
        assert!(metrics.reconnects >= 1, "{metrics:?}");
        assert_eq!(session.close().await.unwrap().sessions_signed_out, 1);
        graphd.stop().await;
    })
    .await;
}
