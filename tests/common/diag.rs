//! Helpers of the tests that share the process's diagnostics state (wait records, report hook,
//! lock-order graph): one test at a time, and polling a dump until a thread gets somewhere.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use threadkit::diagnostics::{self, ThreadSnapshot};

/// Taken by every test of the file that reads or changes the shared diagnostics state.
static SERIAL: Mutex<()> = Mutex::new(());

/// Serializes the calling test (a failed test's poisoning is ignored).
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Polls the dump until `pred` holds for the thread named `name` (fails after 10 s).
pub(crate) fn until_thread(name: &str, pred: impl Fn(&ThreadSnapshot) -> bool) -> ThreadSnapshot {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let dump = diagnostics::dump();
        if let Some(t) = dump.threads.iter().find(|t| &*t.thread.name == name) {
            if pred(t) {
                return t.clone();
            }
        }
        assert!(Instant::now() < deadline, "{name} never got there:\n{dump}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
