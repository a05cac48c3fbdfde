//! The persistent disk tier, on redb. (Being written.)
