//! A Timer's function whose `Drop` panics (review of issue 10): the Timer's record must still be
//! finished (joiners wake, `enumerate` stops listing it, the exit sequence does not wait for it
//! for ever), the panic must go to the excepthook with the Timer's thread, and neither the caller
//! of `cancel()` nor a timer worker may be unwound half-way through the bookkeeping.
//!
//! Witnesses: a returning `join_timeout` (the record's `finished` flag) and the excepthook's
//! record of the report, naming the Timer. Every wait is bounded.

// Uses the thread API, which is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::HANG;
use threadkit::{RepeatingTimer, Timer};

/// Panics when dropped: captured by a Timer's function.
struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("{} dropped", self.0);
        }
    }
}

/// The excepthook's reports so far, as (thread name, message); installed once for the binary.
fn reports() -> &'static Mutex<Vec<(String, String)>> {
    static REPORTS: OnceLock<Mutex<Vec<(String, String)>>> = OnceLock::new();
    REPORTS.get_or_init(|| {
        threadkit::set_excepthook(|args| {
            let name = args.thread().name().to_string();
            let message = args.message().unwrap_or("").to_string();
            reports().lock().unwrap().push((name, message));
        });
        Mutex::new(Vec::new())
    })
}

/// Waits (bounded) until the excepthook has reported `message` for the thread named `name`.
fn assert_reported(name: &str, message: &str) {
    let deadline = Instant::now() + HANG;
    loop {
        let seen = reports().lock().unwrap().clone();
        if seen.iter().any(|(n, m)| n == name && m == message) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no report of {message:?} for {name:?}; reports: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(1)); // polling a record, not synchronizing
    }
}

/// Cancels a started, pending timer whose function panics when dropped, and checks the witnesses:
/// the record finished (`join` returns, not alive, not listed), `cancel()` returned `true` without
/// unwinding into its caller, and the excepthook got the drop's panic with the timer's thread.
fn check_cancel(
    name: &str,
    thread: &threadkit::Thread,
    cancel: impl FnOnce() -> bool,
    dropped: &str,
) {
    let cancelled = catch_unwind(AssertUnwindSafe(cancel));
    assert_eq!(
        thread.join_timeout(HANG),
        Ok(true),
        "the record was never finished"
    );
    assert!(!thread.is_alive());
    assert!(!threadkit::enumerate().contains(thread));
    assert!(
        matches!(cancelled, Ok(true)),
        "cancel() must stop the timer and return true, not unwind into its caller"
    );
    assert_reported(name, dropped);
}

#[test]
fn cancel_finishes_the_timer_when_its_function_panics_on_drop() {
    reports();
    let guard = PanicOnDrop("one-shot function");
    let t = Timer::new(Duration::from_secs(3600), move || {
        let _keep = &guard;
    });
    t.set_name("cancel-drop");
    t.set_daemon(true).unwrap();
    t.start().unwrap();
    check_cancel(
        "cancel-drop",
        t.thread(),
        || t.cancel(),
        "one-shot function dropped",
    );
}

#[test]
fn repeating_cancel_finishes_the_timer_when_its_function_panics_on_drop() {
    reports();
    let guard = PanicOnDrop("repeating function (cancel)");
    let t = RepeatingTimer::new(Duration::from_secs(3600), move || {
        let _keep = &guard;
    });
    t.set_name("repeat-cancel-drop");
    t.set_daemon(true).unwrap();
    t.start().unwrap();
    let dropped = "repeating function (cancel) dropped";
    check_cancel("repeat-cancel-drop", t.thread(), || t.cancel(), dropped);
}

/// The worker's side: the function panics (which ends the repetition), then the worker drops it
/// and that drop panics too. The worker must finish the record and report both panics.
#[test]
fn repeating_timer_ended_by_a_panic_is_finished_when_its_function_panics_on_drop() {
    reports();
    let runs = Arc::new(AtomicU64::new(0));
    let guard = PanicOnDrop("repeating function (worker)");
    let r = Arc::clone(&runs);
    let t = RepeatingTimer::new(Duration::from_millis(1), move || {
        let _keep = &guard;
        r.fetch_add(1, Ordering::SeqCst);
        panic!("run failed");
    });
    t.set_name("repeat-worker-drop");
    t.set_daemon(true).unwrap();
    t.start().unwrap();
    assert_eq!(
        t.join_timeout(HANG),
        Ok(true),
        "the record was never finished"
    );
    assert!(!t.is_alive());
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "a panic ends the repetition"
    );
    assert_reported("repeat-worker-drop", "run failed");
    assert_reported("repeat-worker-drop", "repeating function (worker) dropped");
    // The pool still runs timers afterwards.
    let ran = Arc::new(AtomicU64::new(0));
    let r = Arc::clone(&ran);
    let after = Timer::new(Duration::ZERO, move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    after.set_daemon(true).unwrap();
    after.start().unwrap();
    assert_eq!(after.join_timeout(HANG), Ok(true));
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}
