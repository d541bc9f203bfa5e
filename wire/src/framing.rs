//! The two framings NebulaGraph's official clients use, told apart by a frame's bytes 4-5:
//!
//! - **Header** (fbthrift's `THeader`, nebula3-python): `u32 length | u16 0x0FFF | u16 flags |
//!   u32 seq | u16 header words | varint protocol id | varint transform count | info headers |
//!   padding to 4 | payload`. Info headers are ignored; transforms are refused.
//! - **Framed** (the Node.js client): `u32 length | payload`, the payload a strict Binary
//!   message starting `0x8001`.
//!
//! - **Unframed** (fbthrift's unframed transport, the Rust crate `nebula-client` 0.7.3): strict
//!   Binary messages back to back, `0x8001` in bytes 0-1; a message ends where reading it ends.
//!
//! Lengths count the bytes after the 4-byte length. No maintained crate provides the Header
//! frame (Apache `thrift` has none; `fbthrift-git` leaves framing to its transports), so it is
//! written here, for requests in and replies out.

use crate::error::FrameError;

/// How a connection frames its messages; decided by its first frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// fbthrift's Header framing (nebula3-python).
    Header,
    /// A 4-byte big-endian length before each message (the Node.js client).
    Framed,
    /// Strict Binary messages one after another with no frame (fbthrift's unframed transport:
    /// the Rust crate `nebula-client` 0.7.3). Recognised by `0x8001` in bytes 0-1, which as a
    /// Framed length would be over 2 GiB. A message's end is found by reading it.
    Unframed,
}

/// The Thrift protocol of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Strict Binary (`0x8001`): Framed frames, or Header frames naming protocol 0.
    Binary,
    /// Compact version 2: Header frames naming protocol 2 (nebula3-python).
    Compact,
}

/// A Header frame's magic, in bytes 4-5.
pub(crate) const HEADER_MAGIC: u16 = 0x0FFF;
/// A strict Binary message's first two bytes, so bytes 4-5 of a Framed frame.
pub(crate) const BINARY_MARKER: u16 = 0x8001;
/// A Header frame's fixed fields after the length: magic, flags, sequence id, header words.
const HEADER_FIXED_BYTES: usize = 10;
/// A Header frame's header starts here (after the length and the fixed fields).
const HEADER_START: usize = 4 + HEADER_FIXED_BYTES;
/// The Header protocol ids.
const PROTOCOL_ID_BINARY: u64 = 0;
const PROTOCOL_ID_COMPACT: u64 = 2;

impl Framing {
    /// The marker bytes 4-5 of this framing's frames hold.
    pub(crate) fn marker(self) -> u16 {
        match self {
            Framing::Header => HEADER_MAGIC,
            Framing::Framed | Framing::Unframed => BINARY_MARKER,
        }
    }

    fn of_marker(marker: u16) -> Option<Framing> {
        match marker {
            HEADER_MAGIC => Some(Framing::Header),
            BINARY_MARKER => Some(Framing::Framed),
            _ => None,
        }
    }
}

/// One complete frame at the front of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame<'a> {
    pub(crate) protocol: Protocol,
    /// The Header frame's sequence id (0 for Framed frames).
    pub(crate) header_seq_id: u32,
    pub(crate) payload: &'a [u8],
    /// The frame's bytes, its length included.
    pub(crate) frame_bytes: usize,
}

/// What the front of the buffer says so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prefix {
    /// Fewer than 6 bytes: not enough to check the length and the marker.
    NeedMore,
    /// The next frame's length is within the limit and its marker is the connection's.
    Checked(Framing),
}

/// Checks the next frame's length and marker as soon as its first 6 bytes are buffered, before
/// the rest of it is; `framing` is the connection's, or `None` before its first frame.
pub(crate) fn check_prefix(
    bytes: &[u8],
    framing: Option<Framing>,
    frame_bytes_max: u32,
) -> Result<Prefix, FrameError> {
    if let Some(prefix) = check_unframed(bytes, framing) {
        return prefix;
    }
    let Some(length) = bytes.first_chunk::<4>().map(|length| u32::from_be_bytes(*length)) else {
        return Ok(Prefix::NeedMore);
    };
    if length > frame_bytes_max {
        return Err(FrameError::Oversized { frame_bytes: length, frame_bytes_max });
    }
    if length < 2 {
        return Err(FrameError::Malformed { reason: "a frame shorter than its marker" });
    }
    let Some(&[high, low]) = bytes.get(4..6) else { return Ok(Prefix::NeedMore) };
    let found = u16::from_be_bytes([high, low]);
    let checked = match (framing, Framing::of_marker(found)) {
        (None, None) => return Err(FrameError::UnknownFraming { found }),
        (None, Some(detected)) => detected,
        (Some(expected), Some(detected)) if expected == detected => expected,
        (Some(expected), Some(detected)) => {
            return Err(FrameError::FramingChanged { expected, found: detected });
        }
        (Some(expected), None) => {
            return Err(FrameError::BadMagic { expected: expected.marker(), found });
        }
    };
    if checked == Framing::Header && (length as usize) < HEADER_FIXED_BYTES {
        return Err(FrameError::Malformed { reason: "a Header frame shorter than its fields" });
    }
    Ok(Prefix::Checked(checked))
}

