//! Every way a connection's bytes can be refused, one test each: the codec reports a typed
//! error naming the reason once, holds nothing afterwards and ignores further input; it never
//! panics. Another connection's codec is not affected.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

mod support;

use std::collections::BTreeMap;

use graphsession_wire::nebula_common::types::{NList, Value};
use graphsession_wire::{Config, ConfigError, FrameError, Framing, Method, Protocol, ServerCodec};
use support::ClientCall;

/// The error `bytes` end in, after any calls before it; checks the codec is closed after it.
fn error_of(config: Config, bytes: &[u8]) -> FrameError {
    let mut codec = ServerCodec::new(config).unwrap();
    codec.handle_bytes(bytes);
    let error = loop {
        match codec.poll_request() {
            Some(Ok(_)) => {}
            Some(Err(error)) => break error,
            None => panic!("no error from {bytes:02x?}"),
        }
    };
    assert_eq!(codec.failure(), Some(&error));
    assert!(codec.poll_request().is_none(), "the error is reported once");
    codec.handle_bytes(&support::python(&ClientCall::SignOut { session_id: 1 }));
    assert!(codec.poll_request().is_none(), "input after the error is ignored");
    assert_eq!(codec.buffered_bytes(), 0);
    codec.check_invariants().unwrap();
    error
}

fn default_error(bytes: &[u8]) -> FrameError {
    error_of(Config::default(), bytes)
}

/// A Compact CALL of `method` whose arguments struct is `arguments` (stop byte included).
fn compact_call(method: &str, arguments: &[u8]) -> Vec<u8> {
    let mut payload = vec![0x82, 0x22, 0x00, u8::try_from(method.len()).unwrap()];
    payload.extend_from_slice(method.as_bytes());
    payload.extend_from_slice(arguments);
    support::header_frame(Protocol::Compact, 0, &payload)
}

fn with_parameter(value: Value) -> ClientCall {
    let mut parameters = BTreeMap::new();
    parameters.insert(b"p".to_vec(), value);
    ClientCall::Execute {
        method: Method::ExecuteWithParameter,
        session_id: 1,
        statement: b"RETURN $p".to_vec(),
        parameters,
    }
}

/// nebula3-python's `Session.execute(stmt)` is `executeWithParameter(id, stmt, None)`: the map
/// is left out of the call. It is not an error: the parameters are empty.
#[test]
fn an_absent_parameter_map_is_an_empty_one_not_an_error() {
    // sessionId = 7 (i64, field 1), stmt = "YIELD 1" (binary, field 2), then stop.
    let arguments = b"\x16\x0e\x18\x07YIELD 1\x00";
    for method in ["executeWithParameter", "executeJsonWithParameter"] {
        let mut codec = ServerCodec::new(Config::default()).unwrap();
        codec.handle_bytes(&compact_call(method, arguments));
        let call = codec.poll_request().unwrap().unwrap();
        let graphsession_wire::WireRequest::Execute { session_id, statement, parameters, .. } =
            call.request
        else {
            panic!("not an execute: {call:?}");
        };
        assert_eq!((session_id, statement.as_str()), (7, "YIELD 1"));
        assert_eq!(parameters, Some(BTreeMap::new()), "{method}");
    }
}

#[test]
fn garbage_first_bytes_are_an_unknown_framing() {
    let error = default_error(b"\x00\x00\x00\x0cHELLO WORLD!");
    assert_eq!(error, FrameError::UnknownFraming { found: u16::from_be_bytes(*b"HE") });
    // Without a plausible length, the length is what is refused first.
    let error = default_error(b"GET / HTTP/1.1\r\n\r\n");
    assert!(matches!(error, FrameError::Oversized { .. }));
}

