//! Where a tier's data lives in Redis: the key layout, and how a
//! [`KeyFilter`] becomes a `SCAN … MATCH` pattern.
//!
//! | Redis key | type | holds |
//! | --- | --- | --- |
//! | `{prefix}v:{key}` | string | the envelope of `key`, with a Redis TTL when it expires |
//! | `{prefix}tags` | hash | tag → epoch (a decimal integer) |
//!
//! The `v:` namespace keeps every value key apart from the tags hash, so a
//! scan of values never meets it and [`clear`](crate::Tier::clear) can keep
//! the epochs by construction.

use crate::tier::KeyFilter;

/// The keys of one prefix.
#[derive(Debug, Clone)]
pub(super) struct KeyLayout {
    /// The prefix as configured.
    prefix: String,
    /// `{prefix}v:`: what every value key starts with.
    values: String,
    /// `{prefix}tags`.
    tags: String,
    /// [`values`](Self::values) with Redis glob characters escaped, the
    /// start of every `MATCH` pattern.
    values_glob: String,
}

impl KeyLayout {
    pub(super) fn new(prefix: &str) -> Self {
        let values = format!("{prefix}v:");
        let mut values_glob = String::with_capacity(values.len() + 4);
        escape_into(&values, &mut values_glob);
        Self {
            prefix: prefix.to_owned(),
            tags: format!("{prefix}tags"),
            values,
            values_glob,
        }
    }

    /// The prefix as configured.
    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The Redis key of the hash of tag epochs.
    pub(super) fn tags_key(&self) -> &str {
        &self.tags
    }

    /// The Redis key holding the envelope of `key`.
    pub(super) fn value_key(&self, key: &str) -> String {
        let mut out = String::with_capacity(self.values.len() + key.len());
        out.push_str(&self.values);
        out.push_str(key);
        out
    }

    /// The tier key of a Redis key returned by `SCAN`, or `None` for a key
    /// that is not one of this prefix's values (`SCAN` only returns keys
    /// matching the pattern, so that is a key that is not UTF-8: never one
    /// this tier wrote).
    pub(super) fn tier_key(&self, redis_key: &[u8]) -> Option<String> {
        let rest = redis_key.strip_prefix(self.values.as_bytes())?;
        String::from_utf8(rest.to_vec()).ok()
    }

    /// The `MATCH` pattern of a scan for `filter`: every key the filter
    /// selects matches it, and it may match more (the scan re-checks each
    /// key with [`KeyFilter::matches`], so the pattern only saves traffic;
    /// it must never lose a key).
    pub(super) fn scan_pattern(&self, filter: &KeyFilter) -> String {
        let mut out = self.values_glob.clone();
        match filter {
            KeyFilter::Pattern(pattern) => translate_into(pattern.as_str(), &mut out),
            // `All`, `Prefix` and any filter added later: a literal prefix
            // and then anything is a superset of what they select.
            other => {
                escape_into(other.literal_prefix(), &mut out);
                out.push('*');
            }
        }
        out
    }
}

/// Appends `literal` with Redis's glob characters escaped, so that it
/// matches itself only.
fn escape_into(literal: &str, out: &mut String) {
    for c in literal.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Appends a Redis glob that matches every key `pattern` (a
/// [`KeyPattern`](crate::KeyPattern) glob) matches.
///
/// Literal characters and escapes stay literal; `*` stays `*`; `?` becomes
/// `*` because Redis's `?` matches one *byte* and ours one character (up to
/// four bytes in UTF-8); at the first class `[…]` or alternation `{…}` the
/// rest becomes `*`, because their syntax differs from Redis's and a wrong
/// translation could drop keys. Runs of `*` collapse to one.
fn translate_into(pattern: &str, out: &mut String) {
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) => escape_into(escaped.encode_utf8(&mut [0; 4]), out),
                // KeyPattern refuses a dangling escape; were one to get
                // through, matching more is the safe side.
                None => push_star(out),
            },
            '*' | '?' => push_star(out),
            '[' | '{' => {
                push_star(out);
                return;
            }
            literal => escape_into(literal.encode_utf8(&mut [0; 4]), out),
        }
    }
}

