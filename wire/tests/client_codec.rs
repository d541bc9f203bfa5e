//! The client codec against the server codec, both ways: every call the client encodes
//! decodes on the server as the same request (every method, every framing), every reply the
//! server encodes decodes on the client; the interoperability cases (negative session ids,
//! `latency_in_us` beyond 32 bits, `signout` never answered); replies out of step refused; and
//! arbitrary bytes fed in arbitrary pieces never panic.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

use std::collections::BTreeMap;

use graphsession_core::node::{DataSet, Reply, Value};
use graphsession_wire::nebula_common::types::Value as WireValue;
use graphsession_wire::{
    ClientCodec, ClientCodecConfig, ClientReply, Config, EncodeError, FrameError, Framing, Method,
    Protocol, ReplyError, ServerCodec, WireRequest,
};
use proptest::prelude::*;

const COMBINATIONS: [(Framing, Protocol); 3] = [
    (Framing::Header, Protocol::Compact),
    (Framing::Framed, Protocol::Binary),
    (Framing::Header, Protocol::Binary),
];

fn client(framing: Framing, protocol: Protocol) -> ClientCodec {
    ClientCodec::new(ClientCodecConfig { framing, protocol, ..ClientCodecConfig::default() })
        .unwrap()
}

fn every_request() -> Vec<WireRequest> {
    let mut parameters = BTreeMap::new();
    parameters.insert("p1".to_owned(), WireValue::iVal(7));
    parameters.insert("name".to_owned(), WireValue::sVal(b"alice".to_vec()));
    let execute = |session_id, statement: &str, parameters, json| WireRequest::Execute {
        session_id,
        statement: statement.to_owned(),
        parameters,
        json,
    };
    vec![
        WireRequest::VerifyClientVersion { version: "3.0.0".to_owned() },
        WireRequest::Authenticate { username: b"root".to_vec(), password: b"nebula".to_vec() },
        execute(42, "YIELD 1", None, false),
        execute(-9_000_000_000, "RETURN $p1", Some(parameters.clone()), false),
        execute(43, "SHOW HOSTS", None, true),
        execute(44, "RETURN $name // é", Some(parameters), true),
        WireRequest::SignOut { session_id: -42 },
    ]
}

/// The reply a server would give to `request`.
fn reply_for(request: &WireRequest) -> Reply {
    match request {
        WireRequest::VerifyClientVersion { .. } => {
            Reply::ClientVersion { code: 0, message: String::new() }
        }
        WireRequest::Authenticate { .. } => Reply::Authenticated {
            session_id: -7_000_000_000_123,
            time_zone_offset_seconds: 3600,
            time_zone_name: "CET".to_owned(),
        },
        WireRequest::Execute { .. } | WireRequest::SignOut { .. } => Reply::Executed {
            space_name: "nba".to_owned(),
            data: Some(DataSet {
                column_names: vec!["a".to_owned(), "b".to_owned()],
                rows: vec![
                    vec![Value::Int(-1), Value::Str("x".to_owned())],
                    vec![Value::Null, Value::Float(1.5)],
                ],
            }),
            plan_id: None,
        },
    }
}

/// Feeds `bytes` to the server codec and returns its one call.
fn server_decode(server: &mut ServerCodec, bytes: &[u8]) -> graphsession_wire::Call {
    server.handle_bytes(bytes);
    let call = server.poll_request().unwrap().unwrap();
    assert!(server.poll_request().is_none());
    call
}

#[test]
fn every_call_decodes_on_the_server_and_every_reply_on_the_client() {
    for (framing, protocol) in COMBINATIONS {
        let mut client = client(framing, protocol);
        let mut server = ServerCodec::new(Config::default()).unwrap();
        for request in every_request() {
            let bytes = client.encode(&request).unwrap();
            let call = server_decode(&mut server, &bytes);
            assert_eq!(call.request, request, "{framing:?} {protocol:?}");
            let Some(reply_to) = call.reply_to else {
                assert!(matches!(request, WireRequest::SignOut { .. }), "only signout is one-way");
                assert_eq!(client.pending_replies(), 0, "signout awaits no reply");
                continue;
            };
            assert_eq!(client.pending_replies(), 1);
            let latency_us = 5_000_000_000_000; // beyond 32 bits: latency_in_us is an i64
            client.handle_bytes(&server.encode_reply(&reply_to, &reply_for(&request), latency_us));
            let reply = client.poll_reply().unwrap().unwrap();
            assert!(client.poll_reply().is_none());
            client.check_invariants().unwrap();
            match (reply_to.method(), reply) {
                (Method::Authenticate, ClientReply::Authenticate(auth)) => {
                    assert_eq!(auth.error_code.0, 0);
                    assert_eq!(auth.session_id, Some(-7_000_000_000_123), "negative ids decode");
                }
                (
                    Method::Execute | Method::ExecuteWithParameter,
                    ClientReply::Execute(response),
                ) => {
                    assert_eq!(response.latency_in_us, 5_000_000_000_000);
                    let data = response.data.unwrap();
                    assert_eq!(data.column_names, vec![b"a".to_vec(), b"b".to_vec()]);
                    assert_eq!(data.rows[0].values[0], WireValue::iVal(-1));
                }
                (method, ClientReply::ExecuteJson(json)) => {
                    assert!(method.is_json());
                    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
                    assert_eq!(json["results"][0]["columns"][0], "a", "{json}");
                }
                (Method::VerifyClientVersion, ClientReply::VerifyClientVersion(response)) => {
                    assert_eq!(response.error_code.0, 0);
                }
                (method, reply) => panic!("{method}: unexpected {reply:?}"),
            }
        }
    }
}

