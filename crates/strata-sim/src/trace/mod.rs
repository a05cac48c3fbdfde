//! Reading access traces: every format of `../shared/traces/README.md`, plus
//! plain text for traces users bring, compressed or not.
//!
//! | format | content |
//! | --- | --- |
//! | `arc` | ARC `.lis`: lines `start count ignored seq`, each expanding to keys `start .. start+count` |
//! | `lirs` | one integer key per line; `*` and empty lines skipped |
//! | `bin32`, `bin64` | little-endian 32- or 64-bit integer keys, back to back |
//! | `text` | lines `key` or `timestamp,key[,size]`; keys are integers or any string |
//!
//! Compression is recognised by its magic bytes, not the file name: zstd,
//! gzip and xz are read directly; anything else is read as is.

mod decompress;
mod parse;

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::SimError;

/// A trace's on-disk format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// ARC `.lis` (start/count runs).
    Arc,
    /// One integer per line, `*` lines skipped (LIRS traces).
    Lirs,
    /// Little-endian 32-bit keys.
    Bin32,
    /// Little-endian 64-bit keys.
    Bin64,
    /// `key` or `timestamp,key[,size]` per line.
    Text,
}

impl Format {
    /// Every format, with its name.
    pub const ALL: [(Format, &'static str); 5] = [
        (Format::Arc, "arc"),
        (Format::Lirs, "lirs"),
        (Format::Bin32, "bin32"),
        (Format::Bin64, "bin64"),
        (Format::Text, "text"),
    ];

    /// The format's name, as accepted by [`FromStr`].
    pub fn name(self) -> &'static str {
        Format::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("?", |(_, n)| n)
    }

    /// Guesses the format from the file name and the first decompressed
    /// bytes: `.lis` names are ARC; printable content is `text` if it has
    /// commas or non-numeric keys, else `lirs`; anything else is `bin32`
    /// (pass `bin64` explicitly for 64-bit keys).
    pub fn detect(path: &Path, head: &[u8]) -> Format {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if name.contains(".lis") {
            return Format::Arc;
        }
        let printable = |b: &u8| b.is_ascii_graphic() || b.is_ascii_whitespace();
        if head.is_empty() || !head.iter().all(printable) {
            return Format::Bin32;
        }
        let numeric = |b: &u8| b.is_ascii_digit() || b.is_ascii_whitespace() || *b == b'*';
        if head.iter().all(numeric) {
            Format::Lirs
        } else {
            Format::Text
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not one of [`Format::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown trace format {0:?}: expected auto, arc, lirs, bin32, bin64 or text")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(s))
            .map(|(f, _)| *f)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// A trace loaded into memory: the keys requested, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// A short name (the file name without compression and format suffixes).
    pub name: String,
    /// The format it was read as.
    pub format: Format,
    /// The requested keys.
    pub keys: Vec<u64>,
}

impl Trace {
    /// Number of distinct keys.
    pub fn distinct(&self) -> usize {
        let mut seen = hashbrown::HashSet::with_capacity(self.keys.len() / 4);
        self.keys.iter().filter(|k| seen.insert(**k)).count()
    }
}

/// Reads the trace at `path`, detecting the format when `format` is `None`.
///
/// # Errors
/// [`SimError::Io`] if the file cannot be read or decompressed,
/// [`SimError::Parse`] or [`SimError::TruncatedBinary`] if its content does
/// not fit the format, [`SimError::Empty`] if it holds no requests.
pub fn read(path: &Path, format: Option<Format>) -> Result<Trace, SimError> {
    let io = |source| SimError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let mut reader = decompress::open(BufReader::with_capacity(1 << 16, file)).map_err(io)?;
    let format = match format {
        Some(f) => f,
        None => Format::detect(path, reader.fill_buf().map_err(io)?),
    };
    let keys = parse::parse(format, reader.as_mut(), path)?;
    if keys.is_empty() {
        return Err(SimError::Empty(path.to_owned()));
    }
    Ok(Trace {
        name: short_name(path),
        format,
        keys,
    })
}

fn short_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| PathBuf::from(path).display().to_string());
    name.split('.').next().unwrap_or(&name).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_detected_from_name_and_content() {
        let p = Path::new;
        assert_eq!(Format::detect(p("OLTP.lis.zst"), b"1 2 0 0\n"), Format::Arc);
        assert_eq!(Format::detect(p("a.trace"), b"1\n2\n*\n3\n"), Format::Lirs);
        assert_eq!(Format::detect(p("a.csv"), b"17,user:1,30\n"), Format::Text);
        assert_eq!(Format::detect(p("a.txt"), b"alpha\nbeta\n"), Format::Text);
        assert_eq!(
            Format::detect(p("w.trace"), &[0xca, 0xce, 0x0d, 0]),
            Format::Bin32
        );
        assert_eq!(short_name(p("/x/OLTP.lis.zst")), "OLTP");
    }

    #[test]
    fn format_names_round_trip() {
        for (format, name) in Format::ALL {
            assert_eq!(name.parse::<Format>(), Ok(format));
            assert_eq!(format.to_string(), name);
        }
        assert!("parquet".parse::<Format>().is_err());
    }
}