#[test]
fn bad_magic_on_a_header_connection() {
    let mut bytes = support::python(&ClientCall::SignOut { session_id: 1 });
    let mut second = support::python(&ClientCall::SignOut { session_id: 2 });
    second[4..6].copy_from_slice(&[0x12, 0x34]);
    bytes.extend(second);
    let error = default_error(&bytes);
    assert_eq!(error, FrameError::BadMagic { expected: 0x0FFF, found: 0x1234 });
}

#[test]
fn bad_version_on_a_framed_connection() {
    let mut bytes = support::node(&ClientCall::SignOut { session_id: 1 }, 1);
    bytes.extend([0, 0, 0, 2, 0x80, 0x02]);
    let error = default_error(&bytes);
    assert_eq!(error, FrameError::BadMagic { expected: 0x8001, found: 0x8002 });
}

#[test]
fn an_oversized_frame_is_refused_from_its_length_alone() {
    let config = Config::default();
    let mut codec = ServerCodec::new(config).unwrap();
    codec.handle_bytes(&(config.frame_bytes_max + 1).to_be_bytes());
    let expected = FrameError::Oversized {
        frame_bytes: config.frame_bytes_max + 1,
        frame_bytes_max: 16 << 20,
    };
    assert_eq!(codec.poll_request(), Some(Err(expected)));
    assert_eq!(codec.buffered_bytes(), 0, "nothing of it buffered");
}

#[test]
fn a_truncated_message_inside_a_complete_frame() {
    let call =
        ClientCall::Authenticate { username: b"root".to_vec(), password: b"nebula".to_vec() };
    let mut payload = support::message(Protocol::Compact, &call, 0);
    payload.truncate(payload.len() - 4);
    let error = default_error(&support::header_frame(Protocol::Compact, 0, &payload));
    assert_eq!(error, FrameError::Truncated { what: "a binary value" });
}

#[test]
fn an_unknown_method() {
    let error = default_error(&compact_call("executeEverything", &[0x00]));
    assert_eq!(error, FrameError::UnknownMethod { method: "executeEverything".into() });
}

#[test]
fn a_header_frame_with_the_json_protocol_id() {
    let payload = support::message(Protocol::Compact, &ClientCall::SignOut { session_id: 1 }, 0);
    let error = default_error(&support::header_frame_with(1, 0, &[], &[], &payload));
    assert_eq!(error, FrameError::UnsupportedProtocol { protocol_id: 1 });
}

#[test]
fn a_header_frame_with_a_zlib_transform() {
    let payload = support::message(Protocol::Compact, &ClientCall::SignOut { session_id: 1 }, 0);
    let error = default_error(&support::header_frame_with(2, 0, &[0x01], &[], &payload));
    assert_eq!(error, FrameError::TransformsPresent { transform_count: 1 });
}

#[test]
fn info_headers_are_ignored() {
    let payload = support::message(Protocol::Compact, &ClientCall::SignOut { session_id: 1 }, 0);
    // One key-value info header: ("identity", "me").
    let info = [&[0x01, 0x01, 0x08][..], b"identity", &[0x02], b"me"].concat();
    let mut codec = ServerCodec::new(Config::default()).unwrap();
    codec.handle_bytes(&support::header_frame_with(2, 0, &[], &info, &payload));
    assert!(codec.poll_request().unwrap().is_ok());
}

#[test]
fn garbage_after_a_binary_version_is_malformed() {
    let error = default_error(&support::framed(&[0x80, 0x01, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF]));
    assert_eq!(error, FrameError::Malformed { reason: "a negative length" });
}

#[test]
fn a_framed_frame_on_a_header_connection_is_out_of_order() {
    let mut bytes = support::python(&ClientCall::SignOut { session_id: 1 });
    bytes.extend(support::node(&ClientCall::SignOut { session_id: 2 }, 1));
    let error = default_error(&bytes);
    assert_eq!(
        error,
        FrameError::FramingChanged { expected: Framing::Header, found: Framing::Framed }
    );
}

