//! `RLock`: mutual exclusion with recursion, only the owner may release, a waiter gets the lock
//! only when the owner's count reaches zero.

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use threadkit::RLock;

use crate::support::{assert_nobody_parked, model, model_fair_and_unfair};

/// Enters twice (nested guards), checks the count and that nobody else is inside, bumps the
/// shared cell (a loom `UnsafeCell`: an access the RLock does not order is a reported race).
fn nested_section(lock: &RLock, cell: &UnsafeCell<usize>, inside: &AtomicUsize) {
    let outer = lock.acquire();
    let inner = lock.acquire();
    assert_eq!(lock.recursion_count(), 2);
    assert_eq!(
        inside.fetch_add(1, Ordering::SeqCst),
        0,
        "two threads inside"
    );
    // SAFETY: the RLock is held (what loom verifies).
    cell.with_mut(|p| unsafe { *p += 1 });
    inside.fetch_sub(1, Ordering::SeqCst);
    drop(inner);
    assert!(
        lock.is_owned(),
        "the outer level was released with the inner one"
    );
    assert_eq!(lock.recursion_count(), 1);
    drop(outer);
}

/// Three threads, each holding the lock two levels deep: mutual exclusion, counts exact.
#[test]
fn recursion_and_mutual_exclusion_three_threads() {
    model_fair_and_unfair(|| {
        let lock = Arc::new(RLock::new());
        let cell = Arc::new(UnsafeCell::new(0usize));
        let inside = Arc::new(AtomicUsize::new(0));
        let others: Vec<_> = (0..2)
            .map(|_| {
                let (lock, cell, inside) =
                    (Arc::clone(&lock), Arc::clone(&cell), Arc::clone(&inside));
                thread::spawn(move || nested_section(&lock, &cell, &inside))
            })
            .collect();
        nested_section(&lock, &cell, &inside);
        for t in others {
            t.join().unwrap();
        }
        // SAFETY: every other thread has been joined.
        assert_eq!(cell.with(|p| unsafe { *p }), 3);
        assert!(!lock.locked());
        assert_nobody_parked();
    });
}

/// A thread that does not own the lock cannot release it (the error, and nothing changes), while
/// the owner can, level by level.
#[test]
fn release_by_non_owner_rejected() {
    model(|| {
        let lock = Arc::new(RLock::new());
        lock.acquire().forget();
        lock.acquire().forget();
        let intruder = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                let refused = lock.release().is_err();
                (refused, lock.is_owned(), lock.recursion_count())
            })
        };
        let (refused, owned_there, count_there) = intruder.join().unwrap();
        assert!(refused, "a non-owner released the RLock");
        assert!(!owned_there);
        assert_eq!(count_there, 0);
        assert!(lock.is_owned());
        assert_eq!(
            lock.recursion_count(),
            2,
            "a refused release changed the count"
        );
        lock.release().unwrap();
        lock.release().unwrap();
        assert!(!lock.locked());
        assert!(lock.release().is_err());
    });
}

/// The owner holds two levels while another thread blocks: releasing one level keeps the other
/// out; releasing the last lets it in.
#[test]
fn waiter_gets_lock_only_at_count_zero() {
    model_fair_and_unfair(|| {
        let lock = Arc::new(RLock::new());
        let got_it = Arc::new(AtomicBool::new(false));
        lock.acquire().forget();
        lock.acquire().forget();
        let waiter = {
            let (lock, got_it) = (Arc::clone(&lock), Arc::clone(&got_it));
            thread::spawn(move || {
                let guard = lock.acquire();
                got_it.store(true, Ordering::SeqCst);
                assert_eq!(lock.recursion_count(), 1);
                drop(guard);
            })
        };
        lock.release().unwrap();
        assert!(
            !got_it.load(Ordering::SeqCst),
            "got the lock while the owner held a level"
        );
        assert!(lock.is_owned());
        lock.release().unwrap();
        waiter.join().unwrap();
        assert!(got_it.load(Ordering::SeqCst));
        assert!(!lock.locked());
        assert_nobody_parked();
    });
}
