//! Decodes one reply frame: the envelope checked against the call awaiting it, the result
//! struct walked within the limits against the reply's schema, and only then read by the
//! generated decoder (which trusts declared lengths and recurses without limit, see
//! `reader/mod.rs`).

use std::io::Cursor;

use fbthrift_git::binary_protocol::BinaryProtocolDeserializer;
use fbthrift_git::compact_protocol::CompactProtocolDeserializer;
use fbthrift_git::{Deserialize, ProtocolReader};
use nebula_fbthrift_graph_v3::services::graph_service::{
    AuthenticateExn, ExecuteExn, ExecuteJsonExn, ExecuteJsonWithParameterExn,
    ExecuteWithParameterExn, VerifyClientVersionExn,
};

use super::{ClientCodecConfig, Pending, Reply, ReplyError};
use crate::error::FrameError;
use crate::framing::{Frame, Framing, Protocol};
use crate::reader::{BinaryReader, CompactReader, Reader, WireType};
use crate::request::Method;
use crate::schema::Ty;
use crate::walk::{Budget, skip, walk};

/// Message types a server may send.
const MESSAGE_REPLY: u8 = 2;
const MESSAGE_EXCEPTION: u8 = 3;
/// A wrong method's name is cut to this many characters in the error.
const METHOD_NAME_SHOWN_MAX: usize = 64;

/// Decodes a complete frame as the reply to `expected`.
pub(super) fn decode_reply(
    frame: &Frame<'_>,
    expected: Option<Pending>,
    config: &ClientCodecConfig,
) -> Result<Reply, ReplyError> {
    let expected = expected.ok_or(ReplyError::Unsolicited)?;
    if frame.protocol != config.protocol {
        return Err(
            FrameError::Malformed { reason: "a reply in another protocol than its call" }.into()
        );
    }
    let budget = Budget::new(config.nesting_depth_max, config.reply_values_max);
    match frame.protocol {
        Protocol::Binary => {
            check(BinaryReader::new(frame.payload), frame, expected, config, budget)?
        }
        Protocol::Compact => {
            check(CompactReader::new(frame.payload), frame, expected, config, budget)?;
        }
    }
    match frame.protocol {
        Protocol::Binary => {
            generated(&mut BinaryProtocolDeserializer::new(Cursor::new(frame.payload)), expected)
        }
        Protocol::Compact => {
            generated(&mut CompactProtocolDeserializer::new(Cursor::new(frame.payload)), expected)
        }
    }
}

/// Checks the envelope and walks the result (or exception) within the limits.
fn check<'a, R: Reader<'a>>(
    mut reader: R,
    frame: &Frame<'a>,
    expected: Pending,
    config: &ClientCodecConfig,
    mut budget: Budget,
) -> Result<(), ReplyError> {
    let begin = reader.message_begin()?;
    if begin.name != expected.method.name().as_bytes() {
        let found = String::from_utf8_lossy(begin.name);
        return Err(ReplyError::WrongMethod {
            expected: expected.method,
            found: found.chars().take(METHOD_NAME_SHOWN_MAX).collect(),
        });
    }
    let header_seq_id = frame.header_seq_id;
    // A Header frame echoes the call's sequence id too; a Framed frame has none.
    let header_seq_ok = config.framing != Framing::Header || header_seq_id == expected.seq_id;
    if begin.seq_id != expected.seq_id || !header_seq_ok {
        let found = if begin.seq_id == expected.seq_id { header_seq_id } else { begin.seq_id };
        return Err(ReplyError::WrongSequence { expected: expected.seq_id, found });
    }
    match begin.message_type {
        MESSAGE_REPLY => walk(&mut reader, result_type(expected.method), &mut budget)?,
        MESSAGE_EXCEPTION => {
            return Err(ReplyError::ApplicationException {
                message: exception_message(&mut reader, &mut budget)?,
            });
        }
        message_type => return Err(ReplyError::NotAReply { message_type }),
    }
    let trailing_bytes = reader.remaining();
    if trailing_bytes > 0 {
        let trailing_bytes = u64::try_from(trailing_bytes).unwrap_or(u64::MAX);
        return Err(FrameError::TrailingBytes { trailing_bytes }.into());
    }
    Ok(())
}

