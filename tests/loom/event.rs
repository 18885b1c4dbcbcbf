//! `Event`: set/wait, set-then-clear (gh-57711), clear/set races, timed waits.

use std::time::Duration;

use loom::sync::atomic::AtomicUsize;
use loom::sync::atomic::Ordering::SeqCst;
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

/// Witness: a wait that returns was owed a `set`. The waiter consumes the first set (wait, then
/// clear) and waits again; that second wait may only return once a second `set` has begun
/// (`SETS` counts sets before they are made). It catches a `set` that stores the flag and wakes
/// the parked threads in two separate steps: the waiter sees the flag, clears it and parks again
/// in between, and the first set's late wake-up then ends a wait that no set was made for.
#[test]
fn wait_consume_wait_again_is_owed_a_set() {
    model(|| {
        let e = Arc::new(Event::new());
        let sets = Arc::new(AtomicUsize::new(0));
        let cleared = Arc::new(AtomicUsize::new(0));
        let waiter = {
            let (e, sets, cleared) = (Arc::clone(&e), Arc::clone(&sets), Arc::clone(&cleared));
            thread::spawn(move || {
                e.wait();
                assert!(sets.load(SeqCst) >= 1, "wait returned before any set");
                e.clear();
                cleared.store(1, SeqCst);
                e.wait();
                assert!(
                    sets.load(SeqCst) >= 2,
                    "the second wait returned, but only one set was ever made"
                );
            })
        };
        let setter = {
            let (e, sets) = (Arc::clone(&e), Arc::clone(&sets));
            thread::spawn(move || {
                sets.fetch_add(1, SeqCst);
                e.set();
            })
        };
        setter.join().unwrap();
        // The second set comes after the waiter consumed the first (else one clear eats both).
        while cleared.load(SeqCst) == 0 {
            thread::yield_now();
        }
        sets.fetch_add(1, SeqCst);
        e.set();
        waiter.join().unwrap();
        assert_nobody_parked();
    });
}

/// The same witness for timed waits: a `wait_timeout` that returns `true` was owed a set, and the
/// turn-taking of two events (the ping-pong that hung the benchmark) never loses its turn.
#[test]
fn ping_pong_turns_are_owed() {
    model(|| {
        let ping = Arc::new(Event::new());
        let pong = Arc::new(Event::new());
        // Whose turn it is: 0 = the main thread's, 1 = the partner's. Each side flips it before
        // it hands over the turn, and checks it after it is handed the turn.
        let turn = Arc::new(AtomicUsize::new(0));
        let partner = {
            let (ping, pong, turn) = (Arc::clone(&ping), Arc::clone(&pong), Arc::clone(&turn));
            thread::spawn(move || {
                for _ in 0..2 {
                    assert!(ping.wait_timeout(FOREVER));
                    ping.clear();
                    assert_eq!(turn.load(SeqCst), 1, "partner woke for a ping never sent");
                    turn.store(0, SeqCst);
                    pong.set();
                }
            })
        };
        for _ in 0..2 {
            turn.store(1, SeqCst);
            ping.set();
            assert!(pong.wait_timeout(FOREVER));
            pong.clear();
            assert_eq!(turn.load(SeqCst), 0, "main woke for a pong never sent");
        }
        partner.join().unwrap();
        assert_nobody_parked();
    });
}
