//! Glob patterns over string keys, shared by every tier so that one pattern
//! means the same thing everywhere.
//!
//! Syntax (compiled by `globset`, which matches in linear time, so a pattern
//! sent by a client cannot make matching blow up):
//!
//! | pattern | matches |
//! | --- | --- |
//! | `?` | any one character |
//! | `*` | any run of characters, including none and including `/` |
//! | `[abc]`, `[a-z]` | one character from the class |
//! | `[!abc]` | one character not in the class |
//! | `{a,b}` | either alternative |
//! | `\*` | a literal `*` (any special character may be escaped) |

use crate::error::PatternError;

/// A compiled glob pattern over keys.
///
/// ```
/// use strata::KeyPattern;
///
/// let p = KeyPattern::new("user:*:profile").unwrap();
/// assert!(p.is_match("user:42:profile"));
/// assert!(!p.is_match("user:42:settings"));
/// ```
#[derive(Debug, Clone)]
pub struct KeyPattern {
    source: String,
    matcher: globset::GlobMatcher,
}

impl KeyPattern {
    /// Compiles `pattern`.
    ///
    /// # Errors
    /// [`PatternError::Invalid`] when the glob is malformed.
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        let glob = globset::GlobBuilder::new(pattern)
            // Keys are not paths: `*` crosses `/` like any other character.
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|source| PatternError::Invalid {
                pattern: pattern.to_owned(),
                source,
            })?;
        Ok(Self {
            source: pattern.to_owned(),
            matcher: glob.compile_matcher(),
        })
    }

    /// Whether `key` matches the whole pattern.
    pub fn is_match(&self, key: &str) -> bool {
        self.matcher.is_match(key)
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_syntax() {
        let cases = [
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a*", "a/b/c", true),
            ("*:x", "k:x", true),
            ("[ab]1", "b1", true),
            ("[!ab]1", "b1", false),
            ("[a-c]", "c", true),
            ("{x,y}z", "yz", true),
            (r"a\*", "a*", true),
            (r"a\*", "ab", false),
            ("abc", "abcd", false),
        ];
        for (pattern, key, expected) in cases {
            let p = KeyPattern::new(pattern).expect("valid pattern");
            assert_eq!(p.is_match(key), expected, "{pattern} vs {key}");
        }
    }

    #[test]
    fn malformed_pattern_is_a_clear_error() {
        let err = KeyPattern::new("user:[").expect_err("unclosed class");
        assert!(err.to_string().contains("user:["), "{err}");
    }
}
