//! Parsers from decompressed bytes to keys.

use std::io::BufRead;
use std::path::Path;

use hashbrown::HashMap;

use super::Format;
use crate::error::SimError;

/// String keys of text traces get ids with the top bit set, so they cannot
/// collide with integer keys below 2^63.
const STRING_KEY: u64 = 1 << 63;

pub(crate) fn parse(
    format: Format,
    input: &mut dyn BufRead,
    path: &Path,
) -> Result<Vec<u64>, SimError> {
    match format {
        Format::Bin32 => binary::<4>(input, path),
        Format::Bin64 => binary::<8>(input, path),
        Format::Arc | Format::Lirs | Format::Text => lines(format, input, path),
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> SimError + '_ {
    move |source| SimError::Io {
        path: path.to_owned(),
        source,
    }
}

fn binary<const W: usize>(input: &mut dyn BufRead, path: &Path) -> Result<Vec<u64>, SimError> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes).map_err(io_error(path))?;
    if bytes.len() % W != 0 {
        return Err(SimError::TruncatedBinary {
            path: path.to_owned(),
            len: bytes.len() as u64,
            width: W,
        });
    }
    Ok(bytes
        .chunks_exact(W)
        .map(|chunk| {
            let mut word = [0u8; 8];
            word[..W].copy_from_slice(chunk);
            u64::from_le_bytes(word)
        })
        .collect())
}

fn lines(format: Format, input: &mut dyn BufRead, path: &Path) -> Result<Vec<u64>, SimError> {
    let mut keys = Vec::new();
    let mut strings: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).map_err(io_error(path))? == 0 {
            return Ok(keys);
        }
        number += 1;
        let text = line.trim_ascii();
        if text.is_empty() || text == b"*" {
            continue;
        }
        let fail = |message: String| SimError::Parse {
            path: path.to_owned(),
            line: number,
            message,
        };
        match format {
            Format::Arc => {
                let mut fields = text
                    .split(u8::is_ascii_whitespace)
                    .filter(|f| !f.is_empty());
                let mut field = |what: &str| {
                    fields.next().and_then(integer).ok_or_else(|| {
                        fail(format!(
                            "expected `start count ignored seq`, missing or bad {what}"
                        ))
                    })
                };
                let start = field("start")?;
                let count = field("count")?;
                let end = start
                    .checked_add(count)
                    .ok_or_else(|| fail("start + count overflows".into()))?;
                keys.extend(start..end);
            }
            Format::Lirs => {
                keys.push(integer(text).ok_or_else(|| {
                    fail(format!("expected an integer key, found {:?}", show(text)))
                })?)
            }
            Format::Text => {
                let mut fields = text.split(|b| *b == b',').map(<[u8]>::trim_ascii);
                let first = fields.next().unwrap_or_default();
                let key = fields.next().unwrap_or(first);
                if let Some(size) = fields.next()
                    && integer(size).is_none()
                {
                    return Err(fail(format!("the size {:?} is not an integer", show(size))));
                }
                if key.is_empty() {
                    return Err(fail("empty key".into()));
                }
                let next_id = STRING_KEY | strings.len() as u64;
                keys.push(match integer(key) {
                    Some(k) if k < STRING_KEY => k,
                    _ => *strings.entry_ref(key).or_insert(next_id),
                });
            }
            Format::Bin32 | Format::Bin64 => unreachable!("binary formats have no lines"),
        }
    }
}

fn integer(field: &[u8]) -> Option<u64> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(format: Format, text: &str) -> Result<Vec<u64>, SimError> {
        parse(format, &mut text.as_bytes(), Path::new("t"))
    }

    #[test]
    fn arc_lines_expand_start_and_count() {
        assert_eq!(
            run(Format::Arc, "5 3 0 0\n\n1 1 9 9\n").expect("valid"),
            [5, 6, 7, 1]
        );
        let err = run(Format::Arc, "5 x 0 0\n").expect_err("bad count");
        assert!(err.to_string().starts_with("t:1:"), "{err}");
    }

    #[test]
    fn lirs_skips_stars_and_blank_lines() {
        assert_eq!(run(Format::Lirs, "1\n*\n\n 2 \n").expect("valid"), [1, 2]);
        assert!(run(Format::Lirs, "1\nabc\n").is_err());
    }

    #[test]
    fn text_takes_keys_or_timestamp_key_size_rows() {
        let keys = run(Format::Text, "a\n10,b,5\n11,a\n7\n").expect("valid");
        assert_eq!(keys[0], keys[2], "the same string is the same key");
        assert_ne!(keys[0], keys[1]);
        assert_eq!(keys[3], 7);
        assert!(keys[0] >= STRING_KEY);
        let err = run(Format::Text, "1,k,big\n").expect_err("bad size");
        assert!(err.to_string().contains("size"), "{err}");
    }

    #[test]
    fn binary_keys_are_little_endian_and_whole() {
        let mut bin = &[1u8, 0, 0, 0, 2, 1, 0, 0][..];
        assert_eq!(
            parse(Format::Bin32, &mut bin, Path::new("b")).expect("valid"),
            [1, 258]
        );
        let mut odd = &[1u8, 0, 0][..];
        assert!(matches!(
            parse(Format::Bin32, &mut odd, Path::new("b")),
            Err(SimError::TruncatedBinary { .. })
        ));
    }
}
