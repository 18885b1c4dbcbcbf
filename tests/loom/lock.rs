//! `Lock`: mutual exclusion, release from another thread, `try_acquire`, timed acquire.

use std::time::Duration;

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use threadkit::queue::LifoQueue;
use threadkit::Lock;

use crate::support::{assert_nobody_parked, model, model_fair_and_unfair, wait_until_parked};

/// Increments the guarded cell through a loom `UnsafeCell`, so that loom reports any two
/// accesses not ordered by the lock as a data race, and checks that nobody else is inside.
fn critical_section(lock: &Lock<UnsafeCell<usize>>, inside: &AtomicUsize) {
    let guard = lock.acquire();
    assert_eq!(
        inside.fetch_add(1, Ordering::SeqCst),
        0,
        "two threads inside"
    );
    // SAFETY: the guard gives exclusive access (what loom verifies).
    guard.with_mut(|p| unsafe { *p += 1 });
    inside.fetch_sub(1, Ordering::SeqCst);
    drop(guard);
}

fn mutual_exclusion(threads: usize) {
    model_fair_and_unfair(move || {
        let lock = Arc::new(Lock::with_value(UnsafeCell::new(0usize)));
        let inside = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..threads - 1)
            .map(|_| {
                let (lock, inside) = (Arc::clone(&lock), Arc::clone(&inside));
                thread::spawn(move || critical_section(&lock, &inside))
            })
            .collect();
        critical_section(&lock, &inside);
        for h in handles {
            h.join().unwrap();
        }
        let guard = lock.acquire();
        // SAFETY: every other thread has been joined.
        assert_eq!(guard.with(|p| unsafe { *p }), threads);
        drop(guard);
        assert!(!lock.locked());
        assert_nobody_parked();
    });
}

#[test]
fn mutual_exclusion_two_threads() {
    mutual_exclusion(2);
}

#[test]
fn mutual_exclusion_three_threads() {
    mutual_exclusion(3);
}

/// A lock acquired by one thread and released by another (Python allows it) lets a blocked
/// acquirer in.
#[test]
fn release_from_another_thread_wakes_acquirer() {
    model_fair_and_unfair(|| {
        let lock = Arc::new(Lock::new());
        lock.acquire().forget();
        let releaser = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || lock.release().unwrap())
        };
        let guard = lock.acquire(); // blocks until the other thread releases
        assert!(lock.locked());
        drop(guard);
        releaser.join().unwrap();
        assert!(!lock.locked());
        assert_nobody_parked();
    });
}

/// Two threads releasing the same acquisition: exactly one succeeds, the other gets the error,
/// and the lock ends unlocked.
#[test]
fn racing_releases_exactly_one_succeeds() {
    model(|| {
        let lock = Arc::new(Lock::new());
        lock.acquire().forget();
        let other = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || lock.release().is_ok())
        };
        let mine = lock.release().is_ok();
        let theirs = other.join().unwrap();
        assert!(mine ^ theirs, "mine = {mine}, theirs = {theirs}");
        assert!(!lock.locked());
    });
}

/// `try_acquire` never blocks; two threads retrying it still exclude each other.
#[test]
fn try_acquire_excludes_and_never_blocks() {
    model(|| {
        let lock = Arc::new(Lock::with_value(UnsafeCell::new(0usize)));
        let inside = Arc::new(AtomicUsize::new(0));
        let work = |lock: &Lock<UnsafeCell<usize>>, inside: &AtomicUsize| loop {
            if let Some(guard) = lock.try_acquire() {
                assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                // SAFETY: the guard gives exclusive access.
                guard.with_mut(|p| unsafe { *p += 1 });
                inside.fetch_sub(1, Ordering::SeqCst);
                break;
            }
            thread::yield_now();
        };
        let other = {
            let (lock, inside) = (Arc::clone(&lock), Arc::clone(&inside));
            thread::spawn(move || work(&lock, &inside))
        };
        work(&lock, &inside);
        other.join().unwrap();
        // SAFETY: the other thread has been joined.
        assert_eq!(lock.acquire().with(|p| unsafe { *p }), 2);
    });
}

