//! Why a connection's bytes were refused. Every cause is its own variant, carrying what was
//! found; after one of them the codec refuses further input and the host closes the connection
//! (other connections are not affected).

use crate::framing::Framing;
use crate::request::Method;

/// Why a frame could not be decoded. Reported once by
/// [`ServerCodec::poll_request`](crate::ServerCodec::poll_request); the codec is then closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The connection's first bytes are neither a Header frame (magic `0x0FFF` in bytes 4-5)
    /// nor a Framed Binary message (`0x8001` in bytes 4-5).
    #[error(
        "unknown framing: bytes 4-5 are {found:#06x}, neither a Header frame's magic 0x0fff nor \
         a strict Binary message's version 0x8001"
    )]
    UnknownFraming {
        /// Bytes 4-5 of the first frame.
        found: u16,
    },
    /// A later frame lacks the marker of the connection's framing.
    #[error("bytes 4-5 of a frame are {found:#06x}, not {expected:#06x} as on this connection")]
    BadMagic {
        /// The connection's marker: `0x0FFF` (Header) or `0x8001` (Framed Binary).
        expected: u16,
        /// What the frame has.
        found: u16,
    },
    /// A frame of the other framing arrived on a connection that began with one: frames out of
    /// their connection's order.
    #[error("a {found:?} frame on a connection that began with {expected:?} frames")]
    FramingChanged {
        /// The framing the connection began with.
        expected: Framing,
        /// The framing of the frame.
        found: Framing,
    },
    /// A frame announces more bytes than `frame_bytes_max`; refused before it is buffered.
    #[error("a frame of {frame_bytes} bytes is over the limit of {frame_bytes_max}")]
    Oversized {
        /// The frame's announced length (after its 4-byte length).
        frame_bytes: u32,
        /// The configured limit.
        frame_bytes_max: u32,
    },
    /// The host fed more bytes than `buffered_bytes_max` without draining `poll_request`.
    #[error("{buffered_bytes} bytes would be buffered, over the limit of {buffered_bytes_max}")]
    BufferFull {
        /// What the buffer would have held.
        buffered_bytes: u64,
        /// The configured limit.
        buffered_bytes_max: u32,
    },
    /// A Header frame names a protocol other than Binary (0) or Compact (2).
    #[error("a Header frame names protocol id {protocol_id}; only 0 (Binary) and 2 (Compact)")]
    UnsupportedProtocol {
        /// The protocol id found.
        protocol_id: u64,
    },
    /// A Header frame asks for transforms (zlib, snappy, zstd, hmac): none are served.
    #[error("a Header frame carries {transform_count} transforms; none are supported")]
    TransformsPresent {
        /// How many the frame lists.
        transform_count: u64,
    },
    /// A complete frame ends inside what it declares.
    #[error("the frame ends inside {what}")]
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// A complete frame breaks its protocol's rules.
    #[error("malformed frame: {reason}")]
    Malformed {
        /// The rule broken.
        reason: &'static str,
    },
    /// The message is a reply, an exception or of an unknown type, not a call: a client never
    /// sends those.
    #[error("message type {message_type} is not a call")]
    NotACall {
        /// The message type (1 call, 2 reply, 3 exception, 4 one-way).
        message_type: u8,
    },
    /// The method is not one of `GraphService`'s.
    #[error("unknown method {method:?}")]
    UnknownMethod {
        /// The name, lossily decoded and cut to 64 characters.
        method: String,
    },
    /// A required argument is missing.
    #[error("{method} is missing its argument {argument}")]
    MissingArgument {
        /// The method.
        method: Method,
        /// The argument's name in NebulaGraph's IDL.
        argument: &'static str,
    },
    /// A text argument (statement, version, parameter name) is not valid UTF-8.
    #[error("{method}'s argument {argument} is not valid UTF-8")]
    NotUtf8 {
        /// The method.
        method: Method,
        /// The argument's name in NebulaGraph's IDL.
        argument: &'static str,
    },
    /// Values nest deeper than `nesting_depth_max`.
    #[error("values nest deeper than {nesting_depth_max} levels")]
    TooDeep {
        /// The configured limit.
        nesting_depth_max: u32,
    },
    /// The request holds more than `request_values_max` values.
    #[error("the request holds more than {request_values_max} values")]
    TooManyValues {
        /// The configured limit.
        request_values_max: u32,
    },
    /// Bytes follow the call's arguments inside its frame.
    #[error("{trailing_bytes} bytes follow the call inside its frame")]
    TrailingBytes {
        /// How many.
        trailing_bytes: u64,
    },
    /// The parameter map passed every check but the generated decoder still refused it (a
    /// union with two members, for example).
    #[error("the parameters do not decode: {reason}")]
    Parameters {
        /// The generated decoder's message.
        reason: String,
    },
}
