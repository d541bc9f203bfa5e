//! Why a call could not be encoded, or a reply not decoded. After a [`ReplyError`] the codec is
//! closed and the host closes the socket: replies carry no request id, so a connection out of
//! step is never trusted again.

use crate::error::FrameError;
use crate::request::Method;

/// Why [`ClientCodec::encode`](super::ClientCodec::encode) refused a call; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// `pending_replies_max` calls already await replies.
    #[error("{pending_replies_max} calls already await replies")]
    TooManyPending {
        /// The configured limit.
        pending_replies_max: u32,
    },
    /// The codec closed after a bad reply.
    #[error("the connection's codec closed: {cause}")]
    Closed {
        /// The error that closed it.
        cause: String,
    },
}

/// Why a reply could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The frame, or a value inside it, broke the framing, the protocol or a limit.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The host fed more bytes than `buffered_bytes_max` without draining `poll_reply`.
    #[error("{buffered_bytes} bytes would be buffered, over the limit of {buffered_bytes_max}")]
    BufferFull {
        /// What the buffer would have held.
        buffered_bytes: u64,
        /// The configured limit.
        buffered_bytes_max: u32,
    },
    /// Bytes arrived while no call awaited a reply (a server answering `signout`, for one).
    #[error("a reply arrived while no call awaited one")]
    Unsolicited,
    /// The reply names another method than the oldest call awaiting one.
    #[error("a reply to {found:?} where one to {expected} was awaited")]
    WrongMethod {
        /// The awaited method.
        expected: Method,
        /// The name found, lossily decoded and cut to 64 characters.
        found: String,
    },
    /// The reply's sequence id is not its call's.
    #[error("a reply with sequence id {found} where {expected} was awaited")]
    WrongSequence {
        /// The call's sequence id.
        expected: u32,
        /// The reply's.
        found: u32,
    },
    /// The message is not a reply or an exception.
    #[error("message type {message_type} is not a reply")]
    NotAReply {
        /// 1 call, 2 reply, 3 exception, 4 one-way.
        message_type: u8,
    },
    /// The server answered with an application exception (an unknown method, say).
    #[error("the server raised an application exception: {message}")]
    ApplicationException {
        /// Its message.
        message: String,
    },
    /// The reply passed every check but the generated decoder refused it (a result struct
    /// with no success field, for example).
    #[error("the reply does not decode: {reason}")]
    Decode {
        /// The generated decoder's message.
        reason: String,
    },
}