/// Appends `*` unless the pattern already ends in an unescaped one.
fn push_star(out: &mut String) {
    let ends_in_star = out.ends_with('*') && {
        // A `*` preceded by an odd run of backslashes is an escaped literal.
        let backslashes = out[..out.len() - 1]
            .bytes()
            .rev()
            .take_while(|&b| b == b'\\')
            .count();
        backslashes % 2 == 0
    };
    if !ends_in_star {
        out.push('*');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyPattern;
    use proptest::prelude::*;

    /// Redis's `stringmatchlen` for the subset of globs this module emits:
    /// literal bytes, `\x` escapes, `*`, `?` (one byte). Used to check that
    /// a translated pattern never loses a key.
    fn redis_glob_match(pattern: &[u8], key: &[u8]) -> bool {
        match pattern.split_first() {
            None => key.is_empty(),
            Some((b'*', rest)) => (0..=key.len()).any(|i| redis_glob_match(rest, &key[i..])),
            Some((b'?', rest)) => !key.is_empty() && redis_glob_match(rest, &key[1..]),
            Some((b'\\', rest)) if !rest.is_empty() => {
                key.first() == Some(&rest[0]) && redis_glob_match(&rest[1..], &key[1..])
            }
            Some((&b, rest)) => key.first() == Some(&b) && redis_glob_match(rest, &key[1..]),
        }
    }

    fn pattern(glob: &str) -> KeyFilter {
        KeyFilter::Pattern(KeyPattern::new(glob).expect("valid glob"))
    }

    #[test]
    fn keys_live_under_the_prefix_and_its_value_namespace() {
        let layout = KeyLayout::new("ns:");
        assert_eq!(layout.value_key("user:1"), "ns:v:user:1");
        assert_eq!(layout.tags_key(), "ns:tags");
        assert_eq!(layout.tier_key(b"ns:v:user:1").as_deref(), Some("user:1"));
        assert_eq!(layout.tier_key(b"ns:tags"), None);
        assert_eq!(layout.tier_key(b"ns:v:\xff"), None, "not UTF-8");
    }

    #[test]
    fn filters_become_match_patterns_with_literals_escaped() {
        let layout = KeyLayout::new("a*b:");
        assert_eq!(layout.scan_pattern(&KeyFilter::All), r"a\*b:v:*");
        let prefix = KeyFilter::Prefix("x?[y]\\".into());
        assert_eq!(layout.scan_pattern(&prefix), r"a\*b:v:x\?\[y\]\\*");
        let layout = KeyLayout::new("ns:");
        assert_eq!(
            layout.scan_pattern(&pattern("user:*:name")),
            "ns:v:user:*:name"
        );
        assert_eq!(layout.scan_pattern(&pattern("a?c")), "ns:v:a*c");
        assert_eq!(layout.scan_pattern(&pattern("a**?*b")), "ns:v:a*b");
        assert_eq!(
            layout.scan_pattern(&pattern(r"lit\*\?x*")),
            r"ns:v:lit\*\?x*"
        );
        assert_eq!(layout.scan_pattern(&pattern(r"a\**")), r"ns:v:a\**");
        assert_eq!(layout.scan_pattern(&pattern("k[ab]:z")), "ns:v:k*");
        assert_eq!(layout.scan_pattern(&pattern("{x,y}:1")), "ns:v:*");
    }

    fn key_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just('a'),
                Just('b'),
                Just('*'),
                Just('?'),
                Just('['),
                Just(']'),
                Just('\\'),
                Just('é'),
                Just('漢'),
            ],
            0..8,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    fn glob_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("a"),
                Just("b"),
                Just("é"),
                Just("漢"),
                Just("*"),
                Just("?"),
                Just(r"\*"),
                Just(r"\?"),
                Just(r"\["),
                Just(r"\\"),
                Just("]"),
                Just("[ab]"),
                Just("[!a]"),
                Just("{a,b*}"),
            ],
            0..6,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        /// The translation is a superset: every key a filter selects matches
        /// the pattern Redis is sent, whatever characters either holds.
        #[test]
        fn a_scan_pattern_never_loses_a_selected_key(
            prefix in key_strategy(),
            glob in glob_strategy(),
            key in key_strategy(),
        ) {
            let layout = KeyLayout::new(&prefix);
            let redis_key = layout.value_key(&key);
            let compiled = KeyPattern::new(&glob);
            prop_assume!(compiled.is_ok());
            let filters = [
                KeyFilter::All,
                KeyFilter::Prefix(glob.clone()),
                KeyFilter::Pattern(compiled.expect("checked above")),
            ];
            for filter in &filters {
                if filter.matches(&key) {
                    let sent = layout.scan_pattern(filter);
                    prop_assert!(
                        redis_glob_match(sent.as_bytes(), redis_key.as_bytes()),
                        "{filter:?} selects {key:?} but {sent:?} misses {redis_key:?}"
                    );
                }
            }
        }
    }
}
