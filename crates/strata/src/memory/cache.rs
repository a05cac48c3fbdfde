//! [`MemoryCache`]: the handle, its shared state, and the read and write
//! paths. Capacity enforcement, invalidation, loading and snapshots are in
//! sibling modules as further `impl` blocks.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;
use foldhash::fast::FixedState;
use parking_lot::RwLock;

use super::builder::{MemoryCacheBuilder, Weigher};
use super::flight::Flights;
use super::policy::{Policy, Sizing, Tuner};
use super::pressure::Pressure;
use super::removal::{Listener, RemovalCause, Removals};
use super::shard::{Plain, Read, Shard, Spec};
use super::stats::{LATENCY_SAMPLE, Recorder, Sample};
use super::tags::Tags;
use super::tally::{Count, Tally, this_thread, this_thread_slot};
use super::totals::{Ledger, Totals};
use crate::clock::{Clock, nanos};
use crate::error::{BuildError, InsertError};
use crate::options::{EntryOptions, Ttl};

/// One shard with the atomic that belongs to it, on its own cache lines.
pub(crate) struct ShardCell<K, V> {
    pub(crate) lock: RwLock<Shard<K, V>>,
    /// The shard's lowest entry priority, or [`EMPTY`] when it has none;
    /// read without the lock to decide where to evict when priorities
    /// differ. Wider than a priority so that no priority can mean "empty".
    pub(crate) min_priority: AtomicI64,
}

/// The published lowest priority of a shard with no entries.
pub(crate) const EMPTY: i64 = i64::MAX;

/// The state shared by every handle of one cache.
pub(crate) struct Inner<K, V> {
    pub(crate) shards: Box<[CachePadded<ShardCell<K, V>>]>,
    /// Which entries carry which tag, across the shards.
    pub(crate) tags: Arc<Tags>,
    hasher: FixedState,
    pub(crate) totals: Totals,
    pub(crate) max_entries: Option<u64>,
    pub(crate) max_weight: Option<u64>,
    pub(crate) policy: Policy,
    default_ttl: Option<u64>,
    default_tti: Option<u64>,
    weigher: Option<Weigher<K, V>>,
    pub(crate) clock: Arc<dyn Clock>,
    listener: Option<Listener<K, V>>,
    pub(crate) recorder: Option<Recorder<K>>,
    pub(crate) flights: Flights<K, V>,
    pub(crate) pressure: Option<Pressure>,
    /// The `Adaptive` policy's tuner, shared by the shards.
    pub(crate) tuner: Option<Arc<Tuner>>,
    /// The tuner's sampling mask, kept here so that a read learns it is not
    /// sampled without reaching the tuner; without a tuner, all ones (a
    /// request passes one time in 2^24, and then finds no tuner).
    sample_mask: u64,
    /// Whether reads take only the shared lock (the shards' policy does
    /// not reorder on a read). Here rather than asked of a shard, so that
    /// a read learns it before taking any lock and without touching the
    /// policy's cache lines.
    reads_shared: bool,
    /// Rotates cross-shard evictions among equally good shards.
    pub(crate) evict_cursor: AtomicUsize,
    /// Operation counts, when stats are on.
    pub(crate) tally: Tally,
}

/// A thread-safe, bounded, in-process cache from `K` to `V`.
///
/// Cloning the handle is cheap (one reference count) and every clone sees
/// the same entries. Reads return clones of values: wrap large values in an
/// `Arc`.
///
/// See the [crate docs](crate) for the architecture and an example.
pub struct MemoryCache<K, V> {
    pub(crate) inner: Arc<Inner<K, V>>,
}

impl<K, V> Clone for MemoryCache<K, V> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, V> fmt::Debug for MemoryCache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCache")
            .field("policy", &self.inner.policy)
            .field("entries", &self.inner.totals.len.load(Ordering::Relaxed))
            .field("weight", &self.inner.totals.weight())
            .field("max_entries", &self.inner.max_entries)
            .field("max_weight", &self.inner.max_weight)
            .field("shards", &self.inner.shards.len())
            .finish()
    }
}

impl<K, V> MemoryCache<K, V> {
    /// A builder with every default; set at least one bound.
    pub fn builder() -> MemoryCacheBuilder<K, V> {
        MemoryCacheBuilder::default()
    }

