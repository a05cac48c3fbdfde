//! Lower tiers for the tiered-cache tests: a store whose faults are switched
//! on by the test (what a real disk cannot do on demand), and a gate that
//! holds a real tier's reads so a race can be forced.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use parking_lot::Mutex;
use strata::{KeyFilter, Tier, TierError, TierHealth, TierScope, TierStats, TierWrite};
use tokio::sync::Notify;

/// An in-memory tier whose reads and writes fail while told to.
#[derive(Default)]
pub(crate) struct FaultyTier {
    name: String,
    entries: Mutex<BTreeMap<String, Vec<u8>>>,
    epochs: Mutex<HashMap<String, u64>>,
    pub(crate) fail_reads: AtomicBool,
    pub(crate) fail_writes: AtomicBool,
    pub(crate) puts: AtomicU64,
}

impl FaultyTier {
    pub(crate) fn new(name: &str) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            ..Self::default()
        })
    }

    pub(crate) fn raw(&self, key: &str) -> Option<Vec<u8>> {
        self.entries.lock().get(key).cloned()
    }

    pub(crate) fn set_raw(&self, key: &str, bytes: Vec<u8>) {
        self.entries.lock().insert(key.to_owned(), bytes);
    }

    fn check(&self, failing: &AtomicBool) -> Result<(), TierError> {
        if failing.load(Ordering::SeqCst) {
            Err(TierError::Unavailable {
                tier: self.name.clone(),
                reason: "fault injected by the test".into(),
            })
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Tier for FaultyTier {
    fn name(&self) -> &str {
        &self.name
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TierError> {
        self.check(&self.fail_reads)?;
        Ok(self.raw(key))
    }
    async fn put_many(&self, writes: Vec<TierWrite>) -> Result<(), TierError> {
        self.check(&self.fail_writes)?;
        let mut entries = self.entries.lock();
        for w in writes {
            self.puts.fetch_add(1, Ordering::SeqCst);
            entries.insert(w.key, w.bytes);
        }
        Ok(())
    }
    async fn delete_many(&self, keys: &[String]) -> Result<u64, TierError> {
        self.check(&self.fail_writes)?;
        let mut entries = self.entries.lock();
        Ok(keys.iter().filter(|k| entries.remove(*k).is_some()).count() as u64)
    }
    async fn scan(&self, filter: &KeyFilter) -> Result<Vec<String>, TierError> {
        self.check(&self.fail_reads)?;
        let entries = self.entries.lock();
        Ok(entries
            .keys()
            .filter(|k| filter.matches(k))
            .cloned()
            .collect())
    }
    async fn tag_epochs(&self, tags: &[String]) -> Result<Vec<u64>, TierError> {
        self.check(&self.fail_reads)?;
        let epochs = self.epochs.lock();
        Ok(tags
            .iter()
            .map(|t| epochs.get(t).copied().unwrap_or(0))
            .collect())
    }
    async fn bump_tag_epoch(&self, tag: &str) -> Result<u64, TierError> {
        self.check(&self.fail_writes)?;
        let mut epochs = self.epochs.lock();
        let e = epochs.entry(tag.to_owned()).or_insert(0);
        *e += 1;
        Ok(*e)
    }
    async fn raise_tag_epoch(&self, tag: &str, epoch: u64) -> Result<(), TierError> {
        self.check(&self.fail_writes)?;
        let mut epochs = self.epochs.lock();
        let e = epochs.entry(tag.to_owned()).or_insert(0);
        *e = (*e).max(epoch);
        Ok(())
    }
    fn stats(&self) -> TierStats {
        TierStats::default()
    }
    async fn health(&self) -> TierHealth {
        if self.fail_reads.load(Ordering::SeqCst) {
            TierHealth::Down("fault injected".into())
        } else {
            TierHealth::Healthy
        }
    }
}

/// Wraps a real tier; while armed, a `get` reads from the tier, then waits
/// until released before returning what it read; while `armed_put`, a write
/// does the same after the tier has it; while `armed_put_before`, a write
/// waits before the tier has it.
pub(crate) struct GatedTier {
    inner: Arc<dyn Tier>,
    pub(crate) armed: AtomicBool,
    pub(crate) armed_put: AtomicBool,
    pub(crate) armed_put_before: AtomicBool,
    /// Told when an armed read has read and is waiting.
    pub(crate) reached: Notify,
    /// Lets the waiting read return.
    pub(crate) release: Notify,
}

impl GatedTier {
    pub(crate) fn new(inner: Arc<dyn Tier>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            armed: AtomicBool::new(false),
            armed_put: AtomicBool::new(false),
            armed_put_before: AtomicBool::new(false),
            reached: Notify::new(),
            release: Notify::new(),
        })
    }
}

#[async_trait]
impl Tier for GatedTier {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn scope(&self) -> TierScope {
        self.inner.scope()
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TierError> {
        let read = self.inner.get(key).await;
        if self.armed.swap(false, Ordering::SeqCst) {
            self.reached.notify_one();
            self.release.notified().await;
        }
        read
    }
    async fn put_many(&self, writes: Vec<TierWrite>) -> Result<(), TierError> {
        if self.armed_put_before.swap(false, Ordering::SeqCst) {
            self.reached.notify_one();
            self.release.notified().await;
        }
        let written = self.inner.put_many(writes).await;
        if self.armed_put.swap(false, Ordering::SeqCst) {
            self.reached.notify_one();
            self.release.notified().await;
        }
        written
    }
    async fn delete_many(&self, keys: &[String]) -> Result<u64, TierError> {
        self.inner.delete_many(keys).await
    }
    async fn scan(&self, filter: &KeyFilter) -> Result<Vec<String>, TierError> {
        self.inner.scan(filter).await
    }
    async fn tag_epochs(&self, tags: &[String]) -> Result<Vec<u64>, TierError> {
        self.inner.tag_epochs(tags).await
    }
    async fn bump_tag_epoch(&self, tag: &str) -> Result<u64, TierError> {
        self.inner.bump_tag_epoch(tag).await
    }
    async fn raise_tag_epoch(&self, tag: &str, epoch: u64) -> Result<(), TierError> {
        self.inner.raise_tag_epoch(tag, epoch).await
    }
    fn stats(&self) -> TierStats {
        self.inner.stats()
    }
    async fn health(&self) -> TierHealth {
        self.inner.health().await
    }
}
