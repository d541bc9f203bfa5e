//! GraphNode's own limits: connections waiting on meta (`waiting_connections_max`) and requests
//! one connection or one pick-up may queue (`waiting_requests_per_connection_max`). Past them a
//! request is refused with a typed reply at once and nothing else changes: what already waited
//! is answered as before.

use graphsession_core::client::{E_EXECUTION_ERROR, E_SESSION_INVALID};
use graphsession_core::node::{Event, Reply, Request, SessionStatement};
use graphsession_query_plan::{KillTarget, QueryKey};

use crate::node_support::{Harness, Setup, code, message};

const BUSY: &str = "Too many requests wait for the meta service; try again";

fn one_waiting_connection() -> Harness {
    Harness::with(Setup { tune: |config| config.waiting_connections_max = 1, ..Setup::nodes(2) })
}

fn one_queued_request() -> Harness {
    Harness::with(Setup {
        tune: |config| config.waiting_requests_per_connection_max = 1,
        ..Setup::nodes(2)
    })
}

fn sessions_created(h: &Harness) -> usize {
    h.events.iter().filter(|(_, event)| matches!(event, Event::SessionCreated { .. })).count()
}

#[test]
fn authenticate_past_waiting_connections_max_is_refused_1002_and_creates_no_session() {
    let mut h = one_waiting_connection();
    let (first, second) = (h.connect(0), h.connect(0));
    h.authenticate(first, "alice");
    let created = sessions_created(&h);
    h.authenticate(second, "bob");
    let reply = h.last_reply(second).unwrap();
    assert_eq!(code(&reply), E_SESSION_INVALID);
    assert_eq!(
        message(&reply),
        "Create session failed: too many requests wait for the meta service"
    );
    assert_eq!((h.held(0), sessions_created(&h)), (1, created));
    assert_eq!(h.reply_count(first), 0);
    h.settle();
    assert!(matches!(h.last_reply(first), Some(Reply::Authenticated { .. })));
    assert_eq!(h.meta.live_count(), 1);
    h.authenticate(second, "bob");
    h.settle();
    assert!(matches!(h.last_reply(second), Some(Reply::Authenticated { .. })));
}

#[test]
fn pick_up_past_waiting_connections_max_is_refused_1005_and_asks_meta_nothing() {
    let mut h = one_waiting_connection();
    let (_, alice) = h.open(0, "alice");
    let (_, bob) = h.open(0, "bob");
    let (first, second) = (h.connect(1), h.connect(1));
    h.query(first, alice, "YIELD 1");
    h.query(second, bob, "YIELD 2");
    let reply = h.last_reply(second).unwrap();
    assert_eq!((code(&reply), message(&reply)), (E_EXECUTION_ERROR, BUSY));
    h.settle();
    assert!(h.holds(1, alice) && !h.holds(1, bob), "only the first was picked up");
    h.finish_all();
    assert!(matches!(h.last_reply(first), Some(Reply::Executed { .. })));
    assert_eq!(h.reply_count(second), 1);
}

#[test]
fn a_request_past_the_queue_behind_a_sign_out_is_refused_and_the_queued_one_still_runs() {
    let mut h = one_queued_request();
    let (conn, alice) = h.open(0, "alice");
    let replies = h.reply_count(conn);
    h.sign_out(conn, alice);
    h.request(conn, Request::VerifyClientVersion { version: "3.8.0".into() });
    h.request(conn, Request::VerifyClientVersion { version: "3.0.0".into() });
    assert_eq!(h.reply_count(conn), replies + 1);
    let reply = h.last_reply(conn).unwrap();
    assert_eq!((code(&reply), message(&reply)), (E_EXECUTION_ERROR, BUSY));
    h.settle();
    assert_eq!(h.reply_count(conn), replies + 2);
    assert_eq!(h.last_reply(conn), Some(Reply::ClientVersion { code: 0, message: String::new() }));
    assert_eq!(h.meta.live_count(), 0);
}

