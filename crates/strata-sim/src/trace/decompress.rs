//! Decompression chosen by magic bytes.

use std::io::{self, BufRead, BufReader, Read};

const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const GZIP: &[u8] = &[0x1f, 0x8b];
const XZ: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];

/// Wraps `input` in the decompressor its first bytes call for.
pub(crate) fn open<R: BufRead + 'static>(mut input: R) -> io::Result<Box<dyn BufRead>> {
    let head = input.fill_buf()?;
    let decoded: Box<dyn Read> = if head.starts_with(ZSTD) {
        Box::new(zstd::Decoder::with_buffer(input)?)
    } else if head.starts_with(GZIP) {
        Box::new(flate2::bufread::MultiGzDecoder::new(input))
    } else if head.starts_with(XZ) {
        Box::new(liblzma::bufread::XzDecoder::new(input))
    } else {
        return Ok(Box::new(input));
    };
    Ok(Box::new(BufReader::with_capacity(1 << 16, decoded)))
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn round_trip(compressed: Vec<u8>) -> String {
        let mut out = String::new();
        open(io::Cursor::new(compressed))
            .expect("recognised")
            .read_to_string(&mut out)
            .expect("decompresses");
        out
    }

    #[test]
    fn each_compression_is_recognised_by_its_magic() {
        let text = b"1\n2\n3\n";
        let zstd = zstd::encode_all(&text[..], 3).expect("zstd");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(text).expect("xz");
        let xz = xz.finish().expect("xz");
        for compressed in [zstd, gz, xz, text.to_vec()] {
            assert_eq!(round_trip(compressed), "1\n2\n3\n");
        }
    }

    #[test]
    fn corrupt_compressed_data_is_an_error_not_a_panic() {
        let mut bad = ZSTD.to_vec();
        bad.extend_from_slice(&[0xff; 32]);
        let mut out = Vec::new();
        let result = open(io::Cursor::new(bad)).and_then(|mut r| r.read_to_end(&mut out));
        assert!(result.is_err());
    }
}
