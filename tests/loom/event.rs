//! `Event`: set/wait, set-then-clear (gh-57711), clear/set races, timed waits.

use std::time::Duration;

use loom::sync::Arc;
use loom::thread;
use threadkit::Event;

use crate::support::{assert_nobody_parked, model, wait_until_parked};

/// A long timeout: the model never times out a deadline in the future, so a wait with it returns
/// only when woken, and must then say `true`.
const FOREVER: Duration = Duration::from_secs(3600);

#[test]
fn set_wakes_waiter() {
    model(|| {
        let e = Arc::new(Event::new());
        let waiter = {
            let e = Arc::clone(&e);
            thread::spawn(move || e.wait())
        };
        e.set();
        waiter.join().unwrap();
        assert!(e.is_set());
        assert_nobody_parked();
    });
}

/// gh-57711: a waiter woken by `set` reports `true` even though `clear` ran right after.
///
/// The waiter must be asleep first: a `wait` that has not yet parked when `set` and `clear` both
/// ran has, correctly, missed that set (Python's Event behaves the same way).
#[test]
fn set_then_clear_waiter_still_returns_true() {
    model(|| {
        let e = Arc::new(Event::new());
        let waiter = {
            let e = Arc::clone(&e);
            thread::spawn(move || e.wait_timeout(FOREVER))
        };
        wait_until_parked(1);
        e.set();
        e.clear();
        assert!(
            waiter.join().unwrap(),
            "a waiter woken by set returned false"
        );
        assert!(!e.is_set());
        assert_nobody_parked();
    });
}

/// A `clear` racing with `set` may send waiters back to sleep, but the next `set` wakes every
/// one of them: no waiter is lost.
#[test]
fn clear_set_race_loses_no_waiter() {
    model(|| {
        let e = Arc::new(Event::new());
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let e = Arc::clone(&e);
                thread::spawn(move || e.wait_timeout(FOREVER))
            })
            .collect();
        let clearer = {
            let e = Arc::clone(&e);
            thread::spawn(move || e.clear())
        };
        e.set();
        clearer.join().unwrap();
        e.set();
        for w in waiters {
            assert!(w.join().unwrap());
        }
        assert_nobody_parked();
    });
}

/// A wait whose deadline has passed gives up; if it was not the last waiter it leaves the
/// PARKED bit for the others, so `set` still wakes them.
#[test]
fn timed_out_wait_leaves_other_waiter_wakeable() {
    model(|| {
        let e = Arc::new(Event::new());
        let timed = {
            let e = Arc::clone(&e);
            thread::spawn(move || e.wait_timeout(Duration::ZERO))
        };
        let blocking = {
            let e = Arc::clone(&e);
            thread::spawn(move || e.wait())
        };
        e.set();
        blocking.join().unwrap();
        let _ = timed.join().unwrap(); // true or false, depending on when `set` ran
        assert_nobody_parked();
    });
}

/// A timed wait on an event nobody sets returns `false`; one set before it returns `true`.
#[test]
fn timed_wait_result_matches_flag() {
    model(|| {
        let e = Arc::new(Event::new());
        let timed = {
            let e = Arc::clone(&e);
            thread::spawn(move || e.wait_timeout(Duration::ZERO))
        };
        assert!(!timed.join().unwrap());
        e.set();
        assert!(e.wait_timeout(Duration::ZERO));
        assert_nobody_parked();
    });
}
