//! Which entries carry which tag, for the whole cache, so that invalidating
//! a tag costs in proportion to the entries it removes.
//!
//! Layout choice: one index per cache, not per shard. A tag's entries spread
//! over every shard, so a per-shard index paid each tag's fixed cost (its
//! name, its set, its map entries: about 250 bytes) once per shard; with 100
//! entries per tag over 8 shards that was 20 bytes per tagged entry, here it
//! is 1. Entries are named by one `u32`, shard and slot packed (the shard's
//! slot numbers are held below `2^(32 − shard bits)` for it); each tag keeps
//! them in a vector while it has at most 256, then in a hash set, so adding
//! and removing stay cheap.
//!
//! The index is split into stripes by tag, each behind its own mutex, so that
//! writes with different tags seldom wait for each other. Lock order: a
//! shard's lock may be held while taking a stripe's, never the reverse.

use std::hash::BuildHasher;
use std::sync::Arc;

use crossbeam_utils::CachePadded;
use foldhash::fast::FixedState;
use hashbrown::{HashMap, HashSet};
use parking_lot::Mutex;

#[derive(Debug)]
struct Tag {
    name: Arc<str>,
    members: Members,
}

/// A tag's members: a plain vector while few, a hash set beyond
/// [`FEW`]. A set costs about 8 bytes per member, a vector 4 to 5; and
/// finding a member to remove it in a vector of at most 256 `u32`s takes
/// a few dozen nanoseconds.
#[derive(Debug)]
enum Members {
    Few(Vec<u32>),
    Many(HashSet<u32>),
}

/// The most members a tag keeps in a vector.
const FEW: usize = 256;

impl Members {
    fn insert(&mut self, member: u32) {
        match self {
            Members::Few(v) if v.contains(&member) => {}
            Members::Few(v) if v.len() < FEW => v.push(member),
            Members::Few(v) => {
                let mut set: HashSet<u32> = v.drain(..).collect();
                set.insert(member);
                *self = Members::Many(set);
            }
            Members::Many(set) => {
                set.insert(member);
            }
        }
    }

    fn remove(&mut self, member: u32) {
        match self {
            Members::Few(v) => {
                if let Some(at) = v.iter().position(|&m| m == member) {
                    v.swap_remove(at);
                }
            }
            Members::Many(set) => {
                set.remove(&member);
                if set.len() < FEW / 2 {
                    *self = Members::Few(set.drain().collect());
                }
            }
        }
    }

    fn contains(&self, member: u32) -> bool {
        match self {
            Members::Few(v) => v.contains(&member),
            Members::Many(set) => set.contains(&member),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Members::Few(v) => v.is_empty(),
            Members::Many(set) => set.is_empty(),
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        match self {
            Members::Few(v) => Box::new(v.iter().copied()),
            Members::Many(set) => Box::new(set.iter().copied()),
        }
    }
}

/// The tags of one stripe, with ids local to it.
#[derive(Debug, Default)]
struct Stripe {
    ids: HashMap<Arc<str>, u32>,
    /// By local id; `None` for a freed id.
    tags: Vec<Option<Tag>>,
    free: Vec<u32>,
}

/// The tag index of one cache.
pub(crate) struct Tags {
    stripes: Box<[CachePadded<Mutex<Stripe>>]>,
    hasher: FixedState,
    /// Bits of a member that hold the slot; the shard is above them.
    slot_bits: u32,
}

impl std::fmt::Debug for Tags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tags")
            .field("stripes", &self.stripes.len())
            .finish_non_exhaustive()
    }
}

/// A tag id: 0 means none; id − 1 is the local id times the stripe count
/// plus the stripe.
pub(crate) type TagId = u32;