/// A timed acquire whose deadline has passed gives up without disturbing a blocked acquirer:
/// when it was the last parked thread it clears the PARKED bit, otherwise it must leave it, or
/// the holder's release would take the fast path and strand the other waiter (loom reports the
/// deadlock).
#[test]
fn timed_out_acquire_leaves_other_waiter_wakeable() {
    model_fair_and_unfair(|| {
        let lock = Arc::new(Lock::new());
        let held = lock.acquire();
        let blocking = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || drop(lock.acquire()))
        };
        let timed = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || lock.acquire_timeout(Duration::ZERO).is_some())
        };
        drop(held);
        blocking.join().unwrap();
        let _ = timed.join().unwrap(); // either outcome is fine, depending on the release
        assert!(!lock.locked());
        assert!(lock.try_acquire().is_some());
        assert_nobody_parked();
    });
}

/// A timed acquire of a lock held throughout always times out, and leaves the lock consistent.
#[test]
fn timed_acquire_of_held_lock_times_out() {
    model(|| {
        let lock = Arc::new(Lock::new());
        let held = lock.acquire();
        let timed = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || lock.acquire_timeout(Duration::ZERO).is_none())
        };
        assert!(timed.join().unwrap());
        drop(held);
        assert!(!lock.locked());
        assert!(lock.try_acquire().is_some());
        assert_nobody_parked();
    });
}

/// Two acquirers asleep on a held lock both get it once it is released. The release frees the
/// lock first (its swap clears the PARKED bit too) and wakes one waiter after; the wake-up must
/// put the PARKED bit back for the other, or the first waiter's own release wakes nobody and
/// loom reports the stranded thread. Witness: each waiter counts its critical section, and the
/// count is 2 after the joins (a returning acquire is owed a release).
#[test]
fn release_then_wake_leaves_the_other_sleeper_wakeable() {
    model_fair_and_unfair(|| {
        let lock = Arc::new(Lock::with_value(UnsafeCell::new(0usize)));
        let held = lock.acquire();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let lock = Arc::clone(&lock);
                thread::spawn(move || {
                    let guard = lock.acquire();
                    // SAFETY: the guard gives exclusive access (what loom verifies).
                    guard.with_mut(|p| unsafe { *p += 1 });
                })
            })
            .collect();
        wait_until_parked(2);
        drop(held);
        for w in waiters {
            w.join().unwrap();
        }
        // SAFETY: every other thread has been joined.
        assert_eq!(lock.acquire().with(|p| unsafe { *p }), 2);
        assert!(!lock.locked());
        assert_nobody_parked();
    });
}

/// The lock-based queues' sleeper counts (LifoQueue, PriorityQueue; `src/queue/locked_core.rs`,
/// kept here beside the Lock models it builds on): the count of getters asleep is lowered once
/// per getter taken off the queue, by its waker, so that the second put still sees the second
/// sleeper and wakes it. A count lowered twice (by the waker and again by the woken getter)
/// says "nobody asleep" while one is, and loom reports the stranded getter. Witness: each
/// blocking get returns an item that was put, and the two are the two items.
#[test]
fn locked_queue_second_put_wakes_the_second_sleeping_getter() {
    model(|| {
        let q = Arc::new(LifoQueue::new(0));
        let getters: Vec<_> = (0..2)
            .map(|_| {
                let q = Arc::clone(&q);
                thread::spawn(move || q.get().unwrap())
            })
            .collect();
        wait_until_parked(2);
        q.put(1).unwrap();
        q.put(2).unwrap();
        let mut got: Vec<i32> = getters.into_iter().map(|g| g.join().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        assert!(q.is_empty());
        assert_nobody_parked();
    });
}
