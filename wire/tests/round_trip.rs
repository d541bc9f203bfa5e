//! Every RPC through both framings (and Header with Binary): a call encoded the way each client
//! encodes it decodes to the expected request, and every reply kind encodes to a frame the
//! generated client-side types decode to the expected response.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

mod support;

use graphsession_core::node::{DataSet, Reply, Value};
use graphsession_wire::nebula_common::types::{ErrorCode, Value as WireValue};
use graphsession_wire::nebula_graph::services::graph_service::{
    AuthenticateExn, ExecuteExn, ExecuteJsonExn, VerifyClientVersionExn,
};
use graphsession_wire::{Call, Config, Framing, Method, Protocol, ServerCodec, wire_date_time};
use support::{ClientCall, Decoded, decode_frame, frame};

/// The served combinations: python's, the Node.js client's, Header with Binary, and unframed
/// Binary (the Rust crate `nebula-client`).
const COMBINATIONS: [(Framing, Protocol); 4] = [
    (Framing::Header, Protocol::Compact),
    (Framing::Framed, Protocol::Binary),
    (Framing::Header, Protocol::Binary),
    (Framing::Unframed, Protocol::Binary),
];

fn decode_one(bytes: &[u8]) -> Call {
    let mut codec = ServerCodec::new(Config::default()).unwrap();
    codec.handle_bytes(bytes);
    let call = codec.poll_request().expect("a call").expect("no error");
    assert!(codec.poll_request().is_none(), "one frame, one call");
    assert_eq!(codec.buffered_bytes(), 0);
    codec.check_invariants().unwrap();
    call
}

#[test]
fn every_rpc_in_every_framing_decodes_to_its_request() {
    for (framing, protocol) in COMBINATIONS {
        for (seq, call) in (7_u32..).zip(ClientCall::every_method()) {
            let decoded = decode_one(&frame(framing, protocol, &call, seq));
            assert_eq!(decoded.request, call.expected(), "{framing:?} {protocol:?} {call:?}");
            let Some(reply_to) = decoded.reply_to else {
                assert_eq!(call.method(), Method::SignOut, "only signout goes unanswered");
                continue;
            };
            assert_ne!(call.method(), Method::SignOut, "signout is never answered");
            assert_eq!(reply_to.method(), call.method());
            assert_eq!((reply_to.framing(), reply_to.protocol()), (framing, protocol));
            assert_eq!(reply_to.seq_id(), seq);
            let header_seq = if framing == Framing::Header { seq } else { 0 };
            assert_eq!(reply_to.header_seq_id(), header_seq);
        }
    }
}

/// Encodes `reply` to a call of `method` and decodes it as the client would.
fn reply_round_trip(
    framing: Framing,
    protocol: Protocol,
    method: Method,
    reply: &Reply,
) -> Decoded {
    let call = match method {
        Method::VerifyClientVersion | Method::Authenticate | Method::SignOut => {
            ClientCall::every_method().into_iter().find(|call| call.method() == method).unwrap()
        }
        _ => ClientCall::execute(method, 5, "YIELD 1"),
    };
    let codec = ServerCodec::new(Config::default()).unwrap();
    let reply_to = decode_one(&frame(framing, protocol, &call, 9)).reply_to.unwrap();
    let bytes = codec.encode_reply(&reply_to, reply, 1_234);
    decode_frame(framing, protocol, method, 9, &bytes)
}

/// A Header reply echoes the request frame's sequence id in its header and the message's in
/// the message, apart: the official clients number both alike, but a frame numbered otherwise
/// (libFuzzer found one) gets back what it sent in each place.
#[test]
fn a_header_reply_echoes_the_frame_and_the_message_sequence_ids_apart() {
    for protocol in [Protocol::Binary, Protocol::Compact] {
        let call = ClientCall::execute(Method::Execute, 5, "YIELD 1");
        let bytes =
            support::header_frame(protocol, 0x1000_0000, &support::message(protocol, &call, 7));
        let reply_to = decode_one(&bytes).reply_to.unwrap();
        assert_eq!((reply_to.header_seq_id(), reply_to.seq_id()), (0x1000_0000, 7));
        let codec = ServerCodec::new(Config::default()).unwrap();
        let reply = Reply::Executed { space_name: String::new(), data: None, plan_id: None };
        let encoded = codec.encode_reply(&reply_to, &reply, 1_234);
        let (header_seq, found, _) = support::unframe(Framing::Header, &encoded);
        assert_eq!((header_seq, found), (0x1000_0000, protocol));
        let Decoded::Execute(_) = support::decode_reply_to(&reply_to, &encoded) else {
            panic!("an execute reply");
        };
    }
}