#[test]
fn a_reply_sent_by_a_client_is_not_a_call() {
    let call = ClientCall::SignOut { session_id: 1 };
    let message = support::CallMessage {
        call: &call,
        seq_id: 0,
        message_type: fbthrift_git::MessageType::Reply,
    };
    let error = default_error(&support::framed(&support::message_of(Protocol::Binary, &message)));
    assert_eq!(error, FrameError::NotACall { message_type: 2 });
}

#[test]
fn bytes_fed_without_draining_fill_the_buffer() {
    let config = Config { frame_bytes_max: 64, buffered_bytes_max: 100, ..Config::default() };
    let mut codec = ServerCodec::new(config).unwrap();
    let call = support::python(&ClientCall::SignOut { session_id: 1 });
    let mut fed = 0;
    while codec.failure().is_none() {
        codec.handle_bytes(&call);
        fed += call.len();
    }
    assert!(fed > 100 && fed - call.len() <= 100);
    let expected = FrameError::BufferFull { buffered_bytes: fed as u64, buffered_bytes_max: 100 };
    assert_eq!(codec.failure(), Some(&expected));
}

#[test]
fn values_nested_past_the_depth_limit() {
    let mut value = Value::iVal(1);
    for _ in 0..40 {
        value = Value::lVal(NList { values: vec![value], ..Default::default() });
    }
    let error = default_error(&support::python(&with_parameter(value)));
    assert_eq!(error, FrameError::TooDeep { nesting_depth_max: 32 });
}

#[test]
fn more_values_than_the_limit() {
    let list = NList { values: vec![Value::iVal(1); 200], ..Default::default() };
    let config = Config { request_values_max: 100, ..Config::default() };
    let error = error_of(config, &support::node(&with_parameter(Value::lVal(list)), 1));
    assert_eq!(error, FrameError::TooManyValues { request_values_max: 100 });
}

#[test]
fn a_list_declaring_more_elements_than_bytes_left() {
    // executeWithParameter(1, "x", {"p": NList{values: list of 2^31 - 1 i64}}) in 30 bytes.
    let arguments = [
        &[0x16, 0x02, 0x18, 0x01, b'x'][..],   // sessionId 1, stmt "x"
        &[0x1B, 0x01, 0x8C, 0x01, b'p'],       // parameterMap: 1 entry binary -> struct, "p"
        &[0xC0 | 0x0C],                        // Value field 12 (lVal), struct
        &[0x19, 0xF6, 0xFF, 0xFF, 0xFF, 0x07], // NList field 1: list of i64, 2^31 - 1 long
        &[0x00, 0x00, 0x00],
    ]
    .concat();
    let error = default_error(&compact_call("executeWithParameter", &arguments));
    assert_eq!(error, FrameError::Truncated { what: "a list" });
}

#[test]
fn a_field_id_delta_that_overflows_is_malformed_not_a_panic() {
    // The generated Compact reader adds the delta unchecked: field 32767, then a delta of 1.
    let arguments = [
        &[0x16, 0x54, 0x18, 0x01, b'x'][..], // sessionId 42, stmt "x"
        &[0x05, 0xFE, 0xFF, 0x03, 0x00],     // i32 field 32767 (long form) = 0
        &[0x15, 0x00, 0x00],                 // i32 field +1, stop
    ]
    .concat();
    let error = default_error(&compact_call("execute", &arguments));
    assert_eq!(error, FrameError::Malformed { reason: "a field id delta overflows" });
}

#[test]
fn a_container_whose_element_type_differs_from_the_schema() {
    // A parameter map of binary -> i64, where NebulaGraph's schema says binary -> Value.
    let arguments =
        [&[0x16, 0x02, 0x18, 0x01, b'x'][..], &[0x1B, 0x01, 0x86, 0x01, b'p', 0x02, 0x00]].concat();
    let error = default_error(&compact_call("executeWithParameter", &arguments));
    let reason = "a container's element type differs from NebulaGraph's schema";
    assert_eq!(error, FrameError::Malformed { reason });
}

