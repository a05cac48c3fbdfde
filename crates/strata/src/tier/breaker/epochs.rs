//! The tag epochs a breaker has seen its inner tier hold, so it can answer
//! [`tag_epochs`](crate::Tier::tag_epochs) when the tier cannot (with
//! [`EpochFallback::LastKnown`](super::EpochFallback)).
//!
//! Why: the tiered cache validates every tagged entry it reads from *any*
//! tier against the highest epoch of *every* tier, once its cached epoch is
//! older than its refresh interval. If the remote tier's `tag_epochs` failed
//! while it is down, every tagged entry on the local disk would become a
//! miss a second into the outage — the other tiers hold it, but its
//! validation could not finish. The last epochs seen are what this process
//! knows; epochs never go down, so each is a lower bound of the tier's true
//! epoch. It is behind only if another process bumped the tag in the remote
//! tier and this process has not read it since: the stale window the tiered
//! cache already accepts for `epoch_refresh`, stretched to the outage.

use std::collections::HashMap;

/// How many tags are remembered. Past this the memory is emptied and
/// refilled as epochs are read again: a forgotten tag is answered with
/// `Unavailable` while the tier is out of reach (as without the memory),
/// never with a guess. Bounds the memory of a workload with unbounded
/// distinct tags at a few MiB.
pub(super) const MAX_KNOWN: usize = 100_000;

/// Tag → the highest epoch seen for it.
#[derive(Debug, Default)]
pub(super) struct KnownEpochs {
    epochs: HashMap<String, u64>,
}

impl KnownEpochs {
    /// Remembers that the inner tier holds at least `epoch` for `tag`.
    pub(super) fn learn(&mut self, tag: &str, epoch: u64) {
        if let Some(known) = self.epochs.get_mut(tag) {
            *known = (*known).max(epoch);
            return;
        }
        if self.epochs.len() >= MAX_KNOWN {
            self.epochs.clear();
        }
        self.epochs.insert(tag.to_owned(), epoch);
    }

    /// Remembers the answer of one `tag_epochs` call.
    pub(super) fn learn_all(&mut self, tags: &[String], epochs: &[u64]) {
        for (tag, &epoch) in tags.iter().zip(epochs) {
            self.learn(tag, epoch);
        }
    }

    /// The epochs of `tags` if every one is known.
    pub(super) fn recall(&self, tags: &[String]) -> Option<Vec<u64>> {
        tags.iter()
            .map(|tag| self.epochs.get(tag).copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(names: &[&str]) -> Vec<String> {
        names.iter().map(|&n| n.to_owned()).collect()
    }

    #[test]
    fn epochs_are_remembered_at_their_highest_and_unknown_tags_are_not_guessed() {
        let mut known = KnownEpochs::default();
        known.learn_all(&tags(&["a", "b"]), &[3, 0]);
        known.learn("a", 2);
        known.learn("b", 5);
        assert_eq!(known.recall(&tags(&["b", "a"])), Some(vec![5, 3]));
        assert_eq!(known.recall(&tags(&["a", "never"])), None);
        assert_eq!(known.recall(&[]), Some(vec![]));
    }

    #[test]
    fn the_memory_is_bounded() {
        let mut known = KnownEpochs::default();
        for i in 0..MAX_KNOWN {
            known.learn(&i.to_string(), 1);
        }
        known.learn("one more", 1);
        assert_eq!(known.epochs.len(), 1);
        assert_eq!(known.recall(&tags(&["0"])), None);
    }
}
