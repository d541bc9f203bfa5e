//! The NebulaGraph wire codec, every way a connection's bytes reach it: raw bytes; a real call
//! of each framing (Header with Compact or Binary, Framed with Binary) with bytes changed and
//! optionally cut; and arbitrary payloads inside well-formed frames of each framing, so the
//! bytes reach the message, argument and parameter decoders instead of stopping at the frame.
//! Each input is fed in pieces of a chosen size, under the default limits or tight ones.
//!
//! Properties: nothing panics; the codec's invariants hold after every step; after an error no
//! call comes; `signout` is never answered; the reply to every answered call, of every reply
//! kind, decodes with the generated client-side types (envelope, method name, sequence ids).

use arbitrary::Unstructured;
use graphsession_core::node::{DataSet, Reply, Value};
use graphsession_wire::{Call, Config, Framing, Method, Protocol, ServerCodec, WireRequest};

use super::{index, list, within};

/// The wire tests' client side: calls encoded as each client encodes them, replies decoded
/// with the generated types.
#[path = "../../../wire/tests/support/mod.rs"]
mod wire_support;

use wire_support::ClientCall;

/// The served framings and protocols.
const COMBINATIONS: [(Framing, Protocol); 4] = [
    (Framing::Header, Protocol::Compact),
    (Framing::Framed, Protocol::Binary),
    (Framing::Header, Protocol::Binary),
    (Framing::Unframed, Protocol::Binary),
];
const MUTATIONS_MAX: usize = 8;

/// Limits small enough for short inputs to reach them.
fn tight_config() -> Config {
    Config {
        frame_bytes_max: 256,
        buffered_bytes_max: 1_024,
        nesting_depth_max: 4,
        request_values_max: 32,
        reply_frame_bytes_max: 1_024,
    }
}

/// Every method's call in every combination.
fn valid_frames() -> Vec<Vec<u8>> {
    let calls = ClientCall::every_method();
    let frames = COMBINATIONS.iter().flat_map(|&(framing, protocol)| {
        (1..).zip(&calls).map(move |(seq, call)| wire_support::frame(framing, protocol, call, seq))
    });
    frames.collect()
}

/// The target.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(mode) = index(&mut u, 3) else { return };
    let Ok(piece) = within(&mut u, 1_usize..=64) else { return };
    let Ok(tight) = u.arbitrary::<bool>() else { return };
    let bytes = match mode {
        0 => u.take_rest().to_vec(),
        1 => mutated(&mut u),
        _ => payload_in_frame(u),
    };
    let config = if tight { tight_config() } else { Config::default() };
    replay(&bytes, piece, config);
}

/// A real call with bytes changed and maybe cut.
fn mutated(u: &mut Unstructured<'_>) -> Vec<u8> {
    let frames = valid_frames();
    let Ok(chosen) = index(u, frames.len()) else { return Vec::new() };
    let mut bytes = frames[chosen].clone();
    let changes = list(u, MUTATIONS_MAX, |u| Ok((u.arbitrary::<u16>()?, u.arbitrary::<u8>()?)));
    let len = bytes.len();
    for (at, byte) in changes {
        bytes[usize::from(at) % len] = byte;
    }
    if let Ok(Some(cut)) = u.arbitrary::<Option<u16>>() {
        bytes.truncate(usize::from(cut) % (len + 1));
    }
    bytes
}

/// The rest of the input as the payload of a well-formed frame.
fn payload_in_frame(mut u: Unstructured<'_>) -> Vec<u8> {
    let Ok(chosen) = index(&mut u, COMBINATIONS.len()) else { return Vec::new() };
    let payload = u.take_rest();
    match COMBINATIONS[chosen] {
        (Framing::Framed, _) => wire_support::framed(payload),
        (Framing::Header, protocol) => wire_support::header_frame(protocol, 0, payload),
        // The marker, so the bytes reach the message decoder.
        (Framing::Unframed, _) => [&[0x80, 0x01][..], payload].concat(),
    }
}

/// Feeds `bytes` in pieces, draining after each, checking every property.
fn replay(bytes: &[u8], piece: usize, config: Config) {
    let codec = ServerCodec::new(config);
    let mut codec = codec.unwrap_or_else(|error| panic!("the fuzz config: {error}"));
    let mut failed = false;
    let mut answered = 0_usize;
    for chunk in bytes.chunks(piece) {
        codec.handle_bytes(chunk);
        while let Some(result) = codec.poll_request() {
            assert!(!failed, "a result after the codec failed");
            match result {
                Ok(call) => answered += answer(&codec, &call, answered),
                Err(_) => failed = true,
            }
            check(&codec);
        }
        check(&codec);
    }
}

fn check(codec: &ServerCodec) {
    if let Err(violation) = codec.check_invariants() {
        panic!("codec invariant broken: {violation}");
    }
}

/// Encodes a reply to `call` (the kind chosen by how many were answered before) and decodes it
/// as the client would; returns 1 when the call is answered.
fn answer(codec: &ServerCodec, call: &Call, answered: usize) -> usize {
    let signout = matches!(call.request, WireRequest::SignOut { .. });
    let Some(reply_to) = call.reply_to else { return 0 };
    assert!(!signout, "a signout has somewhere to reply");
    assert_ne!(reply_to.method(), Method::SignOut, "a signout has somewhere to reply");
    let replies = replies();
    let reply = &replies[answered % replies.len()];
    let bytes = codec.encode_reply(&reply_to, reply, 1_000);
    wire_support::decode_reply_to(&reply_to, &bytes);
    1
}

/// One reply of every kind.
fn replies() -> Vec<Reply> {
    let mut data = DataSet::with_columns(&["SessionId", "CreateTime", "UserName"]);
    data.rows.push(vec![
        Value::Int(-3),
        Value::DateTime { unix_us: 1_763_900_000_000_000 },
        Value::Str("root".into()),
    ]);
    vec![
        Reply::ClientVersion { code: 0, message: String::new() },
        Reply::Authenticated {
            session_id: 7,
            time_zone_offset_seconds: 0,
            time_zone_name: "UTC".into(),
        },
        Reply::AuthenticateFailed { code: -1001, message: "Invalid password".into() },
        Reply::Executed { space_name: "s".into(), data: Some(data), plan_id: Some(1) },
        Reply::ExecuteFailed { code: -1002, message: "gone".into(), space_name: String::new() },
    ]
}

/// Hand-made valid inputs: every call of each framing as raw bytes (mode 0, in 7-byte pieces),
/// python's and the Node.js client's sessions as one stream each, and a mutated call (mode 1).
pub fn seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> =
        valid_frames().into_iter().map(|frame| [&[0, 6, 0][..], &frame].concat()).collect();
    let calls = ClientCall::every_method();
    let python: Vec<u8> = calls.iter().flat_map(wire_support::python).collect();
    let node: Vec<u8> =
        (1..).zip(&calls).flat_map(|(seq, call)| wire_support::node(call, seq)).collect();
    seeds.push([&[0, 63, 1][..], &python].concat());
    seeds.push([&[0, 0, 0][..], &node].concat());
    seeds.push(vec![1, 3, 0, 2, 5, 0, 0x41]);
    let compact = ClientCall::execute(Method::Execute, 9, "YIELD 1");
    let payload = wire_support::message(Protocol::Compact, &compact, 0);
    seeds.push([&[2, 10, 0, 0][..], &payload].concat());
    seeds
}
