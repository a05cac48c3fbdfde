//! Strata's comparison benchmarks: Strata's parts measured side by side with
//! the engines and caches they compete with, in one process and one run.
//!
//! # Disk engines
//!
//! The `disk-engines` binary runs the disk tier's workload on redb and fjall
//! (see `docs/disk-engines.md` for the results and the choice they led to):
//!
//! * [`engines`]: the [`DiskEngine`](engines::DiskEngine) trait and one
//!   implementation per engine, storing the disk tier's three tables;
//! * [`workload`]: the keys, values and batches every engine receives;
//! * [`disk_run`]: the phases (load, gets, reopen, eviction, reclamation,
//!   churn) and the [`EngineReport`](disk_run::EngineReport) they fill.

pub mod disk_run;
pub mod engines;
pub mod redis_server;
pub mod workload;
