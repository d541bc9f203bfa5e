//! Encodes a call: the method's arguments struct inside a CALL message, serialized by the
//! generated protocol writers, framed as the configured client frames it (nebula3-python:
//! Header + Compact; the Node.js client: Framed + Binary).

use fbthrift_git::{MessageType, ProtocolWriter, Serialize, TType};
use nebula_fbthrift_graph_v3::types::VerifyClientVersionReq;

use super::ClientCodecConfig;
use crate::framing::{Protocol, frame_reply};
use crate::request::{Method, WireRequest};

/// The method a request is sent as.
pub(super) fn method_of(request: &WireRequest) -> Method {
    match request {
        WireRequest::VerifyClientVersion { .. } => Method::VerifyClientVersion,
        WireRequest::Authenticate { .. } => Method::Authenticate,
        WireRequest::SignOut { .. } => Method::SignOut,
        WireRequest::Execute { parameters: None, json: false, .. } => Method::Execute,
        WireRequest::Execute { parameters: Some(_), json: false, .. } => {
            Method::ExecuteWithParameter
        }
        WireRequest::Execute { parameters: None, json: true, .. } => Method::ExecuteJson,
        WireRequest::Execute { parameters: Some(_), json: true, .. } => {
            Method::ExecuteJsonWithParameter
        }
    }
}

/// A CALL message holding a request's arguments.
struct CallMessage<'a> {
    request: &'a WireRequest,
    method: Method,
    seq_id: u32,
}

impl<P: ProtocolWriter> Serialize<P> for CallMessage<'_> {
    fn write(&self, p: &mut P) {
        p.write_message_begin(self.method.name(), MessageType::Call, self.seq_id);
        p.write_struct_begin("args");
        match self.request {
            WireRequest::VerifyClientVersion { version } => {
                let req = VerifyClientVersionReq {
                    version: version.as_bytes().to_vec(),
                    ..Default::default()
                };
                p.write_field_begin("req", TType::Struct, 1);
                req.write(p);
                p.write_field_end();
            }
            WireRequest::Authenticate { username, password } => {
                binary_field(p, "username", 1, username);
                binary_field(p, "password", 2, password);
            }
            WireRequest::SignOut { session_id } => i64_field(p, "sessionId", 1, *session_id),
            WireRequest::Execute { session_id, statement, parameters, .. } => {
                i64_field(p, "sessionId", 1, *session_id);
                binary_field(p, "stmt", 2, statement.as_bytes());
                if let Some(parameters) = parameters {
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

fn binary_field<P: ProtocolWriter>(p: &mut P, name: &str, id: i16, bytes: &[u8]) {
    p.write_field_begin(name, TType::String, id);
    p.write_binary(bytes);
    p.write_field_end();
}

fn i64_field<P: ProtocolWriter>(p: &mut P, name: &str, id: i16, value: i64) {
    p.write_field_begin(name, TType::I64, id);
    p.write_i64(value);
    p.write_field_end();
}

/// The framed call. A Header frame carries the sequence id too, as fbthrift's `THeader` does.
pub(super) fn encode_call(
    config: &ClientCodecConfig,
    request: &WireRequest,
    method: Method,
    seq_id: u32,
) -> Vec<u8> {
    let message = CallMessage { request, method, seq_id };
    let payload = match config.protocol {
        Protocol::Binary => fbthrift_git::binary_protocol::serialize(&message),
        Protocol::Compact => fbthrift_git::compact_protocol::serialize(&message),
    };
    frame_reply(config.framing, config.protocol, seq_id, &payload)
}
