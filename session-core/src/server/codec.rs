//! The snapshot's canonical binary encoding: little-endian integers, length-prefixed strings and
//! lists, one tag byte per enum variant. Canonical (one encoding per value), so the checksum of
//! the body is well defined whichever serde format the host stores the snapshot in.
//!
//! Decoding never trusts a length: a list or string longer than the bytes left is
//! [`SnapshotError::Truncated`], so corrupted input cannot make it allocate much.

use crate::server::error::SnapshotError;

#[derive(Debug, Default)]
pub(crate) struct Encoder {
    pub(crate) bytes: Vec<u8>,
}

impl Encoder {
    pub(crate) fn u8(&mut self, value: u8) {
        self.bytes.push(value);
    }

    pub(crate) fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, value: u64) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub(crate) fn i64(&mut self, value: i64) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub(crate) fn len(&mut self, len: usize) {
        self.u64(u64::try_from(len).unwrap_or(u64::MAX));
    }

    pub(crate) fn str(&mut self, value: &str) {
        self.len(value.len());
        self.bytes.extend_from_slice(value.as_bytes());
    }

    pub(crate) fn opt_str(&mut self, value: Option<&str>) {
        match value {
            None => self.u8(0),
            Some(value) => {
                self.u8(1);
                self.str(value);
            }
        }
    }

    pub(crate) fn opt_u64(&mut self, value: Option<u64>) {
        match value {
            None => self.u8(0),
            Some(value) => {
                self.u8(1);
                self.u64(value);
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct Decoder<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Decoder<'a> {
        Decoder { bytes, at: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    pub(crate) fn take(&mut self, count: usize) -> Result<&'a [u8], SnapshotError> {
        if count > self.remaining() {
            let at = u64::try_from(self.bytes.len()).unwrap_or(u64::MAX);
            return Err(SnapshotError::Truncated { at });
        }
        let taken = &self.bytes[self.at..self.at + count];
        self.at += count;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, SnapshotError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// A list or string length, refused when longer than the bytes left (each element takes at
    /// least one byte).
    pub(crate) fn len(&mut self) -> Result<usize, SnapshotError> {
        let len = usize::try_from(self.u64()?).unwrap_or(usize::MAX);
        if len > self.remaining() {
            let at = u64::try_from(self.bytes.len()).unwrap_or(u64::MAX);
            return Err(SnapshotError::Truncated { at });
        }
        Ok(len)
    }

    pub(crate) fn string(&mut self) -> Result<String, SnapshotError> {
        let len = self.len()?;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| SnapshotError::Invalid("a string is not UTF-8".to_owned()))
    }

    pub(crate) fn opt_string(&mut self) -> Result<Option<String>, SnapshotError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.string()?)),
            tag => Err(SnapshotError::Invalid(format!("option tag {tag}"))),
        }
    }

    pub(crate) fn opt_u64(&mut self) -> Result<Option<u64>, SnapshotError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.u64()?)),
            tag => Err(SnapshotError::Invalid(format!("option tag {tag}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Decoder, Encoder};
    use crate::server::error::SnapshotError;

    #[test]
    fn a_string_that_ends_exactly_at_the_last_byte_decodes() {
        let mut encoder = Encoder::default();
        encoder.str("ab");
        let mut decoder = Decoder::new(&encoder.bytes);
        assert_eq!(decoder.string(), Ok("ab".to_owned()));
        assert_eq!(decoder.remaining(), 0);
    }

    #[test]
    fn a_length_one_past_the_bytes_left_is_truncated_at_the_input_length() {
        let mut encoder = Encoder::default();
        encoder.len(3);
        encoder.u8(b'a');
        encoder.u8(b'b');
        let mut decoder = Decoder::new(&encoder.bytes);
        assert_eq!(decoder.string(), Err(SnapshotError::Truncated { at: 10 }));
        let mut decoder = Decoder::new(&encoder.bytes[..7]);
        assert_eq!(decoder.u64(), Err(SnapshotError::Truncated { at: 7 }));
        assert_eq!(decoder.remaining(), 7, "a refused read consumes nothing");
        assert_eq!(decoder.take(7).map(<[u8]>::len), Ok(7));
        assert_eq!(decoder.remaining(), 0);
    }

    #[test]
    fn integers_and_options_round_trip_little_endian() {
        let mut encoder = Encoder::default();
        encoder.u32(0x0102_0304);
        encoder.i64(-2);
        encoder.opt_u64(Some(5));
        encoder.opt_u64(None);
        encoder.opt_str(Some("x"));
        encoder.opt_str(None);
        assert_eq!(&encoder.bytes[..4], [4, 3, 2, 1]);
        let mut decoder = Decoder::new(&encoder.bytes);
        assert_eq!(decoder.u32(), Ok(0x0102_0304));
        assert_eq!(decoder.i64(), Ok(-2));
        assert_eq!((decoder.opt_u64(), decoder.opt_u64()), (Ok(Some(5)), Ok(None)));
        assert_eq!(
            (decoder.opt_string(), decoder.opt_string()),
            (Ok(Some("x".to_owned())), Ok(None))
        );
        assert_eq!(decoder.remaining(), 0);
        let bad_tag = SnapshotError::Invalid("option tag 2".to_owned());
        assert_eq!(Decoder::new(&[2]).opt_u64(), Err(bad_tag.clone()));
        assert_eq!(Decoder::new(&[2]).opt_string(), Err(bad_tag));
    }
}
