//! One unit of the writer thread's work: the changes of one batch, kept in
//! memory over the committed state and written as one atomic fjall batch;
//! the counters as they will be after it commits; and the entry operations
//! that keep the keyspaces consistent with each other.
//!
//! Invariant kept by every method here (and checked by
//! [`verify`](super::DiskTier::verify)): a key is in `index` iff it is in
//! `values`; `order` holds exactly one `seq → key` per `index` row, with the
//! row's seq; `expiry` holds `(expires_at_ms, key)` exactly for rows that
//! expire; `counters.bytes`/`entries` are the sum and count over `index`.
//!
//! # Why an overlay, not a fjall transaction
//!
//! An operation must see what the earlier ones of its batch did (a key put
//! twice, an entry evicted for a later put). fjall's single-writer
//! transactions do that, but keep their writes in a skip list of their own
//! and copy them into the memtables at commit: profiled, that doubled the
//! skip-list work of a put and capped batched puts near 70,000/s. The
//! writer is the store's only writer, so the committed state plus this
//! batch's last write per key *is* the batch's view; [`Pending`] holds
//! those writes in hash maps, and the commit hands fjall each key once
//! (a fjall batch must not hold two writes to one key: they would share a
//! sequence number).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use fjall::PersistMode;
use hashbrown::HashMap;

use super::store::Store;
use super::tables::{
    self, Counters, IndexEntry, META_BYTES, META_ENTRIES, META_NEXT_SEQ, NEVER, map_err,
};
use crate::tier::{KeyFilter, TierError, TierWrite};

/// Keys removed per commit by [`delete_matching`](Txn::delete_matching) and
/// [`clear`](Txn::clear): each step is atomic, and the memory a batch holds
/// stays bounded.
pub(super) const DELETE_STEP: usize = 4096;

/// Where the writer's searches of `order` and `expiry` start. Kept in memory
/// because an LSM tree keeps the tombstones of deleted rows until a
/// compaction drops them: a search from the first key would walk every
/// entry evicted since (docs/disk-engines.md measured 90 ms after 300,000
/// evictions), and every eviction would pay it. After a restart the first
/// search pays it once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Cursors {
    /// No `order` row has a seq below this.
    pub(super) order: u64,
    /// No `expiry` row sorts below this.
    pub(super) expiry: Vec<u8>,
}

/// The last write of this batch to each key of one keyspace: `Some(value)`
/// stored, `None` removed.
pub(super) type Pending = HashMap<Vec<u8>, Option<Vec<u8>>>;

/// This batch's changes, per keyspace, plus sorted views of the rows it
/// added to `order` and `expiry` (the eviction searches need them in order).
#[derive(Debug, Default)]
pub(super) struct Changes {
    values: Pending,
    index: Pending,
    order: Pending,
    expiry: Pending,
    tags: Pending,
    /// `order` rows added by this batch and still present.
    pub(super) added_order: BTreeMap<u64, String>,
    /// `expiry` rows added by this batch and still present.
    pub(super) added_expiry: BTreeSet<Vec<u8>>,
}

impl Changes {
    /// The changes to `ks`.
    fn of(&self, ks: Ks) -> &Pending {
        match ks {
            Ks::Values => &self.values,
            Ks::Index => &self.index,
            Ks::Order => &self.order,
            Ks::Expiry => &self.expiry,
            Ks::Tags => &self.tags,
        }
    }

    fn of_mut(&mut self, ks: Ks) -> &mut Pending {
        match ks {
            Ks::Values => &mut self.values,
            Ks::Index => &mut self.index,
            Ks::Order => &mut self.order,
            Ks::Expiry => &mut self.expiry,
            Ks::Tags => &mut self.tags,
        }
    }

    fn is_empty(&self) -> bool {
        self.values.is_empty()
            && self.index.is_empty()
            && self.order.is_empty()
            && self.expiry.is_empty()
            && self.tags.is_empty()
    }
}

