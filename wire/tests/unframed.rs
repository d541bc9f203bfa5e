//! Unframed strict Binary, as the Rust crate `nebula-client` 0.7.3 writes it (fbthrift's
//! unframed transport): detected from `0x8001` in bytes 0-1, messages read back to back with
//! their end found by reading them, in any pieces; a message that never ends within
//! `frame_bytes_max` is refused; a connection cannot switch framings.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

mod support;

use graphsession_wire::{Config, FrameError, Framing, Method, Protocol, ServerCodec};
use support::{ClientCall, frame};

fn unframed(call: &ClientCall, seq_id: u32) -> Vec<u8> {
    frame(Framing::Unframed, Protocol::Binary, call, seq_id)
}

#[test]
fn back_to_back_messages_in_any_pieces_decode_in_order() {
    let calls = ClientCall::every_method();
    let bytes: Vec<u8> = (1..).zip(&calls).flat_map(|(seq, call)| unframed(call, seq)).collect();
    for piece in [1, 3, 17, bytes.len()] {
        let mut codec = ServerCodec::new(Config::default()).unwrap();
        let mut decoded = Vec::new();
        for chunk in bytes.chunks(piece) {
            codec.handle_bytes(chunk);
            while let Some(call) = codec.poll_request() {
                decoded.push(call.unwrap().request);
            }
            codec.check_invariants().unwrap();
        }
        let expected: Vec<_> = calls.iter().map(ClientCall::expected).collect();
        assert_eq!(decoded, expected, "pieces of {piece}");
        assert_eq!(codec.framing(), Some(Framing::Unframed));
        assert_eq!(codec.buffered_bytes(), 0);
    }
}

#[test]
fn an_unframed_reply_is_the_bare_message() {
    let call = ClientCall::execute(Method::Execute, 5, "YIELD 1");
    let mut codec = ServerCodec::new(Config::default()).unwrap();
    codec.handle_bytes(&unframed(&call, 9));
    let reply_to = codec.poll_request().unwrap().unwrap().reply_to.unwrap();
    let reply = graphsession_core::node::Reply::ExecuteFailed {
        code: -1002,
        message: "gone".into(),
        space_name: String::new(),
    };
    let bytes = codec.encode_reply(&reply_to, &reply, 1);
    assert_eq!(&bytes[..4], &[0x80, 0x01, 0x00, 0x02], "a strict Binary REPLY, no length");
    let decoded =
        support::decode_frame(Framing::Unframed, Protocol::Binary, Method::Execute, 9, &bytes);
    assert!(matches!(decoded, support::Decoded::Execute(_)));
}

#[test]
fn a_message_that_never_ends_is_refused_at_the_frame_limit() {
    let config = Config { frame_bytes_max: 64, buffered_bytes_max: 68, ..Config::default() };
    let mut codec = ServerCodec::new(config).unwrap();
    let call = ClientCall::execute(Method::Execute, 5, &"x".repeat(100));
    let bytes = unframed(&call, 1);
    codec.handle_bytes(&bytes[..40]);
    assert!(codec.poll_request().is_none(), "incomplete: waits");
    codec.handle_bytes(&bytes[40..66]);
    assert!(matches!(
        codec.poll_request(),
        Some(Err(FrameError::Oversized { frame_bytes: 66, frame_bytes_max: 64 }))
    ));
    codec.check_invariants().unwrap();
}

#[test]
fn a_connection_keeps_its_framing() {
    let call = ClientCall::execute(Method::Execute, 5, "YIELD 1");
    let mut codec = ServerCodec::new(Config::default()).unwrap();
    codec.handle_bytes(&frame(Framing::Framed, Protocol::Binary, &call, 1));
    codec.poll_request().unwrap().unwrap();
    codec.handle_bytes(&unframed(&call, 2));
    assert!(matches!(
        codec.poll_request(),
        Some(Err(FrameError::FramingChanged {
            expected: Framing::Framed,
            found: Framing::Unframed
        }))
    ));
    let mut codec = ServerCodec::new(Config::default()).unwrap();
    codec.handle_bytes(&unframed(&call, 1));
    codec.poll_request().unwrap().unwrap();
    codec.handle_bytes(&frame(Framing::Framed, Protocol::Binary, &call, 2));
    assert!(matches!(
        codec.poll_request(),
        Some(Err(FrameError::BadMagic { expected: 0x8001, .. }))
    ));
}
