//! `Lock` behaviour, after CPython's `lock_tests.BaseLockTests` and `LockTests`.

// Uses the thread API, which is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use threadkit::{Event, Lock};

mod common;
use common::{assert_timeout, wait_threads_blocked};

#[test]
fn constructor_and_drop_while_held() {
    {
        let _lock = Lock::new();
    }
    // test_acquire_destroy: a held lock can go away.
    let lock = Box::new(Lock::new());
    lock.acquire().forget();
    drop(lock);
}

#[test]
fn acquire_release() {
    let lock = Lock::new();
    let g = lock.acquire();
    assert!(lock.locked());
    drop(g);
    assert!(!lock.locked());
    lock.acquire().forget();
    lock.release().unwrap();
    assert!(!lock.locked());
}

#[test]
fn try_acquire() {
    let lock = Lock::new();
    let g = lock.try_acquire();
    assert!(g.is_some());
    assert!(lock.locked());
}

#[test]
fn try_acquire_contended() {
    let lock = Lock::new();
    let _g = lock.acquire();
    let got = thread::scope(|s| s.spawn(|| lock.try_acquire().is_some()).join().unwrap());
    assert!(!got);
}

#[test]
fn acquire_contended_by_five_threads() {
    let lock = Lock::with_value(0);
    let finished = AtomicUsize::new(0);
    let held = lock.acquire();
    thread::scope(|s| {
        for _ in 0..5 {
            s.spawn(|| {
                *lock.acquire() += 1;
                finished.fetch_add(1, Ordering::SeqCst);
            });
        }
        wait_threads_blocked(5);
        assert_eq!(finished.load(Ordering::SeqCst), 0, "acquired a held lock");
        drop(held);
    });
    assert_eq!(finished.load(Ordering::SeqCst), 5);
    assert_eq!(*lock.acquire(), 5);
}

#[test]
fn with_style_guard_released_on_panic() {
    let lock = Lock::new();
    {
        let _g = lock.acquire();
        assert!(lock.locked());
    }
    assert!(!lock.locked());

    let r = panic::catch_unwind(AssertUnwindSafe(|| {
        let _g = lock.acquire();
        panic!("TypeError in the with block");
    }));
    assert!(r.is_err());
    // Another thread can take it: no poisoning.
    thread::scope(|s| {
        s.spawn(|| assert!(lock.try_acquire().is_some()));
    });
    assert!(!lock.locked());
}

#[test]
fn guard_released_when_its_thread_panics() {
    let lock = Arc::new(Lock::with_value(vec![1]));
    let l2 = Arc::clone(&lock);
    let r = thread::spawn(move || {
        let mut g = l2.acquire();
        g.push(2);
        panic!("boom");
    })
    .join();
    assert!(r.is_err());
    assert_eq!(*lock.acquire(), vec![1, 2]);
}

#[test]
fn timeout_uncontended_and_huge() {
    let lock = Lock::new();
    let start = Instant::now();
    let g = lock.acquire_timeout(Duration::from_secs(5));
    assert!(g.is_some());
    assert!(start.elapsed() < Duration::from_secs(5));
    drop(g);
    // A timeout too large for the clock means "forever" (Python: TIMEOUT_MAX is accepted).
    assert!(lock.acquire_timeout(Duration::MAX).is_some());
}

#[test]
fn timeout_contended() {
    let lock = Lock::new();
    let _g = lock.acquire();
    let timeout = Duration::from_millis(500);
    let (got, elapsed) = thread::scope(|s| {
        s.spawn(|| {
            let start = Instant::now();
            let got = lock.acquire_timeout(timeout).is_some();
            (got, start.elapsed())
        })
        .join()
        .unwrap()
    });
    assert!(!got);
    assert_timeout(elapsed, timeout);
}

#[test]
fn deadline_in_the_past_only_tries() {
    let lock = Lock::new();
    let _g = lock.acquire();
    thread::scope(|s| {
        s.spawn(|| assert!(lock.acquire_deadline(Instant::now()).is_none()));
    });
}

#[test]
fn reacquire_blocks_until_another_thread_releases() {
    let lock = Lock::new();
    let phase = AtomicUsize::new(0);
    let started = Event::new();
    thread::scope(|s| {
        s.spawn(|| {
            lock.acquire().forget();
            phase.store(1, Ordering::SeqCst);
            started.set();
            lock.acquire().forget(); // blocks: a Lock is not re-entrant
            phase.store(2, Ordering::SeqCst);
            lock.release().unwrap();
        });
        started.wait();
        wait_threads_blocked(1);
        assert_eq!(phase.load(Ordering::SeqCst), 1, "re-acquired a held Lock");
        lock.release().unwrap(); // from another thread
    });
    assert_eq!(phase.load(Ordering::SeqCst), 2);
    assert!(!lock.locked());
}

#[test]
fn release_from_different_thread() {
    let lock = Lock::new();
    lock.acquire().forget();
    thread::scope(|s| {
        s.spawn(|| lock.release().unwrap());
    });
    assert!(!lock.locked());
    let g = lock.try_acquire();
    assert!(g.is_some());
}

#[test]
fn release_unlocked_is_an_error() {
    let lock = Lock::new();
    let err = lock.release().unwrap_err();
    assert_eq!(err.to_string(), "release unlocked lock");
    assert!(!lock.locked());
}

#[test]
fn state_after_timeout() {
    // Issue #11618: a timed-out acquire leaves the lock consistent.
    let lock = Lock::new();
    let g = lock.acquire();
    thread::scope(|s| {
        s.spawn(|| assert!(lock.acquire_timeout(Duration::from_millis(10)).is_none()));
    });
    drop(g);
    assert!(!lock.locked());
    assert!(lock.try_acquire().is_some());
}

#[test]
fn debug_shows_locked_and_unlocked() {
    let lock = Lock::new();
    let s = format!("{lock:?}");
    assert!(s.contains("unlocked"), "{s}");
    let _g = lock.acquire();
    let s = format!("{lock:?}");
    assert!(s.contains("state: locked"), "{s}");
    assert!(
        s.contains(&format!("acquired_by: {}", threadkit::get_ident())),
        "{s}"
    );
}

#[test]
fn many_foreign_threads_leave_no_threads_behind() {
    // test_thread_leak: using a lock from foreign threads does not grow the registry for good.
    let before = threadkit::active_count();
    let lock = Lock::new();
    thread::scope(|s| {
        for _ in 0..15 {
            s.spawn(|| {
                let _g = lock.acquire();
            });
        }
    });
    assert!(threadkit::active_count() <= before);
}

// ----- std's Mutex habits (issue 13) -----

#[test]
fn default_guards_t_default_so_derive_works() {
    #[derive(Default)]
    struct Stats {
        hits: Lock<u64>,
        names: Lock<Vec<String>>,
        plain: Lock,
    }
    let stats = Stats::default();
    assert_eq!(*stats.hits.acquire(), 0);
    assert!(stats.names.acquire().is_empty());
    assert!(!stats.plain.locked() && !stats.hits.locked());
    *stats.hits.acquire() += 2;
    assert_eq!(stats.hits.into_inner(), 2);
}

#[test]
fn from_and_into_are_mutex_new() {
    let a = Lock::from(5);
    let b: Lock<String> = String::from("x").into();
    assert_eq!(*a.acquire(), 5);
    assert_eq!(&*b.acquire(), "x");
}
