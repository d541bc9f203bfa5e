//! The Compact protocol, version 2 (fbthrift's: doubles big-endian): zigzag varints, field ids
//! as deltas from the previous field of the same struct, booleans inside field headers.

use crate::error::FrameError;
use crate::reader::{ContainerBegin, Cursor, MessageBegin, Reader, WireType, checked_len};

/// The Compact protocol's first byte.
pub(crate) const COMPACT_PROTOCOL_ID: u8 = 0x82;
/// The version fbthrift and nebula3-python write (version 1 has little-endian doubles).
pub(crate) const COMPACT_VERSION: u8 = 2;
/// A varint of a `u64` has at most this many bytes.
const VARINT_BYTES_MAX: u32 = 10;

/// Reads one Compact payload.
#[derive(Debug, Clone)]
pub(crate) struct CompactReader<'a> {
    cursor: Cursor<'a>,
    /// The id of the field read last in the current struct.
    last_field_id: i16,
    /// The enclosing structs' last field ids. As deep as the walk (bounded by its depth limit).
    outer_field_ids: Vec<i16>,
    /// A boolean field's value, read with its header.
    pending_bool: Option<bool>,
}

impl<'a> CompactReader<'a> {
    pub(crate) fn new(payload: &'a [u8]) -> CompactReader<'a> {
        CompactReader {
            cursor: Cursor::new(payload),
            last_field_id: 0,
            outer_field_ids: Vec::new(),
            pending_bool: None,
        }
    }

    fn varint(&mut self, what: &'static str) -> Result<u64, FrameError> {
        let mut value = 0_u64;
        for index in 0..VARINT_BYTES_MAX {
            let byte = self.cursor.u8(what)?;
            value |= u64::from(byte & 0x7F) << (7 * index);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(FrameError::Malformed { reason: "a varint longer than 10 bytes" })
    }

    fn zigzag(&mut self, what: &'static str) -> Result<i64, FrameError> {
        let raw = self.varint(what)?;
        let magnitude = i64::from_be_bytes((raw >> 1).to_be_bytes());
        Ok(if raw & 1 == 0 { magnitude } else { -magnitude - 1 })
    }

    fn length(&mut self, what: &'static str) -> Result<u32, FrameError> {
        let len = self.varint(what)?;
        checked_len(len, self.cursor.remaining(), what)
    }
}

/// A Compact type nibble; 0 ("stop") is `None`.
fn wire_type(nibble: u8) -> Result<Option<WireType>, FrameError> {
    Ok(Some(match nibble {
        0 => return Ok(None),
        1 | 2 => WireType::Bool,
        3 => WireType::Byte,
        4 => WireType::I16,
        5 => WireType::I32,
        6 => WireType::I64,
        7 => WireType::Double,
        8 => WireType::Binary,
        9 => WireType::List,
        10 => WireType::Set,
        11 => WireType::Map,
        12 => WireType::Struct,
        13 => WireType::Float,
        _ => return Err(FrameError::Malformed { reason: "an unknown Compact type" }),
    }))
}

impl<'a> Reader<'a> for CompactReader<'a> {
    fn message_begin(&mut self) -> Result<MessageBegin<'a>, FrameError> {
        if self.cursor.u8("the message header")? != COMPACT_PROTOCOL_ID {
            return Err(FrameError::Malformed { reason: "not a Compact message (0x82)" });
        }
        let version_and_type = self.cursor.u8("the message header")?;
        if version_and_type & 0x1F != COMPACT_VERSION {
            return Err(FrameError::Malformed { reason: "a Compact version other than 2" });
        }
        let message_type = version_and_type >> 5;
        let seq_id = u32::try_from(self.varint("the sequence id")?)
            .map_err(|_| FrameError::Malformed { reason: "a sequence id over 32 bits" })?;
        let len = self.length("the method name")?;
        let name = self.cursor.take(len as usize, "the method name")?;
        Ok(MessageBegin { name, message_type, seq_id })
    }

    fn struct_begin(&mut self) {
        self.outer_field_ids.push(self.last_field_id);
        self.last_field_id = 0;
    }

    fn struct_end(&mut self) {
        self.last_field_id = self.outer_field_ids.pop().unwrap_or(0);
    }

    fn field_begin(&mut self) -> Result<Option<(WireType, i16)>, FrameError> {
        let header = self.cursor.u8("a field header")?;
        let Some(wire) = wire_type(header & 0x0F)? else { return Ok(None) };
        let delta = header >> 4;
        let id = if delta == 0 {
            i16::try_from(self.zigzag("a field id")?)
                .map_err(|_| FrameError::Malformed { reason: "a field id over 16 bits" })?
        } else {
            self.last_field_id
                .checked_add(i16::from(delta))
                .ok_or(FrameError::Malformed { reason: "a field id delta overflows" })?
        };
        self.last_field_id = id;
        if wire == WireType::Bool {
            self.pending_bool = Some(header & 0x0F == 1);
        }
        Ok(Some((wire, id)))
    }

    fn read_bool(&mut self) -> Result<bool, FrameError> {
        match self.pending_bool.take() {
            Some(value) => Ok(value),
            None => Ok(self.cursor.u8("a bool")? == 1),
        }
    }

    fn read_byte(&mut self) -> Result<i8, FrameError> {
        Ok(i8::from_be_bytes(self.cursor.array("a byte")?))
    }

    fn read_i16(&mut self) -> Result<i16, FrameError> {
        i16::try_from(self.zigzag("an i16")?)
            .map_err(|_| FrameError::Malformed { reason: "an i16 out of range" })
    }

    fn read_i32(&mut self) -> Result<i32, FrameError> {
        i32::try_from(self.zigzag("an i32")?)
            .map_err(|_| FrameError::Malformed { reason: "an i32 out of range" })
    }

    fn read_i64(&mut self) -> Result<i64, FrameError> {
        self.zigzag("an i64")
    }

    fn read_double(&mut self) -> Result<f64, FrameError> {
        Ok(f64::from_be_bytes(self.cursor.array("a double")?))
    }

    fn read_float(&mut self) -> Result<f32, FrameError> {
        Ok(f32::from_be_bytes(self.cursor.array("a float")?))
    }

    fn read_binary(&mut self) -> Result<&'a [u8], FrameError> {
        let len = self.length("a binary value")?;
        self.cursor.take(len as usize, "a binary value")
    }

    fn list_begin(&mut self) -> Result<ContainerBegin, FrameError> {
        let header = self.cursor.u8("a list header")?;
        let value = wire_type(header & 0x0F)?;
        let len = match header >> 4 {
            0x0F => self.length("a list")?,
            short => checked_len(u64::from(short), self.cursor.remaining(), "a list")?,
        };
        Ok(ContainerBegin { key: None, value, len })
    }

    fn map_begin(&mut self) -> Result<ContainerBegin, FrameError> {
        let len = self.length("a map")?;
        if len == 0 {
            return Ok(ContainerBegin { key: None, value: None, len });
        }
        let types = self.cursor.u8("a map header")?;
        let key = wire_type(types >> 4)?;
        let value = wire_type(types & 0x0F)?;
        Ok(ContainerBegin { key, value, len })
    }

    fn position(&self) -> usize {
        self.cursor.position()
    }

    fn remaining(&self) -> usize {
        self.cursor.remaining()
    }
}
