//! Helpers shared by the test files: CPython's `lock_tests.py` conventions (`assert_timeout`,
//! `wait_threads_blocked`) and the stress tests' bounded joins and Miri sizes.
// Each test crate includes this module and uses only some of it.
#![allow(dead_code)]

use std::thread;

/// Child-process tests' driver helpers (not under loom, which compiles the thread API out).
#[cfg(not(loom))]
pub(crate) mod child;
/// The diagnostics tests' helpers (diagnostics are compiled out under loom).
#[cfg(not(loom))]
pub(crate) mod diag;
/// Forked-child driver of the queue fork tests.
#[cfg(all(unix, not(loom)))]
pub(crate) mod fork;
/// The lock-order tests' shared set-up.
#[cfg(all(feature = "lock-order", not(loom)))]
pub(crate) mod lock_order;
/// The queue tests' bounds and bounded join.
#[cfg(not(loom))]
pub(crate) mod queue;
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
/// a panic in the thread is re-raised here. (Not under loom, which compiles the thread API out.)
#[cfg(not(loom))]
pub(crate) fn join_or_fail<T>(h: threadkit::JoinHandle<T>, what: &str) -> T {
    match h.join_timeout(HANG) {
        Ok(Ok(v)) => v,
        Ok(Err(payload)) => std::panic::resume_unwind(payload),
        Err(_) => panic!("{what}: thread still blocked after {HANG:?} (lost wake-up?)"),
    }
}

/// CPython's `assertTimeout`: a timed wait returned after at least 0.6× and under 10× its
/// timeout (loose, for a loaded 2-core machine).
pub(crate) fn assert_timeout(elapsed: Duration, expected: Duration) {
    assert!(
        elapsed >= expected.mul_f64(0.6) && elapsed < expected * 10,
        "waited {elapsed:?} for a {expected:?} timeout"
    );
}

/// CPython's `wait_threads_blocked(n)`: a pause long enough, usually, for `n` threads to block.
/// Only for tests whose assertions hold whether or not they have blocked yet.
pub(crate) fn wait_threads_blocked(n: u32) {
    thread::sleep(Duration::from_millis(10) * n);
}