    /// Entries resident, including expired ones not yet purged.
    pub fn len(&self) -> u64 {
        self.inner.totals.len.load(Ordering::Relaxed)
    }

    /// Whether no entry is resident.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total weight of resident entries.
    pub fn weight(&self) -> u64 {
        self.inner.totals.weight()
    }

    /// The entry-count bound.
    pub fn max_entries(&self) -> Option<u64> {
        self.inner.max_entries
    }

    /// The weight bound.
    pub fn max_weight(&self) -> Option<u64> {
        self.inner.max_weight
    }

    /// The default time to live, applied to entries written with
    /// [`Ttl::CacheDefault`](crate::Ttl::CacheDefault).
    pub fn default_ttl(&self) -> Option<std::time::Duration> {
        self.inner.default_ttl.map(std::time::Duration::from_nanos)
    }

    /// The eviction policy.
    pub fn policy(&self) -> Policy {
        self.inner.policy
    }

    /// The number of shards.
    pub fn shard_count(&self) -> usize {
        self.inner.shards.len()
    }
}

impl<K, V> Inner<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(crate) fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The shard of a hash. Bits 32 and up pick it: hashbrown uses the low
    /// bits for the bucket and the top seven for its tag, and both stay
    /// fully random within a shard this way.
    pub(crate) fn shard_of(&self, hash: u64) -> usize {
        (hash >> 32) as usize & (self.shards.len() - 1)
    }

    #[inline]
    pub(crate) fn sample(&self) -> Sample {
        match &self.recorder {
            Some(recorder) => Sample::take(&recorder.pacer),
            None => Sample::NONE,
        }
    }

    #[inline]
    pub(crate) fn count(&self, count: Count) {
        if self.recorder.is_some() {
            self.tally.add(count, 0);
        }
    }

    /// Publishes a shard's lowest priority after it changed.
    #[inline(always)]
    pub(crate) fn publish(&self, shard: usize, locked: &Shard<K, V>) {
        self.shards[shard].min_priority.store(
            locked.min_priority().map_or(EMPTY, i64::from),
            Ordering::Relaxed,
        );
    }

    fn count_removal(&self, cause: RemovalCause) {
        if self.recorder.is_some() {
            self.tally.add(Count::Removals, cause.index());
        }
    }

    /// Counts removals and hands them to the listener. Call with no lock held.
    #[inline(always)]
    pub(crate) fn notify(&self, removals: Removals<K, V>) {
        // Most writes remove nothing, and a cache without stats or listener
        // has nothing to tell: neither should pay for a call.
        if removals.is_empty() {
            return;
        }
        if self.listener.is_some() {
            self.notify_all(removals);
        } else if self.recorder.is_some() {
            // Counted through a reference, and the list dropped here: moving
            // it into a call copied it, and with the count and the drop out
            // of line, that cost an evicting write about 40 instructions.
            self.count_removals(&removals);
        }
    }

    /// Counts `removals` by cause.
    fn count_removals(&self, removals: &Removals<K, V>) {
        let slot = this_thread_slot();
        removals.for_each_cause(|cause| {
            self.tally.add_for(slot, Count::Removals, cause.index());
        });
    }

    /// [`notify`](Self::notify) with a listener.
    fn notify_all(&self, removals: Removals<K, V>) {
        if self.recorder.is_some() {
            self.count_removals(&removals);
        }
        if let Some(listener) = &self.listener {
            for (key, value, cause) in removals {
                listener(key, value, cause);
            }
        }
    }

    fn spec(&self, options: EntryOptions, now: u64) -> Spec {
        let parts = options.into_parts();
        let ttl = match parts.ttl {
            Ttl::CacheDefault => self.default_ttl,
            Ttl::Never => None,
            Ttl::After(ttl) => Some(nanos(ttl)),
        };
        Spec {
            expires_at: ttl.map(|ttl| now.saturating_add(ttl)),
            tti: parts.tti.map(nanos).or(self.default_tti),
            priority: parts.priority,
            cost: parts.cost.map_or(0, nanos),
            tags: parts.tags,
            metadata: parts.metadata,
        }
    }

    fn weigh(&self, key: &K, value: &V) -> u32 {
        self.weigher.as_ref().map_or(1, |w| w(key, value))
    }

    /// Looks `key` up as a read: updates the policy and time to idle, and
    /// purges the entry if it expired.
    pub(crate) fn get_hashed<Q>(&self, hash: u64, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        // The common read (not sampled, shared lock, an entry that cannot
        // expire) carries nothing of the rest: no key for the ranking, no
        // clock, no latency. Sharing one path with the rest cost it a fifth
        // of its instructions in moves and checks. The countdown is asked
        // here rather than through `sample()`: building a `Sample` first
        // cost this path another five instructions.
        let (slot, picked) = match &self.recorder {
            Some(_) => this_thread(LATENCY_SAMPLE),
            None => (0, false),
        };
        if !picked && self.reads_shared {
            let plain = self.shards[self.shard_of(hash)]
                .lock
                .read()
                .read_plain(hash, key);
            let found = match plain {
                Plain::Hit(value) => Some(value),
                Plain::Miss => None,
                Plain::Other => return self.get_full(hash, key, Sample::unsampled(slot)),
            };
            self.note_read(hash, slot, found.is_some());
            return found;
        }
        let sample = match &self.recorder {
            Some(recorder) if picked => Sample::sampled(slot, &recorder.pacer),
            _ => Sample::unsampled(slot),
        };
        self.get_full(hash, key, sample)
    }

    /// What every read tells the tuner and the counts. Always inlined:
    /// as a call it cost the common read an eighth of its instructions.
    #[inline(always)]
    fn note_read(&self, hash: u64, slot: usize, hit: bool) {
        if Tuner::samples(hash, self.sample_mask)
            && let Some(tuner) = &self.tuner
        {
            tuner.record(hash);
        }
        if self.recorder.is_some() {
            let count = if hit { Count::Hits } else { Count::Misses };
            self.tally.add_for(slot, count, 0);
        }
    }

    /// A read that is sampled, takes the exclusive lock, or meets an entry
    /// that can expire.
    #[inline(never)]
    fn get_full<Q>(&self, hash: u64, key: &Q, sample: Sample) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let idx = self.shard_of(hash);
        let want_key =
            sample.weight > 0 && self.recorder.as_ref().is_some_and(|r| r.wants_hot_keys());
        let read = if self.reads_shared {
            self.shards[idx]
                .lock
                .read()
                .read(hash, key, want_key, || self.clock.now_nanos())
        } else {
            self.read_exclusive(idx, hash, key, want_key)
        };
        let (found, hot_key) = match read {
            Read::Hit(value, hot_key) => (Some(value), hot_key),
            Read::Miss => (None, None),
            Read::Expired => {
                self.purge_one(idx, hash, key);
                (None, None)
            }
        };
        self.note_read(hash, sample.slot, found.is_some());
        if let Some(recorder) = &self.recorder {
            if let Some(key) = hot_key {
                recorder.record_hot(key, sample.weight);
            }
            recorder.record_get(sample);
        }
        found
    }

    /// A read under the exclusive lock, for the policies that reorder on a
    /// read.
    fn read_exclusive<Q>(&self, idx: usize, hash: u64, key: &Q, want_key: bool) -> Read<K, V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut shard = self.shards[idx].lock.write();
        shard.tick();
        let Some(slot) = shard.find(hash, key) else {
            return Read::Miss;
        };
        let now = if shard.needs_clock(slot) {
            self.clock.now_nanos()
        } else {
            0
        };
        if shard.is_expired(slot, now) {
            return Read::Expired;
        }
        shard.access(slot, hash, now);
        match shard.entry(slot) {
            Some(entry) => Read::Hit(entry.value.clone(), want_key.then(|| entry.key.clone())),
            None => Read::Miss,
        }
    }

    /// Removes the entry of `key` if it has expired (a read found it so).
    fn purge_one<Q>(&self, idx: usize, hash: u64, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut removals = Removals::new();
        {
            let mut shard = self.shards[idx].lock.write();
            if let Some(slot) = shard.find(hash, key)
                && shard.is_expired(slot, self.clock.now_nanos())
            {
                shard.remove_into(
                    slot,
                    RemovalCause::Expired,
                    &Ledger::new(&self.totals),
                    &mut removals,
                );
                self.publish(idx, &shard);
            }
        }
        self.notify(removals);
    }

    /// Looks `key` up without touching the policy, idle time or stats.
    pub(crate) fn peek_hashed<Q>(&self, hash: u64, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let shard = self.shards[self.shard_of(hash)].lock.read();
        let slot = shard.find(hash, key)?;
        let now = if shard.needs_clock(slot) {
            self.clock.now_nanos()
        } else {
            0
        };
        if shard.is_expired(slot, now) {
            return None;
        }
        shard.entry(slot).map(|e| e.value.clone())
    }

    /// Writes an entry and makes room for it.
    pub(crate) fn write(
        &self,
        key: K,
        value: V,
        options: Option<EntryOptions>,
    ) -> Result<(), InsertError> {
        let mut removals = Removals::new();
        let result = self.write_quietly(key, value, options, &mut removals);
        self.notify(removals);
        result
    }

    /// [`write`](Self::write), but the removals go to `out` (empty when
    /// called) instead of the listener, for callers that must finish
    /// something before the listener may run. The list is the caller's
    /// rather than returned: a returned list (inline room for two
    /// removals) was copied on the way out, a tenth of an overwrite's
    /// instructions.
    pub(crate) fn write_quietly(
        &self,
        key: K,
        value: V,
        options: Option<EntryOptions>,
        out: &mut Removals<K, V>,
    ) -> Result<(), InsertError> {
        let sample = self.sample();
        let weight = self.weigh(&key, &value);
        if let Some(max) = self.max_weight
            && u64::from(weight) > max
        {
            let refused = InsertError::TooHeavy {
                weight: u64::from(weight),
                capacity: max,
            };
            return Err(refused);
        }
        // The clock is read only when something needs the time: a read
        // costs tens of nanoseconds, as much as the rest of a small write.
        let timed = self.pressure.is_some()
            || self.default_ttl.is_some()
            || self.default_tti.is_some()
            || options
                .as_ref()
                .is_some_and(|o| matches!(o.ttl(), Ttl::After(_)) || o.tti().is_some());
        let early = timed.then(|| self.clock.now_nanos());
        if let Some(now) = early {
            self.maybe_check_pressure(now);
        }
        let limits = self.limits();
        let hash = self.hash(&key);
        let idx = self.shard_of(hash);
        let (result, done) = {
            let mut shard = self.shards[idx].lock.write();
            let now = early.unwrap_or_else(|| {
                if shard.can_expire() {
                    self.clock.now_nanos()
                } else {
                    0 // nothing here or in this write depends on the time
                }
            });
            // A plain write (no options, no cache defaults) builds no spec:
            // the common case moves no option fields around.
            let defaults = self.default_ttl.is_some() || self.default_tti.is_some();
            let mut spec = match options {
                Some(o) if defaults || !o.is_plain() => Some(self.spec(o, now)),
                None if defaults => Some(self.spec(EntryOptions::default(), now)),
                _ => None,
            };
            let ledger = Ledger::new(&self.totals);
            shard.purge_expired(now, &ledger, out);
            let result = shard.write(
                hash,
                key,
                value,
                weight,
                spec.as_mut(),
                now,
                limits,
                &ledger,
                out,
            );
            let done = match &result {
                // An in-place overwrite changed no total: there is no more
                // to evict than before it. Checking the bounds anyway cost
                // the usual overwrite about 40 of its 450 instructions.
                Ok(written) if written.in_place => true,
                Ok(written) => self.make_room_locally(
                    idx,
                    &mut shard,
                    Some(written.slot),
                    limits,
                    &ledger,
                    out,
                ),
                Err(_) => true,
            };
            // `out` holds everything this write removed (purged, evicted or
            // replaced): an in-place overwrite whose only removal is the
            // value it replaced left every priority where it was.
            if !(out.len() == 1 && result.as_ref().is_ok_and(|w| w.in_place)) {
                self.publish(idx, &shard);
            }
            (result, done)
        };
        // The reads' samples reach the tuner here, outside the shard lock.
        if let Some(tuner) = &self.tuner
            && tuner.has_queued()
        {
            tuner.feed();
        }
        if let Ok(written) = &result {
            if !done {
                self.make_room_elsewhere(idx, Some((written.slot, hash)), limits, out);
            }
            if self.recorder.is_some() {
                let count = if written.replaced {
                    Count::Updates
                } else {
                    Count::Inserts
                };
                self.tally.add_for(sample.slot, count, 0);
            }
        }
        if let Some(recorder) = &self.recorder {
            recorder.record_insert(sample);
        }
        result.map(|_| ())
    }

    /// Removes `key` for `cause`, returning its value if it was live.
    pub(crate) fn remove_hashed<Q>(&self, hash: u64, key: &Q, cause: RemovalCause) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let idx = self.shard_of(hash);
        let mut out = Removals::new();
        {
            let mut shard = self.shards[idx].lock.write();
            let slot = shard.find(hash, key)?;
            let now = self.clock.now_nanos();
            shard.remove_live(slot, cause, now, &Ledger::new(&self.totals), &mut out);
            self.publish(idx, &shard);
        }
        let (key, value, removed_for) = out.pop()?;
        if removed_for != cause {
            self.notify(Removals::one(key, value, removed_for));
            return None;
        }
        // Clone only when the listener also needs the value.
        if self.listener.is_some() {
            let returned = value.clone();
            self.notify(Removals::one(key, value, removed_for));
            Some(returned)
        } else {
            self.count_removal(removed_for);
            Some(value)
        }
    }

    /// Removes every entry from every shard for `cause`; returns how many
    /// were live.
    pub(crate) fn drain_all(&self, cause: RemovalCause) -> u64 {
        let now = self.clock.now_nanos();
        let mut total = 0;
        for idx in 0..self.shards.len() {
            let mut out = Removals::new();
            {
                let mut shard = self.shards[idx].lock.write();
                total += shard.drain(cause, now, &Ledger::new(&self.totals), &mut out);
                self.publish(idx, &shard);
            }
            self.notify(out);
        }
        total
    }
}

