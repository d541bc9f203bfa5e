//! How a connection's codec is bounded: every limit a hostile client could push on, named with
//! its unit last, and checked once at construction.

/// The most a `frame_bytes_max` may be: NebulaGraph's clients refuse frames over 1 GiB
/// (`0x3FFF_FFFF`, python's `MAX_FRAME_SIZE`) unless both sides speak fbthrift's "big frame"
/// extension, which no official client sends.
pub const FRAME_BYTES_LIMIT: u32 = 0x3FFF_FFFF;

/// The deepest `nesting_depth_max` may be. Values are decoded by recursion (the generated
/// decoders recurse once per level), so the bound protects the host's stack: a request at this
/// depth decodes in under 256 KiB of stack in a debug build.
pub const NESTING_DEPTH_LIMIT: u32 = 64;

/// The limits of one connection's [`ServerCodec`](crate::ServerCodec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The largest request frame, in bytes after its 4-byte length. A frame that announces
    /// more is refused as soon as its length is read, before any of it is buffered.
    pub frame_bytes_max: u32,
    /// The most bytes the codec holds between `handle_bytes` and `poll_request`. A host that
    /// drains `poll_request` after every read needs one partial frame plus one read.
    pub buffered_bytes_max: u32,
    /// How deep values may nest in a request (lists of maps of ...), counting every struct
    /// and container level inside the arguments struct.
    pub nesting_depth_max: u32,
    /// The most values one request may hold: struct fields plus declared container elements.
    /// Bounds what decoding allocates (each parameter value takes 80 bytes in memory).
    pub request_values_max: u32,
    /// The largest reply frame, in bytes after its 4-byte length. A reply that would be larger
    /// is replaced by a -1005 error saying so, since no client could read it.
    pub reply_frame_bytes_max: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            frame_bytes_max: 16 << 20,
            buffered_bytes_max: 32 << 20,
            nesting_depth_max: 32,
            request_values_max: 1 << 18,
            reply_frame_bytes_max: FRAME_BYTES_LIMIT,
        }
    }
}

/// Why a [`Config`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `frame_bytes_max` cannot hold the smallest request, or is over [`FRAME_BYTES_LIMIT`].
    #[error("frame_bytes_max {frame_bytes_max} is outside [{low}, {FRAME_BYTES_LIMIT}]")]
    FrameBytes {
        /// The value given.
        frame_bytes_max: u32,
        /// The smallest accepted value.
        low: u32,
    },
    /// `buffered_bytes_max` cannot hold one whole frame with its length and header.
    #[error("buffered_bytes_max {buffered_bytes_max} is below one frame ({frame_bytes_max} + 4)")]
    BufferedBytes {
        /// The value given.
        buffered_bytes_max: u32,
        /// The configured frame limit.
        frame_bytes_max: u32,
    },
    /// `nesting_depth_max` is 0 or over [`NESTING_DEPTH_LIMIT`].
    #[error("nesting_depth_max {nesting_depth_max} is outside [1, {NESTING_DEPTH_LIMIT}]")]
    NestingDepth {
        /// The value given.
        nesting_depth_max: u32,
    },
    /// `request_values_max` is 0.
    #[error("request_values_max must be at least 1")]
    RequestValues,
    /// `reply_frame_bytes_max` cannot hold an error reply, or is over [`FRAME_BYTES_LIMIT`].
    #[error(
        "reply_frame_bytes_max {reply_frame_bytes_max} is outside [{low}, {FRAME_BYTES_LIMIT}]"
    )]
    ReplyFrameBytes {
        /// The value given.
        reply_frame_bytes_max: u32,
        /// The smallest accepted value.
        low: u32,
    },
}

/// The smallest `frame_bytes_max`: a Header frame's fixed part and a short call.
pub(crate) const FRAME_BYTES_LOW: u32 = 64;

/// The smallest `reply_frame_bytes_max`: room for the "reply too large" error itself.
pub(crate) const REPLY_FRAME_BYTES_LOW: u32 = 1024;

impl Config {
    /// Checks every limit; the codec is built only from a valid configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(FRAME_BYTES_LOW..=FRAME_BYTES_LIMIT).contains(&self.frame_bytes_max) {
            return Err(ConfigError::FrameBytes {
                frame_bytes_max: self.frame_bytes_max,
                low: FRAME_BYTES_LOW,
            });
        }
        if u64::from(self.buffered_bytes_max) < u64::from(self.frame_bytes_max) + 4 {
            return Err(ConfigError::BufferedBytes {
                buffered_bytes_max: self.buffered_bytes_max,
                frame_bytes_max: self.frame_bytes_max,
            });
        }
        if !(1..=NESTING_DEPTH_LIMIT).contains(&self.nesting_depth_max) {
            return Err(ConfigError::NestingDepth { nesting_depth_max: self.nesting_depth_max });
        }
        if self.request_values_max == 0 {
            return Err(ConfigError::RequestValues);
        }
        if !(REPLY_FRAME_BYTES_LOW..=FRAME_BYTES_LIMIT).contains(&self.reply_frame_bytes_max) {
            return Err(ConfigError::ReplyFrameBytes {
                reply_frame_bytes_max: self.reply_frame_bytes_max,
                low: REPLY_FRAME_BYTES_LOW,
            });
        }
        Ok(())
    }
}
