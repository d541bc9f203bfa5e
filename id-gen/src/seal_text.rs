//! The text form of a [`SealKey`], the one every host stores it in (a file, an etcd value): its 16
//! bytes as 32 hex digits, in [`SealKey::from_bytes`] order. Parsing checks the length and every
//! digit and says which rule failed ([`SealKeyError`]), without echoing the text (it may be most of
//! a key).

use crate::SealKey;

/// The length of a seal key's text form, in hex digits (two per byte of the 128-bit key).
pub const SEAL_KEY_HEX_CHARS: usize = 32;

/// Why a text is not a seal key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealKeyError {
    /// The text is not [`SEAL_KEY_HEX_CHARS`] bytes long.
    #[error("a seal key is {SEAL_KEY_HEX_CHARS} hex digits, not {bytes} bytes")]
    Length {
        /// The text's length, in bytes.
        bytes: usize,
    },
    /// A byte of the text is not a hex digit (`0-9`, `a-f`, `A-F`).
    #[error("byte {index} of the seal key is not a hex digit")]
    NotHex {
        /// The first such byte's position, from 0.
        index: usize,
    },
}

fn digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

impl SealKey {
    /// The key whose text form is `text`: exactly [`SEAL_KEY_HEX_CHARS`] hex digits (either case).
    ///
    /// ```
    /// use graphsession_id_gen::{SealKey, SealKeyError};
    /// let key = SealKey::from_bytes(*b"sixteen byte key");
    /// assert_eq!(SealKey::from_hex(key.to_hex().as_bytes()), Ok(key));
    /// assert_eq!(SealKey::from_hex(b"00ff"), Err(SealKeyError::Length { bytes: 4 }));
    /// ```
    pub fn from_hex(text: &[u8]) -> Result<SealKey, SealKeyError> {
        if text.len() != SEAL_KEY_HEX_CHARS {
            return Err(SealKeyError::Length { bytes: text.len() });
        }
        let mut bytes = [0_u8; 16];
        for (index, (byte, pair)) in bytes.iter_mut().zip(text.chunks_exact(2)).enumerate() {
            let [high, low] = [pair[0], pair[1]];
            let Some(high) = digit(high) else {
                return Err(SealKeyError::NotHex { index: 2 * index });
            };
            let Some(low) = digit(low) else {
                return Err(SealKeyError::NotHex { index: 2 * index + 1 });
            };
            *byte = (high << 4) + low;
        }
        Ok(SealKey::from_bytes(bytes))
    }

    /// The key's text form: [`SEAL_KEY_HEX_CHARS`] lower-case hex digits. This is the secret
    /// itself: store it where only the cluster's processes read.
    pub fn to_hex(&self) -> String {
        let mut bytes = [0_u8; 16];
        bytes[..8].copy_from_slice(&self.0.k0.to_le_bytes());
        bytes[8..].copy_from_slice(&self.0.k1.to_le_bytes());
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_text_is_the_bytes_in_order() {
        let key = SealKey::from_bytes(*b"sixteen byte key");
        assert_eq!(key.to_hex(), "7369787465656e2062797465206b6579");
        assert_eq!(SealKey::from_hex(b"7369787465656E2062797465206B6579"), Ok(key));
    }

    #[test]
    fn a_wrong_length_or_a_non_digit_is_refused_with_its_place() {
        for text in [&b""[..], b"0", &[b'0'; 31], &[b'0'; 33], &[b'0'; 64]] {
            assert_eq!(SealKey::from_hex(text), Err(SealKeyError::Length { bytes: text.len() }));
        }
        for index in [0, 1, 30, 31] {
            for bad in [b'g', b'G', b' ', b'/', b':', b'@', b'`', 0xff] {
                let mut text = [b'a'; 32];
                text[index] = bad;
                assert_eq!(SealKey::from_hex(&text), Err(SealKeyError::NotHex { index }));
            }
        }
    }

    proptest! {
        #[test]
        fn every_key_round_trips(bytes: [u8; 16]) {
            let key = SealKey::from_bytes(bytes);
            let text = key.to_hex();
            prop_assert_eq!(text.len(), SEAL_KEY_HEX_CHARS);
            prop_assert_eq!(SealKey::from_hex(text.as_bytes()), Ok(key));
            prop_assert_eq!(SealKey::from_hex(text.to_uppercase().as_bytes()), Ok(key));
        }
    }
}
