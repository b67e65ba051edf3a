//! Binary fields as base64 strings (standard alphabet, padded).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};

/// Marker put in the deserialisation error of a bad base64 string, so that the relay can give
/// the `bad_base64` error code rather than a generic `malformed_json`.
pub const BAD_BASE64: &str = "bad_base64";

/// Bytes that travel as a base64 string in JSON.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct B64(pub Vec<u8>);

impl B64 {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Takes the bytes.
    pub fn into_inner(self) -> Vec<u8> {
        self.0
    }

    /// Encodes bytes as a base64 string.
    pub fn encode(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    /// Decodes a base64 string.
    pub fn decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
        STANDARD.decode(s)
    }
}

impl From<Vec<u8>> for B64 {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl From<&[u8]> for B64 {
    fn from(v: &[u8]) -> Self {
        Self(v.to_vec())
    }
}

impl core::fmt::Debug for B64 {
    // Binary fields may be ciphertext or secrets: print only their length.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "B64({} bytes)", self.0.len())
    }
}

impl Serialize for B64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for B64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = B64;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a base64 string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<B64, E> {
                STANDARD
                    .decode(v)
                    .map(B64)
                    .map_err(|_| E::custom(format_args!("{BAD_BASE64}: not valid base64")))
            }
        }
        d.deserialize_str(Visitor)
    }
}

impl utoipa::PartialSchema for B64 {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Byte)))
            .description(Some("bytes, standard base64 with padding"))
            .into()
    }
}

impl utoipa::ToSchema for B64 {}

impl AsRef<[u8]> for B64 {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let v = B64(vec![0, 1, 2, 255]);
        let json = serde_json::to_string(&v).unwrap_or_default();
        assert_eq!(json, "\"AAEC/w==\"");
        assert_eq!(serde_json::from_str::<B64>(&json).ok(), Some(v));
        let err = serde_json::from_str::<B64>("\"not base64!\"")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains(BAD_BASE64)));
        assert!(serde_json::from_str::<B64>("12").is_err());
    }

    #[test]
    fn debug_hides_bytes() {
        assert_eq!(format!("{:?}", B64(vec![7; 3])), "B64(3 bytes)");
    }
}
