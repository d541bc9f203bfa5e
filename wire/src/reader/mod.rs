//! A bounds-checked reader for the two Thrift protocols, written here because the generated
//! decoders of `fbthrift-git` 0.0.7 are unsafe on hostile bytes: they reserve a `Vec` of the
//! declared length before reading any element (a 4-byte list header can ask for gigabytes), they
//! recurse without a depth limit (a deep list of lists overflows the stack), and the Compact
//! reader adds a field-id delta to the previous id without checking for overflow (a panic in
//! debug builds). Every request is read and validated with this reader first; the generated
//! decoder only ever sees a parameter map this reader has already walked within the limits.
//!
//! The reader is a cursor over one complete payload: it never allocates, every length is
//! checked against the bytes left, and each failure is a [`FrameError`].

mod binary;
mod compact;

pub(crate) use binary::BinaryReader;
pub(crate) use compact::CompactReader;

use crate::error::FrameError;

/// The value types both protocols share (the Compact protocol's two boolean types are one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireType {
    Bool,
    Byte,
    I16,
    I32,
    I64,
    Double,
    Float,
    Binary,
    Struct,
    Map,
    Set,
    List,
}

/// A message's envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MessageBegin<'a> {
    /// The method name, as sent.
    pub(crate) name: &'a [u8],
    /// 1 call, 2 reply, 3 exception, 4 one-way.
    pub(crate) message_type: u8,
    /// The client's sequence id.
    pub(crate) seq_id: u32,
}

/// A container's header: its element types (absent for an empty Compact map, and unknown when
/// the wire says "stop") and its declared length, already checked against the bytes left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContainerBegin {
    pub(crate) key: Option<WireType>,
    pub(crate) value: Option<WireType>,
    pub(crate) len: u32,
}

/// One protocol's reading primitives. Call order follows Thrift's: `struct_begin`, then
/// `field_begin` until it returns `None`, each field's value read or skipped, `struct_end`.
pub(crate) trait Reader<'a> {
    /// The message envelope (the payload's first bytes).
    fn message_begin(&mut self) -> Result<MessageBegin<'a>, FrameError>;
    /// Enters a struct (the Compact protocol's field ids are relative within one).
    fn struct_begin(&mut self);
    /// Leaves the struct entered last.
    fn struct_end(&mut self);
    /// The next field's type and id, or `None` at the struct's end.
    fn field_begin(&mut self) -> Result<Option<(WireType, i16)>, FrameError>;
    /// A boolean (in the Compact protocol a boolean field's value sits in its header).
    fn read_bool(&mut self) -> Result<bool, FrameError>;
    /// A byte.
    fn read_byte(&mut self) -> Result<i8, FrameError>;
    /// A 16-bit integer.
    fn read_i16(&mut self) -> Result<i16, FrameError>;
    /// A 32-bit integer.
    fn read_i32(&mut self) -> Result<i32, FrameError>;
    /// A 64-bit integer.
    fn read_i64(&mut self) -> Result<i64, FrameError>;
    /// A double (big-endian in both protocols: Compact version 2).
    fn read_double(&mut self) -> Result<f64, FrameError>;
    /// A float.
    fn read_float(&mut self) -> Result<f32, FrameError>;
    /// Binary or string bytes, borrowed from the payload.
    fn read_binary(&mut self) -> Result<&'a [u8], FrameError>;
    /// A list's or set's header (`key` is `None`).
    fn list_begin(&mut self) -> Result<ContainerBegin, FrameError>;
    /// A map's header.
    fn map_begin(&mut self) -> Result<ContainerBegin, FrameError>;
    /// The offset of the next byte in the payload.
    fn position(&self) -> usize;
    /// The bytes left after the position.
    fn remaining(&self) -> usize;
}

/// A position in one payload.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, at: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.at
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    /// The next `len` bytes; `what` names them in the error when the payload ends first.
    pub(crate) fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], FrameError> {
        if len > self.remaining() {
            return Err(FrameError::Truncated { what });
        }
        let taken = &self.bytes[self.at..self.at + len];
        self.at += len;
        Ok(taken)
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], FrameError> {
        let mut array = [0_u8; N];
        array.copy_from_slice(self.take(N, what)?);
        Ok(array)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, FrameError> {
        Ok(self.array::<1>(what)?[0])
    }
}

/// Checks a declared container or binary length against the bytes left: every element takes
/// at least one byte, so a longer claim is a lie and nothing is reserved for it.
pub(crate) fn checked_len(
    len: u64,
    remaining: usize,
    what: &'static str,
) -> Result<u32, FrameError> {
    if len > remaining as u64 {
        return Err(FrameError::Truncated { what });
    }
    u32::try_from(len).map_err(|_| FrameError::Truncated { what })
}
