//! Properties over arbitrary input: no bytes make the codec panic or break its invariants; a
//! valid stream cut anywhere waits for the rest; a valid frame with its content cut (its
//! length fixed up) is refused with an error; any parameter value round trips; any reply to
//! any call decodes with the generated client types.
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

mod support;

use std::collections::BTreeMap;

use graphsession_core::node::{DataSet, Reply, Value as NodeValue};
use graphsession_wire::nebula_common::double::Double;
use graphsession_wire::nebula_common::types::{NList, NMap, Value};
use graphsession_wire::{Config, Framing, Method, Protocol, ServerCodec, WireRequest};
use proptest::prelude::*;
use support::ClientCall;

const COMBINATIONS: [(Framing, Protocol); 3] = [
    (Framing::Header, Protocol::Compact),
    (Framing::Framed, Protocol::Binary),
    (Framing::Header, Protocol::Binary),
];

/// Feeds `bytes` in pieces of the given sizes (cycled), draining after each; returns how many
/// calls came and whether an error did. Checks the invariants after every step.
fn feed(bytes: &[u8], pieces: &[usize]) -> (usize, bool) {
    let mut codec = ServerCodec::new(Config::default()).unwrap();
    let (mut calls, mut failed) = (0, false);
    let mut rest = bytes;
    for piece in pieces.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (now, later) = rest.split_at((*piece).clamp(1, rest.len()));
        rest = later;
        codec.handle_bytes(now);
        while let Some(call) = codec.poll_request() {
            match call {
                Ok(_) => calls += 1,
                Err(_) => failed = true,
            }
        }
        codec.check_invariants().unwrap();
    }
    (calls, failed)
}

fn valid_frames() -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    for (framing, protocol) in COMBINATIONS {
        for call in ClientCall::every_method() {
            frames.push(support::frame(framing, protocol, &call, 3));
        }
    }
    frames
}

fn parameter_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::iVal),
        any::<bool>().prop_map(Value::bVal),
        (-1e9_f64..1e9).prop_map(|float| Value::fVal(Double(float))),
        proptest::collection::vec(any::<u8>(), 0..12).prop_map(Value::sVal),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|values| Value::lVal(NList { values, ..Default::default() })),
            proptest::collection::btree_map(
                proptest::collection::vec(any::<u8>(), 0..4),
                inner,
                0..4
            )
            .prop_map(|kvs| Value::mVal(NMap { kvs, ..Default::default() })),
        ]
    })
}

