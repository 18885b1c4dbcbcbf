//! Behaviour tests for `Semaphore` and `BoundedSemaphore`, ported from CPython's
//! `lock_tests.BaseSemaphoreTests`, `SemaphoreTests`, `BoundedSemaphoreTests` and
//! `test_threading.test_BoundedSemaphore_limit` (catalogue §3.6).

// Uses the thread API, which is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use threadkit::{BoundedSemaphore, Lock, OverReleaseError, Semaphore, SemaphorePermit};

mod common;
use common::wait_threads_blocked;

/// Upper bound for waits that should end long before it.
const LONG: Duration = Duration::from_secs(20);

/// The operations the generic tests need, for both semaphore types.
trait Sem: Send + Sync + 'static {
    fn with_value(value: usize) -> Self;
    fn acquire(&self) -> SemaphorePermit<'_>;
    fn try_acquire(&self) -> Option<SemaphorePermit<'_>>;
    fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>>;
    /// `release(n)` that must succeed.
    fn release_ok(&self, n: usize);
    fn value(&self) -> usize;
}

impl Sem for Semaphore {
    fn with_value(value: usize) -> Self {
        Semaphore::new(value)
    }
    fn acquire(&self) -> SemaphorePermit<'_> {
        Semaphore::acquire(self)
    }
    fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        Semaphore::try_acquire(self)
    }
    fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        Semaphore::acquire_timeout(self, timeout)
    }
    fn release_ok(&self, n: usize) {
        Semaphore::release(self, n);
    }
    fn value(&self) -> usize {
        Semaphore::value(self)
    }
}

impl Sem for BoundedSemaphore {
    fn with_value(value: usize) -> Self {
        BoundedSemaphore::new(value)
    }
    fn acquire(&self) -> SemaphorePermit<'_> {
        BoundedSemaphore::acquire(self)
    }
    fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        BoundedSemaphore::try_acquire(self)
    }
    fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        BoundedSemaphore::acquire_timeout(self, timeout)
    }
    fn release_ok(&self, n: usize) {
        BoundedSemaphore::release(self, n).unwrap();
    }
    fn value(&self) -> usize {
        BoundedSemaphore::value(self)
    }
}

/// Instantiates each generic test for both types, as CPython's `SemaphoreTests` and
/// `BoundedSemaphoreTests` do.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod semaphore {
            $(#[test] fn $name() { super::$name::<threadkit::Semaphore>() })*
        }
        mod bounded_semaphore {
            $(#[test] fn $name() { super::$name::<threadkit::BoundedSemaphore>() })*
        }
    };
}

both!(
    constructor_rejects_too_large_a_value,
    acquire,
    acquire_destroy,
    acquire_contended,
    multirelease,
    try_acquire,
    try_acquire_contended,
    acquire_timeout,
    default_value_blocks_second_acquirer,
    with_block,
    permit_released_on_panic,
    permit_released_from_another_thread,
    release_wakes_exactly_n,
    timeouts_racing_releases_lose_no_permit,
);

fn constructor_rejects_too_large_a_value<S: Sem>() {
    // CPython: negative values raise ValueError; a usize cannot be negative, too large panics.
    assert!(panic::catch_unwind(|| S::with_value(Semaphore::MAX_PERMITS + 1)).is_err());
    assert_eq!(
        S::with_value(Semaphore::MAX_PERMITS).value(),
        Semaphore::MAX_PERMITS
    );
}

fn acquire<S: Sem>() {
    let sem = S::with_value(1);
    sem.acquire().forget();
    sem.release_ok(1);
    let sem = S::with_value(2);
    sem.acquire().forget();
    sem.acquire().forget();
    assert_eq!(sem.value(), 0);
    sem.release_ok(1);
    sem.release_ok(1);
    assert_eq!(sem.value(), 2);
}

fn acquire_destroy<S: Sem>() {
    let sem = S::with_value(1);
    sem.acquire().forget();
    drop(sem);
}

