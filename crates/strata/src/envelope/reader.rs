//! The primitives of the wire format: fixed-width little-endian numbers,
//! LEB128 varints for lengths and counts, and a bounds-checked cursor that
//! reads them without ever panicking.

use super::error::EnvelopeError;

/// The longest LEB128 encoding of a `u64`: ceil(64 / 7) bytes.
const MAX_VARINT_LEN: usize = 10;

/// Appends `value` as an unsigned LEB128 varint: seven bits per byte, low
/// bits first, the high bit set on every byte but the last.
pub(super) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        // Truncation intended: the low seven bits, with the continuation bit.
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    // < 0x80 here, so the cast keeps every bit.
    out.push(value as u8);
}

/// Appends a length or count as a varint. `usize` fits in `u64` on every
/// target Rust supports, so nothing is lost.
pub(super) fn put_len(out: &mut Vec<u8>, len: usize) {
    put_varint(out, len as u64);
}

/// A cursor over the bytes of a record whose checksum has been verified.
/// Every read is bounds-checked against what remains, so no length field,
/// however large, can make it read past the end, panic or allocate.
pub(super) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// How many bytes remain.
    pub(super) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// The next `n` bytes, consumed.
    pub(super) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], EnvelopeError> {
        if n > self.rest.len() {
            return Err(EnvelopeError::Truncated { what });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], EnvelopeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub(super) fn u8(&mut self, what: &'static str) -> Result<u8, EnvelopeError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(super) fn u32(&mut self, what: &'static str) -> Result<u32, EnvelopeError> {
        self.array(what).map(u32::from_le_bytes)
    }

    pub(super) fn i32(&mut self, what: &'static str) -> Result<i32, EnvelopeError> {
        self.array(what).map(i32::from_le_bytes)
    }

    pub(super) fn u64(&mut self, what: &'static str) -> Result<u64, EnvelopeError> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// An unsigned LEB128 varint in its shortest form. Longer forms of the
    /// same number (trailing `0x80 … 0x00` groups) are refused so that every
    /// envelope has exactly one encoding.
    pub(super) fn varint(&mut self, what: &'static str) -> Result<u64, EnvelopeError> {
        let mut value = 0u64;
        for i in 0..MAX_VARINT_LEN {
            let byte = self.u8(what)?;
            let bits = u64::from(byte & 0x7f);
            // The tenth byte holds bit 63 only; anything more overflows.
            if i == MAX_VARINT_LEN - 1 && bits > 1 {
                return Err(EnvelopeError::Malformed {
                    what: "varint overflows 64 bits",
                });
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                if byte == 0 && i > 0 {
                    return Err(EnvelopeError::Malformed {
                        what: "varint not in its shortest form",
                    });
                }
                return Ok(value);
            }
        }
        Err(EnvelopeError::Malformed {
            what: "varint longer than 10 bytes",
        })
    }

    /// A length or count, which can never exceed what remains (every item
    /// takes at least `min_item` bytes, `min_item >= 1`). Checking here is
    /// what bounds every later allocation by the record's size.
    pub(super) fn len(
        &mut self,
        min_item: usize,
        what: &'static str,
    ) -> Result<usize, EnvelopeError> {
        let len = self.varint(what)?;
        let fits = usize::try_from(len)
            .ok()
            .and_then(|n| n.checked_mul(min_item))
            .is_some_and(|bytes| bytes <= self.rest.len());
        if !fits {
            return Err(EnvelopeError::Truncated { what });
        }
        // `fits` proved the conversion succeeds.
        Ok(len as usize)
    }

    /// A length-prefixed UTF-8 string.
    pub(super) fn string(&mut self, what: &'static str) -> Result<String, EnvelopeError> {
        let len = self.len(1, what)?;
        let bytes = self.take(len, what)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| EnvelopeError::Malformed {
                what: "a string is not UTF-8",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint_bytes(value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, value);
        out
    }

    #[test]
    fn varints_roundtrip_at_every_width() {
        for shift in 0..64 {
            for value in [1u64 << shift, (1u64 << shift) - 1, (1u64 << shift) + 1] {
                let bytes = varint_bytes(value);
                let mut reader = Reader::new(&bytes);
                assert_eq!(reader.varint("v").expect("valid"), value);
                assert_eq!(reader.remaining(), 0);
            }
        }
        assert_eq!(varint_bytes(0), [0]);
        assert_eq!(varint_bytes(300), [0xac, 0x02]);
        assert_eq!(varint_bytes(u64::MAX).len(), MAX_VARINT_LEN);
    }

    #[test]
    fn non_canonical_and_overflowing_varints_are_refused() {
        for bad in [
            &[0x80, 0x00][..],
            &[0xff, 0x80, 0x00],
            &[0xff; 10],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            &[0xff; 11],
        ] {
            let err = Reader::new(bad).varint("v").expect_err("refused");
            assert!(
                matches!(err, EnvelopeError::Malformed { .. }),
                "{bad:?}: {err}"
            );
        }
        assert!(matches!(
            Reader::new(&[0x80]).varint("v"),
            Err(EnvelopeError::Truncated { what: "v" })
        ));
    }

    #[test]
    fn lengths_are_bounded_by_the_bytes_left() {
        let mut bytes = varint_bytes(3);
        bytes.extend_from_slice(b"abc");
        assert_eq!(Reader::new(&bytes).string("s").expect("fits"), "abc");
        bytes.pop();
        assert!(Reader::new(&bytes).string("s").is_err());
        let huge = varint_bytes(u64::MAX);
        assert!(Reader::new(&huge).len(1, "n").is_err());
        let mut two = varint_bytes(2);
        two.extend_from_slice(&[0; 17]);
        assert!(Reader::new(&two).len(9, "n").is_err(), "2 items of 9 > 17");
    }

    #[test]
    fn invalid_utf8_is_malformed() {
        let err = Reader::new(&[2, 0xc3, 0x28]).string("s").expect_err("bad");
        assert!(matches!(err, EnvelopeError::Malformed { .. }));
    }
}
