//! One connection's codec: bytes in, calls out, replies framed like their calls.

use graphsession_core::node::Reply;

use crate::config::{Config, ConfigError};
use crate::decode::{decode_call, decode_unframed};
use crate::encode::encode_reply;
use crate::error::FrameError;
use crate::framing::{Framing, Prefix, check_prefix, split};
use crate::request::{Call, ReplyTo};

/// The codec's lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// No frame's marker seen yet: the first one decides the framing.
    Detecting,
    /// Frames of this framing only.
    Open(Framing),
    /// Refused input; `reported` once `poll_request` returned the error.
    Failed { error: FrameError, reported: bool },
}

/// The server side of one connection, sans I/O: NebulaGraph's two client framings (Header with
/// Compact, nebula3-python; Framed with Binary, the Node.js client), detected from the first
/// frame.
///
/// Call order, per read from the socket:
///
/// 1. [`handle_bytes`](ServerCodec::handle_bytes) with the bytes read;
/// 2. [`poll_request`](ServerCodec::poll_request) until `None`: each `Ok` is a call to hand to
///    the node; an `Err` means the connection's bytes are unusable: log the reason and close
///    the connection (the codec refuses everything after it);
/// 3. for each reply the node produces, [`encode_reply`](ServerCodec::encode_reply) with the
///    call's [`ReplyTo`] and write the bytes.
///
/// Getters: [`framing`](ServerCodec::framing), [`failure`](ServerCodec::failure),
/// [`buffered_bytes`](ServerCodec::buffered_bytes). The codec reads no clock and does no I/O;
/// a malformed frame affects only its own connection.
#[derive(Debug, Clone)]
pub struct ServerCodec {
    config: Config,
    state: State,
    /// Received bytes; those before `start` are consumed.
    buffer: Vec<u8>,
    start: usize,
}

impl ServerCodec {
    /// A codec for a new connection.
    pub fn new(config: Config) -> Result<ServerCodec, ConfigError> {
        config.validate()?;
        Ok(ServerCodec { config, state: State::Detecting, buffer: Vec::new(), start: 0 })
    }

    /// The connection's framing, once its first frame's marker arrived.
    #[must_use]
    pub fn framing(&self) -> Option<Framing> {
        match self.state {
            State::Open(framing) => Some(framing),
            State::Detecting | State::Failed { .. } => None,
        }
    }

    /// Why the codec refused the connection's bytes, if it did.
    #[must_use]
    pub fn failure(&self) -> Option<&FrameError> {
        match &self.state {
            State::Failed { error, .. } => Some(error),
            State::Detecting | State::Open(_) => None,
        }
    }

    /// Bytes received and not yet decoded (at most `buffered_bytes_max`).
    #[must_use]
    pub fn buffered_bytes(&self) -> u32 {
        u32::try_from(self.buffer.len().saturating_sub(self.start)).unwrap_or(u32::MAX)
    }

    /// Takes bytes read from the connection. The next frame's length and marker are checked as
    /// soon as they arrive: an oversized or foreign frame is refused before it is buffered.
    /// Ignored once the codec failed.
    pub fn handle_bytes(&mut self, bytes: &[u8]) {
        if matches!(self.state, State::Failed { .. }) {
            return;
        }
        self.buffer.drain(..self.start);
        self.start = 0;
        let buffered_bytes = (self.buffer.len() as u64).saturating_add(bytes.len() as u64);
        if buffered_bytes > u64::from(self.config.buffered_bytes_max) {
            let buffered_bytes_max = self.config.buffered_bytes_max;
            return self.fail(FrameError::BufferFull { buffered_bytes, buffered_bytes_max });
        }
        self.buffer.extend_from_slice(bytes);
        self.check_next();
    }

    /// The next complete call, or the error that closed the codec (reported once); `None`
    /// while a frame is incomplete, and after the error.
    #[must_use]
    pub fn poll_request(&mut self) -> Option<Result<Call, FrameError>> {
        let framing = match &mut self.state {
            State::Failed { reported: true, .. } | State::Detecting => return None,
            State::Failed { error, reported } => {
                *reported = true;
                return Some(Err(error.clone()));
            }
            State::Open(framing) => *framing,
        };
        let bytes = &self.buffer[self.start..];
        let decoded = match framing {
            Framing::Unframed => match decode_unframed(bytes, &self.config) {
                Ok(None) => return None,
                Ok(Some(decoded)) => Ok(decoded),
                Err(error) => Err(error),
            },
            Framing::Header | Framing::Framed => match split(bytes, framing) {
                Ok(None) => return None,
                Ok(Some(frame)) => {
                    decode_call(&frame, framing, &self.config).map(|call| (frame.frame_bytes, call))
                }
                Err(error) => Err(error),
            },
        };
        match decoded {
            Ok((frame_bytes, call)) => {
                self.start += frame_bytes;
                self.check_next();
                Some(Ok(call))
            }
            Err(error) => {
                self.fail(error);
                self.poll_request()
            }
        }
    }

    /// The bytes to write for `reply` to the call `reply_to` came with: framed like the call
    /// (a Header reply echoes the sequence id and protocol; a Binary reply names the method and
    /// its sequence id with message type REPLY). `latency_us` is the host's measure of the
    /// call, sent in execute replies. A reply kind that does not fit the method still encodes
    /// (see [`execution_response`](crate::execution_response) and its siblings), and a reply
    /// over `reply_frame_bytes_max` becomes a -1005 error saying so.
    #[must_use]
    pub fn encode_reply(&self, reply_to: &ReplyTo, reply: &Reply, latency_us: u64) -> Vec<u8> {
        encode_reply(reply_to, reply, latency_us, self.config.reply_frame_bytes_max)
    }

    /// Checks the codec's own invariants (for tests and fuzzers).
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        if self.start > self.buffer.len() {
            return Err("consumed bytes past the buffer's end");
        }
        if self.buffered_bytes() > self.config.buffered_bytes_max {
            return Err("more bytes buffered than buffered_bytes_max");
        }
        if matches!(self.state, State::Failed { .. }) && self.buffered_bytes() > 0 {
            return Err("a failed codec still holds bytes");
        }
        Ok(())
    }

    /// Checks the next frame's prefix as soon as it is there.
    fn check_next(&mut self) {
        let framing = match self.state {
            State::Detecting => None,
            State::Open(framing) => Some(framing),
            State::Failed { .. } => return,
        };
        match check_prefix(&self.buffer[self.start..], framing, self.config.frame_bytes_max) {
            Ok(Prefix::NeedMore) => {}
            Ok(Prefix::Checked(framing)) => self.state = State::Open(framing),
            Err(error) => self.fail(error),
        }
    }

    /// Closes the codec: the error is reported by the next `poll_request`, nothing more is read.
    fn fail(&mut self, error: FrameError) {
        self.state = State::Failed { error, reported: false };
        self.buffer = Vec::new();
        self.start = 0;
    }
}
