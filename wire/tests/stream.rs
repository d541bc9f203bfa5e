//! A connection's bytes arrive however the socket splits them: one byte at a time, several
//! frames in one read, a frame split across reads. The codec decodes the same calls, in order,
//! and replies in the framing the connection began with.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

mod support;

use graphsession_core::node::Reply;
use graphsession_wire::{Call, Config, Framing, Method, Protocol, ServerCodec};
use support::{ClientCall, Decoded, decode_frame};

/// Every call of `bytes`, fed in pieces of `piece` bytes, draining after each piece.
fn feed_in_pieces(bytes: &[u8], piece: usize) -> Vec<Call> {
    let mut codec = ServerCodec::new(Config::default()).unwrap();
    let mut calls = Vec::new();
    for chunk in bytes.chunks(piece) {
        codec.handle_bytes(chunk);
        while let Some(call) = codec.poll_request() {
            calls.push(call.unwrap());
        }
        codec.check_invariants().unwrap();
    }
    assert!(codec.failure().is_none());
    assert_eq!(codec.buffered_bytes(), 0);
    calls
}

/// A python session's calls, then a Node.js session's, each as one stream.
fn streams() -> [(Vec<u8>, Vec<ClientCall>); 2] {
    let calls = ClientCall::every_method();
    let python: Vec<u8> = calls.iter().flat_map(support::python).collect();
    let node: Vec<u8> =
        (1..).zip(&calls).flat_map(|(seq, call)| support::node(call, seq)).collect();
    [(python, calls.clone()), (node, calls)]
}

#[test]
fn byte_by_byte_feeding_decodes_every_call_in_order() {
    for (bytes, calls) in streams() {
        let decoded = feed_in_pieces(&bytes, 1);
        let requests: Vec<_> = decoded.into_iter().map(|call| call.request).collect();
        let expected: Vec<_> = calls.iter().map(ClientCall::expected).collect();
        assert_eq!(requests, expected);
    }
}

#[test]
fn a_partial_frame_waits_without_a_call_or_an_error() {
    let bytes = support::python(&ClientCall::every_method()[1]);
    let mut codec = ServerCodec::new(Config::default()).unwrap();
    for (fed, byte) in bytes.iter().enumerate().take(bytes.len() - 1) {
        codec.handle_bytes(&[*byte]);
        assert!(
            codec.poll_request().is_none(),
            "a call after {} of {} bytes",
            fed + 1,
            bytes.len()
        );
        assert!(codec.failure().is_none());
    }
    assert_eq!(usize::try_from(codec.buffered_bytes()).unwrap(), bytes.len() - 1);
    codec.handle_bytes(&bytes[bytes.len() - 1..]);
    assert!(codec.poll_request().unwrap().is_ok());
}

#[test]
fn two_pipelined_frames_in_one_read_give_two_calls() {
    for framing in [Framing::Header, Framing::Framed] {
        let protocol =
            if framing == Framing::Header { Protocol::Compact } else { Protocol::Binary };
        let first = ClientCall::execute(Method::Execute, 1, "YIELD 1");
        let second = ClientCall::execute(Method::ExecuteJson, 2, "YIELD 2");
        let mut read = support::frame(framing, protocol, &first, 10);
        read.extend(support::frame(framing, protocol, &second, 11));
        let mut codec = ServerCodec::new(Config::default()).unwrap();
        codec.handle_bytes(&read);
        let one = codec.poll_request().unwrap().unwrap();
        let two = codec.poll_request().unwrap().unwrap();
        assert!(codec.poll_request().is_none());
        assert_eq!((one.request, two.request), (first.expected(), second.expected()));
        assert_eq!(one.reply_to.unwrap().seq_id(), 10);
        assert_eq!(two.reply_to.unwrap().seq_id(), 11);
    }
}

#[test]
fn pieces_of_every_size_decode_the_same_calls() {
    for (bytes, calls) in streams() {
        for piece in [2, 3, 5, 7, 13, 64, 1000] {
            let decoded = feed_in_pieces(&bytes, piece);
            assert_eq!(decoded.len(), calls.len(), "pieces of {piece}");
        }
    }
}

#[test]
fn signout_gets_no_reply_to_and_the_next_call_still_decodes() {
    let (bytes, calls) = streams()[0].clone();
    let decoded = feed_in_pieces(&bytes, 4096);
    for (call, sent) in decoded.iter().zip(&calls) {
        assert_eq!(call.reply_to.is_none(), sent.method() == Method::SignOut);
    }
    // A signout followed by an execute in one read: only the execute has somewhere to reply.
    let mut read = support::python(&ClientCall::SignOut { session_id: 5 });
    read.extend(support::python(&ClientCall::execute(Method::Execute, 6, "YIELD 1")));
    let decoded = feed_in_pieces(&read, 4096);
    assert!(decoded[0].reply_to.is_none());
    assert!(decoded[1].reply_to.is_some());
}

#[test]
fn a_one_way_call_gets_no_reply_to() {
    let call = ClientCall::execute(Method::Execute, 6, "YIELD 1");
    let message = support::CallMessage {
        call: &call,
        seq_id: 3,
        message_type: fbthrift_git::MessageType::Oneway,
    };
    let bytes = support::framed(&support::message_of(Protocol::Binary, &message));
    let decoded = feed_in_pieces(&bytes, 4096);
    assert_eq!(decoded[0].request, call.expected());
    assert!(decoded[0].reply_to.is_none());
}

#[test]
fn replies_to_pipelined_calls_echo_each_calls_sequence_id() {
    let (bytes, calls) = streams()[1].clone();
    let codec = ServerCodec::new(Config::default()).unwrap();
    let reply =
        Reply::ExecuteFailed { code: -1002, message: "gone".into(), space_name: "s".into() };
    for (call, sent) in feed_in_pieces(&bytes, 4096).iter().zip(&calls) {
        let Some(reply_to) = call.reply_to else { continue };
        let frame = codec.encode_reply(&reply_to, &reply, 0);
        // Decoding checks the envelope: REPLY, the method's name, the call's sequence id.
        let _decoded: Decoded = decode_frame(
            Framing::Framed,
            Protocol::Binary,
            sent.method(),
            reply_to.seq_id(),
            &frame,
        );
    }
}
