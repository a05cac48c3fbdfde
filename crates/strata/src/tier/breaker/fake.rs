//! A tier for the breaker's tests: an in-memory store that fails, is slow
//! (by moving a manual clock) or holds its calls, when told to, and logs
//! every mutation it applies in order.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::sync::Semaphore;

use crate::ManualClock;
use crate::tier::{KeyFilter, Tier, TierError, TierHealth, TierStats, TierWrite};

pub(super) struct FakeTier {
    clock: Arc<ManualClock>,
    entries: Mutex<BTreeMap<String, Vec<u8>>>,
    epochs: Mutex<HashMap<String, u64>>,
    /// Every mutation applied, in order: `put a`, `delete a`, `bump t`, …
    log: Mutex<Vec<String>>,
    /// Calls that reached the tier (health included).
    calls: AtomicU64,
    /// Every call fails with `Unavailable` while set.
    pub(super) failing: AtomicBool,
    /// The next this many calls fail with `Unavailable`.
    fail_next: AtomicU64,
    /// Each call moves the clock by this much: a slow tier, without sleeping.
    delay: Mutex<Duration>,
    /// While set, each call waits for a permit of `release` once it arrives.
    holding: AtomicBool,
    arrived: AtomicU64,
    release: Semaphore,
    /// A put of this key is refused with `TooLarge`.
    refuse: Mutex<Option<String>>,
}

impl FakeTier {
    pub(super) fn new(clock: Arc<ManualClock>) -> Self {
        Self {
            clock,
            entries: Mutex::default(),
            epochs: Mutex::default(),
            log: Mutex::default(),
            calls: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            fail_next: AtomicU64::new(0),
            delay: Mutex::new(Duration::ZERO),
            holding: AtomicBool::new(false),
            arrived: AtomicU64::new(0),
            release: Semaphore::new(0),
            refuse: Mutex::new(None),
        }
    }

    pub(super) fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub(super) fn set_delay(&self, delay: Duration) {
        *self.delay.lock() = delay;
    }

    /// The next `n` calls fail.
    pub(super) fn fail_next(&self, n: u64) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    /// Calls arriving from now on wait for [`release`](Self::release).
    pub(super) fn hold(&self) {
        self.holding.store(true, Ordering::SeqCst);
    }

    /// Lets `n` held calls go (held or still to come); keeps holding.
    pub(super) fn release(&self, n: usize) {
        self.release.add_permits(n);
    }

    /// Lets every held call go, and stops holding.
    pub(super) fn let_go(&self) {
        self.holding.store(false, Ordering::SeqCst);
        self.release.add_permits(1 << 20);
    }

    /// Held calls that have arrived so far.
    pub(super) fn arrived(&self) -> u64 {
        self.arrived.load(Ordering::SeqCst)
    }

    pub(super) fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    pub(super) fn refuse(&self, key: &str) {
        *self.refuse.lock() = Some(key.to_owned());
    }

    pub(super) fn log(&self) -> Vec<String> {
        self.log.lock().clone()
    }

    pub(super) fn value(&self, key: &str) -> Option<Vec<u8>> {
        self.entries.lock().get(key).cloned()
    }

    pub(super) fn epoch(&self, tag: &str) -> u64 {
        self.epochs.lock().get(tag).copied().unwrap_or(0)
    }

    /// What every call does first: count, wait if held, take time, fail if
    /// told to.
    async fn enter(&self) -> Result<(), TierError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.holding.load(Ordering::SeqCst) {
            self.arrived.fetch_add(1, Ordering::SeqCst);
            // The semaphore is never closed, so acquiring cannot fail.
            if let Ok(permit) = self.release.acquire().await {
                permit.forget();
            }
        }
        let delay = *self.delay.lock();
        self.clock.advance(delay);
        let planned = self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if planned || self.failing.load(Ordering::SeqCst) {
            return Err(TierError::Unavailable {
                tier: "fake".into(),
                reason: "fault injected by the test".into(),
            });
        }
        Ok(())
    }

    fn record(&self, entry: String) {
        self.log.lock().push(entry);
    }
}

#[async_trait]
impl Tier for FakeTier {
    fn name(&self) -> &str {
        "fake"
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TierError> {
        self.enter().await?;
        Ok(self.value(key))
    }

    async fn put_many(&self, writes: Vec<TierWrite>) -> Result<(), TierError> {
        self.enter().await?;
        if let Some(refused) = self.refuse.lock().as_deref()
            && let Some(write) = writes.iter().find(|w| w.key == refused)
        {
            return Err(TierError::TooLarge {
                tier: "fake".into(),
                size: write.bytes.len() as u64,
                limit: 0,
            });
        }
        for write in writes {
            self.record(format!("put {}", write.key));
            self.entries.lock().insert(write.key, write.bytes);
        }
        Ok(())
    }

    async fn delete_many(&self, keys: &[String]) -> Result<u64, TierError> {
        self.enter().await?;
        let mut removed = 0;
        for key in keys {
            self.record(format!("delete {key}"));
            removed += u64::from(self.entries.lock().remove(key).is_some());
        }
        Ok(removed)
    }

    async fn scan(&self, filter: &KeyFilter) -> Result<Vec<String>, TierError> {
        self.enter().await?;
        let entries = self.entries.lock();
        Ok(entries
            .keys()
            .filter(|k| filter.matches(k))
            .cloned()
            .collect())
    }

    async fn delete_matching(&self, filter: &KeyFilter) -> Result<u64, TierError> {
        self.enter().await?;
        self.record(format!("delete_matching {}", filter.literal_prefix()));
        let mut entries = self.entries.lock();
        let before = entries.len();
        entries.retain(|k, _| !filter.matches(k));
        Ok((before - entries.len()) as u64)
    }

    async fn clear(&self) -> Result<u64, TierError> {
        self.enter().await?;
        self.record("clear".into());
        let mut entries = self.entries.lock();
        let removed = entries.len() as u64;
        entries.clear();
        Ok(removed)
    }

    async fn tag_epochs(&self, tags: &[String]) -> Result<Vec<u64>, TierError> {
        self.enter().await?;
        Ok(tags.iter().map(|t| self.epoch(t)).collect())
    }

    async fn bump_tag_epoch(&self, tag: &str) -> Result<u64, TierError> {
        self.enter().await?;
        self.record(format!("bump {tag}"));
        let mut epochs = self.epochs.lock();
        let epoch = epochs.entry(tag.to_owned()).or_insert(0);
        *epoch += 1;
        Ok(*epoch)
    }

    async fn raise_tag_epoch(&self, tag: &str, epoch: u64) -> Result<(), TierError> {
        self.enter().await?;
        self.record(format!("raise {tag} {epoch}"));
        let mut epochs = self.epochs.lock();
        let current = epochs.entry(tag.to_owned()).or_insert(0);
        *current = (*current).max(epoch);
        Ok(())
    }

    fn stats(&self) -> TierStats {
        TierStats {
            entries: self.entries.lock().len() as u64,
            ..TierStats::default()
        }
    }

    async fn health(&self) -> TierHealth {
        match self.enter().await {
            Ok(()) => TierHealth::Healthy,
            Err(error) => TierHealth::Down(error.to_string()),
        }
    }
}