#[test]
fn a_reply_fed_one_byte_at_a_time_decodes_once_whole() {
    let mut client = client(Framing::Header, Protocol::Compact);
    let mut server = ServerCodec::new(Config::default()).unwrap();
    let request = WireRequest::Execute {
        session_id: 1,
        statement: "YIELD 1".to_owned(),
        parameters: None,
        json: false,
    };
    let call = server_decode(&mut server, &client.encode(&request).unwrap());
    let bytes = server.encode_reply(&call.reply_to.unwrap(), &reply_for(&request), 10);
    for (index, byte) in bytes.iter().enumerate() {
        client.handle_bytes(&[*byte]);
        let reply = client.poll_reply();
        assert_eq!(reply.is_some(), index + 1 == bytes.len(), "at byte {index}");
    }
}

/// A client with one call awaiting its reply, the server's reply bytes, and the call.
fn awaiting(request: &WireRequest) -> (ClientCodec, Vec<u8>) {
    let mut client = client(Framing::Header, Protocol::Compact);
    let mut server = ServerCodec::new(Config::default()).unwrap();
    let call = server_decode(&mut server, &client.encode(request).unwrap());
    let bytes = server.encode_reply(&call.reply_to.unwrap(), &reply_for(request), 10);
    (client, bytes)
}

#[test]
fn a_reply_to_another_method_or_sequence_closes_the_codec() {
    let authenticate =
        WireRequest::Authenticate { username: b"root".to_vec(), password: b"x".to_vec() };
    let execute = WireRequest::Execute {
        session_id: 1,
        statement: "X".into(),
        parameters: None,
        json: false,
    };
    // The server answers an execute where the client awaits an authenticate.
    let (mut client, _) = awaiting(&authenticate);
    let (_, other) = awaiting(&execute);
    client.handle_bytes(&other);
    assert!(matches!(
        client.poll_reply(),
        Some(Err(ReplyError::WrongMethod { expected: Method::Authenticate, .. }))
    ));
    assert!(client.poll_reply().is_none(), "reported once");
    assert!(matches!(client.encode(&execute), Err(EncodeError::Closed { .. })));
    client.check_invariants().unwrap();
    // The reply of the client's first call where its second is awaited.
    let mut client = self::client(Framing::Header, Protocol::Compact);
    let mut server = ServerCodec::new(Config::default()).unwrap();
    let first = server_decode(&mut server, &client.encode(&execute).unwrap());
    let _second = server_decode(&mut server, &client.encode(&execute).unwrap());
    let reply = server.encode_reply(&first.reply_to.unwrap(), &reply_for(&execute), 1);
    client.handle_bytes(&reply);
    assert!(client.poll_reply().unwrap().is_ok());
    client.handle_bytes(&reply);
    assert_eq!(client.poll_reply(), Some(Err(ReplyError::WrongSequence { expected: 1, found: 0 })));
}

#[test]
fn bytes_after_a_signout_are_unsolicited() {
    let mut client = client(Framing::Header, Protocol::Compact);
    client.encode(&WireRequest::SignOut { session_id: 5 }).unwrap();
    assert_eq!(client.pending_replies(), 0);
    // A server that answered the one-way signout: refused, not read as the next call's reply.
    let (_, stray) = awaiting(&WireRequest::Execute {
        session_id: 5,
        statement: "X".into(),
        parameters: None,
        json: false,
    });
    client.handle_bytes(&stray[..3]);
    assert_eq!(client.poll_reply(), Some(Err(ReplyError::Unsolicited)));
}

