//! The disk tier's workload, generated the same way for every engine: keys,
//! values, and the batches that carry them.

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use crate::engines::PutEntry;

/// The number of key namespaces (`ns00/` … `ns15/`), so prefix scans have
/// something to select.
pub const NAMESPACES: u64 = 16;

/// The key of entry `index`: `nsNN/item/` and 16 hex digits of a bijective
/// mix of the index (26 bytes), so keys are unique and the insertion order
/// is unrelated to the key order, as for real cache keys.
#[must_use]
pub fn key_of(index: u64) -> String {
    format!("ns{:02}/item/{:016x}", index % NAMESPACES, mix(index))
}

/// The SplitMix64 finaliser: a bijection on `u64`, so distinct indexes give
/// distinct keys.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A text fragment repeated over the compressible half of every value, so a
/// value looks like a serialised record: half noise, half structure.
const TEMPLATE: &[u8] =
    b"{\"status\":\"ok\",\"region\":\"eu-west-1\",\"items\":[{\"id\":0,\"tags\":[\"a\",\"b\"]}]},";

/// Builds batches of entries: keys, values and seqs, into reused buffers.
pub struct BatchBuilder {
    rng: StdRng,
    value_bytes: usize,
    keys: Vec<String>,
    values: Vec<u8>,
    first_index: u64,
}

impl BatchBuilder {
    /// A builder of values of `value_bytes` bytes, from a seeded generator
    /// so every engine stores the same bytes.
    #[must_use]
    pub fn new(value_bytes: usize, seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            value_bytes,
            keys: Vec::new(),
            values: Vec::new(),
            first_index: 0,
        }
    }

    /// Fills the builder with entries `first_index .. first_index + len`.
    /// Entry `i` has seq `i`, key [`key_of(i)`](key_of) and a fresh value:
    /// its first half random bytes, its second half a JSON-like text repeated
    /// (about 2:1 compressible by LZ4).
    pub fn fill(&mut self, first_index: u64, len: usize) {
        self.first_index = first_index;
        self.keys.clear();
        self.keys.extend((first_index..).take(len).map(key_of));
        self.values.resize(len * self.value_bytes, 0);
        for value in self.values.chunks_exact_mut(self.value_bytes) {
            let (noise, text) = value.split_at_mut(self.value_bytes / 2);
            self.rng.fill_bytes(noise);
            for (byte, template) in text.iter_mut().zip(TEMPLATE.iter().cycle()) {
                *byte = *template;
            }
        }
    }

    /// The entries last [`fill`](Self::fill)ed, expiring `expiry_ms`.
    #[must_use]
    pub fn entries(&self, expiry_ms: u64) -> Vec<PutEntry<'_>> {
        self.keys
            .iter()
            .zip(self.values.chunks_exact(self.value_bytes))
            .zip(self.first_index..)
            .map(|((key, value), seq)| PutEntry {
                key,
                seq,
                expiry_ms,
                value,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_in_the_documented_shape() {
        let keys: std::collections::HashSet<_> = (0..10_000).map(key_of).collect();
        assert_eq!(keys.len(), 10_000);
        let key = key_of(3);
        assert!(key.starts_with("ns03/item/"));
        assert_eq!(key.len(), 26);
    }

    #[test]
    fn batches_carry_seqs_keys_and_sized_values() {
        let mut builder = BatchBuilder::new(100, 1);
        builder.fill(40, 3);
        let entries = builder.entries(7);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[2].seq, 42);
        assert_eq!(entries[2].key, key_of(42));
        assert!(entries.iter().all(|e| e.value.len() == 100));
        assert_eq!(&entries[0].value[50..55], &TEMPLATE[..5]);
    }
}

/// The size of a benchmark store, shared by every binary that loads one.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreShape {
    /// Entries loaded into the store.
    #[arg(long, default_value_t = 1_000_000)]
    pub entries: u64,
    /// Bytes per value.
    #[arg(long, default_value_t = 1024)]
    pub value_bytes: usize,
    /// Entries per durable commit (`put_many` batch).
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Measured random gets.
    #[arg(long, default_value_t = 200_000)]
    pub gets: u64,
}
