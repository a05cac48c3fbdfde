//! Model-based tests: random operation sequences run against `MemoryCache`
//! (one shard, so eviction order is exact) and against a reference model that
//! keeps entries in a plain map and finds every victim by linear scan. Every
//! result, every removal (key, value, cause), the live contents and
//! `validate()` are compared after every step, for each deterministic policy.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use strata::{EntryOptions, ManualClock, MemoryCache, Policy, RemovalCause};

const SECOND: u64 = 1_000_000_000;

/// Values carry a unique id and their weight.
type Value = (u32, u32);
type Event = (u8, Value, RemovalCause);

#[derive(Debug, Clone)]
enum Op {
    Insert {
        key: u8,
        weight: u32,
        priority: i32,
        ttl: Option<u64>,
        tti: Option<u64>,
        tag: Option<u8>,
    },
    Get(u8),
    Peek(u8),
    Contains(u8),
    Remove(u8),
    Advance(u64),
    InvalidateTag(u8),
    Maintain,
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..10;
    prop_oneof![
        6 => (
            key.clone(),
            1u32..=4,
            prop_oneof![6 => Just(0), 1 => Just(-1), 1 => Just(1), 1 => Just(2)],
            prop::option::weighted(0.3, 1u64..6),
            prop::option::weighted(0.2, 1u64..4),
            prop::option::weighted(0.3, 0u8..3),
        )
            .prop_map(|(key, weight, priority, ttl, tti, tag)| Op::Insert {
                key,
                weight,
                priority,
                ttl,
                tti,
                tag,
            }),
        5 => key.clone().prop_map(Op::Get),
        1 => key.clone().prop_map(Op::Peek),
        1 => key.clone().prop_map(Op::Contains),
        1 => key.prop_map(Op::Remove),
        2 => (0u64..3).prop_map(Op::Advance),
        1 => (0u8..3).prop_map(Op::InvalidateTag),
        1 => Just(Op::Maintain),
    ]
}

#[derive(Debug, Clone)]
struct ModelEntry {
    value: Value,
    priority: i32,
    expires_at: Option<u64>,
    tti: Option<u64>,
    last_access: u64,
    /// When the policy last saw the entry (insert, overwrite or read).
    tick: u64,
    uses: u64,
    lfu_key: u64,
    tag: Option<u8>,
}

