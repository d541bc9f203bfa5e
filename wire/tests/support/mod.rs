//! The client side, for the tests and the `wire_decode` fuzz target: calls encoded the way nebula3-python (Header
//! framing, Compact) and the Node.js client (Framed, Binary) encode them, with the generated
//! protocol writers, and replies decoded with the generated client-side result types.
#![allow(dead_code, reason = "each test file uses part of the support")]
#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use std::collections::BTreeMap;
use std::io::Cursor;

use fbthrift_git::binary_protocol::BinaryProtocolDeserializer;
use fbthrift_git::compact_protocol::CompactProtocolDeserializer;
use fbthrift_git::{Deserialize, MessageType, ProtocolReader, ProtocolWriter, Serialize, TType};
use graphsession_wire::nebula_common::types::Value;
use graphsession_wire::nebula_graph::services::graph_service::{
    AuthenticateExn, ExecuteExn, ExecuteJsonExn, VerifyClientVersionExn,
};
use graphsession_wire::nebula_graph::types::VerifyClientVersionReq;
use graphsession_wire::{Framing, Method, Protocol, WireRequest};

/// A client's call, with its arguments as the IDL has them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ClientCall {
    VerifyClientVersion {
        version: Vec<u8>,
    },
    Authenticate {
        username: Vec<u8>,
        password: Vec<u8>,
    },
    SignOut {
        session_id: i64,
    },
    /// Any of the four execute methods; `parameters` is sent by the `WithParameter` ones.
    Execute {
        method: Method,
        session_id: i64,
        statement: Vec<u8>,
        parameters: BTreeMap<Vec<u8>, Value>,
    },
}

impl ClientCall {
    pub(crate) fn method(&self) -> Method {
        match self {
            ClientCall::VerifyClientVersion { .. } => Method::VerifyClientVersion,
            ClientCall::Authenticate { .. } => Method::Authenticate,
            ClientCall::SignOut { .. } => Method::SignOut,
            ClientCall::Execute { method, .. } => *method,
        }
    }

    pub(crate) fn execute(method: Method, session_id: i64, statement: &str) -> ClientCall {
        ClientCall::Execute {
            method,
            session_id,
            statement: statement.as_bytes().to_vec(),
            parameters: BTreeMap::new(),
        }
    }

    /// The request the server should decode from this call.
    pub(crate) fn expected(&self) -> WireRequest {
        match self.clone() {
            ClientCall::VerifyClientVersion { version } => {
                WireRequest::VerifyClientVersion { version: String::from_utf8(version).unwrap() }
            }
            ClientCall::Authenticate { username, password } => {
                WireRequest::Authenticate { username, password }
            }
            ClientCall::SignOut { session_id } => WireRequest::SignOut { session_id },
            ClientCall::Execute { method, session_id, statement, parameters } => {
                WireRequest::Execute {
                    session_id,
                    statement: String::from_utf8(statement).unwrap(),
                    parameters: method.has_parameters().then(|| {
                        (parameters.into_iter())
                            .map(|(name, value)| (String::from_utf8(name).unwrap(), value))
                            .collect()
                    }),
                    json: method.is_json(),
                }
            }
        }
    }

    /// One call of every method, as the clients send them.
    pub(crate) fn every_method() -> Vec<ClientCall> {
        let mut parameters = BTreeMap::new();
        parameters.insert(b"p1".to_vec(), Value::iVal(7));
        parameters.insert(b"name".to_vec(), Value::sVal(b"alice".to_vec()));
        vec![
            ClientCall::VerifyClientVersion { version: b"3.0.0".to_vec() },
            ClientCall::Authenticate { username: b"root".to_vec(), password: b"nebula".to_vec() },
            ClientCall::execute(Method::Execute, 42, "YIELD 1"),
            ClientCall::Execute {
                method: Method::ExecuteWithParameter,
                session_id: -9_000_000_000,
                statement: b"RETURN $p1".to_vec(),
                parameters: parameters.clone(),
            },
            ClientCall::execute(Method::ExecuteJson, 43, "SHOW HOSTS"),
            ClientCall::Execute {
                method: Method::ExecuteJsonWithParameter,
                session_id: 44,
                statement: "RETURN $name // é".as_bytes().to_vec(),
                parameters,
            },
            ClientCall::SignOut { session_id: 42 },
        ]
    }
}

/// A CALL (or ONE-WAY) message holding a call.
pub(crate) struct CallMessage<'a> {
    pub(crate) call: &'a ClientCall,
    pub(crate) seq_id: u32,
    pub(crate) message_type: MessageType,
}

