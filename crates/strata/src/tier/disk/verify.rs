//! The invariant checker: recounts the keyspaces of one committed state and
//! compares them with each other and with the persisted counters.

use fjall::Readable;

use super::store::{self, Store};
use super::tables::{self, IndexEntry, NEVER, map_err};
use crate::error::InvariantError;
use crate::tier::TierError;

/// What [`DiskTier::verify`](super::DiskTier::verify) found: the recount of
/// one committed state of the store, and every disagreement between its
/// tables and counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Entries counted in the index.
    pub entries: u64,
    /// Bytes (keys plus envelopes) counted in the index.
    pub bytes: u64,
    /// Entries that have an expiry.
    pub expiring: u64,
    /// Each inconsistency found, in words; empty when the store is sound.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Whether no inconsistency was found.
    pub fn is_consistent(&self) -> bool {
        self.problems.is_empty()
    }

    /// Records a problem (up to [`MAX_PROBLEMS`]).
    fn note(&mut self, problem: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(problem);
        }
    }

    /// The report if consistent.
    ///
    /// # Errors
    /// [`InvariantError`] listing the problems otherwise.
    pub fn into_result(self) -> Result<Self, InvariantError> {
        if self.is_consistent() {
            Ok(self)
        } else {
            Err(InvariantError(format!(
                "disk tier: {}",
                self.problems.join("; ")
            )))
        }
    }
}

/// The most problems listed: a badly damaged file would otherwise produce
/// one line per entry.
const MAX_PROBLEMS: usize = 32;

/// Recounts `store`. Reads every keyspace, values included, in one
/// snapshot.
pub(super) fn verify(store: &Store) -> Result<VerifyReport, TierError> {
    let snapshot = store.db.snapshot();
    let counters = store::read_counters(&snapshot, store)?;

    let mut report = VerifyReport::default();
    let mut max_seq = None;
    for guard in snapshot.iter(&store.index) {
        let (raw, record) = guard.into_inner().map_err(map_err)?;
        let entry = IndexEntry::decode(&raw, &record)?;
        let key = tables::utf8(&raw)?;
        report.entries += 1;
        report.bytes += entry.size;
        max_seq = max_seq.max(Some(entry.seq));
        match snapshot.get(&store.values, &key).map_err(map_err)? {
            None => report.note(format!("{key:?} is indexed but has no value")),
            Some(record) => {
                let (expires_at_ms, envelope) = tables::decode_value(&key, &record)?;
                let size = (key.len() + envelope.len()) as u64;
                if size != entry.size || expires_at_ms != entry.expires_at_ms {
                    report.note(format!(
                        "{key:?}: index says {entry:?}, value has size {size}, expiry {expires_at_ms}"
                    ));
                }
            }
        }
        let ordered = snapshot
            .get(&store.order, tables::order_key(entry.seq))
            .map_err(map_err)?;
        if ordered.as_deref() != Some(key.as_bytes()) {
            report.note(format!("{key:?}: order has no row for seq {}", entry.seq));
        }
        if entry.expires_at_ms != NEVER {
            report.expiring += 1;
            let row = tables::expiry_key(entry.expires_at_ms, &key);
            if !snapshot
                .contains_key(&store.expiry, &row)
                .map_err(map_err)?
            {
                report.note(format!("{key:?}: expiring entry missing from expiry"));
            }
        }
    }
    let lengths = [
        ("values", &store.values, report.entries),
        ("order", &store.order, report.entries),
        ("expiry", &store.expiry, report.expiring),
    ];
    for (name, keyspace, expected) in lengths {
        let rows = snapshot.len(keyspace).map_err(map_err)? as u64;
        if rows != expected {
            report.note(format!("{name} has {rows} rows, expected {expected}"));
        }
    }
    if counters.entries != report.entries || counters.bytes != report.bytes {
        report.note(format!(
            "counters say {} entries and {} bytes; the index holds {} and {}",
            counters.entries, counters.bytes, report.entries, report.bytes
        ));
    }
    if max_seq.is_some_and(|seq| seq >= counters.next_seq) {
        report.note(format!(
            "next_seq {} is not above every seq in use",
            counters.next_seq
        ));
    }
    Ok(report)
}
