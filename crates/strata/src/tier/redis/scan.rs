//! `SCAN` over one prefix's values, a page at a time.
//!
//! `SCAN` guarantees that a key present for the whole iteration is returned
//! at least once; it may return a key twice and may or may not return keys
//! added or removed meanwhile. Callers that collect deduplicate; callers
//! that delete need not (a second `UNLINK` of a key counts zero).

use ::redis::cmd;

use super::{Access, RedisTier};
use crate::tier::{KeyFilter, TierError};

/// Where a scan stands.
pub(super) struct Scan<'a> {
    filter: &'a KeyFilter,
    pattern: String,
    cursor: u64,
    finished: bool,
}

impl<'a> Scan<'a> {
    pub(super) fn new(tier: &RedisTier, filter: &'a KeyFilter) -> Self {
        Self {
            filter,
            pattern: tier.inner.layout.scan_pattern(filter),
            cursor: 0,
            finished: false,
        }
    }
}

impl RedisTier {
    /// The tier keys of the next page that `scan.filter` selects (possibly
    /// none), or `None` once the scan has finished. One round trip.
    ///
    /// # Errors
    /// [`TierError`] when the page cannot be read; the scan may be resumed
    /// by calling again.
    pub(super) async fn next_page(
        &self,
        scan: &mut Scan<'_>,
    ) -> Result<Option<Vec<String>>, TierError> {
        if scan.finished {
            return Ok(None);
        }
        let mut command = cmd("SCAN");
        command
            .arg(scan.cursor)
            .arg("MATCH")
            .arg(&scan.pattern)
            .arg("COUNT")
            .arg(self.inner.scan_count);
        let (cursor, redis_keys): (u64, Vec<Vec<u8>>) = self.query(Access::Read, &command).await?;
        // Cursor 0 ends the iteration, whether or not this page held keys.
        scan.cursor = cursor;
        scan.finished = cursor == 0;
        let layout = &self.inner.layout;
        let keys = redis_keys
            .iter()
            .filter_map(|redis_key| layout.tier_key(redis_key))
            // The pattern may select more than the filter (see
            // KeyLayout::scan_pattern): the filter has the last word.
            .filter(|key| scan.filter.matches(key))
            .collect();
        Ok(Some(keys))
    }
}