#[test]
fn executes_past_the_queue_of_one_pick_up_are_refused_and_the_queued_one_still_runs() {
    let mut h = one_queued_request();
    let (_, alice) = h.open(0, "alice");
    let (first, second) = (h.connect(1), h.connect(1));
    h.query(first, alice, "YIELD 1");
    h.query(second, alice, "YIELD 2");
    let reply = h.last_reply(second).unwrap();
    assert_eq!((code(&reply), message(&reply)), (E_EXECUTION_ERROR, BUSY));
    h.settle();
    assert_eq!(h.running.len(), 1, "only the queued execute ran");
    h.finish_all();
    assert!(matches!(h.last_reply(first), Some(Reply::Executed { .. })));
    assert_eq!(h.reply_count(second), 1);
}

#[test]
fn a_request_refused_behind_a_sign_out_gets_a_reply_of_its_own_kind_naming_its_space() {
    let mut h = one_queued_request();
    let (conn, alice) = h.open(0, "alice");
    let (_, bob) = h.open(0, "bob");
    h.run_statement(conn, bob, SessionStatement::Use { space: "nba".into() });
    let replies = h.reply_count(conn);
    h.sign_out(conn, alice);
    h.request(conn, Request::VerifyClientVersion { version: "3.8.0".into() });
    h.authenticate(conn, "alice");
    h.request(conn, Request::VerifyClientVersion { version: "3.8.0".into() });
    h.query(conn, bob, "YIELD 1");
    let refused = &h.replies(conn)[replies..];
    assert!(
        matches!(&refused[0], Reply::AuthenticateFailed { code: E_SESSION_INVALID, .. }),
        "{refused:?}"
    );
    assert!(matches!(&refused[1], Reply::ClientVersion { code: E_EXECUTION_ERROR, .. }));
    assert_eq!(
        refused[2],
        Reply::ExecuteFailed {
            code: E_EXECUTION_ERROR,
            message: BUSY.into(),
            space_name: "nba".into()
        }
    );
    assert!(h.running.is_empty() && h.held(0) == 1, "nothing ran, no session was created");
}

#[test]
fn statements_that_would_wait_on_meta_past_waiting_connections_max_are_refused_1005() {
    let mut h = one_waiting_connection();
    let (admin, root) = h.open(0, "root");
    let (on_b, alice) = h.open(1, "alice");
    h.query(on_b, alice, "GO FROM 1 OVER follow");
    let key = h.run_of("GO FROM 1 OVER follow");
    let waiting = h.connect(0);
    h.authenticate(waiting, "bob");
    let statements = [
        SessionStatement::ShowSessions { local: false },
        SessionStatement::KillSessions { session_ids: vec![alice] },
        SessionStatement::KillQuery {
            target: KillTarget::Session { session: key.session, plan: key.plan },
        },
    ];
    for statement in statements {
        let reply = h.run_statement(admin, root, statement);
        assert_eq!((code(&reply), message(&reply)), (E_EXECUTION_ERROR, BUSY));
    }
    assert_eq!(h.to_meta.len(), 1, "only the registration is on its way");
    h.settle();
    h.next_sync();
    assert!(h.holds(1, alice), "nothing was killed");
    assert!(h.handle_of(key).query.handle.check().is_ok());
    assert_eq!(h.nodes[0].registry().session_stats(root).unwrap().queries_active, 0);
    assert!(matches!(h.last_reply(waiting), Some(Reply::Authenticated { .. })));
}

#[test]
fn a_show_queries_waiting_on_meta_holds_one_of_waiting_connections_max() {
    let mut h = one_waiting_connection();
    let (admin, root) = h.open(0, "root");
    let (other, bob) = h.open(0, "bob");
    let replies = h.reply_count(admin);
    h.statement(admin, root, SessionStatement::ShowQueries { local: false });
    assert_eq!(h.reply_count(admin), replies, "waits for meta's listing");
    let reply = h.run_statement(other, bob, SessionStatement::ShowQueries { local: false });
    assert_eq!((code(&reply), message(&reply)), (E_EXECUTION_ERROR, BUSY));
    h.settle();
    assert_eq!(h.reply_count(admin), replies + 1, "answered once meta listed");
    let reply = h.show_queries(other, bob);
    assert_eq!(code(&reply), 0, "the slot is free again: {reply:?}");
}

