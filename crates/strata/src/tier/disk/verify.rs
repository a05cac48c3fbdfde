//! The invariant checker: recounts the tables of one committed state and
//! compares them with each other and with the persisted counters.

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::tables::{
    self, Counters, EXPIRY, INDEX, IndexEntry, META, NEVER, ORDER, VALUES, map_err,
};
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

/// Recounts `db`. Reads every table, values included.
pub(super) fn verify(db: &Database) -> Result<VerifyReport, TierError> {
    let txn = db.begin_read().map_err(map_err)?;
    let values = txn.open_table(VALUES).map_err(map_err)?;
    let index = txn.open_table(INDEX).map_err(map_err)?;
    let order = txn.open_table(ORDER).map_err(map_err)?;
    let expiry = txn.open_table(EXPIRY).map_err(map_err)?;
    let counters = Counters::load(&txn.open_table(META).map_err(map_err)?)?;

    let mut report = VerifyReport::default();
    let mut max_seq = None;
    for row in index.iter().map_err(map_err)? {
        let (key, entry) = row.map_err(map_err)?;
        let key = key.value();
        let entry = IndexEntry::from_tuple(entry.value());
        report.entries += 1;
        report.bytes += entry.size;
        max_seq = max_seq.max(Some(entry.seq));
        match values.get(key).map_err(map_err)? {
            None => report.note(format!("{key:?} is indexed but has no value")),
            Some(record) => {
                let (expires_at_ms, envelope) = tables::decode_value(key, record.value())?;
                let size = (key.len() + envelope.len()) as u64;
                if size != entry.size || expires_at_ms != entry.expires_at_ms {
                    report.note(format!("{key:?}: index says {entry:?}, value has size {size}, expiry {expires_at_ms}"),
                    );
                }
            }
        }
        let ordered = order.get(entry.seq).map_err(map_err)?;
        if ordered.as_ref().map(|k| k.value()) != Some(key) {
            report.note(format!("{key:?}: order has no row for seq {}", entry.seq));
        }
        if entry.expires_at_ms != NEVER {
            report.expiring += 1;
            if expiry
                .get((entry.expires_at_ms, key))
                .map_err(map_err)?
                .is_none()
            {
                report.note(format!("{key:?}: expiring entry missing from expiry"));
            }
        }
    }
    let lengths = [
        ("values", values.len().map_err(map_err)?, report.entries),
        ("order", order.len().map_err(map_err)?, report.entries),
        ("expiry", expiry.len().map_err(map_err)?, report.expiring),
    ];
    for (table, rows, expected) in lengths {
        if rows != expected {
            report.note(format!("{table} has {rows} rows, expected {expected}"));
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
