//! Hex as Parley writes and reads it: lowercase, through the `hex` crate. Only the canonical
//! form is read back (`0-9a-f`, exactly two digits a byte), so one value has one spelling: an
//! id or pin written `+f`, ` f` or `AB` is refused, not read as a near miss.

/// Why a hex string was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// Not exactly two digits per byte of the expected length.
    #[error("expected {0} hex digits")]
    Length(usize),
    /// A character other than `0-9` and `a-f`.
    #[error("only the digits 0-9 and a-f are allowed")]
    NotLowercaseHex,
}

/// `bytes` as lowercase hex.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(bytes)
}

/// The `N` bytes that `text` spells in canonical lowercase hex.
pub fn decode<const N: usize>(text: &str) -> Result<[u8; N], HexError> {
    if text.len() != 2 * N {
        return Err(HexError::Length(2 * N));
    }
    if !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(HexError::NotLowercaseHex);
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|_| HexError::NotLowercaseHex)?;
    Ok(out)
}

/// Serde for fixed-size byte arrays as canonical lowercase hex strings.
pub mod serde_array {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the array as lowercase hex.
    pub fn serialize<S: Serializer, const N: usize>(v: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode(v))
    }

    /// Reads exactly `N` bytes of canonical lowercase hex.
    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::decode(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_lowercase_is_read() {
        assert_eq!(decode::<2>("0aff"), Ok([0x0a, 0xff]));
        assert_eq!(encode([0x0a, 0xff]), "0aff");
        assert_eq!(decode::<2>("0AFF"), Err(HexError::NotLowercaseHex));
        assert_eq!(decode::<2>("+aff"), Err(HexError::NotLowercaseHex));
        assert_eq!(decode::<2>(" aff"), Err(HexError::NotLowercaseHex));
        assert_eq!(decode::<2>("0af"), Err(HexError::Length(4)));
        assert_eq!(decode::<2>("0aff00"), Err(HexError::Length(4)));
        assert_eq!(decode::<1>("é"), Err(HexError::NotLowercaseHex));
    }
}