impl ModelEntry {
    fn deadline(&self) -> Option<u64> {
        let idle = self.tti.map(|t| self.last_access + t);
        match (self.expires_at, idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

struct Model {
    policy: Policy,
    max_entries: Option<u64>,
    max_weight: Option<u64>,
    now: u64,
    tick: u64,
    lfu_age: u64,
    entries: BTreeMap<u8, ModelEntry>,
    events: Vec<Event>,
}

enum Touch {
    Insert,
    Use,
}

impl Model {
    fn expired(&self, key: u8) -> bool {
        self.entries[&key].deadline().is_some_and(|d| d <= self.now)
    }

    fn remove(&mut self, key: u8, cause: RemovalCause) -> Value {
        let e = self.entries.remove(&key).expect("present");
        if cause == RemovalCause::Capacity && self.policy == Policy::Lfu {
            self.lfu_age = self.lfu_age.max(e.lfu_key);
        }
        self.events.push((key, e.value, cause));
        e.value
    }

    fn touch(&mut self, key: u8, how: Touch) {
        self.tick += 1;
        let e = self.entries.get_mut(&key).expect("present");
        e.tick = self.tick;
        e.uses = match how {
            Touch::Insert => 1,
            Touch::Use => e.uses + 1,
        };
        e.lfu_key = self.lfu_age + e.uses;
    }

    fn purge(&mut self) {
        let due: Vec<u8> = self
            .entries
            .keys()
            .copied()
            .filter(|&k| self.expired(k))
            .collect();
        for key in due {
            self.remove(key, RemovalCause::Expired);
        }
    }

    /// The eviction order: priority class, then the policy's rank, then
    /// least recently touched.
    fn rank(&self, key: u8) -> (i32, u64, u64) {
        let e = &self.entries[&key];
        let rank = match self.policy {
            Policy::Lru => 0,
            Policy::Lfu => e.lfu_key,
            Policy::Ttl => e.deadline().unwrap_or(u64::MAX),
            Policy::Size => u64::MAX - u64::from(e.value.1),
            other => unreachable!("no model for {other}"),
        };
        (e.priority, rank, e.tick)
    }

    fn over(&self) -> bool {
        let len = self.entries.len() as u64;
        let weight: u64 = self.entries.values().map(|e| u64::from(e.value.1)).sum();
        self.max_entries.is_some_and(|m| len > m) || self.max_weight.is_some_and(|m| weight > m)
    }

    #[allow(clippy::too_many_arguments)]
    fn insert(
        &mut self,
        key: u8,
        value: Value,
        priority: i32,
        ttl: Option<u64>,
        tti: Option<u64>,
        tag: Option<u8>,
    ) -> bool {
        if self.max_weight.is_some_and(|m| u64::from(value.1) > m) {
            return false;
        }
        self.purge();
        let fresh = ModelEntry {
            value,
            priority,
            expires_at: ttl.map(|t| self.now + t * SECOND),
            tti: tti.map(|t| t * SECOND),
            last_access: self.now,
            tick: 0,
            uses: 0,
            lfu_key: 0,
            tag,
        };
        match self.entries.get_mut(&key) {
            Some(e) => {
                let old = e.value;
                let uses = e.uses;
                *e = ModelEntry { uses, ..fresh };
                self.events.push((key, old, RemovalCause::Replaced));
                self.touch(key, Touch::Use);
            }
            None => {
                self.entries.insert(key, fresh);
                self.touch(key, Touch::Insert);
            }
        }
        let mut spared = Some(key);
        while self.over() {
            let victim = self
                .entries
                .keys()
                .copied()
                .filter(|&k| Some(k) != spared)
                .min_by_key(|&k| self.rank(k));
            let chosen = match (victim, spared) {
                (Some(v), Some(s)) if self.entries[&s].priority < self.entries[&v].priority => s,
                (Some(v), _) => v,
                (None, Some(s)) => s,
                (None, None) => break,
            };
            if Some(chosen) == spared {
                spared = None;
            }
            self.remove(chosen, RemovalCause::Capacity);
        }
        true
    }

    fn get(&mut self, key: u8) -> Option<Value> {
        if !self.entries.contains_key(&key) {
            return None;
        }
        if self.expired(key) {
            self.remove(key, RemovalCause::Expired);
            return None;
        }
        let now = self.now;
        let e = self.entries.get_mut(&key).expect("present");
        if e.tti.is_some() {
            e.last_access = now;
        }
        self.touch(key, Touch::Use);
        Some(self.entries[&key].value)
    }

    fn live(&self) -> Vec<(u8, Value)> {
        self.entries
            .iter()
            .filter(|&(&k, _)| !self.expired(k))
            .map(|(&k, e)| (k, e.value))
            .collect()
    }
}

/// The options an `Op::Insert` asks for.
fn insert_options(
    priority: i32,
    ttl: Option<u64>,
    tti: Option<u64>,
    tag: Option<u8>,
) -> EntryOptions {
    let mut options = EntryOptions::new().with_priority(priority);
    if let Some(t) = ttl {
        options = options.with_ttl(Duration::from_secs(t));
    }
    if let Some(t) = tti {
        options = options.with_tti(Duration::from_secs(t));
    }
    if let Some(t) = tag {
        options = options.with_tag(format!("t{t}"));
    }
    options
}

/// A cache under test: values weigh their second field.
fn builder(
    policy: Policy,
    shards: usize,
    clock: &Arc<ManualClock>,
    max_entries: Option<u64>,
    max_weight: Option<u64>,
) -> strata::MemoryCacheBuilder<u8, Value> {
    let mut builder = MemoryCache::<u8, Value>::builder()
        .policy(policy)
        .shards(shards)
        .clock(clock.clone())
        .weigher(|_, v: &Value| v.1);
    if let Some(m) = max_entries {
        builder = builder.max_entries(m);
    }
    if let Some(m) = max_weight {
        builder = builder.max_weight(m);
    }
    builder
}

fn run(policy: Policy, max_entries: Option<u64>, max_weight: Option<u64>, ops: Vec<Op>) {
    let clock = Arc::new(ManualClock::new());
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let sink = Arc::clone(&events);
    let cache = builder(policy, 1, &clock, max_entries, max_weight)
        .removal_listener(move |k, v, cause| sink.lock().expect("sink").push((k, v, cause)))
        .build()
        .expect("valid configuration");
    let mut model = Model {
        policy,
        max_entries,
        max_weight,
        now: 0,
        tick: 0,
        lfu_age: 0,
        entries: BTreeMap::new(),
        events: Vec::new(),
    };

    for (step, op) in ops.into_iter().enumerate() {
        let id = step as u32;
        let context = format!("{policy} step {step}: {op:?}");
        match op {
            Op::Insert {
                key,
                weight,
                priority,
                ttl,
                tti,
                tag,
            } => {
                let options = insert_options(priority, ttl, tti, tag);
                let got = cache.insert_with(key, (id, weight), options).is_ok();
                let want = model.insert(key, (id, weight), priority, ttl, tti, tag);
                assert_eq!(got, want, "{context}");
            }
            Op::Get(key) => assert_eq!(cache.get(&key), model.get(key), "{context}"),
            Op::Peek(key) => {
                let want = model.live().into_iter().find(|e| e.0 == key).map(|e| e.1);
                assert_eq!(cache.peek(&key), want, "{context}");
            }
            Op::Contains(key) => {
                let want = model.live().iter().any(|e| e.0 == key);
                assert_eq!(cache.contains(&key), want, "{context}");
            }
            Op::Remove(key) => {
                let want = match model.entries.contains_key(&key) {
                    false => None,
                    true if model.expired(key) => {
                        model.remove(key, RemovalCause::Expired);
                        None
                    }
                    true => Some(model.remove(key, RemovalCause::Removed)),
                };
                assert_eq!(cache.remove(&key), want, "{context}");
            }
            Op::Advance(secs) => {
                clock.advance(Duration::from_secs(secs));
                model.now += secs * SECOND;
            }
            Op::InvalidateTag(tag) => {
                let tagged: Vec<u8> = model
                    .entries
                    .iter()
                    .filter(|(_, e)| e.tag == Some(tag))
                    .map(|(&k, _)| k)
                    .collect();
                // Expired entries go too, as expired, and are not counted.
                let mut live = 0;
                for &key in &tagged {
                    if model.expired(key) {
                        model.remove(key, RemovalCause::Expired);
                    } else {
                        model.remove(key, RemovalCause::Invalidated);
                        live += 1;
                    }
                }
                let got = cache.invalidate_tag(&format!("t{tag}"));
                assert_eq!(got, live, "{context}");
            }
            Op::Maintain => {
                cache.run_maintenance();
                model.purge();
            }
        }

        let mut got_events = std::mem::take(&mut *events.lock().expect("events"));
        let mut want_events = std::mem::take(&mut model.events);
        got_events.sort_by_key(|e| (e.0, e.1, e.2 as u8));
        want_events.sort_by_key(|e| (e.0, e.1, e.2 as u8));
        assert_eq!(got_events, want_events, "removals after {context}");

        cache
            .validate()
            .unwrap_or_else(|e| panic!("{e} after {context}"));
        assert_eq!(cache.len(), model.entries.len() as u64, "{context}");
        let weight: u64 = model.entries.values().map(|e| u64::from(e.value.1)).sum();
        assert_eq!(cache.weight(), weight, "{context}");
        let mut live: Vec<(u8, Value)> = cache
            .snapshot()
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect();
        live.sort();
        assert_eq!(live, model.live(), "live entries after {context}");
    }
}

fn bounds() -> impl Strategy<Value = (Option<u64>, Option<u64>)> {
    prop_oneof![
        (1u64..6).prop_map(|n| (Some(n), None)),
        (3u64..12).prop_map(|w| (None, Some(w))),
        (1u64..6, 3u64..12).prop_map(|(n, w)| (Some(n), Some(w))),
    ]
}

macro_rules! model_test {
    ($name:ident, $policy:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]
            #[test]
            fn $name((max_entries, max_weight) in bounds(), ops in prop::collection::vec(op(), 1..80)) {
                run($policy, max_entries, max_weight, ops);
            }
        }
    };
}

model_test!(lru_matches_the_model, Policy::Lru);
model_test!(lfu_matches_the_model, Policy::Lfu);
model_test!(ttl_matches_the_model, Policy::Ttl);
model_test!(size_matches_the_model, Policy::Size);

/// `Hybrid` ranks by floating-point value, so it has no exact model here;
/// instead every step checks the invariants, the bounds, and that a read
/// returns only the last value written for its key.
fn run_invariants(policy: Policy, max_entries: Option<u64>, max_weight: Option<u64>, ops: Vec<Op>) {
    let clock = Arc::new(ManualClock::new());
    let cache = builder(policy, 2, &clock, max_entries, max_weight)
        .build()
        .expect("valid configuration");
    let mut last: BTreeMap<u8, Value> = BTreeMap::new();
    for (step, op) in ops.into_iter().enumerate() {
        let context = format!("{policy} step {step}: {op:?}");
        match op {
            Op::Insert {
                key,
                weight,
                priority,
                ttl,
                tti,
                tag,
            } => {
                let options = insert_options(priority, ttl, tti, tag)
                    .with_cost(Duration::from_micros(u64::from(weight) * 100));
                if cache
                    .insert_with(key, (step as u32, weight), options)
                    .is_ok()
                {
                    last.insert(key, (step as u32, weight));
                }
            }
            Op::Get(key) | Op::Peek(key) => {
                if let Some(v) = cache.get(&key) {
                    assert_eq!(Some(&v), last.get(&key), "{context}");
                }
            }
            Op::Contains(key) => {
                let _ = cache.contains(&key);
            }
            Op::Remove(key) => {
                let _ = cache.remove(&key);
            }
            Op::Advance(secs) => clock.advance(Duration::from_secs(secs)),
            Op::InvalidateTag(tag) => {
                cache.invalidate_tag(&format!("t{tag}"));
            }
            Op::Maintain => cache.run_maintenance(),
        }
        cache
            .validate()
            .unwrap_or_else(|e| panic!("{e} after {context}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn hybrid_keeps_its_invariants((max_entries, max_weight) in bounds(), ops in prop::collection::vec(op(), 1..80)) {
        run_invariants(Policy::Hybrid, max_entries, max_weight, ops);
    }

    #[test]
    fn every_policy_keeps_its_invariants_across_shards(
        policy in prop::sample::select(Policy::ALL.to_vec()),
        (max_entries, max_weight) in bounds(),
        ops in prop::collection::vec(op(), 1..80),
    ) {
        run_invariants(policy, max_entries, max_weight, ops);
    }
}