/// The smallest entry weight assumed when only a weight bounds the cache,
/// to size the policy's per-entry structures: a smaller average only makes
/// the frequency sketch coarser, never the cache wrong.
const ASSUMED_WEIGHT: u64 = 64;

/// The most entries per shard assumed from a weight bound alone (4 Mi: a
/// 32 MiB sketch), so a huge weight bound cannot size huge structures.
const MAX_ASSUMED_ENTRIES: u64 = 1 << 22;

/// Each shard's policy sizes itself by its share of the bounds.
fn shard_sizing(max_entries: Option<u64>, max_weight: Option<u64>, shards: usize) -> Sizing {
    let share = |bound: u64| bound.div_ceil(shards as u64);
    let capacity = max_weight.or(max_entries).map_or(1, share);
    Sizing {
        capacity,
        by_weight: max_weight.is_some(),
        entries: match (max_weight, max_entries) {
            (None, _) => capacity,
            (Some(_), Some(entries)) => share(entries).min(capacity),
            // Weight only: assume entries of at least ASSUMED_WEIGHT, and
            // no more than MAX_ASSUMED_ENTRIES per shard.
            (Some(_), None) => (capacity / ASSUMED_WEIGHT).clamp(1, MAX_ASSUMED_ENTRIES),
        },
    }
}