#[test]
fn client_version_replies_decode_with_the_generated_types() {
    for (framing, protocol) in COMBINATIONS {
        let accepted = Reply::ClientVersion { code: 0, message: String::new() };
        let refused = Reply::ClientVersion { code: -3061, message: "not accepted".into() };
        let Decoded::VerifyClientVersion(VerifyClientVersionExn::Success(ok)) =
            reply_round_trip(framing, protocol, Method::VerifyClientVersion, &accepted)
        else {
            panic!("not a verifyClientVersion success")
        };
        assert_eq!((ok.error_code, ok.error_msg), (ErrorCode(0), None));
        let Decoded::VerifyClientVersion(VerifyClientVersionExn::Success(no)) =
            reply_round_trip(framing, protocol, Method::VerifyClientVersion, &refused)
        else {
            panic!("not a verifyClientVersion success")
        };
        assert_eq!(no.error_code, ErrorCode(-3061));
        assert_eq!(no.error_msg.as_deref(), Some(&b"not accepted"[..]));
    }
}

#[test]
fn authenticate_replies_decode_with_the_generated_types() {
    for (framing, protocol) in COMBINATIONS {
        let session = Reply::Authenticated {
            session_id: -4_611_686_018_427_387_904,
            time_zone_offset_seconds: 28_800,
            time_zone_name: "+08:00".into(),
        };
        let Decoded::Authenticate(AuthenticateExn::Success(ok)) =
            reply_round_trip(framing, protocol, Method::Authenticate, &session)
        else {
            panic!("not an authenticate success")
        };
        assert_eq!(ok.error_code, ErrorCode(0));
        assert_eq!(ok.session_id, Some(-4_611_686_018_427_387_904));
        assert_eq!(ok.time_zone_offset_seconds, Some(28_800));
        assert_eq!(ok.time_zone_name.as_deref(), Some(&b"+08:00"[..]));
        let failed = Reply::AuthenticateFailed { code: -1001, message: "Invalid password".into() };
        let Decoded::Authenticate(AuthenticateExn::Success(no)) =
            reply_round_trip(framing, protocol, Method::Authenticate, &failed)
        else {
            panic!("not an authenticate success")
        };
        assert_eq!((no.error_code, no.session_id), (ErrorCode(-1001), None));
        assert_eq!(no.error_msg.as_deref(), Some(&b"Invalid password"[..]));
    }
}

fn sample_data() -> DataSet {
    let mut data = DataSet::with_columns(&["SessionId", "UserName", "CreateTime", "Ratio", "Gone"]);
    data.rows.push(vec![
        Value::Int(-7),
        Value::Str("root".into()),
        Value::DateTime { unix_us: 1_700_000_000_123_456 },
        Value::Float(0.25),
        Value::Null,
    ]);
    data.rows.push(vec![
        Value::Int(8),
        Value::Str("ünï".into()),
        Value::DateTime { unix_us: 0 },
        Value::Bool(true),
        Value::Null,
    ]);
    data
}

#[test]
fn execute_replies_decode_with_the_generated_types() {
    for (framing, protocol) in COMBINATIONS {
        for method in [Method::Execute, Method::ExecuteWithParameter] {
            let data = sample_data();
            let reply = Reply::Executed {
                space_name: "s1".into(),
                data: Some(data.clone()),
                plan_id: Some(3),
            };
            let Decoded::Execute(ExecuteExn::Success(ok)) =
                reply_round_trip(framing, protocol, method, &reply)
            else {
                panic!("not an execute success")
            };
            assert_eq!((ok.error_code, ok.latency_in_us), (ErrorCode(0), 1_234));
            assert_eq!(ok.space_name.as_deref(), Some(&b"s1"[..]));
            assert!(ok.error_msg.is_none() && ok.plan_desc.is_none());
            let wire = ok.data.unwrap();
            assert_eq!(wire.column_names[2], b"CreateTime".to_vec());
            assert_eq!(wire.rows.len(), 2);
            assert_eq!(wire.rows[0].values[0], WireValue::iVal(-7));
            assert_eq!(wire.rows[0].values[1], WireValue::sVal(b"root".to_vec()));
            assert_eq!(
                wire.rows[0].values[2],
                WireValue::dtVal(wire_date_time(1_700_000_000_123_456))
            );
            assert_eq!(wire.rows[1].values[3], WireValue::bVal(true));
            assert!(matches!(wire.rows[1].values[4], WireValue::nVal(_)));
        }
    }
}

