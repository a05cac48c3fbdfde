//! The open fjall database and its keyspaces, and reads of committed state
//! that both the readers and the writer need.

use std::path::Path;

use fjall::{
    CompressionType, Database, Keyspace, KeyspaceCreateOptions, KvSeparationOptions, Readable,
};

use super::tables::{
    self, Counters, EXPIRY, INDEX, META, META_BYTES, META_ENTRIES, META_NEXT_SEQ, ORDER, TAGS,
    VALUES, map_err,
};
use crate::tier::TierError;

/// The database and one handle per keyspace of [`tables`].
pub(super) struct Store {
    pub(super) db: Database,
    pub(super) values: Keyspace,
    pub(super) index: Keyspace,
    pub(super) order: Keyspace,
    pub(super) expiry: Keyspace,
    pub(super) tags: Keyspace,
    pub(super) meta: Keyspace,
}

/// How the database is opened; from the builder.
#[derive(Debug, Clone, Copy)]
pub(super) struct StoreOptions {
    pub(super) cache_bytes: u64,
    pub(super) max_journal_bytes: u64,
    pub(super) worker_threads: usize,
}

impl Store {
    /// Opens (or creates) the database in the directory `path`. Recovery of
    /// an unclean end is fjall's journal replay, bounded by
    /// `max_journal_bytes`; no value is read.
    ///
    /// # Errors
    /// fjall's error, unmapped, so that the caller can tell a damaged store
    /// ([`is_damage`]) from one it cannot open for other reasons.
    pub(super) fn open(path: &Path, options: StoreOptions) -> Result<Self, fjall::Error> {
        let db = Database::builder(path)
            .cache_size(options.cache_bytes)
            .max_journaling_size(options.max_journal_bytes)
            .worker_threads(options.worker_threads)
            .open()?;
        let plain = KeyspaceCreateOptions::default;
        // Envelopes go to blob files, which compactions of the key tree do
        // not rewrite: with 1 KiB values this lifted the load rate from
        // 80,665 to 93,855 puts/s and cut the disk used after a load from
        // 1,393 to 784 MB (docs/disk-engines.md, `fjall-kv`). Records below
        // lsm-tree's default threshold (1 KiB, the 8-byte expiry header
        // included) stay inline, where a blob pointer would cost as much as
        // the value.
        let values = db.keyspace(VALUES, || {
            KeyspaceCreateOptions::default().with_kv_separation(Some(
                // Uncompressed: Strata compresses envelopes already when
                // that pays, so lz4 in fjall's worker would spend CPU
                // (which the writer needs, on two cores) for nothing.
                KvSeparationOptions::default().compression(CompressionType::None),
            ))
        })?;
        Ok(Self {
            index: db.keyspace(INDEX, plain)?,
            order: db.keyspace(ORDER, plain)?,
            expiry: db.keyspace(EXPIRY, plain)?,
            tags: db.keyspace(TAGS, plain)?,
            meta: db.keyspace(META, plain)?,
            values,
            db,
        })
    }
}

/// Whether an error of [`Store::open`] says the files are damaged (a
/// checksum that does not match, a record that does not decode), as opposed
/// to a store that is locked by another process or a directory that cannot
/// be read.
pub(super) fn is_damage(error: &fjall::Error) -> bool {
    matches!(
        error,
        fjall::Error::JournalRecovery(_)
            | fjall::Error::InvalidVersion(_)
            | fjall::Error::Decompress(_)
            | fjall::Error::InvalidTrailer
            | fjall::Error::InvalidTag(_)
            | fjall::Error::Unrecoverable
    ) || matches!(error, fjall::Error::Storage(inner) if !matches!(inner, fjall::LsmError::Io(_)))
}

/// The u64 under `name` in `meta`, as `reader` (a snapshot) sees it.
pub(super) fn read_meta(
    reader: &impl Readable,
    store: &Store,
    name: &str,
) -> Result<Option<u64>, TierError> {
    reader
        .get(&store.meta, name)
        .map_err(map_err)?
        .map(|value| tables::decode_u64(name.as_bytes(), &value))
        .transpose()
}

/// The counters as `reader` (a snapshot) sees them (zero for a new store).
pub(super) fn read_counters(reader: &impl Readable, store: &Store) -> Result<Counters, TierError> {
    let read = |name| Ok::<_, TierError>(read_meta(reader, store, name)?.unwrap_or(0));
    Ok(Counters {
        bytes: read(META_BYTES)?,
        entries: read(META_ENTRIES)?,
        next_seq: read(META_NEXT_SEQ)?,
    })
}

/// The epoch of `tag` as `reader` (a snapshot) sees it (0 if never bumped).
pub(super) fn read_tag(reader: &impl Readable, store: &Store, tag: &str) -> Result<u64, TierError> {
    Ok(reader
        .get(&store.tags, tag)
        .map_err(map_err)?
        .map(|value| tables::decode_u64(tag.as_bytes(), &value))
        .transpose()?
        .unwrap_or(0))
}
