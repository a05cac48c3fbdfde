//! The persistent disk tier, on [fjall](https://docs.rs/fjall): [`DiskTier`].
//!
//! A key → envelope store in one directory that survives restarts, bounded
//! by bytes, with group commit, expiry and tag epochs. `docs/disk-tier.md`
//! describes the design and its measurements, and `docs/disk-engines.md`
//! why fjall (an LSM tree) rather than redb (a B-tree); in short:
//!
//! * **Writes** go to one writer thread that commits them in batches, one
//!   journal `fdatasync` per batch; `put` returns once its batch is durable.
//! * **Reads** read the latest committed state and never wait for the
//!   writer.
//! * **Bounded** by `max_bytes` of keys plus envelopes: expired entries
//!   leave first, then the least recently used.
//! * **Expiry**: lazily on `get`, by a background sweep, and for room.
//! * **Opening** replays at most `max_journal_bytes` of journal and reads a
//!   few counters, never the values.
//!
//! ```no_run
//! # async fn run() -> Result<(), strata::TierError> {
//! use strata::tier::disk::DiskTier;
//! use strata::{Tier, TierWrite};
//!
//! let tier = DiskTier::builder("/tmp/strata-example/cache")
//!     .max_bytes(256 << 20)
//!     .open()?;
//! tier.put(TierWrite { key: "k".into(), bytes: b"envelope".to_vec(), expires_at_ms: None })
//!     .await?;
//! assert_eq!(tier.get("k").await?.as_deref(), Some(&b"envelope"[..]));
//! tier.close().await?;
//! # Ok(()) }
//! ```

mod builder;
mod evict;
#[cfg(test)]
mod faults;
mod lifecycle;
mod read;
mod request;
mod shard;
mod sharded;
mod state;
mod store;
mod sweep;
mod tables;
mod tier_impl;
mod txn;
mod verify;
mod writer;

pub use builder::{
    DiskConfigError, DiskTierBuilder, MAX_ENTRY_LIMIT, MAX_KEY_BYTES, MAX_SHARDS, OnDamage,
    ReadPath,
};
pub use verify::VerifyReport;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use shard::Shard;

/// The persistent disk tier. Cheap to clone: clones share one store.
///
/// Open it with [`DiskTier::builder`]; it implements [`Tier`](crate::Tier).
/// Call [`close`](Self::close) before exit to commit what is queued and
/// close the store; dropping the last handle without it also commits what is
/// queued, best effort.
///
/// The store is split into [shards](DiskTierBuilder::shards), each its own
/// fjall database with its own writer thread, keys spread by a hash: one
/// writer thread is CPU-bound at about 90,000 puts/s, two reach about
/// 120,000 (`docs/disk-tier.md`).
#[derive(Clone)]
pub struct DiskTier {
    inner: Arc<Sharded>,
}

impl std::fmt::Debug for DiskTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskTier")
            .field("path", &self.inner.path)
            .field("shards", &self.inner.shards.len())
            .finish_non_exhaustive()
    }
}

/// The open shards.
struct Sharded {
    path: PathBuf,
    shards: Vec<Shard>,
    recovery: Option<Recovery>,
}

/// What opening did with a damaged store (see [`OnDamage::MoveAside`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// Where the damaged directory now is.
    pub moved_to: PathBuf,
    /// The engine's account of the damage.
    pub reason: String,
}

impl DiskTier {
    /// Settings for a store in the directory `path` (created, with its
    /// parents, if missing). The directory belongs to the tier: put nothing
    /// else in it.
    pub fn builder(path: impl Into<PathBuf>) -> DiskTierBuilder {
        DiskTierBuilder::new(path.into())
    }

    /// The directory of the store.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// How many shards the store has (fixed when it was created).
    pub fn shard_count(&self) -> usize {
        self.inner.shards.len()
    }

    /// Whether this open found a shard damaged and started it anew, and
    /// where the old one went. `None` after a normal open.
    pub fn recovery(&self) -> Option<&Recovery> {
        self.inner.recovery.as_ref()
    }
}
