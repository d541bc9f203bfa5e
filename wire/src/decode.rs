//! Decodes one frame's payload into a [`Call`]: the envelope and the method by name (not the
//! generated processor, which answers `signout` and would desynchronize python's connection),
//! then the arguments, every value walked within the limits before anything is built.

use std::collections::BTreeMap;
use std::ops::Range;

use fbthrift_git::Deserialize;
use nebula_fbthrift_common_v3::types::Value as WireValue;

use crate::config::Config;
use crate::error::FrameError;
use crate::framing::{Frame, Framing, Protocol};
use crate::reader::{BinaryReader, CompactReader, Reader, WireType};
use crate::request::{Call, Method, Parameters, ReplyTo, WireRequest};
use crate::schema::PARAMETERS;
use crate::walk::{Budget, skip, walk};

/// Message types a client may send.
const MESSAGE_CALL: u8 = 1;
const MESSAGE_ONEWAY: u8 = 4;
/// An unknown method's name is cut to this many characters in the error.
const METHOD_NAME_SHOWN_MAX: usize = 64;

/// The arguments as found, before they are checked for presence.
#[derive(Debug, Default)]
struct Arguments<'a> {
    session_id: Option<i64>,
    statement: Option<&'a [u8]>,
    parameters: Option<Range<usize>>,
    username: Option<&'a [u8]>,
    password: Option<&'a [u8]>,
    version: Option<&'a [u8]>,
}

/// Decodes a complete frame of a connection using `framing`.
pub(crate) fn decode_call(
    frame: &Frame<'_>,
    framing: Framing,
    config: &Config,
) -> Result<Call, FrameError> {
    let budget = Budget::new(config.nesting_depth_max, config.request_values_max);
    match frame.protocol {
        Protocol::Binary => decode_with(BinaryReader::new(frame.payload), frame, framing, budget),
        Protocol::Compact => decode_with(CompactReader::new(frame.payload), frame, framing, budget),
    }
}

/// Decodes the unframed Binary message at the front of `bytes`: the call and the bytes it took,
/// or `None` while it is incomplete. A message still incomplete after `frame_bytes_max` bytes is
/// refused as oversized. (An incomplete message is read again from its start on every call: at
/// most `frame_bytes_max` bytes each time.)
pub(crate) fn decode_unframed(
    bytes: &[u8],
    config: &Config,
) -> Result<Option<(usize, Call)>, FrameError> {
    let budget = Budget::new(config.nesting_depth_max, config.request_values_max);
    let frame =
        Frame { protocol: Protocol::Binary, header_seq_id: 0, payload: bytes, frame_bytes: 0 };
    let mut reader = BinaryReader::new(bytes);
    match decode_message(&mut reader, &frame, Framing::Unframed, budget) {
        Ok(call) => Ok(Some((reader.position(), call))),
        Err(FrameError::Truncated { .. }) if bytes.len() < config.frame_bytes_max as usize => {
            Ok(None)
        }
        Err(FrameError::Truncated { .. }) => Err(FrameError::Oversized {
            frame_bytes: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
            frame_bytes_max: config.frame_bytes_max,
        }),
        Err(error) => Err(error),
    }
}

fn decode_with<'a, R: Reader<'a>>(
    mut reader: R,
    frame: &Frame<'a>,
    framing: Framing,
    budget: Budget,
) -> Result<Call, FrameError> {
    let call = decode_message(&mut reader, frame, framing, budget)?;
    let trailing_bytes = reader.remaining();
    if trailing_bytes > 0 {
        let trailing_bytes = u64::try_from(trailing_bytes).unwrap_or(u64::MAX);
        return Err(FrameError::TrailingBytes { trailing_bytes });
    }
    Ok(call)
}

/// Reads one message from the reader's position.
fn decode_message<'a, R: Reader<'a>>(
    reader: &mut R,
    frame: &Frame<'a>,
    framing: Framing,
    mut budget: Budget,
) -> Result<Call, FrameError> {
    let begin = reader.message_begin()?;
    let method = Method::from_name(begin.name).ok_or_else(|| FrameError::UnknownMethod {
        method: String::from_utf8_lossy(begin.name).chars().take(METHOD_NAME_SHOWN_MAX).collect(),
    })?;
    if begin.message_type != MESSAGE_CALL && begin.message_type != MESSAGE_ONEWAY {
        return Err(FrameError::NotACall { message_type: begin.message_type });
    }
    let arguments = read_arguments(reader, method, &mut budget)?;
    let request = build_request(method, arguments, frame)?;
    let answered = method != Method::SignOut && begin.message_type == MESSAGE_CALL;
    let reply_to = answered.then_some(ReplyTo {
        framing,
        protocol: frame.protocol,
        header_seq_id: frame.header_seq_id,
        seq_id: begin.seq_id,
        method,
    });
    Ok(Call { request, reply_to })
}

