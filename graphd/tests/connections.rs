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
        let graphd = Graphd::fresh("signout").await;
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

/// Sends `bad` after one good call on a fresh connection: that connection is closed, and a
/// neighbour logged in before keeps working.
async fn closes_only_itself(name: &str, bad: Vec<u8>) {
    within(30, async {
        let test_dir = fresh_dir(name);
        let mut config = config(&test_dir);
        config.max_frame_bytes = 4_096;
        let graphd = Graphd::start(config).await;
        let mut neighbour = Client::node_js(graphd.addr()).await;
        let session = neighbour.login("root", "nebula").await;
        let mut client = Client::python(graphd.addr()).await;
        assert_eq!(client.verify("3.0.0").await.0, 0, "the call before is answered");
        client.send_raw(&bad).await.unwrap();
        assert!(client.closed_within(Duration::from_secs(5)).await, "not closed");
        neighbour.execute(session, "YIELD 1").await.ok();
        let mut next = Client::python(graphd.addr()).await;
        next.login("root", "nebula").await;
        graphd.stop().await;
    })
    .await;
}

fn verify_call() -> ClientCall {
    ClientCall::VerifyClientVersion { version: b"3.0.0".to_vec() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_closes_only_its_connection() {
    closes_only_itself("garbage", b"\x00\x00\x00\x0cHELLO WORLD!".to_vec()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_closes_only_its_connection() {
    let announced = [&(1_u32 << 20).to_be_bytes()[..], b"\x0f\xff\x00\x00"].concat();
    closes_only_itself("oversized", announced).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_of_the_other_framing_closes_only_its_connection() {
    let framed_call = framed(&message(Protocol::Binary, &verify_call(), 1));
    closes_only_itself("out-of-order", framed_call).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_frame_with_transforms_closes_only_its_connection() {
    let payload = message(Protocol::Compact, &verify_call(), 0);
    closes_only_itself("transforms", header_frame_with(2, 0, &[1], &[], &payload)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_is_not_a_call_closes_only_its_connection() {
    let mut reply_not_call = message(Protocol::Compact, &verify_call(), 0);
    reply_not_call[1] = 0x42; // message type 2 (REPLY), Compact version 2
    closes_only_itself("not-a-call", header_frame(Protocol::Compact, 0, &reply_not_call)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_method_closes_only_its_connection() {
    let unknown = header_frame(Protocol::Compact, 0, b"\x82\x22\x00\x04nope\x00");
    closes_only_itself("unknown-method", unknown).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_truncated_inside_its_frame_closes_only_its_connection() {
    let truncated = header_frame(Protocol::Compact, 0, b"\x82\x22\x00\x7fverify");
    closes_only_itself("truncated-payload", truncated).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_cut_short_by_the_clients_close_hurts_nobody() {
    within(30, async {
        let graphd = Graphd::fresh("cut-short").await;
        let mut neighbour = Client::node_js(graphd.addr()).await;
        let session = neighbour.login("root", "nebula").await;
        let mut client = Client::python(graphd.addr()).await;
        let whole = python(&verify_call());
        client.send_raw(&whole[..whole.len() / 2]).await.unwrap();
        drop(client);
        neighbour.execute(session, "YIELD 1").await.ok();
        // Header with Binary, first on its connection, is a framing of its own: served.
        let mut binary = Client::connect(graphd.addr(), Framing::Header, Protocol::Binary).await;
        assert_eq!(binary.verify("3.0.0").await.0, 0);
        graphd.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_unauthenticated_connection_is_closed_an_authenticated_one_is_not() {
    within(30, async {
        let test_dir = fresh_dir("idle");
        let mut config = config(&test_dir);
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
