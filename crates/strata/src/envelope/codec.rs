//! Value codecs: how a value becomes bytes before compression.

use std::error::Error as StdError;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::EnvelopeError;

/// How the value is serialized before compression (the codec byte).
///
/// The codec is stored in every envelope, so a reader decodes each entry with
/// the codec it was written with, whatever the cache is configured with now.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[non_exhaustive]
pub enum Codec {
    /// [postcard](https://docs.rs/postcard): compact, fast, not
    /// self-describing (a reader must know the type). Default: the tiers
    /// are private to the cache, so the smaller, faster encoding wins.
    #[default]
    Binary,
    /// JSON: larger and slower, but readable with `redis-cli` and by other
    /// languages sharing the same store.
    Json,
}

impl Codec {
    /// The codec byte stored in an envelope.
    pub(crate) fn to_byte(self) -> u8 {
        match self {
            Self::Binary => 0,
            Self::Json => 1,
        }
    }

    /// The codec a stored byte names.
    pub(crate) fn from_byte(byte: u8) -> Result<Self, EnvelopeError> {
        match byte {
            0 => Ok(Self::Binary),
            1 => Ok(Self::Json),
            other => Err(EnvelopeError::UnknownCodec(other)),
        }
    }
}

/// Serializes `value` with `codec`.
///
/// # Errors
/// [`EnvelopeError::Encode`] when the serializer refuses the value (for
/// example a map with non-string keys under [`Codec::Json`], or a sequence of
/// unknown length under [`Codec::Binary`]).
pub fn encode_value<V: Serialize + ?Sized>(
    codec: Codec,
    value: &V,
) -> Result<Vec<u8>, EnvelopeError> {
    let encoded: Result<_, Box<dyn StdError + Send + Sync>> = match codec {
        Codec::Binary => postcard::to_stdvec(value).map_err(Into::into),
        Codec::Json => serde_json::to_vec(value).map_err(Into::into),
    };
    encoded.map_err(|source| EnvelopeError::Encode { codec, source })
}

/// Deserializes a `V` from `bytes`, which must hold exactly one value.
///
/// # Errors
/// [`EnvelopeError::Decode`] when the bytes are not a `V` in `codec`, or
/// when bytes remain after the value: postcard would ignore them, but they
/// mean the writer's type was not the reader's, and a silently different
/// value is worse than a miss.
pub fn decode_value<V: DeserializeOwned>(codec: Codec, bytes: &[u8]) -> Result<V, EnvelopeError> {
    let decoded: Result<_, Box<dyn StdError + Send + Sync>> = match codec {
        Codec::Binary => match postcard::take_from_bytes::<V>(bytes) {
            Ok((value, [])) => Ok(value),
            Ok((_, rest)) => Err(format!("{} bytes after the value", rest.len()).into()),
            Err(e) => Err(e.into()),
        },
        // serde_json rejects anything but whitespace after the value.
        Codec::Json => serde_json::from_slice(bytes).map_err(Into::into),
    };
    decoded.map_err(|source| EnvelopeError::Decode { codec, source })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct User {
        id: u64,
        name: String,
        roles: Vec<String>,
        score: Option<f64>,
        attrs: BTreeMap<String, i32>,
    }

    fn user() -> User {
        User {
            id: 42,
            name: "Ada ✓".into(),
            roles: vec!["admin".into(), "ops".into()],
            score: Some(-1.5),
            attrs: BTreeMap::from([("a".into(), 1), ("b".into(), -2)]),
        }
    }

    #[test]
    fn both_codecs_roundtrip_a_struct() {
        for codec in [Codec::Binary, Codec::Json] {
            let bytes = encode_value(codec, &user()).expect("serializable");
            let back: User = decode_value(codec, &bytes).expect("same type");
            assert_eq!(back, user(), "{codec:?}");
        }
    }

    #[test]
    fn json_is_json_and_binary_is_smaller() {
        let json = encode_value(Codec::Json, &user()).expect("serializable");
        let parsed: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
        assert_eq!(parsed["name"], "Ada ✓");
        let binary = encode_value(Codec::Binary, &user()).expect("serializable");
        assert!(
            binary.len() < json.len(),
            "{} vs {}",
            binary.len(),
            json.len()
        );
    }

    #[test]
    fn a_wrong_type_is_a_decode_error_not_corruption() {
        for codec in [Codec::Binary, Codec::Json] {
            let bytes = encode_value(codec, &"a string").expect("serializable");
            let err = decode_value::<User>(codec, &bytes).expect_err("not a User");
            assert!(matches!(err, EnvelopeError::Decode { codec: c, .. } if c == codec));
            assert!(!err.is_corruption());
        }
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = encode_value(Codec::Binary, &7u32).expect("serializable");
        bytes.push(0);
        assert!(decode_value::<u32>(Codec::Binary, &bytes).is_err());
        assert!(decode_value::<u32>(Codec::Json, b"7 8").is_err());
        assert_eq!(decode_value::<u32>(Codec::Json, b"7 \n").ok(), Some(7));
    }

    #[test]
    fn unsized_values_encode() {
        let bytes = encode_value(Codec::Binary, "hi").expect("serializable");
        assert_eq!(bytes, [2, b'h', b'i']);
        let slice: &[u8] = &[1, 2];
        assert_eq!(encode_value(Codec::Json, slice).expect("ok"), b"[1,2]");
    }

    #[test]
    fn codec_bytes_roundtrip_and_unknown_is_an_error() {
        for codec in [Codec::Binary, Codec::Json] {
            assert_eq!(Codec::from_byte(codec.to_byte()).ok(), Some(codec));
        }
        assert!(matches!(
            Codec::from_byte(2),
            Err(EnvelopeError::UnknownCodec(2))
        ));
    }
}