impl Tags {
    /// An index for a cache of `shards` shards (a power of two), in
    /// `stripes` stripes.
    pub(crate) fn new(shards: usize, stripes: usize, hasher: FixedState) -> Self {
        Self {
            stripes: (0..stripes.max(1))
                .map(|_| CachePadded::new(Mutex::new(Stripe::default())))
                .collect(),
            hasher,
            slot_bits: 32 - shards.max(1).trailing_zeros(),
        }
    }

    /// The most slots a shard may use so that members fit in a `u32`.
    pub(crate) fn slot_limit(&self) -> u32 {
        if self.slot_bits >= 32 {
            u32::MAX
        } else {
            1 << self.slot_bits
        }
    }

    fn member(&self, shard: usize, slot: u32) -> u32 {
        ((shard as u64) << self.slot_bits | u64::from(slot)) as u32
    }

    fn unpack(&self, member: u32) -> (usize, u32) {
        let shard = (u64::from(member) >> self.slot_bits) as usize;
        let mask = if self.slot_bits >= 32 {
            u32::MAX
        } else {
            (1 << self.slot_bits) - 1
        };
        (shard, member & mask)
    }

    fn stripe_of_name(&self, tag: &str) -> usize {
        (self.hasher.hash_one(tag) % self.stripes.len() as u64) as usize
    }

    fn locate(&self, id: TagId) -> Option<(usize, usize)> {
        let n = self.stripes.len();
        let i = id.checked_sub(1)? as usize;
        Some((i % n, i / n))
    }

    /// Records that `slot` of `shard` carries `tag`; returns the tag's id.
    pub(crate) fn add(&self, tag: &str, shard: usize, slot: u32) -> TagId {
        let n = self.stripes.len();
        let s = self.stripe_of_name(tag);
        let member = self.member(shard, slot);
        let mut stripe = self.stripes[s].lock();
        let local = match stripe.ids.get(tag) {
            Some(&local) => local,
            None => {
                let name: Arc<str> = Arc::from(tag);
                let fresh = Tag {
                    name: Arc::clone(&name),
                    members: Members::Few(Vec::new()),
                };
                let local = match stripe.free.pop() {
                    Some(local) => {
                        stripe.tags[local as usize] = Some(fresh);
                        local
                    }
                    None => {
                        stripe.tags.push(Some(fresh));
                        (stripe.tags.len() - 1) as u32
                    }
                };
                stripe.ids.insert(name, local);
                local
            }
        };
        if let Some(Some(t)) = stripe.tags.get_mut(local as usize) {
            t.members.insert(member);
        }
        (local as usize * n + s + 1) as TagId
    }

    /// Records that `slot` of `shard` no longer carries tag `id`.
    pub(crate) fn remove(&self, id: TagId, shard: usize, slot: u32) {
        let Some((s, local)) = self.locate(id) else {
            return;
        };
        let member = self.member(shard, slot);
        let mut stripe = self.stripes[s].lock();
        let stripe = &mut *stripe;
        let Some(place) = stripe.tags.get_mut(local) else {
            return;
        };
        let Some(tag) = place else {
            return;
        };
        tag.members.remove(member);
        if tag.members.is_empty() {
            stripe.ids.remove(&tag.name);
            *place = None;
            stripe.free.push(local as u32);
        }
    }

    /// The name of tag `id`.
    pub(crate) fn name(&self, id: TagId) -> Option<Arc<str>> {
        let (s, local) = self.locate(id)?;
        let stripe = self.stripes[s].lock();
        let tag = stripe.tags.get(local)?.as_ref()?;
        Some(Arc::clone(&tag.name))
    }

    /// The id of `tag`, if any entry carries it.
    pub(crate) fn id(&self, tag: &str) -> Option<TagId> {
        let s = self.stripe_of_name(tag);
        let local = *self.stripes[s].lock().ids.get(tag)?;
        Some((local as usize * self.stripes.len() + s + 1) as TagId)
    }

