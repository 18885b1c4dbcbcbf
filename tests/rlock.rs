//! `RLock` behaviour, after CPython's `lock_tests.BaseLockTests` and `RLockTests`.

// Uses the thread API, which is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use threadkit::{Event, RLock};

mod common;
use common::wait_threads_blocked;

/// Runs `f` on another thread while it holds `lock` (one level), then lets that thread release.
fn while_other_thread_holds(lock: &RLock, f: impl FnOnce()) {
    let acquired = Event::new();
    let done = Event::new();
    thread::scope(|s| {
        s.spawn(|| {
            let _g = lock.acquire();
            acquired.set();
            done.wait();
        });
        acquired.wait();
        f();
        done.set();
    });
}

#[test]
fn reacquire_without_blocking() {
    let lock = RLock::new();
    lock.acquire().forget();
    lock.acquire().forget();
    lock.release().unwrap();
    lock.acquire().forget();
    lock.release().unwrap();
    lock.release().unwrap();
    assert!(!lock.locked());

    // The same with guards.
    let a = lock.acquire();
    let b = lock.acquire();
    drop(b);
    let c = lock.try_acquire().unwrap();
    drop(c);
    drop(a);
    assert!(!lock.locked());
}

#[test]
fn release_unacquired() {
    let lock = RLock::new();
    let err = lock.release().unwrap_err();
    assert_eq!(err.to_string(), "cannot release un-acquired lock");
    lock.acquire().forget();
    lock.acquire().forget();
    lock.release().unwrap();
    lock.acquire().forget();
    lock.release().unwrap();
    lock.release().unwrap();
    assert!(lock.release().is_err());
    assert!(!lock.locked());
}

#[test]
fn locked_through_levels() {
    let lock = RLock::new();
    assert!(!lock.locked());
    let a = lock.acquire();
    assert!(lock.locked());
    let b = lock.acquire();
    assert!(lock.locked());
    drop(b);
    assert!(lock.locked());
    drop(a);
    assert!(!lock.locked());
}

#[test]
fn locked_with_two_threads() {
    // gh-134323: locked() is true whichever thread holds it.
    let lock = RLock::new();
    let acquired = Event::new();
    let release = Event::new();
    thread::scope(|s| {
        s.spawn(|| {
            assert!(!lock.locked());
            let _g = lock.acquire();
            assert!(lock.locked());
            acquired.set();
            release.wait();
        });
        acquired.wait();
        assert!(lock.locked());
        assert!(!lock.is_owned());
        release.set();
    });
    assert!(!lock.locked());
}

#[test]
fn recursion_count() {
    let lock = RLock::new();
    assert_eq!(lock.recursion_count(), 0);
    let a = lock.acquire();
    assert_eq!(lock.recursion_count(), 1);
    let b = lock.acquire();
    let c = lock.acquire();
    assert_eq!(lock.recursion_count(), 3);
    drop(c);
    assert_eq!(lock.recursion_count(), 2);
    drop(b);
    drop(a);
    assert_eq!(lock.recursion_count(), 0);

    while_other_thread_holds(&lock, || assert_eq!(lock.recursion_count(), 0));
    assert_eq!(lock.recursion_count(), 0);
}

#[test]
fn release_by_a_thread_that_does_not_own_it_fails() {
    let lock = RLock::new();
    while_other_thread_holds(&lock, || {
        let err = lock.release().unwrap_err();
        assert_eq!(err.to_string(), "cannot release un-acquired lock");
        // Unchanged: still held by the other thread.
        assert!(lock.locked());
        assert!(!lock.is_owned());
        assert!(lock.try_acquire().is_none());
    });
    assert!(!lock.locked());
}

#[test]
fn is_owned() {
    let lock = RLock::new();
    assert!(!lock.is_owned());
    let a = lock.acquire();
    assert!(lock.is_owned());
    let b = lock.acquire();
    assert!(lock.is_owned());
    thread::scope(|s| {
        s.spawn(|| assert!(!lock.is_owned()));
    });
    drop(b);
    assert!(lock.is_owned());
    drop(a);
    assert!(!lock.is_owned());
}

#[test]
fn try_acquire_contended() {
    let lock = RLock::new();
    let _g = lock.acquire();
    thread::scope(|s| {
        s.spawn(|| assert!(lock.try_acquire().is_none()));
    });
}

#[test]
fn acquire_contended_by_five_threads() {
    let lock = RLock::new();
    let finished = AtomicUsize::new(0);
    let held = lock.acquire();
    thread::scope(|s| {
        for _ in 0..5 {
            s.spawn(|| {
                let _a = lock.acquire();
                let _b = lock.acquire();
                finished.fetch_add(1, Ordering::SeqCst);
            });
        }
        wait_threads_blocked(5);
        assert_eq!(finished.load(Ordering::SeqCst), 0, "acquired a held RLock");
        drop(held);
    });
    assert_eq!(finished.load(Ordering::SeqCst), 5);
    assert!(!lock.locked());
}

