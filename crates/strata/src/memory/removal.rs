//! Why entries leave the cache, and how the cache tells its listener.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Why an entry left the cache, as given to the removal listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RemovalCause {
    /// Its time to live or time to idle ran out.
    Expired,
    /// The cache needed room: capacity, or memory pressure.
    Capacity,
    /// It was invalidated by tag, key prefix or pattern.
    Invalidated,
    /// A write to the same key replaced its value.
    Replaced,
    /// It was removed explicitly: `remove` or `clear`.
    Removed,
}

impl RemovalCause {
    /// Every cause, in declaration order.
    pub const ALL: [RemovalCause; 5] = [
        RemovalCause::Expired,
        RemovalCause::Capacity,
        RemovalCause::Invalidated,
        RemovalCause::Replaced,
        RemovalCause::Removed,
    ];

    pub(crate) fn index(self) -> usize {
        match self {
            RemovalCause::Expired => 0,
            RemovalCause::Capacity => 1,
            RemovalCause::Invalidated => 2,
            RemovalCause::Replaced => 3,
            RemovalCause::Removed => 4,
        }
    }
}

/// The removal listener: called once per departed entry, with ownership of
/// its key and value, after the cache has released its locks (so it may call
/// back into the cache).
pub(crate) type Listener<K, V> = Arc<dyn Fn(K, V, RemovalCause) + Send + Sync>;

/// Entries removed while a shard was locked, handed to the listener once the
/// lock is released. Dropping values outside the lock matters too: a value's
/// destructor may be slow.
///
/// The first removal is held inline: a write usually removes at most one
/// entry (the value it replaced, or one victim), and a heap allocation per
/// such write would cost more than the removal. A general small vector
/// (`smallvec`, two inline) did the same, but asked on every push, length
/// and iteration whether it had spilled, and copied its inline buffer to
/// iterate: 23 of an overwrite's 407 instructions (callgrind, stats on).
pub(crate) struct Removals<K, V> {
    first: Option<(K, V, RemovalCause)>,
    /// Every removal after the first, in order.
    rest: Vec<(K, V, RemovalCause)>,
}

impl<K, V> Removals<K, V> {
    /// No removals.
    #[inline]
    pub(crate) const fn new() -> Self {
        Self {
            first: None,
            rest: Vec::new(),
        }
    }

    /// One removal.
    #[inline]
    pub(crate) fn one(key: K, value: V, cause: RemovalCause) -> Self {
        Self {
            first: Some((key, value, cause)),
            rest: Vec::new(),
        }
    }

    /// Adds a removal after the others.
    #[inline]
    pub(crate) fn push(&mut self, removal: (K, V, RemovalCause)) {
        if self.first.is_none() {
            self.first = Some(removal);
        } else {
            self.rest.push(removal);
        }
    }

    /// Takes the last removal.
    pub(crate) fn pop(&mut self) -> Option<(K, V, RemovalCause)> {
        self.rest.pop().or_else(|| self.first.take())
    }

    /// How many removals there are.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    /// Calls `f` with each removal's cause, in order: two plain loops
    /// rather than a chained iterator, for the count every write makes.
    #[inline]
    pub(crate) fn for_each_cause(&self, mut f: impl FnMut(RemovalCause)) {
        if let Some((.., cause)) = &self.first {
            f(*cause);
        }
        for (.., cause) in &self.rest {
            f(*cause);
        }
    }

    /// Whether there are none.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        // `rest` fills only after `first`.
        self.first.is_none()
    }
}

impl<K, V> IntoIterator for Removals<K, V> {
    type Item = (K, V, RemovalCause);
    type IntoIter = std::iter::Chain<
        std::option::IntoIter<(K, V, RemovalCause)>,
        std::vec::IntoIter<(K, V, RemovalCause)>,
    >;

    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.rest)
    }
}

impl<'a, K, V> IntoIterator for &'a Removals<K, V> {
    type Item = &'a (K, V, RemovalCause);
    type IntoIter = std::iter::Chain<
        std::option::Iter<'a, (K, V, RemovalCause)>,
        std::slice::Iter<'a, (K, V, RemovalCause)>,
    >;

    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.first.iter().chain(self.rest.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_keep_their_order_through_push_pop_and_iteration() {
        let mut r = Removals::new();
        assert!(r.is_empty() && r.pop().is_none());
        assert_eq!(r.len(), 0);
        for k in 0..4u32 {
            r.push((k, k * 10, RemovalCause::ALL[k as usize]));
        }
        assert_eq!(r.len(), 4);
        assert!(!r.is_empty());
        let keys: Vec<u32> = (&r).into_iter().map(|(k, ..)| *k).collect();
        assert_eq!(keys, [0, 1, 2, 3]);
        assert_eq!(r.pop(), Some((3, 30, RemovalCause::Replaced)));
        let by_ref: Vec<u32> = (&r).into_iter().map(|(_, v, _)| *v).collect();
        assert_eq!(by_ref, [0, 10, 20]);
        let mut causes = Vec::new();
        r.for_each_cause(|c| causes.push(c));
        assert_eq!(causes, RemovalCause::ALL[..3]);
        let owned: Vec<(u32, u32, RemovalCause)> = r.into_iter().collect();
        assert_eq!(owned.len(), 3);
        assert_eq!(owned[0], (0, 0, RemovalCause::Expired));
        let mut one = Removals::one(7u32, 70u32, RemovalCause::Removed);
        assert_eq!(one.len(), 1);
        assert_eq!(one.pop(), Some((7, 70, RemovalCause::Removed)));
        assert!(one.is_empty() && one.pop().is_none());
    }
}
