//! `Semaphore` against a Mutex + Condvar semaphore (std and parking_lot), the design of
//! CPython's `threading.Semaphore` and of most hand-rolled Rust ones.

use crate::cases::monitor::{CondvarSemaphore, Monitor, Pl, Std};
use crate::harness::{contended, tight_loop, Case, Contender, Mode};

pub(crate) fn cases(mode: Mode) -> Vec<Case> {
    vec![uncontended(mode), contended_4t(mode)]
}

/// `semaphore_uncontended`: acquire + release of a `Semaphore(1)` on one thread.
fn uncontended(mode: Mode) -> Case {
    fn peer<M: Monitor<usize> + 'static>() -> Contender {
        Contender::new(M::LABEL, |n| {
            let sem = CondvarSemaphore::<M>::new(1);
            tight_loop(n, || {
                sem.acquire();
                sem.release();
            })
        })
    }
    Case::new("semaphore_uncontended", "acquire+release", 2_000_000, mode)
        .threadkit(threadkit_uncontended())
        .peer(peer::<Std<usize>>())
        .peer(peer::<Pl<usize>>())
}

/// `semaphore_contended_4t`: four threads share a `Semaphore(2)`, acquire + release in a loop;
/// wall time per acquire + release.
fn contended_4t(mode: Mode) -> Case {
    fn peer<M: Monitor<usize> + 'static>() -> Contender {
        Contender::new(M::LABEL, |n| {
            let sem = CondvarSemaphore::<M>::new(2);
            contended(4, n, || {
                sem.acquire();
                sem.release();
            })
        })
    }
    Case::new("semaphore_contended_4t", "acquire+release", 4_000_000, mode)
        .divisible_by(4)
        .threadkit(threadkit_contended_4t())
        .peer(peer::<Std<usize>>())
        .peer(peer::<Pl<usize>>())
        .peer(floor_contended_4t())
}

/// A reference for `semaphore_contended_4t`, not a usable semaphore: one atomic counter, a
/// compare-and-swap to take a permit and an add to give it back, and a waiter that yields
/// instead of sleeping (nothing to wake, no record, no fairness): the least work a semaphore
/// whose permits live in one word does. It is no strict lower bound in time (its yielding
/// waiters cost something too; threadkit's `Semaphore` measured a little below it), but its
/// ratio to the Mutex+Condvar semaphores, in the same run, says roughly how low that design goes.
fn floor_contended_4t() -> Contender {
    use std::sync::atomic::{AtomicUsize, Ordering};
    Contender::new("floor: one atomic word, spinning", |n| {
        let permits = AtomicUsize::new(2);
        let d = contended(4, n, || {
            let mut v = permits.load(Ordering::Relaxed);
            loop {
                if v == 0 {
                    std::thread::yield_now();
                    v = permits.load(Ordering::Relaxed);
                    continue;
                }
                match permits.compare_exchange_weak(v, v - 1, Ordering::Acquire, Ordering::Relaxed)
                {
                    Ok(_) => break,
                    Err(now) => v = now,
                }
            }
            permits.fetch_add(1, Ordering::Release);
        });
        assert_eq!(permits.load(Ordering::Relaxed), 2, "lost permits");
        d
    })
}

/// The threadkit side of `semaphore_uncontended`: the permit guard's drop is the release.
fn threadkit_uncontended() -> Option<Contender> {
    Some(Contender::new("threadkit Semaphore", |n| {
        let sem = threadkit::Semaphore::new(1);
        tight_loop(n, || drop(sem.acquire()))
    }))
}

/// The threadkit side of `semaphore_contended_4t`: a `Semaphore(2)` shared by four threads.
fn threadkit_contended_4t() -> Option<Contender> {
    Some(Contender::new("threadkit Semaphore", |n| {
        let sem = threadkit::Semaphore::new(2);
        let d = contended(4, n, || drop(sem.acquire()));
        assert_eq!(sem.value(), 2, "lost permits");
        d
    }))
}
