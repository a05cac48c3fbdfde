//! One write transaction of the writer thread: the tables opened together,
//! the counters as they will be after the commit, and the entry operations
//! that keep the tables consistent with each other.
//!
//! Invariant kept by every method here (and checked by
//! [`verify`](super::DiskTier::verify)): a key is in `index` iff it is in
//! `values`; `order` holds exactly one `seq → key` per `index` row, with the
//! row's seq; `expiry` holds `(expires_at_ms, key)` exactly for rows that
//! expire; `counters.bytes`/`entries` are the sum and count over `index`.

use redb::{ReadableTable, Table, WriteTransaction};

use super::tables::{
    self, Counters, EXPIRY, INDEX, IndexEntry, META, NEVER, ORDER, TAGS, VALUES, map_err,
};
use crate::tier::{KeyFilter, TierError, TierWrite};

/// The open tables of one write transaction, plus what the batch changed.
pub(super) struct Txn<'t> {
    pub(super) values: Table<'t, &'static str, &'static [u8]>,
    pub(super) index: Table<'t, &'static str, (u64, u64, u64)>,
    pub(super) order: Table<'t, u64, &'static str>,
    pub(super) expiry: Table<'t, (u64, &'static str), ()>,
    tags: Table<'t, &'static str, u64>,
    meta: Table<'t, &'static str, u64>,
    /// The counters as of the operations applied so far.
    pub(super) counters: Counters,
    /// The injected clock's unix ms when the batch started: one "now" for the
    /// whole transaction, so an entry cannot be live for one request and
    /// expired for the next within the same commit.
    pub(super) now_ms: u64,
    /// The byte budget.
    pub(super) max_bytes: u64,
    /// Entries removed for space in this transaction.
    pub(super) evictions: u64,
    /// Expired entries removed in this transaction.
    pub(super) expirations: u64,
}

impl<'t> Txn<'t> {
    /// Opens every table in `txn` (creating missing ones).
    pub(super) fn open(
        txn: &'t WriteTransaction,
        counters: Counters,
        now_ms: u64,
        max_bytes: u64,
    ) -> Result<Self, TierError> {
        Ok(Self {
            values: txn.open_table(VALUES).map_err(map_err)?,
            index: txn.open_table(INDEX).map_err(map_err)?,
            order: txn.open_table(ORDER).map_err(map_err)?,
            expiry: txn.open_table(EXPIRY).map_err(map_err)?,
            tags: txn.open_table(TAGS).map_err(map_err)?,
            meta: txn.open_table(META).map_err(map_err)?,
            counters,
            now_ms,
            max_bytes,
            evictions: 0,
            expirations: 0,
        })
    }

    /// Writes the counters into `meta` and closes the tables, so the caller
    /// can commit. Returns the counters to publish once the commit succeeds.
    pub(super) fn finish(mut self) -> Result<Counters, TierError> {
        self.counters.store(&mut self.meta)?;
        Ok(self.counters)
    }

    /// Stores one write, replacing any previous entry under its key and
    /// evicting what the budget needs first. The caller has checked the size
    /// against `max_entry_bytes` (which is at most `max_bytes`).
    pub(super) fn put(&mut self, write: &TierWrite) -> Result<(), TierError> {
        let key = write.key.as_str();
        let size = entry_size(write);
        // The old entry goes first: its bytes count towards the room, and
        // it must not be chosen as an eviction victim of its own replacement.
        self.remove(key)?;
        self.make_room(size)?;
        let expires_at_ms = write.expires_at_ms.unwrap_or(NEVER);
        let seq = self.take_seq();
        let record = tables::encode_value(expires_at_ms, &write.bytes);
        self.values
            .insert(key, record.as_slice())
            .map_err(map_err)?;
        let entry = IndexEntry {
            seq,
            expires_at_ms,
            size,
        };
        self.index.insert(key, entry.to_tuple()).map_err(map_err)?;
        self.order.insert(seq, key).map_err(map_err)?;
        if expires_at_ms != NEVER {
            self.expiry
                .insert((expires_at_ms, key), ())
                .map_err(map_err)?;
        }
        self.counters.bytes += size;
        self.counters.entries += 1;
        Ok(())
    }

