//! The one place that knows how bodies and stored values become bytes.
//!
//! Everything kith serialises goes through the two pairs of functions here, so
//! switching away from bincode (whose 2.x line is the last maintained one) means
//! changing this file only.
//!
//! * **Wire** (`encode_wire` / `decode_wire`): bincode 2 with big-endian,
//!   fixed-width integers — easy to read with `java.io.DataInputStream` — and a
//!   hard byte limit, so an untrusted length prefix can never make the decoder
//!   allocate more than a frame may hold. Trailing bytes are an error.
//! * **Storage** (`encode_stored` / `decode_stored`): bincode 2 with varint
//!   integers, which is smaller on disk. Stored values never reach a client.

use bincode::config::{self, BigEndian, Configuration, Fixint, Limit, LittleEndian, Varint};
use serde::{de::DeserializeOwned, Serialize};

/// Largest body any frame may carry, whatever the configuration says: the
/// decoder refuses to claim more than this many bytes for one value.
pub const HARD_MAX_BODY: usize = 16 * 1024 * 1024;

type WireConfig = Configuration<BigEndian, Fixint, Limit<HARD_MAX_BODY>>;
type StoreConfig = Configuration<LittleEndian, Varint, Limit<HARD_MAX_BODY>>;

const WIRE: WireConfig = config::standard().with_big_endian().with_fixed_int_encoding().with_limit::<HARD_MAX_BODY>();

const STORE: StoreConfig =
    config::standard().with_little_endian().with_variable_int_encoding().with_limit::<HARD_MAX_BODY>();

/// Why a byte string could not be turned into a value.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The bytes do not describe a value of the expected type (wrong length,
    /// invalid UTF-8, unknown variant, limit exceeded …).
    #[error("{0}")]
    Invalid(#[from] bincode::error::DecodeError),
    /// A value was read but bytes were left over.
    #[error("{0} trailing bytes after the body")]
    Trailing(usize),
}

/// Encodes a protocol body.
pub fn encode_wire<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising into a Vec only fails for types serde cannot describe,
    // which none of the protocol types are.
    bincode::serde::encode_to_vec(value, WIRE).unwrap_or_default()
}

/// Decodes a protocol body, rejecting trailing bytes.
pub fn decode_wire<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let (value, read) = bincode::serde::decode_from_slice(bytes, WIRE)?;
    match bytes.len() - read {
        0 => Ok(value),
        rest => Err(DecodeError::Trailing(rest)),
    }
}

/// Encodes a value for storage.
pub fn encode_stored<T: Serialize>(value: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(value, STORE).unwrap_or_default()
}

/// Decodes a stored value.
pub fn decode_stored<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let (value, read) = bincode::serde::decode_from_slice(bytes, STORE)?;
    match bytes.len() - read {
        0 => Ok(value),
        rest => Err(DecodeError::Trailing(rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Sample {
        a: u32,
        s: String,
        #[serde(with = "serde_bytes")]
        b: Vec<u8>,
        o: Option<u16>,
    }

    #[test]
    fn wire_layout_is_big_endian_fixed_width() {
        let v = Sample { a: 1, s: "hi".into(), b: vec![7], o: Some(2) };
        let bytes = encode_wire(&v);
        assert_eq!(
            bytes,
            [
                0, 0, 0, 1, // a
                0, 0, 0, 0, 0, 0, 0, 2, b'h', b'i', // s
                0, 0, 0, 0, 0, 0, 0, 1, 7, // b
                1, 0, 2 // o
            ]
        );
        assert_eq!(decode_wire::<Sample>(&bytes).unwrap(), v);
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = encode_wire(&5u32);
        bytes.push(0);
        assert!(matches!(decode_wire::<u32>(&bytes), Err(DecodeError::Trailing(1))));
    }

    #[test]
    fn huge_length_prefix_does_not_allocate() {
        // A string claiming 2^62 bytes must fail cleanly.
        let mut bytes = vec![0x40, 0, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(b"abc");
        assert!(decode_wire::<String>(&bytes).is_err());
        let mut bytes = vec![0x40, 0, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(b"abc");
        assert!(decode_wire::<serde_bytes::ByteBuf>(&bytes).is_err());
    }

    #[test]
    fn a_list_count_is_items_and_never_trusted() {
        // Two u16 items: the count is 2, not 4 bytes.
        let bytes = encode_wire(&vec![1u16, 2]);
        assert_eq!(bytes, [0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 2]);
        // A count of 2^40 items followed by three: refused without allocating
        // room for the count, and so is one item too many for the bytes left.
        let mut huge = vec![0, 0, 1, 0, 0, 0, 0, 0];
        huge.extend_from_slice(&[0, 1, 0, 2, 0, 3]);
        assert!(decode_wire::<Vec<u16>>(&huge).is_err());
        let mut short = vec![0, 0, 0, 0, 0, 0, 0, 4];
        short.extend_from_slice(&[0, 1, 0, 2, 0, 3]);
        assert!(decode_wire::<Vec<u16>>(&short).is_err());
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        let bytes = [0, 0, 0, 0, 0, 0, 0, 2, 0xff, 0xfe];
        assert!(decode_wire::<String>(&bytes).is_err());
    }

    #[test]
    fn stored_round_trip() {
        let v = Sample { a: 300, s: "x".into(), b: vec![1, 2], o: None };
        assert_eq!(decode_stored::<Sample>(&encode_stored(&v)).unwrap(), v);
    }
}