fn node_value() -> impl Strategy<Value = NodeValue> {
    prop_oneof![
        Just(NodeValue::Null),
        any::<bool>().prop_map(NodeValue::Bool),
        any::<i64>().prop_map(NodeValue::Int),
        any::<f64>().prop_map(NodeValue::Float),
        ".{0,12}".prop_map(NodeValue::Str),
        any::<u64>().prop_map(|unix_us| NodeValue::DateTime { unix_us }),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    let rows = proptest::collection::vec(proptest::collection::vec(node_value(), 2), 0..4);
    prop_oneof![
        (any::<i32>(), ".{0,16}")
            .prop_map(|(code, message)| Reply::ClientVersion { code, message }),
        (any::<i64>(), any::<i32>(), ".{0,8}").prop_map(|(session_id, offset, name)| {
            Reply::Authenticated {
                session_id,
                time_zone_offset_seconds: offset,
                time_zone_name: name,
            }
        }),
        (any::<i32>(), ".{0,16}")
            .prop_map(|(code, message)| Reply::AuthenticateFailed { code, message }),
        (".{0,8}", proptest::option::of(rows)).prop_map(|(space_name, rows)| Reply::Executed {
            space_name,
            data: rows.map(|rows| DataSet { column_names: vec!["a".into(), "b".into()], rows }),
            plan_id: None,
        }),
        (any::<i32>(), ".{0,16}", ".{0,8}").prop_map(|(code, message, space_name)| {
            Reply::ExecuteFailed { code, message, space_name }
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random bytes in random pieces never panic and never break the invariants.
    #[test]
    fn random_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        pieces in proptest::collection::vec(1_usize..64, 1..8),
    ) {
        feed(&bytes, &pieces);
    }

    /// Random payloads inside well-formed frames of each framing reach the message decoders.
    #[test]
    fn random_payloads_in_valid_frames_never_panic(
        frame in 0_usize..21,
        payload in proptest::collection::vec(any::<u8>(), 0..256),
        keep in 0_usize..40,
    ) {
        let frames = valid_frames();
        let valid = &frames[frame];
        // Keep the frame's first bytes (its header and message start), then random ones.
        let kept = &valid[4..(4 + keep).min(valid.len())];
        let (calls, _) = feed(&support::framed(&[kept, &payload].concat()), &[4096]);
        prop_assert!(calls <= 1);
    }

    /// A valid frame with bytes changed anywhere decodes or is refused; it never panics.
    #[test]
    fn mutated_frames_never_panic(
        frame in 0_usize..21,
        changes in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = valid_frames()[frame].clone();
        let len = bytes.len();
        for (at, byte) in changes {
            bytes[at % len] = byte;
        }
        feed(&bytes, &[7]);
    }

    /// A valid stream cut anywhere waits for the rest: no call for the cut frame, no error.
    #[test]
    fn a_cut_stream_waits(frame in 0_usize..21, cut in any::<usize>()) {
        let bytes = &valid_frames()[frame];
        let cut = cut % bytes.len();
        let (calls, failed) = feed(&bytes[..cut], &[3]);
        prop_assert_eq!((calls, failed), (0, false));
    }

    /// A valid frame whose content (everything after its length) is cut, its length fixed up to
    /// match, is refused.
    #[test]
    fn a_cut_frame_is_refused(frame in 0_usize..21, cut in any::<usize>()) {
        let bytes = &valid_frames()[frame];
        let content = &bytes[4..];
        let cut = cut % content.len();
        let (calls, failed) = feed(&support::framed(&content[..cut]), &[4096]);
        prop_assert_eq!((calls, failed), (0, true));
    }

    /// Any parameter map round trips through every framing.
    #[test]
    fn parameters_round_trip(
        parameters in proptest::collection::btree_map("[a-z]{1,6}", parameter_value(), 0..4),
        combination in 0_usize..3,
    ) {
        let (framing, protocol) = COMBINATIONS[combination];
        let call = ClientCall::Execute {
            method: Method::ExecuteWithParameter,
            session_id: 1,
            statement: b"RETURN $a".to_vec(),
            parameters: parameters.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.clone())).collect(),
        };
        let mut codec = ServerCodec::new(Config::default()).unwrap();
        codec.handle_bytes(&support::frame(framing, protocol, &call, 1));
        let decoded = codec.poll_request().unwrap().unwrap();
        let WireRequest::Execute { parameters: Some(found), .. } = decoded.request else {
            panic!("not an execute with parameters")
        };
        prop_assert_eq!(found, parameters.into_iter().collect::<BTreeMap<_, _>>());
    }

    /// Any reply to any answered call decodes with the generated client-side types.
    #[test]
    fn any_reply_decodes(call in 0_usize..6, combination in 0_usize..3, reply in reply(), latency_us in any::<u64>()) {
        let (framing, protocol) = COMBINATIONS[combination];
        let sent = &ClientCall::every_method()[call];
        let mut codec = ServerCodec::new(Config::default()).unwrap();
        codec.handle_bytes(&support::frame(framing, protocol, sent, 77));
        let reply_to = codec.poll_request().unwrap().unwrap().reply_to.unwrap();
        let bytes = codec.encode_reply(&reply_to, &reply, latency_us);
        support::decode_frame(framing, protocol, sent.method(), 77, &bytes);
    }
}
