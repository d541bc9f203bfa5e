//! GraphNode's authenticate and verifyClientVersion: a login is answered only after meta
//! registered its session (and that answer counts as the session's activity); the registry's
//! refusals come out with NebulaGraph's codes; a session meta refuses is answered -1002.

use graphsession_core::client::{
    E_BAD_USERNAME_PASSWORD, E_SESSION_INVALID, E_TOO_MANY_CONNECTIONS,
};
use graphsession_core::cluster::MetaConfig;
use graphsession_core::node::SessionStatement;
use graphsession_core::node::{
    CLIENT_VERSIONS_DEFAULT, E_CLIENT_SERVER_INCOMPATIBLE, Reply, Request,
};
use graphsession_core::server::PasswordCheck;

use crate::node_support::{Harness, IP, Setup, code, message};

#[test]
fn authenticate_is_not_answered_before_meta_registered_the_session() {
    let mut h = Harness::new(1);
    let conn = h.connect(0);
    h.authenticate(conn, "alice");
    assert_eq!(h.held(0), 1, "the session exists here at once");
    assert_eq!(h.to_meta.len(), 1, "its registration is on its way");
    assert_eq!(h.reply_count(conn), 0);
    h.deliver_to_meta();
    assert_eq!(h.reply_count(conn), 0, "meta registered it, but its answer is still on its way");
    h.deliver_to_nodes();
    let Some(Reply::Authenticated { session_id, .. }) = h.last_reply(conn) else {
        panic!("{:?}", h.replies(conn));
    };
    assert!(h.holds(0, session_id));
    assert!(h.meta.live_sessions().any(|session| session.get() == session_id));
    assert_eq!(h.reply_count(conn), 1);
}

#[test]
fn authenticate_answer_counts_as_activity_at_registration_time_not_login_time() {
    let mut h = Harness::new(1);
    let conn = h.connect(0);
    let login_at = h.now;
    h.authenticate(conn, "alice");
    // Less than the request timeout, so the node does not send again meanwhile.
    h.advance(1_500);
    h.settle();
    let Some(Reply::Authenticated { session_id, .. }) = h.last_reply(conn) else { panic!() };
    let stats = h.nodes[0].registry().session_stats(session_id).unwrap();
    assert_eq!(stats.created_unix_ms, login_at);
    assert_eq!(stats.last_activity_unix_ms, login_at + 1_500);
}

#[test]
fn authenticate_with_a_wrong_password_is_refused_1001_and_creates_nothing() {
    let mut h = Harness::new(1);
    let conn = h.connect(0);
    h.authenticate_from(conn, "alice", IP, PasswordCheck::Rejected);
    let reply = h.last_reply(conn).unwrap();
    assert_eq!(code(&reply), E_BAD_USERNAME_PASSWORD);
    assert_eq!(message(&reply), "Invalid password");
    assert_eq!(h.held(0), 0);
    assert!(h.to_meta.is_empty(), "nothing to tell meta");
}

#[test]
fn authenticate_on_a_full_node_is_refused_1010() {
    let mut h =
        Harness::with(Setup { tune: |config| config.server.sessions_max = 1, ..Setup::nodes(1) });
    let _first = h.open(0, "alice");
    let conn = h.connect(0);
    h.authenticate(conn, "bob");
    let reply = h.last_reply(conn).unwrap();
    assert_eq!(code(&reply), E_TOO_MANY_CONNECTIONS);
    assert_eq!(message(&reply), "Too many connections in the cluster");
    assert_eq!(h.held(0), 1);
    assert_eq!(h.meta.live_count(), 1);
}

