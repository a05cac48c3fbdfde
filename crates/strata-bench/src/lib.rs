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
//!
//! # Redis outages
//!
//! The `redis-outage` binary measures request latency and errors of a
//! tiered cache (memory, disk, circuit breaker, Redis) while Redis is
//! killed and stalled, on a [`redis_process`] of its own (see
//! `docs/circuit-breaker.md`).

pub mod disk_run;
pub mod engines;
pub mod redis_process;
pub mod workload;