/// Reads the arguments struct: the fields `method` takes (by id and wire type, as the generated
/// server code matches them), every other field skipped and checked.
fn read_arguments<'a, R: Reader<'a>>(
    reader: &mut R,
    method: Method,
    budget: &mut Budget,
) -> Result<Arguments<'a>, FrameError> {
    let mut found = Arguments::default();
    reader.struct_begin();
    while let Some((wire, id)) = reader.field_begin()? {
        budget.spend(1)?;
        match (method, id, wire) {
            (Method::VerifyClientVersion, 1, WireType::Struct) => {
                found.version = Some(read_version(reader, budget)?);
            }
            (Method::Authenticate, 1, WireType::Binary) => {
                found.username = Some(reader.read_binary()?);
            }
            (Method::Authenticate, 2, WireType::Binary) => {
                found.password = Some(reader.read_binary()?);
            }
            (_, 1, WireType::I64) if method == Method::SignOut || method.is_execute() => {
                found.session_id = Some(reader.read_i64()?);
            }
            (_, 2, WireType::Binary) if method.is_execute() => {
                found.statement = Some(reader.read_binary()?);
            }
            (_, 3, WireType::Map) if method.has_parameters() => {
                let start = reader.position();
                walk(reader, PARAMETERS, budget)?;
                found.parameters = Some(start..reader.position());
            }
            _ => skip(reader, wire, budget)?,
        }
    }
    reader.struct_end();
    Ok(found)
}

/// `VerifyClientVersionReq { 1: binary version }`; a missing version is empty, as the
/// generated decoder has it.
fn read_version<'a, R: Reader<'a>>(
    reader: &mut R,
    budget: &mut Budget,
) -> Result<&'a [u8], FrameError> {
    let mut version: &[u8] = &[];
    reader.struct_begin();
    while let Some((wire, id)) = reader.field_begin()? {
        budget.spend(1)?;
        match (id, wire) {
            (1, WireType::Binary) => version = reader.read_binary()?,
            _ => skip(reader, wire, budget)?,
        }
    }
    reader.struct_end();
    Ok(version)
}

/// Checks that every required argument came and builds the request.
fn build_request(
    method: Method,
    found: Arguments<'_>,
    frame: &Frame<'_>,
) -> Result<WireRequest, FrameError> {
    let missing = |argument| FrameError::MissingArgument { method, argument };
    let text = |bytes: &[u8], argument| {
        String::from_utf8(bytes.to_vec()).map_err(|_| FrameError::NotUtf8 { method, argument })
    };
    Ok(match method {
        Method::VerifyClientVersion => WireRequest::VerifyClientVersion {
            version: text(found.version.ok_or_else(|| missing("req"))?, "req.version")?,
        },
        Method::Authenticate => WireRequest::Authenticate {
            username: found.username.ok_or_else(|| missing("username"))?.to_vec(),
            password: found.password.ok_or_else(|| missing("password"))?.to_vec(),
        },
        Method::SignOut => WireRequest::SignOut {
            session_id: found.session_id.ok_or_else(|| missing("sessionId"))?,
        },
        _ => {
            let session_id = found.session_id.ok_or_else(|| missing("sessionId"))?;
            let statement = text(found.statement.ok_or_else(|| missing("stmt"))?, "stmt")?;
            let parameters = match (method.has_parameters(), found.parameters) {
                (false, _) => None,
                // nebula3-python's `Session.execute` sends `executeWithParameter` with the map
                // left out (None); fbthrift's server reads an absent map as empty, and so do we.
                (true, None) => Some(Parameters::new()),
                (true, Some(range)) => Some(decode_parameters(method, frame, range)?),
            };
            WireRequest::Execute { session_id, statement, parameters, json: method.is_json() }
        }
    })
}

/// Decodes a walked parameter map with the generated decoder, then checks its names are text.
fn decode_parameters(
    method: Method,
    frame: &Frame<'_>,
    range: Range<usize>,
) -> Result<Parameters, FrameError> {
    let bytes = frame.payload.get(range).unwrap_or_default();
    let decoded: Result<BTreeMap<Vec<u8>, WireValue>, _> = match frame.protocol {
        Protocol::Binary => {
            let mut reader = fbthrift_git::binary_protocol::BinaryProtocolDeserializer::new(
                std::io::Cursor::new(bytes),
            );
            Deserialize::read(&mut reader)
        }
        Protocol::Compact => {
            let mut reader = fbthrift_git::compact_protocol::CompactProtocolDeserializer::new(
                std::io::Cursor::new(bytes),
            );
            Deserialize::read(&mut reader)
        }
    };
    let decoded = decoded.map_err(|error| FrameError::Parameters { reason: error.to_string() })?;
    decoded
        .into_iter()
        .map(|(name, value)| match String::from_utf8(name) {
            Ok(name) => Ok((name, value)),
            Err(_) => Err(FrameError::NotUtf8 { method, argument: "parameterMap" }),
        })
        .collect()
}