#[test]
fn a_parameter_union_with_two_members_is_refused_by_the_generated_decoder() {
    // {"p": Value{iVal: 1, sVal: ""}}: well formed and within the limits, but not a union.
    let arguments = [
        &[0x16, 0x02, 0x18, 0x01, b'x'][..], // sessionId 1, stmt "x"
        &[0x1B, 0x01, 0x8C, 0x01, b'p'],     // parameterMap: 1 entry binary -> struct, "p"
        &[0x36, 0x02, 0x28, 0x00, 0x00],     // iVal (field 3) 1, sVal (field 5) "", stop
        &[0x00],                             // stop the arguments
    ]
    .concat();
    let error = default_error(&compact_call("executeWithParameter", &arguments));
    assert!(matches!(error, FrameError::Parameters { .. }), "{error:?}");
}

#[test]
fn a_missing_argument() {
    let error = default_error(&compact_call("execute", &[0x16, 0x02, 0x00]));
    assert_eq!(error, FrameError::MissingArgument { method: Method::Execute, argument: "stmt" });
}

#[test]
fn a_statement_that_is_not_utf8() {
    let error =
        default_error(&compact_call("execute", &[0x16, 0x02, 0x18, 0x02, 0xC3, 0x28, 0x00]));
    assert_eq!(error, FrameError::NotUtf8 { method: Method::Execute, argument: "stmt" });
}

#[test]
fn bytes_after_the_arguments_inside_the_frame() {
    let error = default_error(&compact_call("signout", &[0x16, 0x02, 0x00, 0xAA, 0xBB]));
    assert_eq!(error, FrameError::TrailingBytes { trailing_bytes: 2 });
}

#[test]
fn a_frame_of_length_zero_is_refused_from_its_length_alone() {
    let error = default_error(&[0, 0, 0, 0]);
    assert_eq!(error, FrameError::Malformed { reason: "a frame shorter than its marker" });
}

#[test]
fn a_header_frame_shorter_than_its_fields() {
    let error = default_error(&[0x00, 0x00, 0x00, 0x06, 0x0F, 0xFF, 0, 0, 0, 0]);
    assert_eq!(error, FrameError::Malformed { reason: "a Header frame shorter than its fields" });
}

#[test]
fn a_header_that_runs_past_its_frame() {
    let mut bytes = support::python(&ClientCall::SignOut { session_id: 1 });
    bytes[12..14].copy_from_slice(&[0x01, 0x00]);
    let error = default_error(&bytes);
    assert_eq!(error, FrameError::Malformed { reason: "a Header frame's header runs past it" });
}

#[test]
fn a_failed_connection_leaves_another_connection_untouched() {
    let mut broken = ServerCodec::new(Config::default()).unwrap();
    let mut healthy = ServerCodec::new(Config::default()).unwrap();
    broken.handle_bytes(b"\x00\x00\x00\x10garbage garbage!");
    healthy.handle_bytes(&support::python(&ClientCall::SignOut { session_id: 1 }));
    assert!(broken.poll_request().unwrap().is_err());
    assert!(healthy.poll_request().unwrap().is_ok());
}

#[test]
fn invalid_configurations_are_refused() {
    let refused = |config: Config| ServerCodec::new(config).unwrap_err();
    let default = Config::default();
    assert!(matches!(
        refused(Config { frame_bytes_max: 10, ..default }),
        ConfigError::FrameBytes { .. }
    ));
    assert!(matches!(
        refused(Config { buffered_bytes_max: default.frame_bytes_max, ..default }),
        ConfigError::BufferedBytes { .. }
    ));
    assert!(matches!(
        refused(Config { nesting_depth_max: 65, ..default }),
        ConfigError::NestingDepth { .. }
    ));
    assert_eq!(refused(Config { request_values_max: 0, ..default }), ConfigError::RequestValues);
    assert!(matches!(
        refused(Config { reply_frame_bytes_max: 100, ..default }),
        ConfigError::ReplyFrameBytes { .. }
    ));
}
