//! The simulator's errors.

use std::io;
use std::path::PathBuf;

/// Why a trace could not be read or a replay could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The trace file could not be opened or read (or decompressed).
    #[error("cannot read trace {path}: {source}")]
    Io {
        /// The trace file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A line of a text trace does not have the expected form.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The trace file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// What was wrong.
        message: String,
    },
    /// A binary trace's length is not a multiple of its key size.
    #[error("{path}: {len} bytes is not a whole number of {width}-byte keys")]
    TruncatedBinary {
        /// The trace file.
        path: PathBuf,
        /// Its decompressed length.
        len: u64,
        /// The key width in bytes.
        width: usize,
    },
    /// The trace holds no requests.
    #[error("{0}: the trace holds no requests")]
    Empty(PathBuf),
    /// A cache could not be built for the replay.
    #[error("cannot build a cache of capacity {capacity}: {message}")]
    Cache {
        /// The capacity asked for.
        capacity: u64,
        /// Why it failed.
        message: String,
    },
}
