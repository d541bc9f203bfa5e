//! One connection's bytes never hurt another: a sign-out is never answered and the connection
//! stays in step; garbage, oversized, truncated, foreign and out-of-order frames each close
//! their own connection (after the calls before them were answered) while a neighbour keeps
//! working; an idle connection that never authenticated is closed, an authenticated one is not.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

mod support;

use std::time::Duration;

use graphsession_wire::{Framing, Protocol};
use support::wire_support::{framed, header_frame, header_frame_with, message, python};
use support::{Client, ClientCall, Graphd, config, fresh_dir, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_is_never_answered_and_the_connection_stays_in_step() {
    within(30, async {
        let graphd = Graphd::start(config(&fresh_dir("signout"))).await;
        for mut client in
            [Client::python(graphd.addr()).await, Client::node_js(graphd.addr()).await]
        {
            let session = client.login("root", "nebula").await;
            client.send(&ClientCall::SignOut { session_id: session }).await;
            // The next reply read is the version check's own (decode checks its method name).
            assert_eq!(client.verify("3.0.0").await.0, 0);
            assert_eq!(client.execute(session, "YIELD 1").await.code(), -1002);
            // Two sign-outs in a row, then a login: still in step.
            client.send(&ClientCall::SignOut { session_id: session }).await;
            client.send(&ClientCall::SignOut { session_id: 12_345 }).await;
            let again = client.login("root", "nebula").await;
            client.execute(again, "YIELD 1").await.ok();
        }
        graphd.stop().await;
    })
    .await;
}

/// Each bad input, sent after one good call on a fresh connection.
fn bad_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let verify = ClientCall::VerifyClientVersion { version: b"3.0.0".to_vec() };
    let mut reply_not_call = message(Protocol::Compact, &verify, 0);
    reply_not_call[1] = 0x42; // message type 2 (REPLY), Compact version 2
    vec![
        ("garbage", b"\x00\x00\x00\x0cHELLO WORLD!".to_vec()),
        ("oversized", [&(1_u32 << 20).to_be_bytes()[..], b"\x0f\xff\x00\x00"].concat()),
        ("framed after header", framed(&message(Protocol::Binary, &verify, 1))),
        ("transforms", header_frame_with(2, 0, &[1], &[], &message(Protocol::Compact, &verify, 0))),
        ("not a call", header_frame(Protocol::Compact, 0, &reply_not_call)),
        ("unknown method", header_frame(Protocol::Compact, 0, b"\x82\x22\x00\x04nope\x00")),
        ("truncated payload", header_frame(Protocol::Compact, 0, b"\x82\x22\x00\x7fverify")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_close_only_their_own_connection() {
    within(60, async {
        let mut config = config(&fresh_dir("frames"));
        config.max_frame_bytes = 4_096;
        let graphd = Graphd::start(config).await;
        let mut neighbour = Client::node_js(graphd.addr()).await;
        let session = neighbour.login("root", "nebula").await;
        for (name, bytes) in bad_inputs() {
            let mut client = Client::python(graphd.addr()).await;
            assert_eq!(client.verify("3.0.0").await.0, 0, "{name}: the call before is answered");
            client.send_raw(&bytes).await.unwrap();
            assert!(client.closed_within(Duration::from_secs(5)).await, "{name}: not closed");
            neighbour.execute(session, "YIELD 1").await.ok();
        }
        // A frame cut short by the client's close: nothing to answer, nothing breaks.
        let mut client = Client::python(graphd.addr()).await;
        let whole = python(&ClientCall::VerifyClientVersion { version: b"3.0.0".to_vec() });
        client.send_raw(&whole[..whole.len() / 2]).await.unwrap();
        drop(client);
        // A Binary frame first on a Header-detected server is its own framing: fine.
        let mut binary = Client::connect(graphd.addr(), Framing::Header, Protocol::Binary).await;
        assert_eq!(binary.verify("3.0.0").await.0, 0);
        neighbour.execute(session, "YIELD 1").await.ok();
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_unauthenticated_connection_is_closed_an_authenticated_one_is_not() {
    within(30, async {
        let mut config = config(&fresh_dir("idle"));
        config.unauthenticated_idle_timeout_secs = 1;
        let graphd = Graphd::start(config).await;
        let mut silent = Client::python(graphd.addr()).await;
        let mut verified = Client::node_js(graphd.addr()).await;
        assert_eq!(verified.verify("3.0.0").await.0, 0);
        let mut authenticated = Client::python(graphd.addr()).await;
        let session = authenticated.login("root", "nebula").await;
        assert!(silent.closed_within(Duration::from_secs(5)).await, "silent: not closed");
        assert!(verified.closed_within(Duration::from_secs(5)).await, "verified only: not closed");
        tokio::time::sleep(Duration::from_millis(500)).await;
        authenticated.execute(session, "YIELD 1").await.ok();
        graphd.stop().await;
    })
    .await;
}
