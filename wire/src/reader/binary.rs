//! The strict Binary protocol (version `0x8001`): big-endian fixed-width numbers, `i32`
//! lengths, one type byte and an `i16` id per field.

use crate::error::FrameError;
use crate::reader::{ContainerBegin, Cursor, MessageBegin, Reader, WireType, checked_len};

/// The strict Binary protocol's version word, in the high 16 bits of a message's first `i32`.
pub(crate) const BINARY_VERSION: u32 = 0x8001_0000;
/// The mask that keeps a message's version.
const VERSION_MASK: u32 = 0xFFFF_0000;

/// Reads one Binary payload.
#[derive(Debug, Clone)]
pub(crate) struct BinaryReader<'a> {
    cursor: Cursor<'a>,
}

impl<'a> BinaryReader<'a> {
    pub(crate) fn new(payload: &'a [u8]) -> BinaryReader<'a> {
        BinaryReader { cursor: Cursor::new(payload) }
    }

    fn length(&mut self, what: &'static str) -> Result<u32, FrameError> {
        let len = i32::from_be_bytes(self.cursor.array(what)?);
        let len = u64::try_from(len)
            .map_err(|_| FrameError::Malformed { reason: "a negative length" })?;
        checked_len(len, self.cursor.remaining(), what)
    }

    fn element_type(&mut self, len_follows: &'static str) -> Result<Option<WireType>, FrameError> {
        let code = self.cursor.u8(len_follows)?;
        if code == 0 { Ok(None) } else { wire_type(code).map(Some) }
    }
}

/// A Binary type code (fbthrift's `TType`). Void, UTF-8/UTF-16 strings and streams are
/// refused: no client of the graph service sends them.
fn wire_type(code: u8) -> Result<WireType, FrameError> {
    Ok(match code {
        2 => WireType::Bool,
        3 => WireType::Byte,
        4 => WireType::Double,
        6 => WireType::I16,
        8 => WireType::I32,
        10 => WireType::I64,
        11 => WireType::Binary,
        12 => WireType::Struct,
        13 => WireType::Map,
        14 => WireType::Set,
        15 => WireType::List,
        19 => WireType::Float,
        _ => return Err(FrameError::Malformed { reason: "an unknown Binary type code" }),
    })
}

impl<'a> Reader<'a> for BinaryReader<'a> {
    fn message_begin(&mut self) -> Result<MessageBegin<'a>, FrameError> {
        let word = u32::from_be_bytes(self.cursor.array("the message header")?);
        if word & VERSION_MASK != BINARY_VERSION {
            return Err(FrameError::Malformed { reason: "not a strict Binary message (0x8001)" });
        }
        // Bits 8-15 must be zero too: anything else is no message type at all.
        let message_type = u8::try_from(word & 0xFFFF).unwrap_or(u8::MAX);
        let len = self.length("the method name")?;
        let name = self.cursor.take(len as usize, "the method name")?;
        let seq_id = u32::from_be_bytes(self.cursor.array("the sequence id")?);
        Ok(MessageBegin { name, message_type, seq_id })
    }

    fn struct_begin(&mut self) {}

    fn struct_end(&mut self) {}

    fn field_begin(&mut self) -> Result<Option<(WireType, i16)>, FrameError> {
        let code = self.cursor.u8("a field header")?;
        if code == 0 {
            return Ok(None);
        }
        let wire = wire_type(code)?;
        let id = i16::from_be_bytes(self.cursor.array("a field id")?);
        Ok(Some((wire, id)))
    }

    fn read_bool(&mut self) -> Result<bool, FrameError> {
        Ok(self.cursor.u8("a bool")? != 0)
    }

    fn read_byte(&mut self) -> Result<i8, FrameError> {
        Ok(i8::from_be_bytes(self.cursor.array("a byte")?))
    }

    fn read_i16(&mut self) -> Result<i16, FrameError> {
        Ok(i16::from_be_bytes(self.cursor.array("an i16")?))
    }

    fn read_i32(&mut self) -> Result<i32, FrameError> {
        Ok(i32::from_be_bytes(self.cursor.array("an i32")?))
    }

    fn read_i64(&mut self) -> Result<i64, FrameError> {
        Ok(i64::from_be_bytes(self.cursor.array("an i64")?))
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
        let value = self.element_type("a list header")?;
        let len = self.length("a list")?;
        Ok(ContainerBegin { key: None, value, len })
    }

    fn map_begin(&mut self) -> Result<ContainerBegin, FrameError> {
        let key = self.element_type("a map header")?;
        let value = self.element_type("a map header")?;
        let len = self.length("a map")?;
        Ok(ContainerBegin { key, value, len })
    }

    fn position(&self) -> usize {
        self.cursor.position()
    }

    fn remaining(&self) -> usize {
        self.cursor.remaining()
    }
}