    /// Removes `key` from every table; returns what its index said, or `None`
    /// if it was absent.
    pub(super) fn remove(&mut self, key: &str) -> Result<Option<IndexEntry>, TierError> {
        let Some(entry) = self
            .index
            .remove(key)
            .map_err(map_err)?
            .map(|guard| IndexEntry::from_tuple(guard.value()))
        else {
            return Ok(None);
        };
        self.values.remove(key).map_err(map_err)?;
        self.order.remove(entry.seq).map_err(map_err)?;
        if entry.expires_at_ms != NEVER {
            self.expiry
                .remove((entry.expires_at_ms, key))
                .map_err(map_err)?;
        }
        // Saturating: the counters come from the file, and a damaged file
        // must not make the writer panic; verify() reports the mismatch.
        self.counters.bytes = self.counters.bytes.saturating_sub(entry.size);
        self.counters.entries = self.counters.entries.saturating_sub(1);
        Ok(Some(entry))
    }

    /// Removes every key of `keys` present; returns how many were.
    pub(super) fn delete(&mut self, keys: &[String]) -> Result<u64, TierError> {
        let mut removed = 0;
        for key in keys {
            if self.remove(key)?.is_some() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes every key `filter` selects, reading keys from `index` only
    /// (from the filter's literal prefix onwards); returns how many.
    pub(super) fn delete_matching(&mut self, filter: &KeyFilter) -> Result<u64, TierError> {
        let prefix = filter.literal_prefix();
        let mut keys = Vec::new();
        for row in self.index.range::<&str>(prefix..).map_err(map_err)? {
            let (key, _) = row.map_err(map_err)?;
            let key = key.value();
            if !key.starts_with(prefix) {
                break;
            }
            if filter.matches(key) {
                keys.push(key.to_owned());
            }
        }
        self.delete(&keys)
    }

    /// Removes every entry, keeping tag epochs and the sequence counter;
    /// returns how many entries there were.
    pub(super) fn clear(&mut self) -> Result<u64, TierError> {
        let removed = self.counters.entries;
        // retain(false) rewrites each table once; per-key removal would
        // descend the tree for every key.
        self.values.retain(|_, _| false).map_err(map_err)?;
        self.index.retain(|_, _| false).map_err(map_err)?;
        self.order.retain(|_, _| false).map_err(map_err)?;
        self.expiry.retain(|_, _| false).map_err(map_err)?;
        self.counters.bytes = 0;
        self.counters.entries = 0;
        Ok(removed)
    }

    /// Adds one to the epoch of `tag`; returns the new epoch.
    pub(super) fn bump_tag(&mut self, tag: &str) -> Result<u64, TierError> {
        let current = self.tag_epoch(tag)?;
        // Saturating: 2^64 bumps are out of reach; if a damaged file says
        // otherwise, staying at the maximum never lowers the epoch.
        let next = current.saturating_add(1);
        self.tags.insert(tag, next).map_err(map_err)?;
        Ok(next)
    }

    /// Raises the epoch of `tag` to `epoch` if it is lower.
    pub(super) fn raise_tag(&mut self, tag: &str, epoch: u64) -> Result<(), TierError> {
        if epoch > self.tag_epoch(tag)? {
            self.tags.insert(tag, epoch).map_err(map_err)?;
        }
        Ok(())
    }

    fn tag_epoch(&self, tag: &str) -> Result<u64, TierError> {
        Ok(self
            .tags
            .get(tag)
            .map_err(map_err)?
            .map_or(0, |guard| guard.value()))
    }

    /// The next sequence number (the back of the eviction order).
    pub(super) fn take_seq(&mut self) -> u64 {
        let seq = self.counters.next_seq;
        // 2^64 writes and reads are out of reach; saturating only keeps a
        // damaged counter from panicking (verify() would report the reuse).
        self.counters.next_seq = seq.saturating_add(1);
        seq
    }
}

/// The logical size of a write: key plus envelope, the unit of `max_bytes`.
pub(super) fn entry_size(write: &TierWrite) -> u64 {
    (write.key.len() as u64).saturating_add(write.bytes.len() as u64)
}
