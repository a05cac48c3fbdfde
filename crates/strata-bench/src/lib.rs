//! Strata's comparison benchmarks: Strata's parts measured side by side with
//! the engines and caches they compete with, in one process and one run.