#[cfg(test)]
#[test]
fn per_entry_structures_are_sized_by_entries_not_bytes() {
    // 256 MiB and a million entries over 4 shards: a quarter million
    // entries each, not 64 Mi "units".
    let s = shard_sizing(Some(1_000_000), Some(256 << 20), 4);
    assert_eq!(
        (s.capacity, s.by_weight, s.entries),
        (64 << 20, true, 250_000)
    );
    assert_eq!(
        shard_sizing(None, Some(256 << 20), 4).entries,
        (64 << 20) / ASSUMED_WEIGHT
    );
    assert_eq!(
        shard_sizing(None, Some(1 << 50), 1).entries,
        MAX_ASSUMED_ENTRIES
    );
    assert_eq!(shard_sizing(Some(100), None, 2).entries, 50);
}

impl<K, V> MemoryCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(crate) fn from_builder(b: MemoryCacheBuilder<K, V>) -> Result<Self, BuildError> {
        b.check_capacity()?;
        let shard_count = b.shard_count()?;
        let pressure = b
            .pressure()?
            .map(|(config, bytes)| Pressure::new(&config, bytes));
        let sizing = shard_sizing(b.max_entries, b.max_weight, shard_count);
        // One tuner for the whole cache, sized by all of its shards.
        let tuner = (b.policy == Policy::Adaptive).then(|| {
            Arc::new(Tuner::new(
                sizing.entries.saturating_mul(shard_count as u64),
            ))
        });
        let weighted = b.weigher.is_some();
        let hasher = FixedState::with_seed(b.hash_seed.unwrap_or_else(|| {
            // A fresh random seed: foldhash's RandomState draws one.
            foldhash::fast::RandomState::default().hash_one(0x5354_5241_5441_u64)
        }));
        // As many tag stripes as shards: tagged writes on different shards
        // seldom share one.
        let tags = Arc::new(Tags::new(shard_count, shard_count, hasher.clone()));
        let shards: Box<[CachePadded<ShardCell<K, V>>]> = (0..shard_count)
            .map(|index| {
                CachePadded::new(ShardCell {
                    lock: RwLock::new(Shard::new(
                        index,
                        b.policy,
                        sizing,
                        hasher.clone(),
                        weighted,
                        Arc::clone(&tags),
                        tuner.clone(),
                    )),
                    min_priority: AtomicI64::new(EMPTY),
                })
            })
            .collect();
        // Every shard runs the same policy.
        let reads_shared = shards
            .first()
            .is_some_and(|cell| cell.lock.read().reads_are_shared());
        let inner = Inner {
            shards,
            tags,
            hasher,
            totals: Totals::new(weighted, shard_count),
            max_entries: b.max_entries,
            max_weight: b.max_weight,
            policy: b.policy,
            default_ttl: b.default_ttl.map(nanos),
            default_tti: b.default_tti.map(nanos),
            weigher: b.weigher,
            clock: b.clock,
            listener: b.listener,
            recorder: b.stats.then(|| Recorder::new(b.hot_keys)),
            flights: Flights::new(shard_count),
            pressure,
            sample_mask: tuner.as_ref().map_or(u64::MAX, |t| t.mask()),
            tuner,
            reads_shared,
            evict_cursor: AtomicUsize::new(0),
            tally: Tally::default(),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The live value of `key`, recording the read with the policy (and
    /// refreshing the entry's time to idle). An expired entry is removed and
    /// reads as a miss.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.inner.get_hashed(self.inner.hash(key), key)
    }

    /// The live value of `key`, without counting as a use: no recency or
    /// frequency update, no time-to-idle refresh, no hit or miss counted.
    pub fn peek<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.inner.peek_hashed(self.inner.hash(key), key)
    }

