//! Behaviour tests for `Event`, ported from CPython's `lock_tests.EventTests` (catalogue §3.4).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use threadkit::{Event, Lock, Semaphore};

mod common;
use common::{assert_timeout, wait_threads_blocked};

/// Upper bound for waits that should end long before it (CPython's `SHORT_TIMEOUT` is 30 s).
const LONG: Duration = Duration::from_secs(20);

/// Runs `f` in `n` threads and returns their results once all have finished.
fn bunch<T: Send + 'static>(n: usize, f: impl Fn() -> T + Send + Sync + 'static) -> Vec<T> {
    let f = Arc::new(f);
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let f = Arc::clone(&f);
            thread::spawn(move || f())
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn is_set() {
    let e = Event::new();
    assert!(!e.is_set());
    e.set();
    assert!(e.is_set());
    e.set();
    assert!(e.is_set());
    e.clear();
    assert!(!e.is_set());
    e.clear();
    assert!(!e.is_set());
}

/// CPython's `_check_notify`: 5 threads each wait twice; nobody returns before `set`, then all
/// ten waits report true.
fn check_notify(e: &Arc<Event>) {
    const N: usize = 5;
    let results1 = Arc::new(Lock::with_value(Vec::new()));
    let results2 = Arc::new(Lock::with_value(Vec::new()));
    let started = Arc::new(Semaphore::new(0));
    let threads: Vec<_> = (0..N)
        .map(|_| {
            let (e, r1, r2, started) = (
                Arc::clone(e),
                Arc::clone(&results1),
                Arc::clone(&results2),
                Arc::clone(&started),
            );
            thread::spawn(move || {
                started.release(1);
                let r = e.wait_timeout(LONG);
                r1.acquire().push(r);
                let r = e.wait_timeout(LONG);
                r2.acquire().push(r);
            })
        })
        .collect();
    for _ in 0..N {
        started.acquire().forget();
    }
    wait_threads_blocked(N as u32);
    assert!(
        results1.acquire().is_empty(),
        "a waiter returned before set()"
    );
    e.set();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*results1.acquire(), [true; N]);
    assert_eq!(*results2.acquire(), [true; N]);
}

#[test]
fn notify() {
    let e = Arc::new(Event::new());
    check_notify(&e);
    // Another round, after set() and clear().
    e.set();
    e.clear();
    check_notify(&e);
}

#[test]
fn timeout() {
    let e = Arc::new(Event::new());
    let short = Duration::from_millis(300);
    let results = bunch(5, {
        let e = Arc::clone(&e);
        move || {
            let r1 = e.wait_timeout(Duration::ZERO);
            let t0 = Instant::now();
            let r2 = e.wait_timeout(short);
            (r1, r2, t0.elapsed())
        }
    });
    for (r1, r2, dt) in results {
        assert!(!r1);
        assert!(!r2);
        assert_timeout(dt, short);
    }

    // The event is set: both waits return true at once.
    e.set();
    let results = bunch(5, move || {
        let t0 = Instant::now();
        let r = (
            e.wait_timeout(Duration::ZERO),
            e.wait_timeout(Duration::from_millis(500)),
        );
        (r, t0.elapsed())
    });
    for (r, dt) in results {
        assert_eq!(r, (true, true));
        assert!(dt < Duration::from_millis(500), "took {dt:?}");
    }
}

#[test]
fn wait_deadline_in_the_past_only_checks_the_flag() {
    let e = Event::new();
    assert!(!e.wait_deadline(Instant::now()));
    e.set();
    assert!(e.wait_deadline(Instant::now()));
}

/// gh-57711: a waiter woken by `set` reports true even if `clear` followed at once.
#[test]
fn set_and_clear() {
    const N: usize = 5;
    let e = Arc::new(Event::new());
    let started = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..N)
        .map(|_| {
            let (e, started) = (Arc::clone(&e), Arc::clone(&started));
            thread::spawn(move || {
                started.fetch_add(1, Ordering::SeqCst);
                e.wait_timeout(LONG)
            })
        })
        .collect();
    while started.load(Ordering::SeqCst) < N {
        thread::yield_now();
    }
    // The threads must be asleep in wait() before set(); clear(). This is the one test where the
    // assertion relies on the pause being long enough (as in CPython): a thread that was not
    // yet asleep would sleep until LONG and report false.
    thread::sleep(Duration::from_millis(200));
    e.set();
    e.clear();
    for t in threads {
        assert!(t.join().unwrap(), "a waiter woken by set() reported false");
    }
    assert!(!e.is_set());
}

#[test]
fn set_wakes_waiters_from_another_thread() {
    let e = Arc::new(Event::new());
    let setter = {
        let e = Arc::clone(&e);
        thread::spawn(move || {
            wait_threads_blocked(1);
            e.set();
        })
    };
    e.wait();
    assert!(e.is_set());
    setter.join().unwrap();
}

#[test]
fn debug_shows_set_or_unset() {
    let e = Event::new();
    assert_eq!(format!("{e:?}"), "Event { state: unset }");
    e.set();
    assert_eq!(format!("{e:?}"), "Event { state: set }");
    e.clear();
    assert_eq!(format!("{e:?}"), "Event { state: unset }");
}

#[test]
fn default_is_unset() {
    assert!(!Event::default().is_set());
}

/// Two threads hand a turn back and forth through two Events (`ping.set(); pong.wait();
/// pong.clear()` against `ping.wait(); ping.clear(); pong.set()`), the pattern that hung
/// threadkit's benchmark. Witness: a `turn` word that each side flips before handing over, and
/// checks after it is handed the turn; a wait that returns for a stale `set` finds it unflipped.
/// Every wait is timed, so a lost turn fails the test instead of hanging it.
#[test]
fn ping_pong_never_loses_a_turn() {
    const ROUNDS: usize = if cfg!(miri) { 200 } else { 200_000 };
    let ping = Arc::new(Event::new());
    let pong = Arc::new(Event::new());
    let turn = Arc::new(AtomicUsize::new(0));
    let partner = {
        let (ping, pong, turn) = (Arc::clone(&ping), Arc::clone(&pong), Arc::clone(&turn));
        thread::spawn(move || {
            for round in 0..ROUNDS {
                assert!(
                    ping.wait_timeout(LONG),
                    "partner: ping lost in round {round}"
                );
                ping.clear();
                assert_eq!(
                    turn.load(Ordering::SeqCst),
                    2 * round + 1,
                    "partner woke for a ping never sent (round {round})"
                );
                turn.store(2 * round + 2, Ordering::SeqCst);
                pong.set();
            }
        })
    };
    for round in 0..ROUNDS {
        turn.store(2 * round + 1, Ordering::SeqCst);
        ping.set();
        assert!(pong.wait_timeout(LONG), "main: pong lost in round {round}");
        pong.clear();
        assert_eq!(
            turn.load(Ordering::SeqCst),
            2 * round + 2,
            "main woke for a pong never sent (round {round})"
        );
    }
    partner.join().unwrap();
}
