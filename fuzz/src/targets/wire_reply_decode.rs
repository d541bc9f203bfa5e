//! The client side of the NebulaGraph wire codec, every way a server's bytes reach it: raw
//! bytes; a real reply (every method, every reply kind the server encodes, in each framing)
//! with bytes changed; each fed in pieces of a chosen size, under the default limits or tight
//! ones, to a codec awaiting the call that reply answers.
//!
//! Properties: nothing panics; the codec's invariants hold after every step; after an error no
//! reply comes and no call is encoded; an unchanged reply decodes to its method's reply kind.

use arbitrary::Unstructured;
use graphsession_core::node::{DataSet, Reply, Value};
use graphsession_wire::{
    ClientCodec, ClientCodecConfig, ClientReply, Config, Framing, Protocol, ServerCodec,
    WireRequest,
};

use super::{index, list, within};

const COMBINATIONS: [(Framing, Protocol); 3] = [
    (Framing::Header, Protocol::Compact),
    (Framing::Framed, Protocol::Binary),
    (Framing::Header, Protocol::Binary),
];
const MUTATIONS_MAX: usize = 8;

fn requests() -> [WireRequest; 5] {
    let execute = |parameters: Option<graphsession_wire::Parameters>, json| WireRequest::Execute {
        session_id: -3,
        statement: "YIELD 1".to_owned(),
        parameters,
        json,
    };
    [
        WireRequest::VerifyClientVersion { version: "3.0.0".to_owned() },
        WireRequest::Authenticate { username: b"root".to_vec(), password: b"nebula".to_vec() },
        execute(None, false),
        execute(Some(Default::default()), false),
        execute(None, true),
    ]
}

fn replies() -> [Reply; 4] {
    let data = DataSet {
        column_names: vec!["a".to_owned()],
        rows: vec![vec![Value::Int(-1)], vec![Value::Str("x".to_owned())]],
    };
    [
        Reply::Authenticated {
            session_id: i64::MIN,
            time_zone_offset_seconds: 0,
            time_zone_name: "UTC".to_owned(),
        },
        Reply::Executed { space_name: "s".to_owned(), data: Some(data), plan_id: None },
        Reply::ExecuteFailed { code: -1002, message: "gone".to_owned(), space_name: String::new() },
        Reply::ClientVersion { code: 0, message: String::new() },
    ]
}

/// A client codec awaiting `request`'s reply, and the server's reply bytes.
fn awaiting(
    combination: usize,
    request: &WireRequest,
    reply: &Reply,
    config: ClientCodecConfig,
) -> Option<(ClientCodec, Vec<u8>)> {
    let (framing, protocol) = COMBINATIONS[combination];
    let mut client = ClientCodec::new(ClientCodecConfig { framing, protocol, ..config }).ok()?;
    let mut server = ServerCodec::new(Config::default()).ok()?;
    server.handle_bytes(&client.encode(request).ok()?);
    let reply_to = server.poll_request()?.ok()?.reply_to?;
    let bytes = server.encode_reply(&reply_to, reply, 42);
    Some((client, bytes))
}

/// The target.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(mode) = index(&mut u, 2) else { return };
    let Ok(combination) = index(&mut u, COMBINATIONS.len()) else { return };
    let Ok(request) = index(&mut u, requests().len()) else { return };
    let Ok(reply) = index(&mut u, replies().len()) else { return };
    let Ok(piece) = within(&mut u, 1_usize..=64) else { return };
    let Ok(tight) = u.arbitrary::<bool>() else { return };
    let config = if tight {
        ClientCodecConfig {
            frame_bytes_max: 128,
            buffered_bytes_max: 256,
            nesting_depth_max: 3,
            reply_values_max: 8,
            pending_replies_max: 1,
            ..ClientCodecConfig::default()
        }
    } else {
        ClientCodecConfig::default()
    };
    let request = &requests()[request];
    let Some((mut client, mut bytes)) = awaiting(combination, request, &replies()[reply], config)
    else {
        return;
    };
    let changes = list(&mut u, MUTATIONS_MAX, |u| Ok((u.arbitrary::<usize>()?, u.arbitrary()?)));
    let unchanged = mode == 1 && changes.is_empty() && !tight;
    if mode == 0 {
        bytes = u.take_rest().to_vec();
    }
    for (at, byte) in changes {
        if !bytes.is_empty() && mode == 1 {
            let at = at % bytes.len();
            bytes[at] = byte;
        }
    }
    feed(&mut client, &bytes, piece, unchanged.then_some(request));
}

/// Feeds `bytes` in pieces, checking the properties after every step.
fn feed(client: &mut ClientCodec, bytes: &[u8], piece: usize, unchanged: Option<&WireRequest>) {
    let mut failed = false;
    let mut decoded = 0_usize;
    for chunk in bytes.chunks(piece) {
        client.handle_bytes(chunk);
        while let Some(reply) = client.poll_reply() {
            assert!(!failed, "a reply after an error");
            match reply {
                Ok(reply) => {
                    decoded += 1;
                    if let Some(request) = unchanged {
                        assert!(fits(request, &reply), "{request:?} answered by {reply:?}");
                    }
                }
                Err(error) => {
                    assert!(unchanged.is_none(), "an unchanged reply refused: {error}");
                    failed = true;
                }
            }
        }
        if let Err(violation) = client.check_invariants() {
            panic!("invariant broken: {violation}");
        }
    }
    if failed {
        let call = WireRequest::SignOut { session_id: 1 };
        assert!(client.encode(&call).is_err(), "a closed codec encoded a call");
    }
    if unchanged.is_some() {
        assert_eq!(decoded, 1, "an unchanged reply decodes once");
    }
}

/// Whether `reply` is the kind that answers `request`.
fn fits(request: &WireRequest, reply: &ClientReply) -> bool {
    matches!(
        (request, reply),
        (WireRequest::VerifyClientVersion { .. }, ClientReply::VerifyClientVersion(_))
            | (WireRequest::Authenticate { .. }, ClientReply::Authenticate(_))
            | (WireRequest::Execute { json: false, .. }, ClientReply::Execute(_))
            | (WireRequest::Execute { json: true, .. }, ClientReply::ExecuteJson(_))
    )
}

/// Valid inputs: every request answered by every reply kind, in each framing, unchanged.
pub fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for combination in 0..3_u8 {
        for request in 0..5_u8 {
            for reply in 0..4_u8 {
                seeds.push(vec![1, combination, request, reply, 0, 0]);
            }
        }
    }
    seeds
}
