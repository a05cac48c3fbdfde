//! The writes a breaker holds while the inner tier is out of reach: one
//! ordered log of every mutation, bounded by entries and bytes, replayed in
//! order in batches.
//!
//! One log for every kind of mutation, not a map per key, because order
//! across kinds is what keeps the replay correct: a put followed by a
//! delete, a pattern invalidation or a tag bump must land before them, or
//! the invalidated value comes back. Replaying the whole log in order
//! guarantees it without reasoning about which mutations commute.

use std::collections::VecDeque;

use crate::tier::{KeyFilter, TierWrite};

/// At most this many entries (puts or deleted keys) are replayed in one
/// call: one pipeline to Redis, one transaction on disk. Big enough that a
/// full default queue (10,000 writes) replays in about 40 round trips,
/// small enough that one batch of typical entries stays well inside a
/// command timeout.
pub(super) const REPLAY_BATCH: usize = 256;

/// One call that changes the inner tier, as it was made.
#[derive(Debug, Clone)]
pub(super) enum Mutation {
    /// `put_many` (and `put`).
    Put(Vec<TierWrite>),
    /// `delete_many` (and `delete`).
    Delete(Vec<String>),
    /// `delete_matching`.
    DeleteMatching(KeyFilter),
    /// `clear`.
    Clear,
    /// `bump_tag_epoch`.
    BumpTag(String),
    /// `raise_tag_epoch`.
    RaiseTag(String, u64),
}

impl Mutation {
    /// How many writes it counts as against the bound and in the stats:
    /// one per entry put or key deleted, one for anything else.
    pub(super) fn entries(&self) -> u64 {
        match self {
            Self::Put(writes) => writes.len() as u64,
            Self::Delete(keys) => keys.len() as u64,
            _ => 1,
        }
    }

    /// The bytes it holds: keys and envelopes (tags for epoch changes).
    pub(super) fn bytes(&self) -> u64 {
        let sum = |lens: &mut dyn Iterator<Item = usize>| lens.map(|n| n as u64).sum();
        match self {
            Self::Put(writes) => sum(&mut writes.iter().map(|w| w.key.len() + w.bytes.len())),
            Self::Delete(keys) => sum(&mut keys.iter().map(String::len)),
            Self::DeleteMatching(filter) => filter.literal_prefix().len() as u64,
            Self::Clear => 0,
            Self::BumpTag(tag) | Self::RaiseTag(tag, _) => tag.len() as u64,
        }
    }
}

/// The front of the queue as one call to the inner tier.
#[derive(Debug, Clone)]
pub(super) struct Batch {
    /// How many queued mutations it covers (to pop once it is applied).
    pub(super) items: usize,
    /// How many writes it counts as.
    pub(super) entries: u64,
    /// The call: consecutive puts (or deletes) merged into one.
    pub(super) mutation: Mutation,
}

/// Why a mutation was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Full {
    /// It would take the queue past `max_queued_writes`.
    Writes(u64),
    /// It would take the queue past `max_queued_bytes`.
    Bytes(u64),
}

/// The bounded log.
#[derive(Debug)]
pub(super) struct WriteQueue {
    items: VecDeque<Mutation>,
    entries: u64,
    bytes: u64,
    max_entries: u64,
    max_bytes: u64,
}

