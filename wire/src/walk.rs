//! Walks a request's values without building them, within the configured depth and count: a
//! field the schema knows (same id, same wire type) is walked as its schema type, exactly as the
//! generated decoder would read it; anything else is skipped by its wire type, exactly as the
//! generated decoder would skip it. A container whose element types differ from its schema
//! type is refused, because the generated decoder would read its elements as the schema type
//! regardless. So a walked range is one the generated decoder reads the same way, within the
//! same limits.

use crate::error::FrameError;
use crate::reader::{ContainerBegin, Reader, WireType};
use crate::schema::{Shape, Ty};

/// What one request may still use: nesting levels and values.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    depth: u32,
    nesting_depth_max: u32,
    values: u32,
    request_values_max: u32,
}

impl Budget {
    pub(crate) fn new(nesting_depth_max: u32, request_values_max: u32) -> Budget {
        Budget { depth: 0, nesting_depth_max, values: 0, request_values_max }
    }

    /// Enters a struct or container level.
    fn enter(&mut self) -> Result<(), FrameError> {
        if self.depth >= self.nesting_depth_max {
            return Err(FrameError::TooDeep { nesting_depth_max: self.nesting_depth_max });
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Counts `count` values (a field, or a container's declared elements).
    pub(crate) fn spend(&mut self, count: u32) -> Result<(), FrameError> {
        match self.values.checked_add(count) {
            Some(values) if values <= self.request_values_max => {
                self.values = values;
                Ok(())
            }
            _ => Err(FrameError::TooManyValues { request_values_max: self.request_values_max }),
        }
    }
}

/// Skips one value of wire type `wire`, checking everything inside it.
pub(crate) fn skip<'a, R: Reader<'a>>(
    reader: &mut R,
    wire: WireType,
    budget: &mut Budget,
) -> Result<(), FrameError> {
    match wire {
        WireType::Bool => reader.read_bool().map(drop),
        WireType::Byte => reader.read_byte().map(drop),
        WireType::I16 => reader.read_i16().map(drop),
        WireType::I32 => reader.read_i32().map(drop),
        WireType::I64 => reader.read_i64().map(drop),
        WireType::Double => reader.read_double().map(drop),
        WireType::Float => reader.read_float().map(drop),
        WireType::Binary => reader.read_binary().map(drop),
        WireType::Struct => {
            budget.enter()?;
            reader.struct_begin();
            while let Some((field, _id)) = reader.field_begin()? {
                budget.spend(1)?;
                skip(reader, field, budget)?;
            }
            reader.struct_end();
            budget.leave();
            Ok(())
        }
        WireType::List | WireType::Set => {
            let header = reader.list_begin()?;
            skip_elements(reader, header.len, (None, header.value), budget)
        }
        WireType::Map => {
            let header = reader.map_begin()?;
            skip_elements(reader, header.len, (Some(header.key), header.value), budget)
        }
    }
}

/// Skips a container's `len` elements of wire types `(key, value)`: a list has no key, and a
/// type of `None` is "stop", no element type at all.
fn skip_elements<'a, R: Reader<'a>>(
    reader: &mut R,
    len: u32,
    (key, value): (Option<Option<WireType>>, Option<WireType>),
    budget: &mut Budget,
) -> Result<(), FrameError> {
    budget.enter()?;
    budget.spend(len)?;
    if len > 0 {
        let stop = || FrameError::Malformed { reason: "a container of \"stop\" elements" };
        let value = value.ok_or_else(stop)?;
        let key = key.map(|key| key.ok_or_else(stop)).transpose()?;
        for _ in 0..len {
            if let Some(key) = key {
                skip(reader, key, budget)?;
            }
            skip(reader, value, budget)?;
        }
    }
    budget.leave();
    Ok(())
}

/// Walks one value of schema type `ty`; the caller has checked its wire type.
pub(crate) fn walk<'a, R: Reader<'a>>(
    reader: &mut R,
    ty: Ty,
    budget: &mut Budget,
) -> Result<(), FrameError> {
    match ty.shape() {
        Shape::Primitive(wire) => skip(reader, wire, budget),
        Shape::Struct(fields) => {
            budget.enter()?;
            reader.struct_begin();
            while let Some((wire, id)) = reader.field_begin()? {
                budget.spend(1)?;
                match fields.iter().find(|(known, ty)| *known == id && ty.wire() == wire) {
                    Some(&(_, ty)) => walk(reader, ty, budget)?,
                    None => skip(reader, wire, budget)?,
                }
            }
            reader.struct_end();
            budget.leave();
            Ok(())
        }
        Shape::List(element) | Shape::Set(element) => {
            let header = reader.list_begin()?;
            walk_elements(reader, header, (None, element), budget)
        }
        Shape::Map(key, value) => {
            let header = reader.map_begin()?;
            walk_elements(reader, header, (Some(key), value), budget)
        }
    }
}

/// Walks a container's elements as `(key, value)` schema types; their wire types must match.
fn walk_elements<'a, R: Reader<'a>>(
    reader: &mut R,
    header: ContainerBegin,
    (key, value): (Option<Ty>, Ty),
    budget: &mut Budget,
) -> Result<(), FrameError> {
    budget.enter()?;
    budget.spend(header.len)?;
    if header.len > 0 && (header.key != key.map(Ty::wire) || header.value != Some(value.wire())) {
        return Err(FrameError::Malformed {
            reason: "a container's element type differs from NebulaGraph's schema",
        });
    }
    for _ in 0..header.len {
        if let Some(key) = key {
            walk(reader, key, budget)?;
        }
        walk(reader, value, budget)?;
    }
    budget.leave();
    Ok(())
}
