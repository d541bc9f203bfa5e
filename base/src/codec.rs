//! The byte encoding of the workspace's persisted formats: little-endian integers, strings and
//! lists prefixed by their length as a `u64`, options as a tag byte (0 none, 1 some) and the
//! value. Canonical (one encoding per value), so a checksum or digest of it is well defined.
//!
//! A [`Writer`] puts its bytes into a [`Sink`]: a `Vec<u8>` (the server snapshot's body), or an
//! [`Fnv1a`] that digests them as they come without building them (the meta snapshot's
//! digest). A [`Reader`] reads them back and never trusts a length: a list or string longer
//! than the bytes left is [`ReadError::Truncated`], so corrupted input cannot make a decoder
//! allocate much.

use crate::fnv::Fnv1a;

/// Where a [`Writer`] puts its bytes.
pub trait Sink {
    /// Takes `bytes`, in order.
    fn put(&mut self, bytes: &[u8]);

    /// Takes the value's eight little-endian bytes (a sink may take them faster than as a slice).
    #[inline]
    fn put_u64_le(&mut self, value: u64) {
        self.put(&value.to_le_bytes());
    }
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for Fnv1a {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.bytes(bytes);
    }

    #[inline]
    fn put_u64_le(&mut self, value: u64) {
        self.u64_le(value);
    }
}

/// Writes values in the canonical encoding into its sink.
#[derive(Debug, Clone, Default)]
pub struct Writer<S = Vec<u8>> {
    sink: S,
}

impl<S: Sink> Writer<S> {
    /// A writer that puts everything into `sink`.
    pub fn new(sink: S) -> Writer<S> {
        Writer { sink }
    }

    /// The sink, with everything written.
    pub fn into_inner(self) -> S {
        self.sink
    }

    /// `bytes` as they are, without a length (a magic number, an encoded body).
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.sink.put(bytes);
    }

    /// One byte (a tag).
    pub fn u8(&mut self, value: u8) {
        self.sink.put(&[value]);
    }

    /// Four little-endian bytes.
    pub fn u32(&mut self, value: u32) {
        self.sink.put(&value.to_le_bytes());
    }

    /// Eight little-endian bytes.
    pub fn u64(&mut self, value: u64) {
        self.sink.put_u64_le(value);
    }

    /// Eight little-endian bytes, two's complement.
    pub fn i64(&mut self, value: i64) {
        self.sink.put(&value.to_le_bytes());
    }

    /// A list or string length, as a `u64`.
    pub fn length(&mut self, len: usize) {
        self.u64(u64::try_from(len).unwrap_or(u64::MAX));
    }

    /// A string: its length in bytes, then its UTF-8 bytes.
    pub fn str(&mut self, value: &str) {
        self.length(value.len());
        self.sink.put(value.as_bytes());
    }

    /// Tag 0, or tag 1 and the string.
    pub fn opt_str(&mut self, value: Option<&str>) {
        match value {
            None => self.u8(0),
            Some(value) => {
                self.u8(1);
                self.str(value);
            }
        }
    }

    /// Tag 0, or tag 1 and the value.
    pub fn opt_u64(&mut self, value: Option<u64>) {
        match value {
            None => self.u8(0),
            Some(value) => {
                self.u8(1);
                self.u64(value);
            }
        }
    }
}

/// Why a [`Reader`] refused to read a value. A refused read consumes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The value, or the length it announces, runs past the end of the input.
    #[error("the input ends at byte {at}, before the value does")]
    Truncated {
        /// The input's length: where it ran out.
        at: u64,
    },
    /// A string's bytes are not UTF-8.
    #[error("a string is not UTF-8")]
    NotUtf8,
    /// An option's tag is neither 0 nor 1.
    #[error("option tag {tag}")]
    OptionTag {
        /// The tag read.
        tag: u8,
    },
}

