//! fjall 3: the three tables as keyspaces of one database, written by
//! cross-keyspace atomic write batches.

use std::path::Path;

use ::fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use anyhow::Context as _;

use super::{DiskEngine, EngineOptions, Opened, PutEntry, encode_meta};

/// fjall behind [`DiskEngine`].
pub(super) struct FjallEngine {
    db: Database,
    /// Key → envelope bytes.
    values: Keyspace,
    /// Key → (seq, expiry ms, size), encoded by [`encode_meta`].
    meta: Keyspace,
    /// Seq (big-endian, so byte order is numeric order) → key.
    order: Keyspace,
}

/// The durability of every batch. redb's `Durability::Immediate` ends in
/// `fdatasync` (`File::sync_data`), so fjall's equivalent is `SyncData`, not
/// `SyncAll` (`fsync`): the journal is appended to, and `fdatasync` already
/// syncs the file length it needs to be read back.
const PERSIST: PersistMode = PersistMode::SyncData;

impl FjallEngine {
    /// Opens or creates the database in `dir`, with default keyspace options
    /// (64 MiB memtables, leveled compaction, LZ4 from level 2 on, no
    /// key-value separation). `max_journal` caps the journals (default:
    /// fjall's 512 MiB).
    pub(super) fn open(
        dir: &Path,
        options: &EngineOptions,
        max_journal: Option<u64>,
        kv_separation: bool,
    ) -> anyhow::Result<Opened> {
        let mut builder = Database::builder(dir);
        if let Some(bytes) = options.cache_bytes {
            builder = builder.cache_size(bytes);
        }
        if let Some(bytes) = max_journal {
            builder = builder.max_journaling_size(bytes);
        }
        let db = builder.open().context("opening fjall")?;
        let values = db.keyspace("values", || {
            KeyspaceCreateOptions::default()
                .with_kv_separation(kv_separation.then(::fjall::KvSeparationOptions::default))
        })?;
        let meta = db.keyspace("meta", KeyspaceCreateOptions::default)?;
        let order = db.keyspace("order", KeyspaceCreateOptions::default)?;
        Ok(Opened {
            engine: Box::new(Self {
                db,
                values,
                meta,
                order,
            }),
            // fjall recovers the same way after a clean or an unclean end
            // (it replays the journal of unflushed memtables), and reports
            // neither.
            repaired: None,
        })
    }
}

/// The seq stored as an `order` key.
fn seq_of(key: &[u8]) -> anyhow::Result<u64> {
    let bytes: [u8; 8] = key.try_into().context("order key is not 8 bytes")?;
    Ok(u64::from_be_bytes(bytes))
}

impl DiskEngine for FjallEngine {
    fn put_batch(&self, entries: &[PutEntry<'_>]) -> anyhow::Result<()> {
        // Three items per entry, one for each keyspace.
        let mut batch = ::fjall::OwnedWriteBatch::with_capacity(self.db.clone(), entries.len() * 3)
            .durability(Some(PERSIST));
        for entry in entries {
            batch.insert(&self.values, entry.key, entry.value);
            batch.insert(&self.meta, entry.key, &encode_meta(entry)[..]);
            batch.insert(&self.order, &entry.seq.to_be_bytes()[..], entry.key);
        }
        batch.commit()?;
        Ok(())
    }

    fn get(&self, key: &str) -> anyhow::Result<Option<usize>> {
        Ok(self.values.get(key)?.map(|value| {
            let bytes: &[u8] = std::hint::black_box(&value);
            bytes.len()
        }))
    }

    fn evict_oldest(&self, from_seq: u64, count: usize) -> anyhow::Result<(usize, Option<u64>)> {
        let mut victims = Vec::with_capacity(count);
        for guard in self.order.range(from_seq.to_be_bytes()..).take(count) {
            let (seq, key) = guard.into_inner()?;
            victims.push((seq, key));
        }
        let mut batch = ::fjall::OwnedWriteBatch::with_capacity(self.db.clone(), victims.len() * 3)
            .durability(Some(PERSIST));
        let mut last = None;
        for (seq, key) in &victims {
            batch.remove(&self.order, seq.clone());
            batch.remove(&self.values, key.clone());
            batch.remove(&self.meta, key.clone());
            last = Some(seq_of(seq)?);
        }
        batch.commit()?;
        Ok((victims.len(), last))
    }

    fn oldest_seq(&self) -> anyhow::Result<Option<u64>> {
        match self.order.first_key_value() {
            Some(guard) => Ok(Some(seq_of(&guard.key()?)?)),
            None => Ok(None),
        }
    }

    fn count_prefix(&self, prefix: &str) -> anyhow::Result<usize> {
        let mut count = 0;
        for guard in self.meta.prefix(prefix) {
            // Reading the key is what surfaces an I/O error of the scan.
            guard.key()?;
            count += 1;
        }
        Ok(count)
    }

    fn reclaim(&mut self) -> anyhow::Result<()> {
        // fjall 3.1 has no public "compact now": space comes back through its
        // background compactions. These two calls are `#[doc(hidden)]` (used
        // by fjall's own tests): flush the memtable holding the tombstones,
        // then merge every level, which drops deleted entries.
        for keyspace in [&self.values, &self.meta, &self.order] {
            keyspace.rotate_memtable_and_wait()?;
            keyspace.major_compact()?;
        }
        Ok(())
    }

    fn space_detail(&self) -> anyhow::Result<String> {
        let mb = |bytes: u64| bytes as f64 / 1e6;
        Ok(format!(
            "keyspaces values {:.0} MB, meta {:.0} MB, order {:.0} MB; {} journal file(s)",
            mb(self.values.disk_space()),
            mb(self.meta.disk_space()),
            mb(self.order.disk_space()),
            self.db.journal_count(),
        ))
    }

    fn close(self: Box<Self>) -> anyhow::Result<()> {
        // Dropping the database is fjall's clean shutdown: it stops the
        // background workers and syncs the journal (memtables are not
        // flushed; the next open replays them from the journal).
        drop(self);
        Ok(())
    }
}