impl WriteQueue {
    pub(super) fn new(max_entries: u64, max_bytes: u64) -> Self {
        Self {
            items: VecDeque::new(),
            entries: 0,
            bytes: 0,
            max_entries,
            max_bytes,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Writes queued now.
    pub(super) fn entries(&self) -> u64 {
        self.entries
    }

    /// Bytes queued now.
    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends `mutation`, whole, or refuses it, whole, if it would take the
    /// queue past a bound. A refused mutation is the newest: what is queued
    /// stays, so the log is always a prefix of what the caller did.
    pub(super) fn push(&mut self, mutation: Mutation) -> Result<(), Full> {
        let entries = self.entries + mutation.entries();
        let bytes = self.bytes + mutation.bytes();
        if entries > self.max_entries {
            return Err(Full::Writes(self.max_entries));
        }
        if bytes > self.max_bytes {
            return Err(Full::Bytes(self.max_bytes));
        }
        self.entries = entries;
        self.bytes = bytes;
        self.items.push_back(mutation);
        Ok(())
    }

    /// The oldest mutations as one call, without removing them: they leave
    /// the queue only once applied ([`pop`](Self::pop)), so a replay that
    /// fails or is cancelled loses nothing. Consecutive puts (or deletes)
    /// merge up to [`REPLAY_BATCH`] entries; the order within and across
    /// them is kept, since a batch applies its entries in order.
    pub(super) fn front(&self) -> Option<Batch> {
        let first = self.items.front()?;
        let batch = match first {
            Mutation::Put(_) => {
                let mut writes = Vec::new();
                let items = self.merge(|m| match m {
                    Mutation::Put(w) => Some(w.as_slice()),
                    _ => None,
                });
                for mutation in self.items.iter().take(items) {
                    if let Mutation::Put(w) = mutation {
                        writes.extend_from_slice(w);
                    }
                }
                Batch {
                    items,
                    entries: writes.len() as u64,
                    mutation: Mutation::Put(writes),
                }
            }
            Mutation::Delete(_) => {
                let mut keys = Vec::new();
                let items = self.merge(|m| match m {
                    Mutation::Delete(k) => Some(k.as_slice()),
                    _ => None,
                });
                for mutation in self.items.iter().take(items) {
                    if let Mutation::Delete(k) = mutation {
                        keys.extend_from_slice(k);
                    }
                }
                Batch {
                    items,
                    entries: keys.len() as u64,
                    mutation: Mutation::Delete(keys),
                }
            }
            other => Batch {
                items: 1,
                entries: 1,
                mutation: other.clone(),
            },
        };
        Some(batch)
    }

    /// How many leading mutations of one kind (`part` says which, and their
    /// entries) fit in one batch: at least one, however big.
    fn merge<T>(&self, part: impl Fn(&Mutation) -> Option<&[T]>) -> usize {
        let mut items = 0;
        let mut entries = 0;
        for mutation in &self.items {
            let Some(slice) = part(mutation) else { break };
            if items > 0 && entries + slice.len() > REPLAY_BATCH {
                break;
            }
            items += 1;
            entries += slice.len();
        }
        items
    }

    /// Removes the `items` oldest mutations (a batch that was applied).
    pub(super) fn pop(&mut self, items: usize) {
        for _ in 0..items {
            if let Some(mutation) = self.items.pop_front() {
                self.entries -= mutation.entries();
                self.bytes -= mutation.bytes();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, len: usize) -> TierWrite {
        TierWrite {
            key: key.to_owned(),
            bytes: vec![0; len],
            expires_at_ms: None,
        }
    }

    fn keys(batch: &Batch) -> Vec<String> {
        match &batch.mutation {
            Mutation::Put(writes) => writes.iter().map(|w| w.key.clone()).collect(),
            Mutation::Delete(keys) => keys.clone(),
            other => vec![format!("{other:?}")],
        }
    }

    #[test]
    fn bounds_refuse_the_newest_mutation_whole() {
        let mut queue = WriteQueue::new(3, 100);
        queue
            .push(Mutation::Put(vec![put("a", 10), put("b", 10)]))
            .unwrap();
        assert_eq!(
            queue.push(Mutation::Delete(vec!["x".into(), "y".into()])),
            Err(Full::Writes(3))
        );
        assert_eq!(
            queue.push(Mutation::Put(vec![put("c", 90)])),
            Err(Full::Bytes(100))
        );
        queue.push(Mutation::Clear).unwrap();
        assert_eq!((queue.entries(), queue.bytes()), (3, 22));
        queue.pop(2);
        assert!(queue.is_empty());
        assert_eq!((queue.entries(), queue.bytes()), (0, 0));
    }

    #[test]
    fn batches_merge_runs_of_one_kind_and_keep_the_order() {
        let mut queue = WriteQueue::new(10_000, u64::MAX);
        queue.push(Mutation::Put(vec![put("a", 1)])).unwrap();
        queue
            .push(Mutation::Put(vec![put("b", 1), put("a", 2)]))
            .unwrap();
        queue.push(Mutation::Delete(vec!["a".into()])).unwrap();
        queue.push(Mutation::Delete(vec!["b".into()])).unwrap();
        queue.push(Mutation::BumpTag("t".into())).unwrap();
        queue.push(Mutation::Put(vec![put("c", 1)])).unwrap();

        let mut seen = Vec::new();
        while let Some(batch) = queue.front() {
            seen.push((batch.items, keys(&batch)));
            queue.pop(batch.items);
        }
        assert_eq!(
            seen,
            vec![
                (2, vec!["a".into(), "b".into(), "a".into()]),
                (2, vec!["a".into(), "b".into()]),
                (1, vec![r#"BumpTag("t")"#.into()]),
                (1, vec!["c".into()]),
            ]
        );
    }

    #[test]
    fn a_batch_stops_at_the_replay_size_but_always_takes_one_mutation() {
        let mut queue = WriteQueue::new(u64::MAX, u64::MAX);
        let big: Vec<TierWrite> = (0..REPLAY_BATCH + 5)
            .map(|i| put(&i.to_string(), 1))
            .collect();
        queue.push(Mutation::Put(big)).unwrap();
        queue.push(Mutation::Put(vec![put("next", 1)])).unwrap();
        let first = queue.front().unwrap();
        assert_eq!((first.items, first.entries), (1, REPLAY_BATCH as u64 + 5));
        queue.pop(first.items);
        for i in 0..REPLAY_BATCH {
            queue
                .push(Mutation::Put(vec![put(&i.to_string(), 1)]))
                .unwrap();
        }
        let second = queue.front().unwrap();
        assert_eq!(second.entries, REPLAY_BATCH as u64);
    }
}