/// CPython's `test_acquire_contended` (`multi == false`) and `test_multirelease` (`multi`):
/// value 7, main holds one; 10 threads each acquire twice. Every acquisition records the phase
/// it happened in, so extra or missing wake-ups show up as wrong counts per phase.
fn contended<S: Sem>(multi: bool) {
    let sem = Arc::new(S::with_value(7));
    sem.acquire().forget();
    let phase = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(Lock::with_value(Vec::new()));
    // Counts acquisitions, so that main can wait for them without polling.
    let done = Arc::new(Semaphore::new(0));
    let threads: Vec<_> = (0..10)
        .map(|_| {
            let (sem, phase, results, done) = (
                Arc::clone(&sem),
                Arc::clone(&phase),
                Arc::clone(&results),
                Arc::clone(&done),
            );
            thread::spawn(move || {
                for _ in 0..2 {
                    sem.acquire().forget();
                    results.acquire().push(phase.load(Ordering::SeqCst));
                    done.release(1);
                }
            })
        })
        .collect();
    let wait_count = |n: usize| {
        for _ in 0..n {
            done.acquire_timeout(LONG)
                .expect("acquisitions stalled")
                .forget();
        }
    };
    let sorted = |results: &Lock<Vec<usize>>| {
        let mut v = results.acquire().clone();
        v.sort_unstable();
        v
    };

    // Phase 0: exactly the 6 free permits are taken.
    wait_count(6);
    wait_threads_blocked(10);
    assert_eq!(sorted(&results), [0; 6]);
    assert_eq!(sem.value(), 0);

    phase.store(1, Ordering::SeqCst);
    if multi {
        sem.release_ok(7);
    } else {
        for _ in 0..7 {
            sem.release_ok(1);
        }
    }
    wait_count(7);
    let mut expected = vec![0; 6];
    expected.extend([1; 7]);
    assert_eq!(sorted(&results), expected);

    phase.store(2, Ordering::SeqCst);
    if multi {
        sem.release_ok(6);
    } else {
        for _ in 0..6 {
            sem.release_ok(1);
        }
    }
    wait_count(6);
    expected.extend([2; 6]);
    assert_eq!(sorted(&results), expected);
    // The semaphore is still taken: one thread waits for its second permit.
    assert!(sem.try_acquire().is_none());

    // Final release, to let the last thread finish.
    phase.store(3, Ordering::SeqCst);
    sem.release_ok(1);
    for t in threads {
        t.join().unwrap();
    }
    expected.push(3);
    assert_eq!(sorted(&results), expected);
    assert_eq!(sem.value(), 0);
}

fn acquire_contended<S: Sem>() {
    contended::<S>(false);
}

fn multirelease<S: Sem>() {
    contended::<S>(true);
}

fn try_acquire<S: Sem>() {
    let sem = S::with_value(2);
    let a = sem.try_acquire();
    let b = sem.try_acquire();
    assert!(a.is_some() && b.is_some());
    assert!(sem.try_acquire().is_none());
    drop(a);
    assert!(sem.try_acquire().is_some());
}

