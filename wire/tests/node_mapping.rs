//! Wire requests become the node's requests as far as the wire allows, and a password never
//! reaches a log.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

use graphsession_core::node::{Request, Statement};
use graphsession_core::server::PasswordCheck;
use graphsession_wire::{WireRequest, execute_request, login_request};

#[test]
fn version_checks_and_sign_outs_map_directly() {
    let version = WireRequest::VerifyClientVersion { version: "3.0.0".into() };
    let expected = Request::VerifyClientVersion { version: "3.0.0".into() };
    assert_eq!(version.direct_node_request(), Some(expected));
    let sign_out = WireRequest::SignOut { session_id: -5 };
    assert_eq!(sign_out.direct_node_request(), Some(Request::SignOut { session_id: -5 }));
}

#[test]
fn authenticate_and_execute_wait_for_the_host() {
    let login = WireRequest::Authenticate { username: b"u".to_vec(), password: b"p".to_vec() };
    assert_eq!(login.direct_node_request(), None);
    let execute = WireRequest::Execute {
        session_id: 1,
        statement: "YIELD 1".into(),
        parameters: None,
        json: false,
    };
    assert_eq!(execute.direct_node_request(), None);
}

#[test]
fn a_login_request_carries_the_hosts_check_and_the_clients_address() {
    let request = login_request(b"root", PasswordCheck::Verified, "10.0.0.1");
    let expected = Request::Authenticate {
        user: "root".into(),
        client_ip: "10.0.0.1".into(),
        password: PasswordCheck::Verified,
    };
    assert_eq!(request, expected);
    let Request::Authenticate { user, .. } =
        login_request(b"r\xFFt", PasswordCheck::UnknownUser, "")
    else {
        panic!("not an authenticate")
    };
    assert_eq!(user, "r\u{FFFD}t");
}

#[test]
fn an_execute_request_carries_the_parsed_statement() {
    let statement = Statement::Query { text: "YIELD 1".into() };
    let expected = Request::Execute { session_id: 3, statement: statement.clone() };
    assert_eq!(execute_request(3, statement), expected);
}

#[test]
fn the_password_never_appears_in_debug_output() {
    let login = WireRequest::Authenticate {
        username: b"root".to_vec(),
        password: b"hunter2-secret".to_vec(),
    };
    let shown = format!("{login:?} {login:#?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("root") && shown.contains("<redacted>"));
}