/// The result struct a method's reply carries.
fn result_type(method: Method) -> Ty {
    match method {
        Method::VerifyClientVersion => Ty::VerifyClientVersionResult,
        Method::Authenticate => Ty::AuthenticateResult,
        Method::ExecuteJson | Method::ExecuteJsonWithParameter => Ty::JsonResult,
        Method::SignOut | Method::Execute | Method::ExecuteWithParameter => Ty::ExecuteResult,
    }
}

/// An `ApplicationException`'s message (field 1), every other field walked.
fn exception_message<'a, R: Reader<'a>>(
    reader: &mut R,
    budget: &mut Budget,
) -> Result<String, ReplyError> {
    let mut message = String::new();
    reader.struct_begin();
    while let Some((wire, id)) = reader.field_begin()? {
        budget.spend(1)?;
        match (id, wire) {
            (1, WireType::Binary) => {
                let bytes = reader.read_binary()?;
                message = String::from_utf8_lossy(bytes).chars().take(1024).collect();
            }
            _ => skip(reader, wire, budget)?,
        }
    }
    reader.struct_end();
    Ok(message)
}

/// Reads the checked reply with the generated types.
fn generated<P: ProtocolReader>(p: &mut P, expected: Pending) -> Result<Reply, ReplyError> {
    p.read_message_begin(|_| ()).map_err(decode_error)?;
    let reply = match expected.method {
        Method::VerifyClientVersion => match VerifyClientVersionExn::read(p)
            .map_err(decode_error)?
        {
            VerifyClientVersionExn::Success(response) => Reply::VerifyClientVersion(response),
            VerifyClientVersionExn::ApplicationException(error) => return Err(exception(&error)),
        },
        Method::Authenticate => match AuthenticateExn::read(p).map_err(decode_error)? {
            AuthenticateExn::Success(response) => Reply::Authenticate(response),
            AuthenticateExn::ApplicationException(error) => return Err(exception(&error)),
        },
        Method::SignOut | Method::Execute => match ExecuteExn::read(p).map_err(decode_error)? {
            ExecuteExn::Success(response) => Reply::Execute(response),
            ExecuteExn::ApplicationException(error) => return Err(exception(&error)),
        },
        Method::ExecuteWithParameter => match ExecuteWithParameterExn::read(p)
            .map_err(decode_error)?
        {
            ExecuteWithParameterExn::Success(response) => Reply::Execute(response),
            ExecuteWithParameterExn::ApplicationException(error) => return Err(exception(&error)),
        },
        Method::ExecuteJson => match ExecuteJsonExn::read(p).map_err(decode_error)? {
            ExecuteJsonExn::Success(json) => Reply::ExecuteJson(json),
            ExecuteJsonExn::ApplicationException(error) => return Err(exception(&error)),
        },
        Method::ExecuteJsonWithParameter => {
            match ExecuteJsonWithParameterExn::read(p).map_err(decode_error)? {
                ExecuteJsonWithParameterExn::Success(json) => Reply::ExecuteJson(json),
                ExecuteJsonWithParameterExn::ApplicationException(error) => {
                    return Err(exception(&error));
                }
            }
        }
    };
    p.read_message_end().map_err(decode_error)?;
    Ok(reply)
}

fn decode_error(error: impl std::fmt::Display) -> ReplyError {
    ReplyError::Decode { reason: error.to_string() }
}

fn exception(error: &fbthrift_git::ApplicationException) -> ReplyError {
    ReplyError::ApplicationException { message: error.message.chars().take(1024).collect() }
}