#[test]
fn authenticate_past_the_user_ip_limit_is_refused_1002_with_nebulagraphs_text() {
    let mut h = Harness::with(Setup {
        tune: |config| config.server.sessions_per_user_ip_max = 1,
        ..Setup::nodes(1)
    });
    let _first = h.open(0, "alice");
    let conn = h.connect(0);
    h.authenticate(conn, "alice");
    let reply = h.last_reply(conn).unwrap();
    assert_eq!(code(&reply), E_SESSION_INVALID);
    assert!(message(&reply).starts_with("Create Session failed: Too many sessions created from"));
    assert!(message(&reply).contains("max_sessions_per_ip_per_user"));
    assert_eq!(h.held(0), 1);
    // Another ip is another pair.
    let other = h.connect(0);
    h.authenticate_from(other, "alice", "10.0.0.2", PasswordCheck::Verified);
    h.settle();
    assert!(matches!(h.last_reply(other), Some(Reply::Authenticated { .. })));
}

#[test]
fn authenticate_of_a_session_meta_refuses_is_answered_1002_and_ends_it_here() {
    let mut h = Harness::with(Setup {
        meta: MetaConfig { sessions_max: 1, ..MetaConfig::default() },
        ..Setup::nodes(1)
    });
    let _first = h.open(0, "alice");
    let conn = h.connect(0);
    h.authenticate(conn, "bob");
    assert_eq!(h.reply_count(conn), 0);
    h.settle();
    let reply = h.last_reply(conn).unwrap();
    assert!(matches!(reply, Reply::AuthenticateFailed { code: E_SESSION_INVALID, .. }));
    assert_eq!(h.reply_count(conn), 1);
    assert_eq!(h.held(0), 1, "the refused session ended here");
    assert_eq!(h.meta.live_count(), 1);
}

#[test]
fn authenticate_of_a_session_killed_before_meta_registered_it_is_answered_1002_once() {
    let mut h = Harness::new(1);
    let (admin, root) = h.open(0, "root");
    let conn = h.connect(0);
    h.authenticate(conn, "alice");
    let alice = (h.nodes[0].registry().session_activity().into_iter())
        .map(|(session, _)| session.get())
        .find(|&session| session != root)
        .unwrap();
    assert_eq!(h.reply_count(conn), 0, "its registration is still on its way to meta");
    let kill = SessionStatement::KillSessions { session_ids: vec![alice] };
    let _counted = h.run_statement(admin, root, kill);
    let reply = h.last_reply(conn).unwrap_or_else(|| panic!("the authenticate was never answered"));
    assert_eq!(code(&reply), E_SESSION_INVALID);
    assert_eq!(
        message(&reply),
        format!("Create session failed: session {alice} ended before it was ready")
    );
    h.settle();
    assert_eq!(h.reply_count(conn), 1, "one answer, also after meta's: {:?}", h.replies(conn));
    assert!(!h.holds(0, alice));
    assert_eq!(h.meta.live_count(), 1, "only root's session is left at meta");
}

#[test]
fn client_version_in_the_white_list_is_accepted() {
    let mut h = Harness::new(1);
    let conn = h.connect(0);
    h.request(conn, Request::VerifyClientVersion { version: "3.8.0".into() });
    assert_eq!(h.last_reply(conn), Some(Reply::ClientVersion { code: 0, message: String::new() }));
}

#[test]
fn client_version_outside_the_white_list_is_refused_3061_naming_the_list() {
    let mut h = Harness::new(1);
    let conn = h.connect(0);
    h.request(conn, Request::VerifyClientVersion { version: "2.6.0".into() });
    let reply = h.last_reply(conn).unwrap();
    assert_eq!(code(&reply), E_CLIENT_SERVER_INCOMPATIBLE);
    assert_eq!(
        message(&reply),
        format!(
            "Graph client version(2.6.0) is not accepted, current graph client white list: {}.",
            CLIENT_VERSIONS_DEFAULT.join(":")
        )
    );
    assert!(h.to_meta.is_empty());
}

#[test]
fn client_version_is_not_checked_when_the_white_list_is_empty() {
    let mut h =
        Harness::with(Setup { tune: |config| config.client_versions.clear(), ..Setup::nodes(1) });
    let conn = h.connect(0);
    h.request(conn, Request::VerifyClientVersion { version: "0.0.1".into() });
    assert_eq!(code(&h.last_reply(conn).unwrap()), 0);
}
