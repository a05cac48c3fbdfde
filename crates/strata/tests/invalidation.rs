//! Invalidation by tag, prefix, glob pattern and predicate, and clear.

mod common;

use common::Removed;
use strata::{EntryOptions, MemoryCache, PatternError, RemovalCause};

fn cache(removed: &Removed<String, u32>) -> MemoryCache<String, u32> {
    MemoryCache::builder()
        .max_entries(1_000)
        .shards(4)
        .removal_listener(removed.listener())
        .build()
        .expect("valid configuration")
}

fn put(cache: &MemoryCache<String, u32>, key: &str, tags: &[&str]) {
    let options = EntryOptions::new().with_tags(tags.iter().copied());
    cache.insert_with(key.to_owned(), 0, options).expect("fits");
}

fn keys_left(cache: &MemoryCache<String, u32>) -> Vec<String> {
    let mut keys: Vec<_> = cache.snapshot().into_iter().map(|e| e.key).collect();
    keys.sort();
    keys
}

#[test]
fn tags_remove_exactly_their_entries_and_count_them() {
    let removed = Removed::default();
    let cache = cache(&removed);
    put(&cache, "u1", &["users", "eu"]);
    put(&cache, "u2", &["users"]);
    put(&cache, "p1", &["posts", "eu"]);
    put(&cache, "x", &[]);
    assert_eq!(cache.invalidate_tag("nobody"), 0);
    assert_eq!(cache.invalidate_tag("users"), 2);
    assert_eq!(keys_left(&cache), ["p1", "x"]);
    assert_eq!(cache.invalidate_tag("users"), 0, "already gone");
    let mut causes: Vec<_> = removed.take().into_iter().map(|r| (r.0, r.2)).collect();
    causes.sort();
    assert_eq!(
        causes,
        [
            ("u1".to_owned(), RemovalCause::Invalidated),
            ("u2".to_owned(), RemovalCause::Invalidated)
        ]
    );
    cache
        .validate()
        .expect("the tag index forgot u1's other tag too");
}

#[test]
fn several_tags_count_each_entry_once() {
    let removed = Removed::default();
    let cache = cache(&removed);
    put(&cache, "a", &["t1", "t2"]);
    put(&cache, "b", &["t2"]);
    put(&cache, "c", &["t3"]);
    assert_eq!(cache.invalidate_tags(&["t1", "t2"]), 2);
    assert_eq!(keys_left(&cache), ["c"]);
}

#[test]
fn a_rewrite_replaces_the_tags() {
    let removed = Removed::default();
    let cache = cache(&removed);
    put(&cache, "k", &["old"]);
    put(&cache, "k", &["new"]);
    assert_eq!(cache.invalidate_tag("old"), 0);
    assert_eq!(cache.invalidate_tag("new"), 1);
    cache.validate().expect("consistent");
}

#[test]
fn prefix_and_pattern_match_keys() {
    let removed = Removed::default();
    let cache = cache(&removed);
    for key in [
        "user:1:profile",
        "user:2:profile",
        "user:2:settings",
        "users",
        "post:1",
    ] {
        put(&cache, key, &[]);
    }
    assert_eq!(
        cache.invalidate_pattern("user:*:profile").expect("valid"),
        2
    );
    assert_eq!(keys_left(&cache), ["post:1", "user:2:settings", "users"]);
    assert_eq!(cache.invalidate_prefix("user:"), 1);
    assert_eq!(keys_left(&cache), ["post:1", "users"]);
    assert_eq!(cache.invalidate_pattern("p?st:[0-9]").expect("valid"), 1);
    assert_eq!(cache.invalidate_if(|k| k.len() == 5), 1);
    assert!(cache.is_empty());
    assert!(
        removed
            .take()
            .iter()
            .all(|r| r.2 == RemovalCause::Invalidated)
    );
}

#[test]
fn a_malformed_pattern_is_an_error_and_removes_nothing() {
    let removed = Removed::default();
    let cache = cache(&removed);
    put(&cache, "a[", &[]);
    let err = cache.invalidate_pattern("a[").expect_err("unclosed class");
    assert!(matches!(err, PatternError::Invalid { .. }), "{err:?}");
    assert_eq!(cache.len(), 1);
}

#[test]
fn clear_removes_everything() {
    let removed = Removed::default();
    let cache = cache(&removed);
    for i in 0..50 {
        put(&cache, &format!("k{i}"), &["t"]);
    }
    assert_eq!(cache.clear(), 50);
    assert!(cache.is_empty());
    assert_eq!(cache.weight(), 0);
    assert_eq!(removed.take().len(), 50);
    assert_eq!(cache.invalidate_tag("t"), 0, "the tag index was cleared");
    cache.validate().expect("consistent");
}
