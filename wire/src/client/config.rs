//! The limits of a [`ClientCodec`](super::ClientCodec): every bound a hostile or broken server
//! could push on, named with its unit last, checked once at construction.

use crate::config::{FRAME_BYTES_LIMIT, NESTING_DEPTH_LIMIT};
use crate::framing::{Framing, Protocol};

/// The most `pending_replies_max` may be.
pub const PENDING_REPLIES_LIMIT: u32 = 1 << 16;

/// How a client codec frames its calls and how much of a reply it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCodecConfig {
    /// The framing of every call: [`Framing::Header`] (nebula3-python's, the default) or
    /// [`Framing::Framed`] (the Node.js client's).
    pub framing: Framing,
    /// The protocol inside it: [`Protocol::Compact`] (the default) or [`Protocol::Binary`].
    /// Framed frames carry Binary only.
    pub protocol: Protocol,
    /// The largest reply frame, in bytes after its 4-byte length; refused as soon as its length
    /// is read. Default 256 MiB.
    pub frame_bytes_max: u32,
    /// The most bytes held between `handle_bytes` and `poll_reply`. Default 257 MiB.
    pub buffered_bytes_max: u32,
    /// How deep values may nest in a reply. Default 32.
    pub nesting_depth_max: u32,
    /// The most values one reply may hold (struct fields plus declared container elements):
    /// bounds what decoding allocates. Default 8,388,608.
    pub reply_values_max: u32,
    /// Calls awaiting replies, at most. Default 64.
    pub pending_replies_max: u32,
}

impl Default for ClientCodecConfig {
    fn default() -> ClientCodecConfig {
        ClientCodecConfig {
            framing: Framing::Header,
            protocol: Protocol::Compact,
            frame_bytes_max: 256 << 20,
            buffered_bytes_max: 257 << 20,
            nesting_depth_max: 32,
            reply_values_max: 1 << 23,
            pending_replies_max: 64,
        }
    }
}

/// Why a [`ClientCodecConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientCodecConfigError {
    /// Framed frames carry strict Binary only (their marker is Binary's version bytes).
    #[error("Framed framing carries the Binary protocol only")]
    FramedCompact,
    /// Unframed messages are served (to `nebula-client` 0.7.3), not written by this codec.
    #[error("the client codec writes Header or Framed frames, not unframed messages")]
    Unframed,
    /// `frame_bytes_max` is below 64 or over the clients' 1 GiB limit.
    #[error("frame_bytes_max {frame_bytes_max} is outside [64, {FRAME_BYTES_LIMIT}]")]
    FrameBytes {
        /// The value given.
        frame_bytes_max: u32,
    },
    /// `buffered_bytes_max` cannot hold one whole frame with its length.
    #[error("buffered_bytes_max {buffered_bytes_max} is below one frame ({frame_bytes_max} + 4)")]
    BufferedBytes {
        /// The value given.
        buffered_bytes_max: u32,
        /// The configured frame limit.
        frame_bytes_max: u32,
    },
    /// `nesting_depth_max` is 0 or over the stack-safe limit.
    #[error("nesting_depth_max {nesting_depth_max} is outside [1, {NESTING_DEPTH_LIMIT}]")]
    NestingDepth {
        /// The value given.
        nesting_depth_max: u32,
    },
    /// `reply_values_max` is 0.
    #[error("reply_values_max must be at least 1")]
    ReplyValues,
    /// `pending_replies_max` is 0 or over [`PENDING_REPLIES_LIMIT`].
    #[error("pending_replies_max {pending_replies_max} is outside [1, {PENDING_REPLIES_LIMIT}]")]
    PendingReplies {
        /// The value given.
        pending_replies_max: u32,
    },
}

impl ClientCodecConfig {
    /// Checks every limit.
    pub fn validate(&self) -> Result<(), ClientCodecConfigError> {
        if self.framing == Framing::Unframed {
            return Err(ClientCodecConfigError::Unframed);
        }
        if self.framing == Framing::Framed && self.protocol == Protocol::Compact {
            return Err(ClientCodecConfigError::FramedCompact);
        }
        if !(64..=FRAME_BYTES_LIMIT).contains(&self.frame_bytes_max) {
            return Err(ClientCodecConfigError::FrameBytes {
                frame_bytes_max: self.frame_bytes_max,
            });
        }
        if u64::from(self.buffered_bytes_max) < u64::from(self.frame_bytes_max) + 4 {
            return Err(ClientCodecConfigError::BufferedBytes {
                buffered_bytes_max: self.buffered_bytes_max,
                frame_bytes_max: self.frame_bytes_max,
            });
        }
        if !(1..=NESTING_DEPTH_LIMIT).contains(&self.nesting_depth_max) {
            return Err(ClientCodecConfigError::NestingDepth {
                nesting_depth_max: self.nesting_depth_max,
            });
        }
        if self.reply_values_max == 0 {
            return Err(ClientCodecConfigError::ReplyValues);
        }
        if !(1..=PENDING_REPLIES_LIMIT).contains(&self.pending_replies_max) {
            return Err(ClientCodecConfigError::PendingReplies {
                pending_replies_max: self.pending_replies_max,
            });
        }
        Ok(())
    }
}
