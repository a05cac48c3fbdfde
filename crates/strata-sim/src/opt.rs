//! Belady's optimum (OPT, MIN) with demand fetch: every miss admits its key,
//! and when the cache is full the resident key whose next request is
//! farthest in the future is evicted. No policy can do better under this
//! protocol, so OPT bounds every policy's hit ratio from above.
//!
//! Exact, O(n log c) for n requests and capacity c: each key gets a dense
//! id, each request the index of the same key's next request (computed in
//! one backward pass), and the resident keys sit in a max-heap by next use.
//! Heap items go stale when their key is requested again; they are skipped
//! when they surface, and the heap is rebuilt from the resident keys when
//! stale items outnumber live ones, so memory stays O(n) for the trace plus
//! O(c) for the heap: about 8 bytes per request and 9 per distinct key
//! (a 13-million-request trace needs about 110 MB).

use std::collections::BinaryHeap;

use hashbrown::HashMap;

/// "Never requested again".
const NEVER: u32 = u32::MAX;

/// A trace prepared for OPT at any capacity.
#[derive(Debug, Clone)]
pub struct Belady {
    ids: Vec<u32>,
    next: Vec<u32>,
    distinct: usize,
}

/// A trace too long for OPT's 32-bit request indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a trace of {0} requests is longer than OPT supports (2^32 - 1)")]
pub struct TraceTooLong(pub usize);

impl Belady {
    /// Prepares `keys` (O(n) time and memory).
    ///
    /// # Errors
    /// [`TraceTooLong`] past 2^32 - 1 requests.
    pub fn new(keys: &[u64]) -> Result<Self, TraceTooLong> {
        if keys.len() >= NEVER as usize {
            return Err(TraceTooLong(keys.len()));
        }
        let mut dense: HashMap<u64, u32> = HashMap::with_capacity(keys.len() / 8);
        let ids: Vec<u32> = keys
            .iter()
            .map(|&k| {
                let id = dense.len() as u32;
                *dense.entry(k).or_insert(id)
            })
            .collect();
        let distinct = dense.len();
        drop(dense);
        let mut last = vec![NEVER; distinct];
        let mut next = vec![NEVER; ids.len()];
        for (i, &id) in ids.iter().enumerate().rev() {
            next[i] = last[id as usize];
            last[id as usize] = i as u32;
        }
        Ok(Self {
            ids,
            next,
            distinct,
        })
    }

    /// Requests in the trace.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the trace is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Distinct keys in the trace.
    pub fn distinct(&self) -> usize {
        self.distinct
    }

    /// Hits of OPT with room for `capacity` keys (0 gives 0).
    pub fn hits(&self, capacity: usize) -> u64 {
        if capacity == 0 {
            return 0;
        }
        // `due[id]`: the next request of a resident key, or None if absent.
        let mut due: Vec<Option<u32>> = vec![None; self.distinct];
        let mut heap: BinaryHeap<(u32, u32)> = BinaryHeap::with_capacity(2 * capacity + 1);
        let (mut resident, mut hits) = (0usize, 0u64);
        for (&id, &next) in self.ids.iter().zip(&self.next) {
            let slot = &mut due[id as usize];
            if slot.is_some() {
                hits += 1;
            } else {
                if resident == capacity {
                    // Pop until a live item: the farthest next use.
                    while let Some((when, victim)) = heap.pop() {
                        if due[victim as usize] == Some(when) {
                            due[victim as usize] = None;
                            resident -= 1;
                            break;
                        }
                    }
                }
                resident += 1;
            }
            due[id as usize] = Some(next);
            heap.push((next, id));
            if heap.len() > 2 * capacity + 64 {
                heap = due
                    .iter()
                    .enumerate()
                    .filter_map(|(id, when)| when.map(|w| (w, id as u32)))
                    .collect();
            }
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OPT by brute force: on a miss with a full cache, scan for the resident
    /// key used farthest ahead.
    fn brute_force(keys: &[u64], capacity: usize) -> u64 {
        let mut cache: Vec<u64> = Vec::new();
        let mut hits = 0;
        for (i, &k) in keys.iter().enumerate() {
            if cache.contains(&k) {
                hits += 1;
                continue;
            }
            if cache.len() == capacity {
                let next_use = |c: u64| {
                    keys[i + 1..]
                        .iter()
                        .position(|&x| x == c)
                        .unwrap_or(usize::MAX)
                };
                let (at, _) = cache
                    .iter()
                    .enumerate()
                    .max_by_key(|&(_, &c)| next_use(c))
                    .expect("cache is full, so not empty");
                cache.swap_remove(at);
            }
            cache.push(k);
        }
        hits
    }

    #[test]
    fn textbook_example() {
        // 7 0 1 2 0 3 0 4 2 3 0 3 2 with 3 frames: 2 evicts 7 (never used
        // again), 3 evicts 1, 4 evicts 0, the second 0 evicts 4; the other
        // six requests hit.
        let keys = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2];
        let opt = Belady::new(&keys).expect("short");
        assert_eq!(opt.hits(3), 6);
        assert_eq!(opt.hits(0), 0);
        assert_eq!(opt.hits(100), 13 - 6, "only the 6 cold misses");
    }

    proptest::proptest! {
        #[test]
        fn matches_brute_force(keys in proptest::collection::vec(0u64..12, 0..300), capacity in 1usize..10) {
            let opt = Belady::new(&keys).expect("short");
            proptest::prop_assert_eq!(opt.hits(capacity), brute_force(&keys, capacity));
        }
    }
}