impl<P: ProtocolWriter> Serialize<P> for CallMessage<'_> {
    fn write(&self, p: &mut P) {
        p.write_message_begin(self.call.method().name(), self.message_type, self.seq_id);
        p.write_struct_begin("args");
        match self.call {
            ClientCall::VerifyClientVersion { version } => {
                let req = VerifyClientVersionReq { version: version.clone(), ..Default::default() };
                p.write_field_begin("req", TType::Struct, 1);
                req.write(p);
                p.write_field_end();
            }
            ClientCall::Authenticate { username, password } => {
                binary_field(p, 1, username);
                binary_field(p, 2, password);
            }
            ClientCall::SignOut { session_id } => i64_field(p, 1, *session_id),
            ClientCall::Execute { method, session_id, statement, parameters } => {
                i64_field(p, 1, *session_id);
                binary_field(p, 2, statement);
                if method.has_parameters() {
                    p.write_field_begin("parameterMap", TType::Map, 3);
                    parameters.write(p);
                    p.write_field_end();
                }
            }
        }
        p.write_field_stop();
        p.write_struct_end();
        p.write_message_end();
    }
}

fn binary_field<P: ProtocolWriter>(p: &mut P, id: i16, bytes: &[u8]) {
    p.write_field_begin("", TType::String, id);
    p.write_binary(bytes);
    p.write_field_end();
}

fn i64_field<P: ProtocolWriter>(p: &mut P, id: i16, value: i64) {
    p.write_field_begin("", TType::I64, id);
    p.write_i64(value);
    p.write_field_end();
}

/// A CALL message payload in `protocol`.
pub(crate) fn message(protocol: Protocol, call: &ClientCall, seq_id: u32) -> Vec<u8> {
    message_of(protocol, &CallMessage { call, seq_id, message_type: MessageType::Call })
}

/// Any message payload in `protocol`.
pub(crate) fn message_of(protocol: Protocol, message: &CallMessage<'_>) -> Vec<u8> {
    match protocol {
        Protocol::Binary => fbthrift_git::binary_protocol::serialize(message).to_vec(),
        Protocol::Compact => fbthrift_git::compact_protocol::serialize(message).to_vec(),
    }
}

/// A Header frame as nebula3-python's `THeaderTransport` writes it: flags 0, the header holding
/// the protocol id, the transforms and the info headers, padded with 1 to 4 zero bytes.
pub(crate) fn header_frame_with(
    protocol_id: u8,
    header_seq_id: u32,
    transforms: &[u8],
    info: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let mut header = vec![protocol_id, u8::try_from(transforms.len()).unwrap()];
    header.extend_from_slice(transforms);
    header.extend_from_slice(info);
    let padding = 4 - header.len() % 4;
    header.resize(header.len() + padding, 0);
    let length = u32::try_from(10 + header.len() + payload.len()).unwrap();
    let mut frame = length.to_be_bytes().to_vec();
    frame.extend_from_slice(&0x0FFF_u16.to_be_bytes());
    frame.extend_from_slice(&0_u16.to_be_bytes());
    frame.extend_from_slice(&header_seq_id.to_be_bytes());
    frame.extend_from_slice(&u16::try_from(header.len() / 4).unwrap().to_be_bytes());
    frame.extend_from_slice(&header);
    frame.extend_from_slice(payload);
    frame
}

/// A Header frame around `payload` in `protocol`, no transforms, no info headers.
pub(crate) fn header_frame(protocol: Protocol, header_seq_id: u32, payload: &[u8]) -> Vec<u8> {
    let protocol_id = match protocol {
        Protocol::Binary => 0,
        Protocol::Compact => 2,
    };
    header_frame_with(protocol_id, header_seq_id, &[], &[], payload)
}

/// A Framed frame: the payload's length, then the payload.
pub(crate) fn framed(payload: &[u8]) -> Vec<u8> {
    let mut frame = u32::try_from(payload.len()).unwrap().to_be_bytes().to_vec();
    frame.extend_from_slice(payload);
    frame
}

/// A call as nebula3-python sends it: Header framing, Compact, sequence ids 0.
pub(crate) fn python(call: &ClientCall) -> Vec<u8> {
    header_frame(Protocol::Compact, 0, &message(Protocol::Compact, call, 0))
}

/// A call as the Node.js client sends it: Framed, Binary, its own sequence id.
pub(crate) fn node(call: &ClientCall, seq_id: u32) -> Vec<u8> {
    framed(&message(Protocol::Binary, call, seq_id))
}

/// A call in any of the served combinations.
pub(crate) fn frame(
    framing: Framing,
    protocol: Protocol,
    call: &ClientCall,
    seq_id: u32,
) -> Vec<u8> {
    match framing {
        Framing::Header => header_frame(protocol, seq_id, &message(protocol, call, seq_id)),
        Framing::Framed => framed(&message(protocol, call, seq_id)),
        Framing::Unframed => message(protocol, call, seq_id),
    }
}