fn try_acquire_contended<S: Sem>() {
    let sem = Arc::new(S::with_value(4));
    sem.acquire().forget();
    let results = Arc::new(Lock::with_value(Vec::new()));
    let threads: Vec<_> = (0..5)
        .map(|_| {
            let (sem, results) = (Arc::clone(&sem), Arc::clone(&results));
            thread::spawn(move || {
                for _ in 0..2 {
                    let got = sem.try_acquire().map(SemaphorePermit::forget).is_some();
                    results.acquire().push(got);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let results = results.acquire();
    assert_eq!(results.iter().filter(|&&r| r).count(), 3);
    assert_eq!(results.iter().filter(|&&r| !r).count(), 7);
}

fn acquire_timeout<S: Sem>() {
    let sem = S::with_value(2);
    let short = Duration::from_millis(5);
    let a = sem.acquire_timeout(short);
    let b = sem.acquire_timeout(short);
    assert!(a.is_some() && b.is_some());
    assert!(sem.acquire_timeout(short).is_none());
    drop(a);
    let _c = sem.acquire_timeout(short).expect("a permit was released");
    let expected = Duration::from_millis(300);
    let t0 = Instant::now();
    assert!(sem.acquire_timeout(expected).is_none());
    let dt = t0.elapsed();
    assert!(dt >= expected.mul_f64(0.6) && dt < expected * 10, "{dt:?}");
    assert!(sem.acquire_timeout(Duration::ZERO).is_none());
}

fn default_value_blocks_second_acquirer<S: Sem>() {
    // Python's default value is 1: `Default` gives it.
    let sem = Arc::new(S::with_value(1));
    sem.acquire().forget();
    let finished = Arc::new(AtomicBool::new(false));
    let t = {
        let (sem, finished) = (Arc::clone(&sem), Arc::clone(&finished));
        thread::spawn(move || {
            drop(sem.acquire());
            finished.store(true, Ordering::SeqCst);
        })
    };
    wait_threads_blocked(1);
    assert!(!finished.load(Ordering::SeqCst));
    sem.release_ok(1);
    t.join().unwrap();
    assert!(finished.load(Ordering::SeqCst));
}

fn with_block<S: Sem>() {
    let sem = S::with_value(2);
    let body = |fail: bool| {
        let _outer = sem.acquire();
        let extra = sem.try_acquire();
        assert!(extra.is_some());
        drop(extra);
        let _inner = sem.acquire();
        assert!(sem.try_acquire().is_none());
        if fail {
            panic!("error inside the with block");
        }
    };
    body(false);
    assert_eq!(sem.value(), 2);
    let r = panic::catch_unwind(AssertUnwindSafe(|| body(true)));
    assert!(r.is_err());
    // Both levels were released while unwinding.
    assert_eq!(sem.value(), 2);
    assert!(sem.try_acquire().is_some());
}

fn permit_released_on_panic<S: Sem>() {
    let sem = Arc::new(S::with_value(1));
    let s2 = Arc::clone(&sem);
    let r = thread::spawn(move || {
        let _p = s2.acquire();
        panic!("boom");
    })
    .join();
    assert!(r.is_err());
    assert_eq!(sem.value(), 1);
    assert!(sem.try_acquire().is_some());
}

fn permit_released_from_another_thread<S: Sem>() {
    let sem = S::with_value(1);
    let permit = sem.acquire();
    thread::scope(|s| {
        s.spawn(move || drop(permit));
    });
    assert_eq!(sem.value(), 1);
}

/// `release(n)` wakes n sleepers, not fewer and not more: with 4 threads asleep, `release(3)`
/// lets exactly 3 through and the 4th stays asleep.
fn release_wakes_exactly_n<S: Sem>() {
    let sem = Arc::new(S::with_value(4));
    for _ in 0..4 {
        sem.acquire().forget();
    }
    let passed = Arc::new(Semaphore::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (sem, passed) = (Arc::clone(&sem), Arc::clone(&passed));
            thread::spawn(move || {
                sem.acquire().forget();
                passed.release(1);
            })
        })
        .collect();
    wait_threads_blocked(4);
    sem.release_ok(3);
    for _ in 0..3 {
        passed
            .acquire_timeout(LONG)
            .expect("a waiter stayed asleep")
            .forget();
    }
    wait_threads_blocked(2);
    assert!(
        passed.try_acquire().is_none(),
        "a fourth waiter got through"
    );
    sem.release_ok(1);
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(sem.value(), 0);
}

/// Timed waits that give up while releases wake sleepers must never strand a permit: the
/// blocking acquirers all get through, and every permit is accounted for at the end.
fn timeouts_racing_releases_lose_no_permit<S: Sem>() {
    let sem = Arc::new(S::with_value(3));
    for _ in 0..3 {
        sem.acquire().forget();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let blocking_done = Arc::new(Semaphore::new(0));
    let blockers: Vec<_> = (0..3)
        .map(|_| {
            let (sem, done) = (Arc::clone(&sem), Arc::clone(&blocking_done));
            thread::spawn(move || {
                sem.acquire().forget();
                done.release(1);
            })
        })
        .collect();
    let timers: Vec<_> = (0..3)
        .map(|i| {
            let (sem, stop) = (Arc::clone(&sem), Arc::clone(&stop));
            thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let t = Duration::from_micros(20 + (n * 37 + i * 11) % 300);
                    // A permit taken here goes straight back when dropped.
                    drop(sem.acquire_timeout(t));
                }
            })
        })
        .collect();
    wait_threads_blocked(3);
    for _ in 0..3 {
        sem.release_ok(1);
        thread::sleep(Duration::from_millis(2));
    }
    for _ in 0..3 {
        blocking_done
            .acquire_timeout(LONG)
            .expect("a blocking acquirer never got its permit (lost wake-up)")
            .forget();
    }
    stop.store(true, Ordering::SeqCst);
    for t in blockers.into_iter().chain(timers) {
        t.join().unwrap();
    }
    assert_eq!(sem.value(), 0);
}

// ----- type-specific tests -----

#[test]
fn default_value_is_one() {
    assert_eq!(Semaphore::default().value(), 1);
    let b = BoundedSemaphore::default();
    assert_eq!((b.value(), b.initial_value()), (1, 1));
}

#[test]
fn semaphore_release_unacquired() {
    // A plain semaphore may go above its initial value.
    let sem = Semaphore::new(1);
    sem.release(1);
    sem.acquire().forget();
    sem.acquire().forget();
    assert_eq!(sem.value(), 0);
    assert!(sem.try_acquire().is_none());
}

#[test]
fn bounded_release_unacquired() {
    let sem = BoundedSemaphore::default();
    assert!(matches!(sem.release(1), Err(OverReleaseError { .. })));
    assert_eq!(sem.value(), 1);
    sem.acquire().forget();
    sem.release(1).unwrap();
    let err = sem.release(1).unwrap_err();
    assert_eq!(err.to_string(), "semaphore released too many times");
    assert_eq!(sem.value(), 1);
}

#[test]
fn bounded_over_release_by_n_keeps_value() {
    let sem = BoundedSemaphore::new(5);
    for _ in 0..3 {
        sem.acquire().forget();
    }
    assert!(sem.release(4).is_err());
    assert_eq!(sem.value(), 2);
    sem.release(3).unwrap();
    assert_eq!(sem.value(), 5);
    assert!(sem.release(1).is_err());
    assert_eq!(sem.value(), 5);
}

#[test]
fn bounded_permit_at_bound_leaves_value_unchanged() {
    let sem = BoundedSemaphore::new(1);
    let permit = sem.acquire();
    // Released behind the permit's back; the permit then finds the value at its bound.
    sem.release(1).unwrap();
    drop(permit);
    assert_eq!(sem.value(), 1);
}

/// `test_threading.test_BoundedSemaphore_limit`: limit threads acquire, limit other threads
/// release, and one more release fails.
#[test]
fn bounded_semaphore_limit() {
    for limit in 1..10 {
        let bs = Arc::new(BoundedSemaphore::new(limit));
        let spawn_all = |f: fn(&BoundedSemaphore)| {
            let threads: Vec<_> = (0..limit)
                .map(|_| {
                    let bs = Arc::clone(&bs);
                    threadkit::spawn(move || f(&bs))
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        };
        spawn_all(|bs| bs.acquire().forget());
        assert_eq!(bs.value(), 0);
        spawn_all(|bs| bs.release(1).unwrap());
        assert_eq!(bs.value(), limit);
        assert!(bs.release(1).is_err());
    }
}

#[test]
fn semaphore_debug_shows_value() {
    let sem = Semaphore::new(3);
    assert_eq!(format!("{sem:?}"), "Semaphore { value: 3 }");
    let p = sem.acquire();
    assert_eq!(format!("{sem:?}"), "Semaphore { value: 2 }");
    p.forget();
    sem.release(1);
    sem.release(1);
    assert_eq!(format!("{sem:?}"), "Semaphore { value: 4 }");
}

#[test]
fn bounded_debug_shows_value_and_bound() {
    let sem = BoundedSemaphore::new(3);
    assert_eq!(format!("{sem:?}"), "BoundedSemaphore { value: 3/3 }");
    let _p = sem.acquire();
    assert_eq!(format!("{sem:?}"), "BoundedSemaphore { value: 2/3 }");
}

#[test]
fn static_semaphores() {
    static SEM: Semaphore = Semaphore::new(2);
    static BOUNDED: BoundedSemaphore = BoundedSemaphore::new(1);
    let _a = SEM.acquire();
    let _b = BOUNDED.acquire();
    assert_eq!((SEM.value(), BOUNDED.value()), (1, 0));
}

#[test]
fn acquire_deadline() {
    let sem = Semaphore::new(1);
    let _p = sem.acquire_deadline(Instant::now()).expect("free permit");
    let t0 = Instant::now();
    assert!(sem
        .acquire_deadline(Instant::now() + Duration::from_millis(50))
        .is_none());
    assert!(t0.elapsed() >= Duration::from_millis(30));
}

/// A plain semaphore's acquire may take its word below zero for a moment (one `fetch_sub`, the
/// unit added back when there was no permit): `value()` and `Debug`, read meanwhile by another
/// thread, must still say 0 then, never a wrapped-around count, and never more than the permits
/// there are. Four threads hammer a `Semaphore(1)` (each acquire that finds it taken goes below
/// zero) while a fifth reads the value until they are joined.
#[test]
fn value_read_during_contention_stays_within_the_permits() {
    let sem = Semaphore::new(1);
    let done = AtomicBool::new(false);
    let rounds = if cfg!(miri) { 50 } else { 500_000 };
    thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut reads = 0u64;
            while !done.load(Ordering::Relaxed) {
                let v = sem.value();
                assert!(v <= 1, "value() read {v} from a Semaphore(1)");
                if reads % 64 == 0 {
                    let d = format!("{sem:?}");
                    assert!(
                        d == "Semaphore { value: 0 }" || d == "Semaphore { value: 1 }",
                        "{d}"
                    );
                }
                reads += 1;
            }
            reads
        });
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..rounds {
                        drop(sem.acquire());
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
    });
    assert_eq!(sem.value(), 1);
}

/// `release(n)` (not a permit's drop) while acquirers that found no permit have the word below
/// zero: the release adds to a "negative" word. Before the fix it panicked with "attempt to add
/// with overflow" in every build with overflow checks (this test's build included) within a few
/// thousand releases. Witness: never more acquires returned than releases made, and the value
/// ends at exactly the releases nobody took.
#[test]
fn release_while_acquirers_are_below_zero() {
    let sem = Semaphore::new(0);
    let stop = AtomicBool::new(false);
    let got = AtomicUsize::new(0);
    let released = AtomicUsize::new(0);
    let rounds = if cfg!(miri) { 50 } else { 50_000 };
    let give_up = Instant::now() + LONG;
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    // An expired deadline: the one-`fetch_sub` path, never a sleep.
                    if let Some(p) = sem.acquire_deadline(Instant::now()) {
                        p.forget();
                        let n = got.fetch_add(1, Ordering::SeqCst) + 1;
                        let r = released.load(Ordering::SeqCst);
                        assert!(n <= r, "{n} acquires returned for {r} releases");
                    }
                }
            });
        }
        // Stops the acquirers however this thread leaves (a panicking release included).
        struct Stop<'a>(&'a AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop = Stop(&stop);
        for i in 0..rounds {
            while got.load(Ordering::SeqCst) < i && Instant::now() < give_up {
                std::hint::spin_loop();
            }
            released.fetch_add(1, Ordering::SeqCst);
            sem.release(1);
        }
    });
    let (got, released) = (got.into_inner(), released.into_inner());
    assert!(got <= released);
    assert_eq!(sem.value(), released - got, "a permit was lost or created");
}