/// The batch in progress, plus what it changed.
pub(super) struct Txn<'s> {
    pub(super) store: &'s Store,
    pub(super) changes: Changes,
    /// The counters as of the operations applied so far.
    pub(super) counters: Counters,
    /// The counters as last committed, to tell whether a commit has
    /// anything to write.
    committed: Counters,
    pub(super) cursors: Cursors,
    /// The injected clock's unix ms when the batch started: one "now" for the
    /// whole batch, so an entry cannot be live for one request and expired
    /// for the next within the same commit.
    pub(super) now_ms: u64,
    /// The byte budget.
    pub(super) max_bytes: u64,
    /// Entries removed for space in this batch.
    pub(super) evictions: u64,
    /// Expired entries removed in this batch.
    pub(super) expirations: u64,
    /// Eviction candidates read from committed `order` rows and not yet
    /// used: one range read serves many evictions (see
    /// [`evict`](super::evict)).
    pub(super) victims: VecDeque<(u64, String)>,
    /// Set by the fault-injection tests: commits that may still succeed.
    #[cfg(test)]
    pub(super) commits_left: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

/// What a committed batch leaves for the writer.
#[derive(Debug)]
pub(super) struct Committed {
    pub(super) counters: Counters,
    pub(super) cursors: Cursors,
    pub(super) evictions: u64,
    pub(super) expirations: u64,
}

/// Which keyspace a change is for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ks {
    Values,
    Index,
    Order,
    Expiry,
    Tags,
}

impl<'s> Txn<'s> {
    /// Starts a batch over the committed state.
    pub(super) fn open(
        store: &'s Store,
        counters: Counters,
        cursors: Cursors,
        now_ms: u64,
        max_bytes: u64,
    ) -> Self {
        Self {
            store,
            changes: Changes::default(),
            counters,
            committed: counters,
            cursors,
            now_ms,
            max_bytes,
            evictions: 0,
            expirations: 0,
            victims: VecDeque::new(),
            #[cfg(test)]
            commits_left: None,
        }
    }

    /// Commits the batch durably.
    pub(super) fn commit(mut self) -> Result<Committed, TierError> {
        self.commit_changes()?;
        Ok(Committed {
            counters: self.counters,
            cursors: self.cursors,
            evictions: self.evictions,
            expirations: self.expirations,
        })
    }

    /// Commits what this batch did so far and goes on with an empty one: for
    /// operations too large for one commit, and for those that read the
    /// committed state as their view.
    pub(super) fn checkpoint(&mut self) -> Result<(), TierError> {
        self.commit_changes()
    }

    fn commit_changes(&mut self) -> Result<(), TierError> {
        if self.changes.is_empty() && self.counters == self.committed {
            return Ok(());
        }
        let store = self.store;
        let changes = std::mem::take(&mut self.changes);
        let items = changes.values.len()
            + changes.index.len()
            + changes.order.len()
            + changes.expiry.len()
            + changes.tags.len()
            + 3;
        // SyncData is `fdatasync`: the journal is append-only, so syncing its
        // data (and length) is all a reopen needs; `put` promises durability.
        let mut batch = fjall::OwnedWriteBatch::with_capacity(store.db.clone(), items)
            .durability(Some(PersistMode::SyncData));
        for (keyspace, pending) in [
            (&store.values, changes.values),
            (&store.index, changes.index),
            (&store.order, changes.order),
            (&store.expiry, changes.expiry),
            (&store.tags, changes.tags),
        ] {
            for (key, value) in pending {
                match value {
                    Some(value) => batch.insert(keyspace, key, value),
                    None => batch.remove(keyspace, key),
                }
            }
        }
        let counters = self.counters;
        batch.insert(&store.meta, META_BYTES, &counters.bytes.to_le_bytes()[..]);
        batch.insert(
            &store.meta,
            META_ENTRIES,
            &counters.entries.to_le_bytes()[..],
        );
        batch.insert(
            &store.meta,
            META_NEXT_SEQ,
            &counters.next_seq.to_le_bytes()[..],
        );
        #[cfg(test)]
        if self.injected_failure() {
            return Err(TierError::Io {
                tier: tables::TIER.to_owned(),
                source: std::io::Error::other("injected commit failure"),
            });
        }
        batch.commit().map_err(map_err)?;
        self.committed = counters;
        Ok(())
    }