#[test]
fn a_sign_out_admitted_past_waiting_connections_max_with_nothing_allowed_behind_it_is_sound() {
    let mut h = Harness::with(Setup {
        tune: |config| {
            config.waiting_connections_max = 1;
            config.waiting_requests_per_connection_max = 0;
        },
        ..Setup::nodes(1)
    });
    let (conn, alice) = h.open(0, "alice");
    let waiting = h.connect(0);
    h.authenticate(waiting, "bob");
    h.sign_out(conn, alice);
    assert_eq!(h.nodes[0].check_invariants(), Ok(()), "a sign-out is admitted past the limit");
    h.settle();
    assert!(matches!(h.last_reply(waiting), Some(Reply::Authenticated { .. })));
}

#[test]
fn a_sign_out_past_the_queue_behind_a_sign_out_still_ends_its_session_here_and_at_meta() {
    let mut h = one_queued_request();
    let (conn, first) = h.open(0, "alice");
    let (_, second) = h.open(0, "bob");
    let (_, third) = h.open(0, "alice");
    h.sign_out(conn, first);
    h.sign_out(conn, second);
    let replies = h.reply_count(conn);
    h.sign_out(conn, third);
    assert_eq!(h.reply_count(conn), replies, "a sign-out is never answered");
    h.settle();
    h.next_sync();
    assert!(!h.holds(0, third), "the third sign-out ended its session here");
    assert_eq!(h.meta.live_count(), 0, "and at meta");
}

#[test]
fn sign_outs_queued_behind_a_sign_out_still_end_their_sessions_when_the_connection_closes() {
    let mut h = one_queued_request();
    let (conn, first) = h.open(0, "alice");
    let (_, second) = h.open(0, "bob");
    h.sign_out(conn, first);
    h.sign_out(conn, second);
    // The ping past the queue is refused at once: its client takes that reply as proof that
    // both sign-outs were read, and may close the connection before meta acknowledged the first.
    h.query(conn, 0, "YIELD 1");
    h.close(conn);
    h.settle();
    h.next_sync();
    assert!(!h.holds(0, second), "the queued sign-out ended its session here");
    assert_eq!(h.meta.live_count(), 0, "and at meta");
}

/// A statement built from alice's session and her query's key.
type StatementOf = fn(i64, QueryKey) -> SessionStatement;

/// Each kind of wait on meta holds one of `waiting_connections_max`: while it waits, a login
/// on another connection (which would wait too) is refused, and once meta answered it is not.
#[test]
fn every_kind_of_statement_waiting_on_meta_holds_one_of_waiting_connections_max() {
    let cases: [(&str, StatementOf); 4] = [
        ("SHOW SESSIONS", |_, _| SessionStatement::ShowSessions { local: false }),
        ("SHOW SESSION", |alice, _| SessionStatement::ShowSession { session_id: alice }),
        ("KILL SESSION", |alice, _| SessionStatement::KillSessions { session_ids: vec![alice] }),
        ("KILL QUERY", |_, key| SessionStatement::KillQuery {
            target: KillTarget::Session { session: key.session, plan: key.plan },
        }),
    ];
    for (name, statement) in cases {
        let mut h = one_waiting_connection();
        let (admin, root) = h.open(0, "root");
        let (on_b, alice) = h.open(1, "alice");
        h.query(on_b, alice, "GO FROM 1 OVER follow");
        let key = h.run_of("GO FROM 1 OVER follow");
        let replies = h.reply_count(admin);
        h.statement(admin, root, statement(alice, key));
        assert_eq!(h.reply_count(admin), replies, "{name} waits for meta");
        let late = h.connect(0);
        h.authenticate(late, "bob");
        assert_eq!(code(&h.last_reply(late).unwrap()), E_SESSION_INVALID, "{name} holds the slot");
        h.settle();
        assert_eq!(h.reply_count(admin), replies + 1, "{name} is answered once meta answered");
        h.authenticate(late, "bob");
        h.settle();
        assert!(matches!(h.last_reply(late), Some(Reply::Authenticated { .. })), "{name}");
    }
}

#[test]
fn a_sign_out_waiting_on_meta_holds_one_of_waiting_connections_max() {
    let mut h = one_waiting_connection();
    let (conn, alice) = h.open(0, "alice");
    h.sign_out(conn, alice);
    let late = h.connect(0);
    h.authenticate(late, "bob");
    assert_eq!(code(&h.last_reply(late).unwrap()), E_SESSION_INVALID);
    h.settle();
    h.authenticate(late, "bob");
    h.settle();
    assert!(matches!(h.last_reply(late), Some(Reply::Authenticated { .. })));
}
