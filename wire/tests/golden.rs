//! Byte-exact frames built by hand from the protocol specs (fbthrift's Header format, Thrift's
//! Compact and strict Binary protocols), not by any encoder under test: what nebula3-python
//! sends for `authenticate` and the Node.js client for `execute`, and what the server must
//! answer to each.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

mod support;

use graphsession_core::node::Reply;
use graphsession_wire::{Config, Framing, Method, Protocol, ServerCodec, WireRequest};
use support::ClientCall;

/// Concatenates byte pieces.
fn bytes(pieces: &[&[u8]]) -> Vec<u8> {
    pieces.concat()
}

/// `authenticate("root", "nebula")` as nebula3-python writes it: a Header frame (sequence id 0,
/// protocol 2 = Compact, no transforms, padded to one word) around a Compact CALL.
fn python_authenticate() -> Vec<u8> {
    bytes(&[
        &[0x00, 0x00, 0x00, 0x2D], // length: 45 bytes follow
        &[0x0F, 0xFF],             // Header magic
        &[0x00, 0x00],             // flags
        &[0x00, 0x00, 0x00, 0x00], // sequence id
        &[0x00, 0x01],             // header: one 4-byte word
        &[0x02, 0x00, 0x00, 0x00], // protocol id 2, 0 transforms, padding
        &[0x82, 0x22],             // Compact, version 2, type CALL (1 << 5)
        &[0x00],                   // sequence id (varint)
        &[0x0C],                   // name length 12
        b"authenticate",           //
        &[0x18, 0x04],             // field 1 (delta 1), binary, length 4
        b"root",                   //
        &[0x18, 0x06],             // field 2 (delta 1), binary, length 6
        b"nebula",                 //
        &[0x00],                   // stop
    ])
}

/// `execute(42, "YIELD 1")` as the Node.js client writes it: a 4-byte length around a strict
/// Binary CALL with sequence id 1.
fn node_execute() -> Vec<u8> {
    bytes(&[
        &[0x00, 0x00, 0x00, 0x2D],                         // length: 45
        &[0x80, 0x01, 0x00, 0x01],                         // version 1, type CALL
        &[0x00, 0x00, 0x00, 0x07],                         // name length 7
        b"execute",                                        //
        &[0x00, 0x00, 0x00, 0x01],                         // sequence id 1
        &[0x0A, 0x00, 0x01],                               // i64 field 1
        &[0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2A], // 42
        &[0x0B, 0x00, 0x02, 0x00, 0x00, 0x00, 0x07],       // binary field 2, length 7
        b"YIELD 1",                                        //
        &[0x00],                                           // stop
    ])
}

#[test]
fn golden_header_compact_authenticate_decodes() {
    let mut codec = ServerCodec::new(Config::default()).unwrap();
    codec.handle_bytes(&python_authenticate());
    let call = codec.poll_request().unwrap().unwrap();
    assert_eq!(codec.framing(), Some(Framing::Header));
    assert_eq!(
        call.request,
        WireRequest::Authenticate { username: b"root".to_vec(), password: b"nebula".to_vec() }
    );
    let reply_to = call.reply_to.unwrap();
    assert_eq!((reply_to.protocol(), reply_to.method()), (Protocol::Compact, Method::Authenticate));
    assert_eq!((reply_to.seq_id(), reply_to.header_seq_id()), (0, 0));
}

#[test]
fn golden_framed_binary_execute_decodes() {
    let mut codec = ServerCodec::new(Config::default()).unwrap();
    codec.handle_bytes(&node_execute());
    let call = codec.poll_request().unwrap().unwrap();
    assert_eq!(codec.framing(), Some(Framing::Framed));
    let expected = WireRequest::Execute {
        session_id: 42,
        statement: "YIELD 1".into(),
        parameters: None,
        json: false,
    };
    assert_eq!(call.request, expected);
    let reply_to = call.reply_to.unwrap();
    assert_eq!((reply_to.protocol(), reply_to.seq_id()), (Protocol::Binary, 1));
}

#[test]
fn the_test_clients_encode_exactly_the_golden_frames() {
    let login =
        ClientCall::Authenticate { username: b"root".to_vec(), password: b"nebula".to_vec() };
    assert_eq!(support::python(&login), python_authenticate());
    assert_eq!(
        support::node(&ClientCall::execute(Method::Execute, 42, "YIELD 1"), 1),
        node_execute()
    );
}

#[test]
fn golden_header_compact_authenticate_reply() {
    let mut codec = ServerCodec::new(Config::default()).unwrap();
    codec.handle_bytes(&python_authenticate());
    let reply_to = codec.poll_request().unwrap().unwrap().reply_to.unwrap();
    let reply = Reply::Authenticated {
        session_id: 1,
        time_zone_offset_seconds: 0,
        time_zone_name: "UTC".into(),
    };
    let expected = bytes(&[
        &[0x00, 0x00, 0x00, 0x2D],             // length: 45
        &[0x0F, 0xFF, 0x00, 0x00],             // magic, flags
        &[0x00, 0x00, 0x00, 0x00],             // the call's sequence id
        &[0x00, 0x01, 0x02, 0x00, 0x00, 0x00], // one header word: Compact, no transforms
        &[0x82, 0x42, 0x00, 0x0C],             // Compact, version 2, REPLY (2 << 5), seq 0
        b"authenticate",                       //
        &[0x0C, 0x00],                         // result field 0 (long form), struct
        &[0x15, 0x00],                         // error_code (field 1, i32) 0
        &[0x26, 0x02],                         // session_id (field 3, delta 2, i64) zigzag 1
        &[0x15, 0x00],                         // time_zone_offset_seconds (field 4) 0
        &[0x18, 0x03],                         // time_zone_name (field 5, binary), length 3
        b"UTC",                                //
        &[0x00, 0x00],                         // stop AuthResponse, stop result
    ]);
    assert_eq!(codec.encode_reply(&reply_to, &reply, 0), expected);
}

#[test]
fn golden_framed_binary_execute_reply() {
    let mut codec = ServerCodec::new(Config::default()).unwrap();
    codec.handle_bytes(&node_execute());
    let reply_to = codec.poll_request().unwrap().unwrap().reply_to.unwrap();
    let reply = Reply::Executed { space_name: "s".into(), data: None, plan_id: None };
    let expected = bytes(&[
        &[0x00, 0x00, 0x00, 0x32],                         // length: 50
        &[0x80, 0x01, 0x00, 0x02],                         // version 1, type REPLY
        &[0x00, 0x00, 0x00, 0x07],                         // name length 7
        b"execute",                                        //
        &[0x00, 0x00, 0x00, 0x01],                         // the call's sequence id
        &[0x0C, 0x00, 0x00],                               // result field 0, struct
        &[0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00],       // error_code (i32 field 1) 0
        &[0x0A, 0x00, 0x02],                               // latency_in_us (i64 field 2)
        &[0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07], // 7
        &[0x0B, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01],       // space_name (binary field 4)
        b"s",                                              //
        &[0x00, 0x00],                                     // stop response, stop result
    ]);
    assert_eq!(codec.encode_reply(&reply_to, &reply, 7), expected);
}
