//! Encodes a reply: the method's response struct (or JSON document) inside the result struct of
//! a REPLY message, serialized by the generated code in the call's protocol, then framed like
//! the call.

use fbthrift_git::{MessageType, ProtocolWriter, Serialize, TType};
use graphsession_core::client::E_EXECUTION_ERROR;
use graphsession_core::node::Reply;
use nebula_fbthrift_graph_v3::types::{AuthResponse, ExecutionResponse, VerifyClientVersionResp};

use crate::framing::{Protocol, frame_reply, reply_overhead_bytes};
use crate::json::execution_json;
use crate::request::{Method, ReplyTo};
use crate::response::{
    auth_response, execution_response, space_name, verify_client_version_response,
};

/// A result struct's success field.
const SUCCESS_FIELD_ID: i16 = 0;

/// The success value of a method's result struct.
#[derive(Debug, Clone, PartialEq)]
enum Body {
    VerifyClientVersion(VerifyClientVersionResp),
    Authenticate(AuthResponse),
    Execute(ExecutionResponse),
    /// The `executeJson` variants return `binary`.
    Json(Vec<u8>),
}

impl Body {
    fn of(method: Method, reply: &Reply, latency_us: u64) -> Body {
        match method {
            Method::VerifyClientVersion => {
                Body::VerifyClientVersion(verify_client_version_response(reply))
            }
            Method::Authenticate => Body::Authenticate(auth_response(reply)),
            Method::ExecuteJson | Method::ExecuteJsonWithParameter => {
                Body::Json(execution_json(reply, latency_us))
            }
            // Sign-outs get no reply; a host that asks anyway gets an execute response.
            Method::SignOut | Method::Execute | Method::ExecuteWithParameter => {
                Body::Execute(execution_response(reply, latency_us))
            }
        }
    }
}

/// A REPLY message: `name`, `seq_id` and the result struct holding `body` as field 0.
struct Message<'a> {
    name: &'static str,
    seq_id: u32,
    body: &'a Body,
}

impl<P: ProtocolWriter> Serialize<P> for Message<'_> {
    fn write(&self, p: &mut P) {
        p.write_message_begin(self.name, MessageType::Reply, self.seq_id);
        p.write_struct_begin("result");
        match self.body {
            Body::VerifyClientVersion(response) => success(p, TType::Struct, response),
            Body::Authenticate(response) => success(p, TType::Struct, response),
            Body::Execute(response) => success(p, TType::Struct, response),
            Body::Json(bytes) => {
                p.write_field_begin("success", TType::String, SUCCESS_FIELD_ID);
                p.write_binary(bytes);
                p.write_field_end();
            }
        }
        p.write_field_stop();
        p.write_struct_end();
        p.write_message_end();
    }
}

fn success<P: ProtocolWriter, T: Serialize<P>>(p: &mut P, ttype: TType, value: &T) {
    p.write_field_begin("success", ttype, SUCCESS_FIELD_ID);
    value.write(p);
    p.write_field_end();
}

fn serialize(reply_to: &ReplyTo, body: &Body) -> Vec<u8> {
    let message = Message { name: reply_to.method.name(), seq_id: reply_to.seq_id, body };
    match reply_to.protocol {
        Protocol::Binary => fbthrift_git::binary_protocol::serialize(&message).to_vec(),
        Protocol::Compact => fbthrift_git::compact_protocol::serialize(&message).to_vec(),
    }
}

/// The framed reply; one over `reply_frame_bytes_max` becomes a -1005 error saying so.
pub(crate) fn encode_reply(
    reply_to: &ReplyTo,
    reply: &Reply,
    latency_us: u64,
    reply_frame_bytes_max: u32,
) -> Vec<u8> {
    let mut payload = serialize(reply_to, &Body::of(reply_to.method, reply, latency_us));
    let frame_bytes = payload.len() + reply_overhead_bytes(reply_to.framing);
    if frame_bytes > reply_frame_bytes_max as usize {
        let too_large = Reply::ExecuteFailed {
            code: E_EXECUTION_ERROR,
            message: format!(
                "the reply of {frame_bytes} bytes is over the {reply_frame_bytes_max}-byte frame \
                 limit"
            ),
            space_name: space_name(reply).chars().take(64).collect(),
        };
        payload = serialize(reply_to, &Body::of(reply_to.method, &too_large, latency_us));
    }
    frame_reply(reply_to.framing, reply_to.protocol, reply_to.header_seq_id, &payload)
}
