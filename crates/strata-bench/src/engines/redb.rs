//! redb 4: the three tables as typed tables of one database file.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ::redb::{
    Builder, Database, Durability, ReadableDatabase as _, ReadableTable as _, TableDefinition,
};

use super::{DiskEngine, EngineOptions, Opened, PutEntry, value_size};

/// Key → envelope bytes.
const VALUES: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("values");
/// Key → (seq, expiry ms, size). A tuple, because redb stores typed values
/// and decoding one is what the disk tier would do anyway.
const META: TableDefinition<'_, &str, (u64, u64, u32)> = TableDefinition::new("meta");
/// Seq → key, in eviction order. `u64` keys sort numerically in redb.
const ORDER: TableDefinition<'_, u64, &str> = TableDefinition::new("order");

/// The file name of the store inside the engine's directory.
const FILE_NAME: &str = "store.redb";

/// redb behind [`DiskEngine`].
pub(super) struct RedbEngine {
    db: Database,
    /// Whether every write transaction saves the allocator state (2-phase
    /// commit) so that a crash needs no full repair.
    quick_repair: bool,
}

impl RedbEngine {
    /// Opens or creates `dir/store.redb`.
    pub(super) fn open(
        dir: &Path,
        options: &EngineOptions,
        quick_repair: bool,
    ) -> anyhow::Result<Opened> {
        let mut builder = Builder::new();
        if let Some(bytes) = options.cache_bytes {
            builder.set_cache_size(usize::try_from(bytes)?);
        }
        // The callback runs only when the open must repair the file (an
        // unclean end without a saved allocator state): the only way redb
        // tells the caller that it repaired.
        let repaired = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&repaired);
        builder.set_repair_callback(move |_session| flag.store(true, Ordering::Relaxed));
        let db = builder.create(dir.join(FILE_NAME))?;
        let repaired = repaired.load(Ordering::Relaxed);
        Ok(Opened {
            engine: Box::new(Self { db, quick_repair }),
            repaired: Some(repaired),
        })
    }

    /// Begins a write transaction with this engine's commit settings.
    fn begin_write(&self) -> anyhow::Result<::redb::WriteTransaction> {
        let mut txn = self.db.begin_write()?;
        // Immediate is redb's default; set anyway, because the comparison
        // depends on it: commit returns after fdatasync.
        txn.set_durability(Durability::Immediate)?;
        txn.set_quick_repair(self.quick_repair);
        Ok(txn)
    }
}

impl DiskEngine for RedbEngine {
    fn put_batch(&self, entries: &[PutEntry<'_>]) -> anyhow::Result<()> {
        let txn = self.begin_write()?;
        {
            let mut values = txn.open_table(VALUES)?;
            let mut meta = txn.open_table(META)?;
            let mut order = txn.open_table(ORDER)?;
            for entry in entries {
                values.insert(entry.key, entry.value)?;
                meta.insert(entry.key, (entry.seq, entry.expiry_ms, value_size(entry)))?;
                order.insert(entry.seq, entry.key)?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    fn get(&self, key: &str) -> anyhow::Result<Option<usize>> {
        // One read transaction per get, as the disk tier serves independent
        // requests; the transaction is a snapshot and costs a few atomics.
        let txn = self.db.begin_read()?;
        let values = txn.open_table(VALUES)?;
        Ok(values.get(key)?.map(|guard| {
            let bytes = std::hint::black_box(guard.value());
            bytes.len()
        }))
    }

    fn evict_oldest(&self, from_seq: u64, count: usize) -> anyhow::Result<(usize, Option<u64>)> {
        let txn = self.begin_write()?;
        let mut last = None;
        let mut deleted = 0;
        {
            let mut values = txn.open_table(VALUES)?;
            let mut meta = txn.open_table(META)?;
            let mut order = txn.open_table(ORDER)?;
            // Collected first: the range borrows `order`, which the removals
            // below need mutably.
            let victims = order
                .range(from_seq..)?
                .take(count)
                .map(|item| item.map(|(seq, key)| (seq.value(), key.value().to_owned())))
                .collect::<Result<Vec<_>, _>>()?;
            for (seq, key) in &victims {
                order.remove(seq)?;
                values.remove(key.as_str())?;
                meta.remove(key.as_str())?;
                last = Some(*seq);
                deleted += 1;
            }
        }
        txn.commit()?;
        Ok((deleted, last))
    }

    fn oldest_seq(&self) -> anyhow::Result<Option<u64>> {
        let txn = self.db.begin_read()?;
        let order = txn.open_table(ORDER)?;
        Ok(order.first()?.map(|(seq, _key)| seq.value()))
    }

    fn count_prefix(&self, prefix: &str) -> anyhow::Result<usize> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        let mut count = 0;
        for item in meta.range(prefix..)? {
            let (key, _meta) = item?;
            if !key.value().starts_with(prefix) {
                break;
            }
            count += 1;
        }
        Ok(count)
    }

    fn reclaim(&mut self) -> anyhow::Result<()> {
        // compact() needs `&mut Database` and no live transaction: in the
        // disk tier it stops every read and write while it runs.
        self.db.compact()?;
        Ok(())
    }

    fn space_detail(&self) -> anyhow::Result<String> {
        // Statistics come from a write transaction, aborted: it writes nothing.
        let txn = self.db.begin_write()?;
        let stats = txn.stats()?;
        txn.abort()?;
        let mb = |bytes: u64| bytes as f64 / 1e6;
        Ok(format!(
            "stored {:.0} MB, metadata {:.0} MB, fragmented and free {:.0} MB, \
             {} pages allocated, tree height {}",
            mb(stats.stored_bytes()),
            mb(stats.metadata_bytes()),
            mb(stats.fragmented_bytes()),
            stats.allocated_pages(),
            stats.tree_height(),
        ))
    }

    fn close(self: Box<Self>) -> anyhow::Result<()> {
        // Dropping the database is redb's clean shutdown: it saves the
        // allocator state and clears the "recovery required" flag.
        drop(self);
        Ok(())
    }
}