/// Reads values in the canonical encoding from a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    #[inline]
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    /// How many bytes are left.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    #[inline]
    fn truncated(&self) -> ReadError {
        ReadError::Truncated { at: u64::try_from(self.bytes.len()).unwrap_or(u64::MAX) }
    }

    /// The next `count` bytes as they are.
    #[inline]
    pub fn take(&mut self, count: usize) -> Result<&'a [u8], ReadError> {
        if count > self.remaining() {
            return Err(self.truncated());
        }
        let taken = &self.bytes[self.at..self.at + count];
        self.at += count;
        Ok(taken)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], ReadError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    /// One byte.
    #[inline]
    pub fn u8(&mut self) -> Result<u8, ReadError> {
        Ok(self.array::<1>()?[0])
    }

    /// Four little-endian bytes.
    #[inline]
    pub fn u32(&mut self) -> Result<u32, ReadError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Eight little-endian bytes.
    #[inline]
    pub fn u64(&mut self) -> Result<u64, ReadError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Eight little-endian bytes, two's complement.
    #[inline]
    pub fn i64(&mut self) -> Result<i64, ReadError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// A list or string length, refused when longer than the bytes left (each element takes at
    /// least one byte).
    #[inline]
    pub fn length(&mut self) -> Result<usize, ReadError> {
        let len = usize::try_from(self.u64()?).unwrap_or(usize::MAX);
        if len > self.remaining() {
            return Err(self.truncated());
        }
        Ok(len)
    }

    /// A string written by [`Writer::str`].
    #[inline]
    pub fn string(&mut self) -> Result<String, ReadError> {
        let len = self.length()?;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| ReadError::NotUtf8)
    }

    /// An option written by [`Writer::opt_str`].
    #[inline]
    pub fn opt_string(&mut self) -> Result<Option<String>, ReadError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.string()?)),
            tag => Err(ReadError::OptionTag { tag }),
        }
    }

    /// An option written by [`Writer::opt_u64`].
    #[inline]
    pub fn opt_u64(&mut self) -> Result<Option<u64>, ReadError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.u64()?)),
            tag => Err(ReadError::OptionTag { tag }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ReadError, Reader, Writer};
    use crate::fnv::{Fnv1a, fnv1a64};

    #[test]
    fn a_string_that_ends_exactly_at_the_last_byte_decodes() {
        let mut writer = Writer::new(Vec::new());
        writer.str("ab");
        let bytes = writer.into_inner();
        let mut reader = Reader::new(&bytes);
        assert_eq!(reader.string(), Ok("ab".to_owned()));
        assert_eq!(reader.remaining(), 0);
    }

    #[test]
    fn a_length_one_past_the_bytes_left_is_truncated_at_the_input_length() {
        let mut writer = Writer::new(Vec::new());
        writer.length(3);
        writer.u8(b'a');
        writer.u8(b'b');
        let bytes = writer.into_inner();
        let mut reader = Reader::new(&bytes);
        assert_eq!(reader.string(), Err(ReadError::Truncated { at: 10 }));
        let mut reader = Reader::new(&bytes[..7]);
        assert_eq!(reader.u64(), Err(ReadError::Truncated { at: 7 }));
        assert_eq!(reader.remaining(), 7, "a refused read consumes nothing");
        assert_eq!(reader.take(7).map(<[u8]>::len), Ok(7));
        assert_eq!(reader.remaining(), 0);
    }

    #[test]
    fn integers_and_options_round_trip_little_endian() {
        let mut writer = Writer::new(Vec::new());
        writer.u32(0x0102_0304);
        writer.i64(-2);
        writer.opt_u64(Some(5));
        writer.opt_u64(None);
        writer.opt_str(Some("x"));
        writer.opt_str(None);
        let bytes = writer.into_inner();
        assert_eq!(&bytes[..4], [4, 3, 2, 1]);
        let mut reader = Reader::new(&bytes);
        assert_eq!(reader.u32(), Ok(0x0102_0304));
        assert_eq!(reader.i64(), Ok(-2));
        assert_eq!((reader.opt_u64(), reader.opt_u64()), (Ok(Some(5)), Ok(None)));
        assert_eq!(
            (reader.opt_string(), reader.opt_string()),
            (Ok(Some("x".to_owned())), Ok(None))
        );
        assert_eq!(reader.remaining(), 0);
        let bad_tag = ReadError::OptionTag { tag: 2 };
        assert_eq!(Reader::new(&[2]).opt_u64(), Err(bad_tag));
        assert_eq!(Reader::new(&[2]).opt_string(), Err(bad_tag));
        assert_eq!(
            Reader::new(&[1, 1, 0, 0, 0, 0, 0, 0, 0, 0xff]).opt_string(),
            Err(ReadError::NotUtf8)
        );
    }

    #[test]
    fn a_digest_is_the_hash_of_the_bytes_the_same_writes_produce() {
        fn write<S: super::Sink>(writer: &mut Writer<S>) {
            writer.bytes(b"magic");
            writer.u8(7);
            writer.u32(0x0102_0304);
            for value in [0, 1, 0xff, 0x100, u64::MAX] {
                writer.u64(value);
            }
            writer.i64(-2);
            writer.str("héllo");
            writer.opt_str(None);
            writer.opt_u64(Some(1 << 40));
        }
        let mut bytes = Writer::new(Vec::new());
        write(&mut bytes);
        let mut digest = Writer::new(Fnv1a::new());
        write(&mut digest);
        assert_eq!(digest.into_inner().finish(), fnv1a64(&bytes.into_inner()));
    }
}
