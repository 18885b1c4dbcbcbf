//! A RepeatingTimer's function must not run while the timer holds an internal threadkit `Lock`
//! (review of issue 12): the lock-order checker tracks every `Lock`, so a function that takes a
//! user's lock `A` records the edge "timer's function lock → A", and a `cancel()` made while
//! holding `A` (which drops the function, taking that internal lock) then closes a cycle: a
//! POTENTIAL DEADLOCK report about a lock the user cannot see, and in `Panic` mode a panicking
//! `cancel()`, although nothing can deadlock there.
//!
//! Witness: the reports the checker sends to the report hook (none may come).
#![cfg(all(feature = "lock-order", not(loom)))]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::HANG;
use threadkit::diagnostics::{self, LockOrderMode, Report};
use threadkit::{Lock, RepeatingTimer};

#[test]
fn cancel_under_a_lock_the_function_takes_is_not_a_potential_deadlock() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&seen);
    diagnostics::set_report_hook(move |r: &Report| sink.lock().unwrap().push(r.to_string()));
    diagnostics::set_lock_order_mode(LockOrderMode::Report);

    let a = Arc::new(Lock::named("a"));
    let done = Arc::new(AtomicU64::new(0));
    let interval = Duration::from_millis(500);
    let t = {
        let (a, done) = (Arc::clone(&a), Arc::clone(&done));
        RepeatingTimer::new(interval, move || {
            drop(a.acquire());
            done.fetch_add(1, Ordering::SeqCst);
        })
    };
    t.set_daemon(true).unwrap();
    t.start().unwrap();
    let deadline = Instant::now() + HANG;
    while done.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the first run never came");
        std::thread::sleep(Duration::from_millis(1)); // polling a counter
    }
    // Not synchronization: the assertion below holds whichever way this goes. It only lets the
    // worker schedule the next run (microseconds; the run is due an interval later), so that
    // `cancel()` finds it pending and drops the function itself, as the scenario needs.
    std::thread::sleep(interval / 10);
    {
        let _a = a.acquire();
        assert!(t.cancel());
    }
    assert_eq!(t.join_timeout(HANG), Ok(true));
    let seen = seen.lock().unwrap();
    assert!(seen.is_empty(), "reports: {seen:#?}");
}
