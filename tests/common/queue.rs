//! The queue tests' shared bounds and bounded join.

use std::thread;
use std::time::{Duration, Instant};

/// How long to let threads reach a blocking call (CPython's `wait_threads_blocked`); no
/// assertion depends on it being long enough.
pub(crate) const LET_BLOCK: Duration = Duration::from_millis(30);
/// A bound for things that must happen "soon" on a loaded 2-core machine.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// Joins `t`, failing the test if it does not finish within `PATIENCE` (a caller left blocked).
pub(crate) fn join_soon<T: Send + 'static>(t: thread::JoinHandle<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    while !t.is_finished() {
        assert!(Instant::now() < deadline, "a thread stayed blocked");
        thread::sleep(Duration::from_millis(1));
    }
    t.join().unwrap()
}
