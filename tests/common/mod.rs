//! Helpers shared by the stress test files (`tests/stress.rs`, `tests/stress_primitives.rs`).

use std::panic;
use std::time::Duration;

/// How long a wait may take before a test calls it a lost wake-up.
pub(crate) const HANG: Duration = Duration::from_secs(20);

/// `normal`, or `miri` when running under Miri (which interprets every step and is thousands of
/// times slower): the same test, fewer iterations.
pub(crate) fn size(normal: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        normal
    }
}

/// Joins a handle, failing the test (instead of hanging) if the thread does not finish in time;
/// a panic in the thread is re-raised here.
pub(crate) fn join_or_fail<T>(h: threadkit::JoinHandle<T>, what: &str) -> T {
    match h.join_timeout(HANG) {
        Ok(Ok(v)) => v,
        Ok(Err(payload)) => panic::resume_unwind(payload),
        Err(_) => panic!("{what}: thread still blocked after {HANG:?} (lost wake-up?)"),
    }
}