    /// Whether `key` has a live entry (like [`peek`](Self::peek)).
    pub fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = &self.inner;
        let hash = inner.hash(key);
        let shard = inner.shards[inner.shard_of(hash)].lock.read();
        shard.find(hash, key).is_some_and(|slot| {
            !shard.needs_clock(slot) || !shard.is_expired(slot, inner.clock.now_nanos())
        })
    }

    /// Writes `key` with default options. See [`insert_with`](Self::insert_with).
    ///
    /// # Errors
    /// As [`insert_with`](Self::insert_with).
    pub fn insert(&self, key: K, value: V) -> Result<(), InsertError> {
        self.inner.write(key, value, None)
    }

    /// Writes `key` with `options`, replacing any previous value, then evicts
    /// as the policy decides until the cache is within its bounds. The entry
    /// written is never its own victim unless it has a strictly lower
    /// priority than every other entry.
    ///
    /// # Errors
    /// [`InsertError::TooHeavy`] if the entry weighs more than `max_weight`;
    /// the cache is then unchanged (a previous value of `key` stays).
    pub fn insert_with(&self, key: K, value: V, options: EntryOptions) -> Result<(), InsertError> {
        self.inner.write(key, value, Some(options))
    }

    /// Removes `key`, returning its value if it was live. The listener sees
    /// [`RemovalCause::Removed`] (or `Expired` if it had expired).
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.inner
            .remove_hashed(self.inner.hash(key), key, RemovalCause::Removed)
    }

    /// Removes every entry; returns how many were live. The listener sees
    /// [`RemovalCause::Removed`], or `Expired` for entries already expired.
    pub fn clear(&self) -> u64 {
        self.inner.drain_all(RemovalCause::Removed)
    }
}