#[test]
fn limits_refuse_oversized_and_deep_replies_and_too_many_calls() {
    let config = ClientCodecConfig { frame_bytes_max: 64, ..ClientCodecConfig::default() };
    let mut client = ClientCodec::new(config).unwrap();
    let request = WireRequest::Execute {
        session_id: 1,
        statement: "X".into(),
        parameters: None,
        json: false,
    };
    client.encode(&request).unwrap();
    let (_, bytes) = awaiting(&request);
    client.handle_bytes(&bytes[..6]);
    assert!(matches!(
        client.poll_reply(),
        Some(Err(ReplyError::Frame(FrameError::Oversized { frame_bytes_max: 64, .. })))
    ));
    let config = ClientCodecConfig { nesting_depth_max: 2, ..ClientCodecConfig::default() };
    let mut client = ClientCodec::new(config).unwrap();
    client.encode(&request).unwrap();
    client.handle_bytes(&bytes);
    assert!(matches!(
        client.poll_reply(),
        Some(Err(ReplyError::Frame(FrameError::TooDeep { nesting_depth_max: 2 })))
    ));
    let config = ClientCodecConfig { pending_replies_max: 2, ..ClientCodecConfig::default() };
    let mut client = ClientCodec::new(config).unwrap();
    client.encode(&request).unwrap();
    client.encode(&request).unwrap();
    assert_eq!(
        client.encode(&request),
        Err(EncodeError::TooManyPending { pending_replies_max: 2 })
    );
    assert_eq!(client.pending_replies(), 2, "a refused call changes nothing");
    let framed_compact = ClientCodecConfig {
        framing: Framing::Framed,
        protocol: Protocol::Compact,
        ..ClientCodecConfig::default()
    };
    assert!(ClientCodec::new(framed_compact).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Arbitrary bytes, or a real reply with bytes changed, in arbitrary pieces: no panic, the
    /// invariants hold, and nothing comes after an error.
    #[test]
    fn arbitrary_replies_never_panic(
        changes in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        noise in proptest::collection::vec(any::<u8>(), 0..256),
        piece in 1_usize..64,
        mode in 0_u8..3,
    ) {
        let request = WireRequest::Execute {
            session_id: 1, statement: "X".into(), parameters: None, json: mode == 2,
        };
        let (mut client, mut bytes) = awaiting(&request);
        match mode {
            0 => bytes = noise,
            _ => {
                for (at, byte) in changes {
                    let at = at % bytes.len();
                    bytes[at] = byte;
                }
            }
        }
        let mut failed = false;
        for chunk in bytes.chunks(piece) {
            client.handle_bytes(chunk);
            while let Some(reply) = client.poll_reply() {
                prop_assert!(!failed, "a reply after an error");
                failed |= reply.is_err();
            }
            client.check_invariants().unwrap();
        }
    }
}

/// A negative session id from the server, end to end through the machine: held, used in
/// executes and signed out with the same id.
#[test]
fn a_negative_session_id_is_held_used_and_signed_out() {
    use graphsession_core::client::{
        Action, ClientConfig, Event, Idempotency, Request, SessionMachine, TransportEvent,
    };
    let mut machine = SessionMachine::new(ClientConfig::default()).unwrap();
    let mut client = client(Framing::Header, Protocol::Compact);
    let mut server = ServerCodec::new(Config::default()).unwrap();
    let mut sent = Vec::new();
    machine.open(0).unwrap();
    let id = machine.execute(0, "YIELD 1", Idempotency::Idempotent).unwrap();
    let mut results = Vec::new();
    for round in 0..20 {
        if round == 3 {
            machine.close(0);
        }
        while let Some(action) = machine.poll_action() {
            let (connection, request) = match action {
                Action::Dial { connection } => {
                    machine.handle_transport(0, connection, TransportEvent::Connected);
                    continue;
                }
                Action::CloseSocket { .. } => continue,
                Action::Send { connection, request } => (connection, request),
            };
            let wire = match &request {
                Request::Authenticate { user, password } => WireRequest::Authenticate {
                    username: user.clone().into_bytes(),
                    password: password.clone().into_bytes(),
                },
                Request::Execute { session_id, statement } => WireRequest::Execute {
                    session_id: *session_id,
                    statement: statement.clone(),
                    parameters: None,
                    json: false,
                },
                Request::SignOut { session_id } => {
                    WireRequest::SignOut { session_id: session_id.get() }
                }
            };
            let call = server_decode(&mut server, &client.encode(&wire).unwrap());
            sent.push(call.request.clone());
            let Some(reply_to) = call.reply_to else { continue };
            let reply = match call.request {
                WireRequest::Authenticate { .. } => reply_for(&call.request),
                WireRequest::Execute { session_id: 0, .. } => Reply::ExecuteFailed {
                    code: -1002,
                    message: "ping".into(),
                    space_name: String::new(),
                },
                _ => reply_for(&call.request),
            };
            client.handle_bytes(&server.encode_reply(&reply_to, &reply, 1));
            let response = client.poll_reply().unwrap().unwrap().to_machine_response().unwrap();
            machine.handle_transport(0, connection, TransportEvent::Response(response));
        }
        while let Some(event) = machine.poll_event() {
            if let Event::Result { request, .. } = event {
                results.push(request);
            }
        }
        machine.check_invariants().unwrap();
    }
    let negative = -7_000_000_000_123;
    assert_eq!(results, vec![id]);
    assert!(sent.iter().any(|call| matches!(call,
        WireRequest::Execute { session_id, statement, .. }
            if *session_id == negative && statement == "YIELD 1")));
    assert!(sent.contains(&WireRequest::SignOut { session_id: negative }), "{sent:?}");
    assert!(machine.is_closed());
    assert!(machine.ledger().is_empty(), "signed out, proven by the ping after it");
}
