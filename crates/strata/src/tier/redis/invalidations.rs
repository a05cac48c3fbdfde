//! What Redis's client-tracking `invalidate` pushes mean for one instance:
//! which cache keys changed, whether the tags hash changed, and which tags
//! a change to the tags hash bumped. Pure functions, tested here; the
//! connection that receives the pushes is in `tracking.rs`.

use std::collections::HashMap;

use ::redis::Value;

use super::keys::KeyLayout;

/// One `invalidate` push, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Invalidation {
    /// These Redis keys changed.
    Keys {
        /// The cache keys whose value keys (`{prefix}v:{key}`) changed.
        keys: Vec<String>,
        /// Whether the tags hash (`{prefix}tags`) changed.
        tags: bool,
    },
    /// The database was flushed (`FLUSHDB`, `FLUSHALL`): Redis sends a
    /// null instead of a list of keys.
    Flushed,
}

/// Reads the data of an `invalidate` push: `[array of keys]`, or `[null]`
/// after a flush. `None` for a shape Redis does not send.
///
/// A key under a tracked prefix that is neither a value key nor the tags
/// hash (`{prefix}tagsX`: the `{prefix}tags` prefix also covers it), or
/// not UTF-8 (never a key this tier wrote), is skipped.
pub(super) fn read_push(layout: &KeyLayout, data: &[Value]) -> Option<Invalidation> {
    match data.first()? {
        Value::Nil => Some(Invalidation::Flushed),
        Value::Array(redis_keys) => {
            let mut keys = Vec::with_capacity(redis_keys.len());
            let mut tags = false;
            for redis_key in redis_keys {
                let bytes: &[u8] = match redis_key {
                    Value::BulkString(bytes) => bytes,
                    Value::SimpleString(text) => text.as_bytes(),
                    _ => continue,
                };
                if bytes == layout.tags_key().as_bytes() {
                    tags = true;
                } else if let Some(key) = layout.tier_key(bytes) {
                    keys.push(key);
                }
            }
            Some(Invalidation::Keys { keys, tags })
        }
        _ => None,
    }
}

/// This instance's copy of the tags hash: tag → epoch, as Redis stores it.
///
/// A change to the tags hash arrives as "the hash changed", not which tag;
/// comparing a fresh copy with this one names the tags to invalidate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct TagSnapshot {
    /// Epochs as stored: decimal text, compared as bytes (any change of a
    /// field, up or down, is a change).
    epochs: HashMap<String, Vec<u8>>,
}

impl TagSnapshot {
    /// From the reply of `HGETALL {prefix}tags`. A field that is not UTF-8
    /// is never a tag of this cache (tags are strings) and is left out.
    pub(super) fn from_fields(fields: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>) -> Self {
        let epochs = fields
            .into_iter()
            .filter_map(|(tag, epoch)| String::from_utf8(tag).ok().map(|tag| (tag, epoch)))
            .collect();
        Self { epochs }
    }

    /// Replaces this copy with `fresh` and returns the tags whose epoch
    /// differs between the two, sorted: raised, lowered, added (a first
    /// bump) or removed (the field or the whole hash deleted, which resets
    /// the epoch to zero).
    pub(super) fn replace(&mut self, fresh: Self) -> Vec<String> {
        let mut changed: Vec<String> = fresh
            .epochs
            .iter()
            .filter(|(tag, epoch)| self.epochs.get(*tag) != Some(*epoch))
            .map(|(tag, _)| tag.clone())
            .chain(
                self.epochs
                    .keys()
                    .filter(|tag| !fresh.epochs.contains_key(*tag))
                    .cloned(),
            )
            .collect();
        changed.sort_unstable();
        *self = fresh;
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn value_keys_become_cache_keys_and_the_tags_hash_is_flagged() {
        let layout = KeyLayout::new("app:");
        let push = [Value::Array(vec![
            bulk("app:v:user:1"),
            bulk("app:tags"),
            bulk("app:tagsX"),
            bulk("app:v:"),
            Value::BulkString(b"app:v:\xff".to_vec()),
        ])];
        assert_eq!(
            read_push(&layout, &push),
            Some(Invalidation::Keys {
                keys: vec!["user:1".to_owned(), String::new()],
                tags: true,
            })
        );
    }

    #[test]
    fn a_null_is_a_flush_and_other_shapes_are_ignored() {
        let layout = KeyLayout::new("app:");
        assert_eq!(
            read_push(&layout, &[Value::Nil]),
            Some(Invalidation::Flushed)
        );
        assert_eq!(read_push(&layout, &[]), None);
        assert_eq!(read_push(&layout, &[Value::Int(3)]), None);
    }

    #[test]
    fn a_fresh_snapshot_names_every_tag_whose_epoch_changed() {
        let fields = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(t, e)| (t.as_bytes().to_vec(), e.as_bytes().to_vec()))
                .collect::<Vec<_>>()
        };
        let mut snapshot =
            TagSnapshot::from_fields(fields(&[("users", "1"), ("orders", "4"), ("gone", "2")]));
        let changed = snapshot.replace(TagSnapshot::from_fields(fields(&[
            ("users", "2"),
            ("orders", "4"),
            ("new", "1"),
        ])));
        assert_eq!(changed, ["gone", "new", "users"]);
        assert!(
            snapshot
                .replace(TagSnapshot::from_fields(fields(&[
                    ("users", "2"),
                    ("orders", "4"),
                    ("new", "1"),
                ])))
                .is_empty(),
            "an unchanged hash names nothing"
        );
        let mut with_binary = TagSnapshot::default();
        let changed = with_binary.replace(TagSnapshot::from_fields(vec![(
            b"\xff".to_vec(),
            b"1".to_vec(),
        )]));
        assert!(changed.is_empty(), "a non-UTF-8 field is no tag");
    }
}