/// A reply frame taken apart: the Header frame's sequence id and protocol (Framed: 0 and
/// Binary), and the payload.
pub(crate) fn unframe(framing: Framing, bytes: &[u8]) -> (u32, Protocol, &[u8]) {
    if framing == Framing::Unframed {
        return (0, Protocol::Binary, bytes);
    }
    let length = usize::try_from(u32::from_be_bytes(bytes[..4].try_into().unwrap())).unwrap();
    assert_eq!(bytes.len(), 4 + length, "one whole frame");
    match framing {
        Framing::Framed => (0, Protocol::Binary, &bytes[4..]),
        Framing::Unframed => (0, Protocol::Binary, bytes),
        Framing::Header => {
            assert_eq!(bytes[4..6], [0x0F, 0xFF], "Header magic");
            let seq = u32::from_be_bytes(bytes[8..12].try_into().unwrap());
            let words = usize::from(u16::from_be_bytes(bytes[12..14].try_into().unwrap()));
            let protocol = match bytes[14] {
                0 => Protocol::Binary,
                2 => Protocol::Compact,
                other => panic!("protocol id {other}"),
            };
            assert_eq!(bytes[15], 0, "no transforms");
            (seq, protocol, &bytes[14 + 4 * words..])
        }
    }
}

/// A decoded reply message: its method name, type, sequence id and result.
#[derive(Debug)]
pub(crate) struct ReplyMessage<T> {
    pub(crate) name: String,
    pub(crate) message_type: MessageType,
    pub(crate) seq_id: u32,
    pub(crate) result: T,
}

fn read_reply<P: ProtocolReader, T: Deserialize<P>>(p: &mut P) -> ReplyMessage<T> {
    let (name, message_type, seq_id) = p.read_message_begin(|name| name.to_vec()).unwrap();
    let result = T::read(p).unwrap();
    p.read_message_end().unwrap();
    ReplyMessage { name: String::from_utf8(name).unwrap(), message_type, seq_id, result }
}

/// Decodes a reply payload with the generated client-side result type `T`.
pub(crate) fn decode_reply<T>(protocol: Protocol, payload: &[u8]) -> ReplyMessage<T>
where
    T: for<'a> Deserialize<BinaryProtocolDeserializer<Cursor<&'a [u8]>>>
        + for<'a> Deserialize<CompactProtocolDeserializer<Cursor<&'a [u8]>>>,
{
    match protocol {
        Protocol::Binary => {
            let mut p = BinaryProtocolDeserializer::new(Cursor::new(payload));
            let reply = read_reply(&mut p);
            assert_eq!(
                usize::try_from(p.into_inner().position()).unwrap(),
                payload.len(),
                "nothing after it"
            );
            reply
        }
        Protocol::Compact => {
            let mut p = CompactProtocolDeserializer::new(Cursor::new(payload));
            let reply = read_reply(&mut p);
            assert_eq!(
                usize::try_from(p.into_inner().position()).unwrap(),
                payload.len(),
                "nothing after it"
            );
            reply
        }
    }
}

/// A decoded reply of any method, by the generated result types.
#[derive(Debug)]
pub(crate) enum Decoded {
    VerifyClientVersion(VerifyClientVersionExn),
    Authenticate(AuthenticateExn),
    Execute(ExecuteExn),
    ExecuteJson(ExecuteJsonExn),
}

/// Decodes a whole reply frame to a call of `method`, checking the envelope: REPLY, the
/// method's name, the call's sequence id and protocol (a client that numbers its Header frames
/// as its messages, as every official one does: `seq_id` is both).
pub(crate) fn decode_frame(
    framing: Framing,
    protocol: Protocol,
    method: Method,
    seq_id: u32,
    bytes: &[u8],
) -> Decoded {
    decode_frame_with(framing, protocol, method, (seq_id, seq_id), bytes)
}

/// [`decode_frame`] of the reply to `reply_to`: the Header frame echoes the request frame's
/// sequence id and the message the request message's, which need not be equal.
pub(crate) fn decode_reply_to(reply_to: &graphsession_wire::ReplyTo, bytes: &[u8]) -> Decoded {
    let seq_ids = (reply_to.header_seq_id(), reply_to.seq_id());
    decode_frame_with(reply_to.framing(), reply_to.protocol(), reply_to.method(), seq_ids, bytes)
}

/// [`decode_frame`] with the Header frame's sequence id and the message's apart.
fn decode_frame_with(
    framing: Framing,
    protocol: Protocol,
    method: Method,
    (header_seq_id, seq_id): (u32, u32),
    bytes: &[u8],
) -> Decoded {
    let (header_seq, found_protocol, payload) = unframe(framing, bytes);
    assert_eq!(found_protocol, protocol, "the reply's protocol is the call's");
    if framing == Framing::Header {
        assert_eq!(header_seq, header_seq_id, "a Header reply echoes the frame's sequence id");
    }
    macro_rules! decoded {
        ($variant:ident) => {{
            let reply = decode_reply(protocol, payload);
            assert_eq!(reply.name, method.name());
            assert_eq!(reply.message_type, MessageType::Reply);
            assert_eq!(reply.seq_id, seq_id);
            Decoded::$variant(reply.result)
        }};
    }
    match method {
        Method::VerifyClientVersion => decoded!(VerifyClientVersion),
        Method::Authenticate => decoded!(Authenticate),
        Method::ExecuteJson | Method::ExecuteJsonWithParameter => decoded!(ExecuteJson),
        Method::SignOut | Method::Execute | Method::ExecuteWithParameter => decoded!(Execute),
    }
}