    /// Whether fault injection fails this commit.
    #[cfg(test)]
    fn injected_failure(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.commits_left.as_ref().is_some_and(|left| {
            left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| match n {
                0 | u64::MAX => None,
                n => Some(n - 1),
            })
            .is_err_and(|n| n == 0)
        })
    }

    fn pending(&mut self, ks: Ks) -> &mut Pending {
        self.changes.of_mut(ks)
    }

    /// Stores `value` under `key` in `ks`, in this batch.
    pub(super) fn set(&mut self, ks: Ks, key: &[u8], value: Vec<u8>) {
        self.pending(ks).insert(key.to_vec(), Some(value));
    }

    /// Removes `key` from `ks`, in this batch.
    pub(super) fn del(&mut self, ks: Ks, key: &[u8]) {
        self.pending(ks).insert(key.to_vec(), None);
    }

    /// Whether this batch removed `key` from `ks`.
    pub(super) fn removed(&self, ks: Ks, key: &[u8]) -> bool {
        matches!(self.changes.of(ks).get(key), Some(None))
    }

    /// What `index` says about `key`, as of this batch.
    pub(super) fn entry(&self, key: &str) -> Result<Option<IndexEntry>, TierError> {
        let record = match self.changes.index.get(key.as_bytes()) {
            Some(Some(record)) => return IndexEntry::decode(key.as_bytes(), record).map(Some),
            Some(None) => return Ok(None),
            None => self.store.index.get(key).map_err(map_err)?,
        };
        record
            .map(|record| IndexEntry::decode(key.as_bytes(), &record))
            .transpose()
    }

    /// Stores one write, replacing any previous entry under its key and
    /// evicting what the budget needs first. The caller has checked the size
    /// against `max_entry_bytes` (which is at most `max_bytes`).
    pub(super) fn put(&mut self, write: Record) -> Result<(), TierError> {
        let key = write.key.as_str();
        let size = write.size;
        // The old entry goes first: its bytes count towards the room, and
        // it must not be chosen as an eviction victim of its own replacement.
        self.remove(key)?;
        self.make_room(size)?;
        let expires_at_ms = write.expires_at_ms;
        let seq = self.take_seq();
        let entry = IndexEntry {
            seq,
            expires_at_ms,
            size,
        };
        self.set(Ks::Values, key.as_bytes(), write.record);
        self.set(Ks::Index, key.as_bytes(), entry.encode().to_vec());
        self.set(Ks::Order, &tables::order_key(seq), key.as_bytes().to_vec());
        self.changes.added_order.insert(seq, key.to_owned());
        if expires_at_ms != NEVER {
            let row = tables::expiry_key(expires_at_ms, key);
            self.set(Ks::Expiry, &row, Vec::new());
            // Keep the cursor at or below every row: an entry written with a
            // deadline already passed sorts before rows swept earlier.
            if row < self.cursors.expiry {
                self.cursors.expiry.clone_from(&row);
            }
            self.changes.added_expiry.insert(row);
        }
        self.counters.bytes += size;
        self.counters.entries += 1;
        Ok(())
    }

    /// Removes `key` from every keyspace; returns what its index said, or
    /// `None` if it was absent.
    pub(super) fn remove(&mut self, key: &str) -> Result<Option<IndexEntry>, TierError> {
        let Some(entry) = self.entry(key)? else {
            return Ok(None);
        };
        self.del(Ks::Values, key.as_bytes());
        self.del(Ks::Index, key.as_bytes());
        self.del(Ks::Order, &tables::order_key(entry.seq));
        self.changes.added_order.remove(&entry.seq);
        if entry.expires_at_ms != NEVER {
            let row = tables::expiry_key(entry.expires_at_ms, key);
            self.del(Ks::Expiry, &row);
            self.changes.added_expiry.remove(&row);
        }
        // Saturating: the counters come from the store, and a damaged store
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
    /// (from the filter's literal prefix onwards), in atomic steps of
    /// [`DELETE_STEP`]; returns how many.
    pub(super) fn delete_matching(&mut self, filter: &KeyFilter) -> Result<u64, TierError> {
        // The search reads committed keys: commit what the batch did so far,
        // so that the committed state is the batch's view.
        self.checkpoint()?;
        let mut from = filter.literal_prefix().as_bytes().to_vec();
        let mut inclusive = true;
        let mut removed = 0;
        loop {
            let Matches { keys, last, done } = self.matching_keys(filter, &from, inclusive)?;
            removed += self.delete(&keys)?;
            self.checkpoint()?;
            match last {
                Some(last) if !done => {
                    from = last;
                    inclusive = false;
                }
                _ => return Ok(removed),
            }
        }
    }

    /// What `filter` selects among up to [`DELETE_STEP`] committed keys of
    /// `index` from `from` on.
    fn matching_keys(
        &self,
        filter: &KeyFilter,
        from: &[u8],
        inclusive: bool,
    ) -> Result<Matches, TierError> {
        use std::ops::Bound;
        let prefix = filter.literal_prefix().as_bytes();
        let start: Bound<&[u8]> = if inclusive {
            Bound::Included(from)
        } else {
            Bound::Excluded(from)
        };
        let mut keys = Vec::new();
        let mut last = None;
        let mut looked = 0;
        for guard in self
            .store
            .index
            .range::<&[u8], _>((start, Bound::Unbounded))
        {
            let raw = guard.key().map_err(map_err)?;
            if !raw.starts_with(prefix) {
                return Ok(Matches {
                    keys,
                    last,
                    done: true,
                });
            }
            let key = tables::utf8(&raw)?;
            if filter.matches(&key) {
                keys.push(key);
            }
            last = Some(raw.to_vec());
            looked += 1;
            if looked == DELETE_STEP {
                return Ok(Matches {
                    keys,
                    last,
                    done: false,
                });
            }
        }
        Ok(Matches {
            keys,
            last,
            done: true,
        })
    }

    /// Removes every entry, keeping tag epochs and the sequence counter;
    /// returns how many entries there were.
    pub(super) fn clear(&mut self) -> Result<u64, TierError> {
        self.delete_matching(&KeyFilter::All)
    }

    /// The epoch of `tag` as of this batch.
    fn tag_epoch(&self, tag: &str) -> Result<u64, TierError> {
        let record = match self.changes.tags.get(tag.as_bytes()) {
            Some(change) => change.clone(),
            None => self
                .store
                .tags
                .get(tag)
                .map_err(map_err)?
                .map(|v| v.to_vec()),
        };
        record.map_or(Ok(0), |value| tables::decode_u64(tag.as_bytes(), &value))
    }

    /// Adds one to the epoch of `tag`; returns the new epoch.
    pub(super) fn bump_tag(&mut self, tag: &str) -> Result<u64, TierError> {
        // Saturating: 2^64 bumps are out of reach; if a damaged store says
        // otherwise, staying at the maximum never lowers the epoch.
        let next = self.tag_epoch(tag)?.saturating_add(1);
        self.set(Ks::Tags, tag.as_bytes(), next.to_le_bytes().to_vec());
        Ok(next)
    }

    /// Raises the epoch of `tag` to `epoch` if it is lower.
    pub(super) fn raise_tag(&mut self, tag: &str, epoch: u64) -> Result<(), TierError> {
        if epoch > self.tag_epoch(tag)? {
            self.set(Ks::Tags, tag.as_bytes(), epoch.to_le_bytes().to_vec());
        }
        Ok(())
    }

    /// Writes the layout version (for a new store).
    pub(super) fn write_format(&mut self, version: u64) -> Result<(), TierError> {
        let mut batch = fjall::OwnedWriteBatch::with_capacity(self.store.db.clone(), 1)
            .durability(Some(PersistMode::SyncData));
        batch.insert(
            &self.store.meta,
            tables::META_FORMAT,
            &version.to_le_bytes()[..],
        );
        batch.commit().map_err(map_err)
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

/// One write as the writer stores it: framed by the caller (see
/// [`tables::encode_value`]) so that the writer thread only moves it.
#[derive(Debug)]
pub(super) struct Record {
    pub(super) key: String,
    /// The `values` record: expiry header and envelope.
    pub(super) record: Vec<u8>,
    /// [`NEVER`] for no expiry.
    pub(super) expires_at_ms: u64,
    /// [`entry_size`] of the write.
    pub(super) size: u64,
}

impl Record {
    pub(super) fn new(write: TierWrite) -> Self {
        let size = entry_size(&write);
        let expires_at_ms = write.expires_at_ms.unwrap_or(NEVER);
        Self {
            record: tables::encode_value(expires_at_ms, &write.bytes),
            key: write.key,
            expires_at_ms,
            size,
        }
    }
}

/// One step of [`Txn::delete_matching`]'s search.
struct Matches {
    /// The keys the filter selects.
    keys: Vec<String>,
    /// The last key looked at, selected or not.
    last: Option<Vec<u8>>,
    /// Whether the range is exhausted.
    done: bool,
}

/// The logical size of a write: key plus envelope, the unit of `max_bytes`.
pub(super) fn entry_size(write: &TierWrite) -> u64 {
    (write.key.len() as u64).saturating_add(write.bytes.len() as u64)
}