#[test]
fn timeout_contended() {
    let lock = RLock::new();
    while_other_thread_holds(&lock, || {
        let timeout = Duration::from_millis(300);
        let start = Instant::now();
        assert!(lock.acquire_timeout(timeout).is_none());
        let elapsed = start.elapsed();
        assert!(
            elapsed >= timeout.mul_f64(0.6) && elapsed < timeout * 10,
            "{elapsed:?}"
        );
        assert!(lock.acquire_deadline(Instant::now()).is_none());
    });
    // The owner never waits, whatever the timeout.
    let _g = lock.acquire();
    assert!(lock.acquire_timeout(Duration::ZERO).is_some());
    assert!(lock.acquire_deadline(Instant::now()).is_some());
}

#[test]
fn panic_releases_only_the_guards_unwound() {
    let lock = RLock::new();
    let outer = lock.acquire();
    let r = panic::catch_unwind(AssertUnwindSafe(|| {
        let _a = lock.acquire();
        let _b = lock.acquire();
        panic!("boom");
    }));
    assert!(r.is_err());
    assert_eq!(lock.recursion_count(), 1);
    drop(outer);
    thread::scope(|s| {
        s.spawn(|| assert!(lock.try_acquire().is_some()));
    });
}

#[test]
fn repr_count_seen_from_any_thread() {
    // gh-134322: count=0 when fresh, the owner's depth otherwise, from any thread.
    let lock = RLock::new();
    // Unlocked: CPython's count=0, and no `owner: 0` naming no thread.
    assert_eq!(
        format!("{lock:?}"),
        "RLock { state: unlocked, count: 0, data: () }"
    );
    let _a = lock.acquire();
    let _b = lock.acquire();
    let owner = threadkit::get_ident();
    let check = || {
        let s = format!("{lock:?}");
        assert!(
            s.starts_with(&format!(
                "RLock {{ state: locked, owner: {owner}, count: 2, data: "
            )),
            "{s}"
        );
    };
    check();
    thread::scope(|s| {
        s.spawn(check);
    });
}

#[test]
fn exclusive_between_threads() {
    let lock = RLock::new();
    let inside = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..2_000 {
                    let _a = lock.acquire();
                    let _b = lock.acquire();
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
            });
        }
    });
    assert!(!lock.locked());
}

// ----- RLock<T>: data behind a re-entrant lock (issue 13) -----

fn assert_sync<T: Sync>() {}

#[test]
fn rlock_with_cell_is_sync_and_excludes_other_threads() {
    use std::cell::Cell;
    assert_sync::<RLock<Cell<u64>>>();
    // Witness: every increment is a read-modify-write of a plain Cell through nested guards; a
    // missing exclusion or ordering between threads loses increments.
    let counter = RLock::with_value(Cell::new(0u64));
    let start = std::sync::Barrier::new(4);
    let inside = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                start.wait(); // all four contend from the first increment
                for _ in 0..20_000 {
                    let outer = counter.acquire();
                    assert_eq!(
                        inside.fetch_add(1, Ordering::SeqCst),
                        0,
                        "two owners at once"
                    );
                    let inner = counter.acquire(); // re-entry sees the same value
                    inner.set(inner.get() + 1);
                    assert_eq!(outer.get(), inner.get());
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
            });
        }
    });
    assert_eq!(counter.into_inner().get(), 80_000);
}

#[test]
fn nested_methods_share_the_data_through_refcell() {
    use std::cell::RefCell;
    struct Account {
        log: RLock<RefCell<Vec<i64>>>,
    }
    impl Account {
        fn deposit(&self, amount: i64) {
            self.log.acquire().borrow_mut().push(amount);
        }
        fn transfer_in(&self, a: i64, b: i64) {
            let _whole = self.log.acquire();
            self.deposit(a);
            self.deposit(b);
            assert_eq!(self.log.recursion_count(), 1);
        }
    }
    let acc = Account {
        log: RLock::default(),
    };
    acc.transfer_in(1, 2);
    assert_eq!(*acc.log.acquire().borrow(), [1, 2]);
    assert!(!acc.log.locked());
}

#[test]
fn default_from_get_mut_into_inner() {
    let mut lock: RLock<u32> = RLock::default();
    *lock.get_mut() += 3;
    assert_eq!(*lock.acquire(), 3);
    let lock = RLock::from(String::from("v"));
    assert_eq!(format!("{:?}", lock.acquire()), "\"v\"");
    assert_eq!(lock.into_inner(), "v");
}

#[test]
fn debug_hides_data_from_other_threads_only() {
    let lock = RLock::with_value(7);
    assert_eq!(
        format!("{lock:?}"),
        "RLock { state: unlocked, count: 0, data: 7 }"
    );
    let g = lock.acquire();
    assert!(format!("{lock:?}").ends_with("count: 1, data: 7 }"));
    thread::scope(|s| {
        s.spawn(|| assert!(format!("{lock:?}").ends_with("data: <locked> }")));
    });
    drop(g);
}
