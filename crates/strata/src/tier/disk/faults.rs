//! Fault injection: the tier on a storage backend whose writes and syncs
//! fail on demand, to check what a failing disk does to `put` and `health`.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redb::backends::InMemoryBackend;
use redb::{Database, StorageBackend};

use super::DiskTier;
use super::builder::DiskTierBuilder;
use crate::tier::{Tier, TierError, TierHealth, TierWrite};

/// An in-memory backend that fails every write and sync while `failing`.
#[derive(Debug)]
struct FaultyBackend {
    inner: InMemoryBackend,
    failing: Arc<AtomicBool>,
}

impl FaultyBackend {
    fn check(&self) -> Result<(), io::Error> {
        if self.failing.load(Ordering::SeqCst) {
            Err(io::Error::other("injected disk failure"))
        } else {
            Ok(())
        }
    }
}

impl StorageBackend for FaultyBackend {
    fn len(&self) -> Result<u64, io::Error> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        self.check()?;
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        self.check()?;
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.check()?;
        self.inner.write(offset, data)
    }
}

fn faulty_tier() -> (DiskTier, Arc<AtomicBool>) {
    let failing = Arc::new(AtomicBool::new(false));
    let backend = FaultyBackend {
        inner: InMemoryBackend::new(),
        failing: Arc::clone(&failing),
    };
    let db = Database::builder().create_with_backend(backend).unwrap();
    let builder = DiskTierBuilder::new(PathBuf::from("in-memory"));
    (DiskTier::start(builder, db, false).unwrap(), failing)
}

fn write(key: &str) -> TierWrite {
    TierWrite {
        key: key.to_owned(),
        bytes: b"value".to_vec(),
        expires_at_ms: None,
    }
}

#[tokio::test]
async fn a_failing_disk_fails_the_put_and_takes_the_tier_down() {
    let (tier, failing) = faulty_tier();
    tier.put(write("before")).await.unwrap();
    assert_eq!(tier.health().await, TierHealth::Healthy);

    failing.store(true, Ordering::SeqCst);
    let error = tier.put(write("during")).await.unwrap_err();
    assert!(matches!(error, TierError::Io { .. }), "{error:?}");
    assert!(!tier.health().await.is_up());
    assert_eq!(tier.stats().entries, 1, "the failed batch is not counted");

    // redb refuses writes after a failed commit until reopened: the tier
    // stays down, and says so, rather than pretending to recover.
    failing.store(false, Ordering::SeqCst);
    assert!(tier.put(write("after")).await.is_err());
    assert!(!tier.health().await.is_up());
    tier.close().await.unwrap();
}

#[tokio::test]
async fn a_failed_batch_fails_every_waiter_in_it() {
    let (tier, failing) = faulty_tier();
    failing.store(true, Ordering::SeqCst);
    let puts: Vec<_> = (0..8)
        .map(|i| {
            let tier = tier.clone();
            tokio::spawn(async move { tier.put(write(&format!("k{i}"))).await })
        })
        .collect();
    for put in puts {
        assert!(put.await.unwrap().is_err());
    }
    assert_eq!(tier.stats().entries, 0);
    tier.close().await.unwrap();
}