    /// The (shard, slot) of every entry carrying `tag`, by shard.
    pub(crate) fn members(&self, tag: &str) -> Vec<(usize, u32)> {
        let s = self.stripe_of_name(tag);
        let stripe = self.stripes[s].lock();
        let Some(&local) = stripe.ids.get(tag) else {
            return Vec::new();
        };
        let mut out: Vec<(usize, u32)> = stripe
            .tags
            .get(local as usize)
            .and_then(Option::as_ref)
            .map(|t| t.members.iter().map(|m| self.unpack(m)).collect())
            .unwrap_or_default();
        out.sort_unstable();
        out
    }

    /// Whether `slot` of `shard` is indexed under tag `id`.
    pub(crate) fn contains(&self, id: TagId, shard: usize, slot: u32) -> bool {
        let Some((s, local)) = self.locate(id) else {
            return false;
        };
        let member = self.member(shard, slot);
        let stripe = self.stripes[s].lock();
        stripe
            .tags
            .get(local)
            .and_then(Option::as_ref)
            .is_some_and(|t| t.members.contains(member))
    }

    /// Every (id, shard, slot) indexed, for `validate`.
    pub(crate) fn all(&self) -> Vec<(TagId, usize, u32)> {
        let n = self.stripes.len();
        let mut out = Vec::new();
        for (s, stripe) in self.stripes.iter().enumerate() {
            let stripe = stripe.lock();
            for (local, tag) in stripe.tags.iter().enumerate() {
                let Some(tag) = tag else { continue };
                let id = (local * n + s + 1) as TagId;
                out.extend(tag.members.iter().map(|m| {
                    let (shard, slot) = self.unpack(m);
                    (id, shard, slot)
                }));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_get_ids_that_are_reused_once_their_last_entry_goes() {
        let tags = Tags::new(8, 4, FixedState::with_seed(1));
        let a = tags.add("t", 0, 1);
        assert_eq!(tags.add("t", 7, 2), a);
        let b = tags.add("u", 0, 1);
        assert_ne!(a, b);
        assert_eq!(tags.members("t"), [(0, 1), (7, 2)]);
        assert_eq!(tags.name(a).as_deref(), Some("t"));
        assert_eq!(tags.id("t"), Some(a));
        tags.remove(a, 0, 1);
        tags.remove(a, 7, 2);
        assert!(tags.members("t").is_empty());
        assert_eq!(tags.name(a), None);
        assert_eq!(tags.id("t"), None);
        assert!(tags.contains(b, 0, 1) && !tags.contains(b, 0, 2));
        assert_eq!(tags.all(), [(b, 0, 1)]);
    }

    #[test]
    fn a_tag_moves_its_members_to_a_set_and_back_as_it_grows_and_shrinks() {
        let tags = Tags::new(1, 1, FixedState::with_seed(1));
        let many = FEW as u32 * 2;
        let mut id = 0;
        for slot in 0..many {
            id = tags.add("t", 0, slot);
        }
        tags.add("t", 0, 3); // already a member: no duplicate
        assert_eq!(tags.members("t").len(), many as usize);
        for slot in 0..many - 1 {
            tags.remove(id, 0, slot);
        }
        assert_eq!(tags.members("t"), [(0, many - 1)]);
        assert!(tags.contains(id, 0, many - 1) && !tags.contains(id, 0, 0));
    }

    #[test]
    fn members_pack_shard_and_slot_into_32_bits() {
        let tags = Tags::new(1 << 16, 1, FixedState::with_seed(1));
        assert_eq!(tags.slot_limit(), 1 << 16);
        tags.add("t", (1 << 16) - 1, (1 << 16) - 1);
        assert_eq!(tags.members("t"), [((1 << 16) - 1, (1 << 16) - 1)]);
        let one = Tags::new(1, 1, FixedState::with_seed(1));
        assert_eq!(one.slot_limit(), u32::MAX);
        one.add("t", 0, u32::MAX - 1);
        assert_eq!(one.members("t"), [(0, u32::MAX - 1)]);
    }
}