/// The prefix of an unframed connection's next message, or of a first message that is one;
/// `None` when the bytes are a frame's (or too few to tell and the connection is not unframed).
fn check_unframed(bytes: &[u8], framing: Option<Framing>) -> Option<Result<Prefix, FrameError>> {
    let marker = bytes.get(..2).map(|marker| u16::from_be_bytes([marker[0], marker[1]]));
    match (framing, marker) {
        (Some(Framing::Unframed), None) => Some(Ok(Prefix::NeedMore)),
        (Some(Framing::Unframed), Some(BINARY_MARKER)) | (None, Some(BINARY_MARKER)) => {
            Some(Ok(Prefix::Checked(Framing::Unframed)))
        }
        (Some(Framing::Unframed), Some(found)) => {
            Some(Err(FrameError::BadMagic { expected: BINARY_MARKER, found }))
        }
        (Some(expected @ (Framing::Header | Framing::Framed)), Some(BINARY_MARKER)) => {
            Some(Err(FrameError::FramingChanged { expected, found: Framing::Unframed }))
        }
        _ => None,
    }
}

/// The complete frame at the front of `bytes`, whose prefix [`check_prefix`] accepted; `None`
/// while it is incomplete.
pub(crate) fn split(bytes: &[u8], framing: Framing) -> Result<Option<Frame<'_>>, FrameError> {
    let Some(length) = bytes.first_chunk::<4>().map(|length| u32::from_be_bytes(*length)) else {
        return Ok(None);
    };
    let frame_bytes = 4 + length as usize;
    let Some(frame) = bytes.get(..frame_bytes) else { return Ok(None) };
    match framing {
        Framing::Framed => Ok(Some(Frame {
            protocol: Protocol::Binary,
            header_seq_id: 0,
            payload: &frame[4..],
            frame_bytes,
        })),
        Framing::Header => header_frame(frame).map(Some),
        // Read message by message instead (`decode::decode_unframed`).
        Framing::Unframed => Err(FrameError::Malformed { reason: "an unframed message split" }),
    }
}

/// Parses a complete Header frame.
fn header_frame(frame: &[u8]) -> Result<Frame<'_>, FrameError> {
    let fixed = frame.get(4..HEADER_START).ok_or(FrameError::Truncated { what: "a header" })?;
    let header_seq_id = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let header_words = u16::from_be_bytes([fixed[8], fixed[9]]);
    let header_end = HEADER_START + 4 * usize::from(header_words);
    let Some(mut header) = frame.get(HEADER_START..header_end) else {
        return Err(FrameError::Malformed { reason: "a Header frame's header runs past it" });
    };
    let protocol_id = header_varint(&mut header)?;
    let transform_count = header_varint(&mut header)?;
    let protocol = match protocol_id {
        PROTOCOL_ID_BINARY => Protocol::Binary,
        PROTOCOL_ID_COMPACT => Protocol::Compact,
        _ => return Err(FrameError::UnsupportedProtocol { protocol_id }),
    };
    if transform_count > 0 {
        return Err(FrameError::TransformsPresent { transform_count });
    }
    // Info headers (and padding) follow; nothing in them changes how the payload is read.
    Ok(Frame { protocol, header_seq_id, payload: &frame[header_end..], frame_bytes: frame.len() })
}

/// An unsigned LEB128 varint of a Header frame's header.
fn header_varint(header: &mut &[u8]) -> Result<u64, FrameError> {
    let mut value = 0_u64;
    for index in 0..10 {
        let Some((&byte, rest)) = header.split_first() else {
            return Err(FrameError::Malformed { reason: "a Header frame's header ends early" });
        };
        *header = rest;
        value |= u64::from(byte & 0x7F) << (7 * index);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(FrameError::Malformed { reason: "a Header varint longer than 10 bytes" })
}

/// Frames a reply payload like the request came: a Header frame echoing the request's
/// sequence id and protocol (no flags, transforms or info headers), or a plain length.
pub(crate) fn frame_reply(
    framing: Framing,
    protocol: Protocol,
    header_seq_id: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 18);
    match framing {
        Framing::Unframed => {}
        Framing::Framed => frame.extend_from_slice(&length_of(payload.len()).to_be_bytes()),
        Framing::Header => {
            let protocol_id = match protocol {
                Protocol::Binary => 0_u8,
                Protocol::Compact => 2_u8,
            };
            // Protocol id and a zero transform count, padded to one 4-byte word.
            let header = [protocol_id, 0, 0, 0];
            let length = length_of(HEADER_FIXED_BYTES + header.len() + payload.len());
            frame.extend_from_slice(&length.to_be_bytes());
            frame.extend_from_slice(&HEADER_MAGIC.to_be_bytes());
            frame.extend_from_slice(&0_u16.to_be_bytes());
            frame.extend_from_slice(&header_seq_id.to_be_bytes());
            frame.extend_from_slice(&1_u16.to_be_bytes());
            frame.extend_from_slice(&header);
        }
    }
    frame.extend_from_slice(payload);
    frame
}

/// A reply length as the frame's `u32`; replies are capped far below it by the encoder.
fn length_of(bytes: usize) -> u32 {
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// The bytes a reply frame adds to its payload after the 4-byte length.
pub(crate) fn reply_overhead_bytes(framing: Framing) -> usize {
    match framing {
        Framing::Framed | Framing::Unframed => 0,
        Framing::Header => HEADER_FIXED_BYTES + 4,
    }
}
