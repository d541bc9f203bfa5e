//! The limits hold exactly at their edges: the deepest and largest requests allowed decode (the
//! deepest on a small stack), one more level or value does not, and a reply too large for any
//! client becomes an error reply.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

mod support;

use std::collections::BTreeMap;

use graphsession_core::node::{DataSet, Reply, Value as NodeValue};
use graphsession_wire::nebula_common::types::{ErrorCode, NList, Value};
use graphsession_wire::nebula_graph::services::graph_service::ExecuteExn;
use graphsession_wire::{
    Config, FrameError, Framing, Method, NESTING_DEPTH_LIMIT, Protocol, ServerCodec,
};
use support::{ClientCall, Decoded};

/// `executeWithParameter` with one parameter `lists` lists deep around an integer: the map is
/// one level, each list three (its Value, the NList, the list), the integer's Value one:
/// `3 * lists + 2` levels.
fn nested_call(lists: u32) -> Vec<u8> {
    let mut value = Value::iVal(1);
    for _ in 0..lists {
        value = Value::lVal(NList { values: vec![value], ..Default::default() });
    }
    let mut parameters = BTreeMap::new();
    parameters.insert(b"p".to_vec(), value);
    let call = ClientCall::Execute {
        method: Method::ExecuteWithParameter,
        session_id: 1,
        statement: b"RETURN $p".to_vec(),
        parameters,
    };
    support::python(&call)
}

fn decode(config: Config, bytes: &[u8]) -> Result<(), FrameError> {
    let mut codec = ServerCodec::new(config).unwrap();
    codec.handle_bytes(bytes);
    codec.poll_request().unwrap().map(drop)
}

#[test]
fn nesting_at_the_limit_decodes_and_one_level_more_does_not() {
    let config = Config { nesting_depth_max: 32, ..Config::default() };
    assert_eq!(decode(config, &nested_call(10)), Ok(()));
    let config = Config { nesting_depth_max: 31, ..Config::default() };
    assert_eq!(
        decode(config, &nested_call(10)),
        Err(FrameError::TooDeep { nesting_depth_max: 31 })
    );
}

#[test]
#[expect(clippy::disallowed_methods, reason = "the test measures a thread's stack")]
fn the_deepest_request_allowed_decodes_on_a_256_kib_stack() {
    let config = Config { nesting_depth_max: NESTING_DEPTH_LIMIT, ..Config::default() };
    let deepest = nested_call((NESTING_DEPTH_LIMIT - 2) / 3);
    let decoded = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || decode(config, &deepest))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(decoded, Ok(()));
}

#[test]
fn values_at_the_limit_decode_and_one_more_does_not() {
    // The arguments' three fields, the map's one entry, the Value's field, the NList's field,
    // the list's 10 elements and each element's field: 3 + 1 + 1 + 1 + 10 + 10 = 26.
    let list = NList { values: vec![Value::iVal(1); 10], ..Default::default() };
    let mut parameters = BTreeMap::new();
    parameters.insert(b"p".to_vec(), Value::lVal(list));
    let call = ClientCall::Execute {
        method: Method::ExecuteWithParameter,
        session_id: 1,
        statement: b"RETURN $p".to_vec(),
        parameters,
    };
    let bytes = support::node(&call, 1);
    assert_eq!(decode(Config { request_values_max: 26, ..Config::default() }, &bytes), Ok(()));
    let config = Config { request_values_max: 25, ..Config::default() };
    assert_eq!(decode(config, &bytes), Err(FrameError::TooManyValues { request_values_max: 25 }));
}

#[test]
fn a_frame_at_the_size_limit_decodes_and_one_byte_more_does_not() {
    let call = ClientCall::execute(Method::Execute, 1, &"x".repeat(100));
    let bytes = support::node(&call, 1);
    let frame_bytes = u32::try_from(bytes.len() - 4).unwrap();
    assert_eq!(
        decode(Config { frame_bytes_max: frame_bytes, ..Config::default() }, &bytes),
        Ok(())
    );
    let config = Config { frame_bytes_max: frame_bytes - 1, ..Config::default() };
    let mut codec = ServerCodec::new(config).unwrap();
    codec.handle_bytes(&bytes);
    let expected = FrameError::Oversized { frame_bytes, frame_bytes_max: frame_bytes - 1 };
    assert_eq!(codec.poll_request(), Some(Err(expected)));
}

#[test]
fn a_reply_over_the_reply_frame_limit_becomes_an_error_reply() {
    let config = Config { reply_frame_bytes_max: 1024, ..Config::default() };
    let mut codec = ServerCodec::new(config).unwrap();
    codec.handle_bytes(&support::node(&ClientCall::execute(Method::Execute, 1, "GO"), 4));
    let reply_to = codec.poll_request().unwrap().unwrap().reply_to.unwrap();
    let mut data = DataSet::with_columns(&["text"]);
    data.rows = vec![vec![NodeValue::Str("y".repeat(100))]; 20];
    let reply = Reply::Executed { space_name: "big".into(), data: Some(data), plan_id: None };
    let bytes = codec.encode_reply(&reply_to, &reply, 9);
    assert!(bytes.len() <= 1024 + 4);
    let Decoded::Execute(ExecuteExn::Success(response)) =
        support::decode_frame(Framing::Framed, Protocol::Binary, Method::Execute, 4, &bytes)
    else {
        panic!("not an execute success")
    };
    assert_eq!((response.error_code, response.data), (ErrorCode(-1005), None));
    assert_eq!(response.space_name.as_deref(), Some(&b"big"[..]));
    let message = String::from_utf8(response.error_msg.unwrap()).unwrap();
    assert!(message.contains("over the 1024-byte frame limit"), "{message}");
}
