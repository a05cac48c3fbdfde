//! Which entries of a shard carry which tag, so that invalidating a tag costs
//! in proportion to the entries it removes, not to the shard.
//!
//! Tag strings are interned: every entry with tag `t` shares one `Arc<str>`
//! with the index.

use std::sync::Arc;

use hashbrown::{HashMap, HashSet};

#[derive(Debug, Default)]
pub(crate) struct TagIndex {
    by_tag: HashMap<Arc<str>, HashSet<u32>>,
}

impl TagIndex {
    /// The shared string for `tag`, reusing the index's copy when present.
    pub(crate) fn intern(&self, tag: &str) -> Arc<str> {
        match self.by_tag.get_key_value(tag) {
            Some((shared, _)) => Arc::clone(shared),
            None => Arc::from(tag),
        }
    }

    pub(crate) fn add(&mut self, tag: &Arc<str>, slot: u32) {
        self.by_tag.entry(Arc::clone(tag)).or_default().insert(slot);
    }

    pub(crate) fn remove(&mut self, tag: &str, slot: u32) {
        if let Some(slots) = self.by_tag.get_mut(tag) {
            slots.remove(&slot);
            if slots.is_empty() {
                self.by_tag.remove(tag);
            }
        }
    }

    /// The slots carrying `tag` (the index keeps them until each entry is
    /// removed through [`TagIndex::remove`]).
    pub(crate) fn slots(&self, tag: &str) -> Vec<u32> {
        self.by_tag
            .get(tag)
            .map(|slots| slots.iter().copied().collect())
            .unwrap_or_default()
    }

    pub(crate) fn clear(&mut self) {
        self.by_tag.clear();
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &HashSet<u32>)> {
        self.by_tag.iter()
    }

    pub(crate) fn contains(&self, tag: &str, slot: u32) -> bool {
        self.by_tag.get(tag).is_some_and(|s| s.contains(&slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_shares_strings_and_empty_tags_disappear() {
        let mut index = TagIndex::default();
        let a = index.intern("t");
        index.add(&a, 1);
        let b = index.intern("t");
        assert!(Arc::ptr_eq(&a, &b));
        index.add(&b, 2);
        let mut slots = index.slots("t");
        slots.sort_unstable();
        assert_eq!(slots, [1, 2]);
        index.remove("t", 1);
        index.remove("t", 2);
        assert!(index.slots("t").is_empty());
        assert_eq!(index.iter().count(), 0);
    }
}
