//! `Lock` against `std::sync::Mutex` and `parking_lot::Mutex`.

use std::hint::black_box;

use crate::harness::{contended, tight_loop, Case, Contender, Mode};

pub(crate) fn cases(mode: Mode) -> Vec<Case> {
    let mut cases = vec![uncontended(mode), try_held(mode)];
    cases.extend([2, 4, 8].map(|threads| contended_case(mode, threads)));
    cases
}

/// `lock_uncontended`: acquire + release on one thread, nobody else around.
fn uncontended(mode: Mode) -> Case {
    Case::new("lock_uncontended", "acquire+release", 2_000_000, mode)
        .threadkit(Some(Contender::new("threadkit Lock", |n| {
            let lock = threadkit::Lock::new();
            tight_loop(n, || drop(black_box(&lock).acquire()))
        })))
        .peer(Contender::new("std Mutex", |n| {
            let lock = std::sync::Mutex::new(());
            tight_loop(n, || drop(black_box(&lock).lock().unwrap()))
        }))
        .peer(Contender::new("parking_lot Mutex", |n| {
            let lock = parking_lot::Mutex::new(());
            tight_loop(n, || drop(black_box(&lock).lock()))
        }))
}

/// `lock_try_held`: a non-blocking acquire that fails because the lock is held (Python's
/// `acquire(False)` in a polling loop).
fn try_held(mode: Mode) -> Case {
    Case::new("lock_try_held", "failed try", 2_000_000, mode)
        .threadkit(Some(Contender::new("threadkit Lock", |n| {
            let lock = threadkit::Lock::new();
            let _held = lock.acquire();
            tight_loop(n, || assert!(black_box(&lock).try_acquire().is_none()))
        })))
        .peer(Contender::new("std Mutex", |n| {
            let lock = std::sync::Mutex::new(());
            let _held = lock.lock().unwrap();
            tight_loop(n, || assert!(black_box(&lock).try_lock().is_err()))
        }))
        .peer(Contender::new("parking_lot Mutex", |n| {
            let lock = parking_lot::Mutex::new(());
            let _held = lock.lock();
            tight_loop(n, || assert!(black_box(&lock).try_lock().is_none()))
        }))
}

/// `lock_contended_<N>t`: N threads increment one counter under the lock; wall time per
/// increment. Unfair locks let a thread re-take the lock many times in a row, so this measures
/// the hand-off policy as much as the lock itself.
fn contended_case(mode: Mode, threads: usize) -> Case {
    let check = move |n: u64, total: u64| assert_eq!(total, n, "lost increments");
    Case::new(
        format!("lock_contended_{threads}t"),
        "acquire+add+release",
        1_000_000,
        mode,
    )
    .divisible_by(threads as u64)
    .threadkit(Some(Contender::new("threadkit Lock", move |n| {
        let lock = threadkit::Lock::with_value(0u64);
        let d = contended(threads, n, || *lock.acquire() += 1);
        check(n, lock.into_inner());
        d
    })))
    .peer(Contender::new("std Mutex", move |n| {
        let lock = std::sync::Mutex::new(0u64);
        let d = contended(threads, n, || *lock.lock().unwrap() += 1);
        check(n, lock.into_inner().unwrap());
        d
    }))
    .peer(Contender::new("parking_lot Mutex", move |n| {
        let lock = parking_lot::Mutex::new(0u64);
        let d = contended(threads, n, || *lock.lock() += 1);
        check(n, lock.into_inner());
        d
    }))
}