#[test]
fn execute_failures_and_dataless_successes_carry_the_space_name() {
    for (framing, protocol) in COMBINATIONS {
        let used = Reply::Executed { space_name: "s2".into(), data: None, plan_id: None };
        let Decoded::Execute(ExecuteExn::Success(ok)) =
            reply_round_trip(framing, protocol, Method::Execute, &used)
        else {
            panic!("not an execute success")
        };
        assert_eq!(
            (ok.error_code, ok.data, ok.space_name),
            (ErrorCode(0), None, Some(b"s2".to_vec()))
        );
        let failed = Reply::ExecuteFailed {
            code: -1002,
            message: "Session not existed!".into(),
            space_name: String::new(),
        };
        let Decoded::Execute(ExecuteExn::Success(no)) =
            reply_round_trip(framing, protocol, Method::Execute, &failed)
        else {
            panic!("not an execute success")
        };
        assert_eq!((no.error_code, no.space_name), (ErrorCode(-1002), Some(Vec::new())));
        assert_eq!(no.error_msg.as_deref(), Some(&b"Session not existed!"[..]));
    }
}

#[test]
fn json_replies_decode_with_the_generated_types_and_parse_as_json() {
    for (framing, protocol) in COMBINATIONS {
        for method in [Method::ExecuteJson, Method::ExecuteJsonWithParameter] {
            let reply = Reply::Executed { space_name: "s3".into(), data: None, plan_id: None };
            let Decoded::ExecuteJson(ExecuteJsonExn::Success(json)) =
                reply_round_trip(framing, protocol, method, &reply)
            else {
                panic!("not an executeJson success")
            };
            let document: serde_json::Value = serde_json::from_slice(&json).unwrap();
            assert_eq!(document["errors"][0]["code"], 0);
            assert_eq!(document["results"][0]["spaceName"], "s3");
            assert_eq!(document["results"][0]["latencyInUs"], 1_234);
        }
    }
}

#[test]
fn a_reply_of_another_methods_kind_keeps_its_failure_and_never_fakes_a_success() {
    let framing = (Framing::Header, Protocol::Compact);
    // The node refuses every request of a connection held behind its sign-out with an
    // execute error, whatever the method.
    let busy =
        Reply::ExecuteFailed { code: -1005, message: "busy".into(), space_name: String::new() };
    let Decoded::Authenticate(AuthenticateExn::Success(auth)) =
        reply_round_trip(framing.0, framing.1, Method::Authenticate, &busy)
    else {
        panic!("not an authenticate success")
    };
    assert_eq!((auth.error_code, auth.session_id), (ErrorCode(-1005), None));
    assert_eq!(auth.error_msg.as_deref(), Some(&b"busy"[..]));
    let Decoded::VerifyClientVersion(VerifyClientVersionExn::Success(version)) =
        reply_round_trip(framing.0, framing.1, Method::VerifyClientVersion, &busy)
    else {
        panic!("not a verifyClientVersion success")
    };
    assert_eq!(version.error_code, ErrorCode(-1005));
    // A success of the wrong kind is a host bug: an error, not a session-less success.
    let executed = Reply::Executed { space_name: String::new(), data: None, plan_id: None };
    let Decoded::Authenticate(AuthenticateExn::Success(wrong)) =
        reply_round_trip(framing.0, framing.1, Method::Authenticate, &executed)
    else {
        panic!("not an authenticate success")
    };
    assert_eq!((wrong.error_code, wrong.session_id), (ErrorCode(-1005), None));
}
