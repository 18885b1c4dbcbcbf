//! `Condition` behaviour, after CPython's `lock_tests.ConditionTests`, plus the guarantees
//! threadkit adds (exact FIFO notify, RLock depth restored, shared locks).

// Uses the thread API, which is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use threadkit::{Condition, ConditionLock, Event, Lock, RLock};

mod common;
use common::{assert_timeout, wait_threads_blocked};

/// Upper bound for waits that must end (CPython's `SHORT_TIMEOUT`).
const LONG: Duration = Duration::from_secs(30);

#[test]
fn acquire_default_is_reentrant() {
    let cond = Condition::new();
    let a = cond.acquire();
    let b = cond.acquire();
    assert_eq!(cond.lock().recursion_count(), 2);
    drop(b);
    drop(a);
    assert!(!cond.lock().locked());
}

#[test]
fn acquire_over_a_plain_lock() {
    let lock = Lock::new();
    let cond = Condition::with_lock(&lock);
    {
        let _g = cond.acquire();
        assert!(lock.try_acquire().is_none());
    }
    let held = lock.try_acquire();
    assert!(held.is_some());
    assert!(cond.try_acquire().is_none());
    assert!(cond.acquire_timeout(Duration::from_millis(1)).is_none());
    drop(held);
    let g = cond.acquire_deadline(Instant::now() + LONG);
    assert!(g.is_some());
    assert!(lock.locked());
}

/// CPython's `_check_notify`: five threads each wait twice; exact wake counts per phase, and
/// woken threads see the phase the notifier wrote before releasing the lock.
fn check_notify<L: ConditionLock + Sync>(cond: &Condition<L>) {
    const N: usize = 5;
    #[derive(Default)]
    struct Progress {
        ready: usize,
        results1: Vec<(bool, u32)>,
        results2: Vec<(bool, u32)>,
    }
    let phase = AtomicU32::new(0); // written only under the condition's lock
    let progress = Condition::with_lock(Lock::with_value(Progress::default()));
    let until = |pred: &dyn Fn(&Progress) -> bool| {
        let mut p = progress.acquire();
        assert!(
            progress.wait_for_timeout(&mut p, |p| pred(p), LONG),
            "workers stuck"
        );
    };

    thread::scope(|s| {
        for _ in 0..N {
            s.spawn(|| {
                for round in 0..2 {
                    let mut g = cond.acquire();
                    {
                        let mut p = progress.acquire();
                        p.ready += 1;
                        progress.notify_all(&p);
                    }
                    let notified = cond.wait_timeout(&mut g, LONG);
                    let seen = phase.load(Ordering::Relaxed);
                    drop(g);
                    let mut p = progress.acquire();
                    if round == 0 {
                        p.results1.push((notified, seen));
                    } else {
                        p.results2.push((notified, seen));
                    }
                    progress.notify_all(&p);
                }
            });
        }

        // Every worker is in its first wait (it counted itself while holding the lock).
        until(&|p| p.ready >= N);
        assert!(progress.acquire().results1.is_empty());

        // Phase 1: wake 3.
        let g = cond.acquire();
        assert_eq!(cond.notify(&g, 3), 3);
        wait_threads_blocked(3);
        phase.store(1, Ordering::Relaxed);
        drop(g);
        until(&|p| p.results1.len() >= 3);
        {
            let p = progress.acquire();
            assert_eq!(p.results1, vec![(true, 1); 3]);
            assert!(p.results2.is_empty());
        }

        // The three woken are back in their second wait: 2 + 3 waiters.
        until(&|p| p.ready >= N + 3);
        let g = cond.acquire();
        assert_eq!(cond.notify(&g, 5), 5);
        wait_threads_blocked(N as u32);
        phase.store(2, Ordering::Relaxed);
        drop(g);
        until(&|p| p.results1.len() + p.results2.len() >= N + 3);
        {
            let p = progress.acquire();
            assert_eq!(
                p.results1,
                [vec![(true, 1); 3], vec![(true, 2); 2]].concat()
            );
            assert_eq!(p.results2, vec![(true, 2); 3]);
        }

        // Phase 3: all five are in their second wait.
        until(&|p| p.ready >= 2 * N);
        let g = cond.acquire();
        assert_eq!(cond.notify_all(&g), 2);
        wait_threads_blocked(N as u32);
        phase.store(3, Ordering::Relaxed);
        drop(g);
        until(&|p| p.results2.len() >= N);
        let p = progress.acquire();
        assert_eq!(
            p.results1,
            [vec![(true, 1); 3], vec![(true, 2); 2]].concat()
        );
        assert_eq!(
            p.results2,
            [vec![(true, 2); 3], vec![(true, 3); 2]].concat()
        );
    });
    // Nobody left waiting.
    let g = cond.acquire();
    assert_eq!(cond.notify_all(&g), 0);
}

#[test]
fn notify_over_rlock_twice() {
    let cond = Condition::new();
    check_notify(&cond);
    check_notify(&cond); // the waiter list is properly reset
}

#[test]
fn notify_over_lock_twice() {
    let cond = Condition::with_lock(Lock::new());
    check_notify(&cond);
    check_notify(&cond);
}

#[test]
fn notify_is_fifo_and_exact() {
    let cond = Condition::with_lock(Lock::with_value(Vec::new()));
    // Progress reports on a separate condition, so that only the workers wait on `cond`.
    let queued = Condition::with_lock(Lock::with_value(0usize));
    let woken = Condition::with_lock(Lock::with_value(0usize));
    let until = |c: &Condition<Lock<usize>>, n: usize| {
        let mut g = c.acquire();
        assert!(
            c.wait_for_timeout(&mut g, |g| *g >= n, LONG),
            "workers stuck"
        );
    };
    thread::scope(|s| {
        for i in 0..4 {
            let (cond, queued, woken) = (&cond, &queued, &woken);
            s.spawn(move || {
                let mut g = cond.acquire();
                {
                    let mut q = queued.acquire();
                    *q += 1;
                    queued.notify_all(&q);
                }
                assert!(cond.wait_timeout(&mut g, LONG));
                g.push(i);
                drop(g);
                let mut w = woken.acquire();
                *w += 1;
                woken.notify_all(&w);
            });
            // Worker i counted itself while holding `cond`'s lock; once we get that lock, it
            // is queued. Only then start the next one: the queue order is 0, 1, 2, 3.
            until(queued, i + 1);
            drop(cond.acquire());
        }
        let g = cond.acquire();
        assert_eq!(cond.notify(&g, 0), 0);
        assert_eq!(cond.notify(&g, 1), 1);
        drop(g);
        until(&woken, 1);
        assert_eq!(*cond.acquire(), vec![0], "not woken oldest first");
        let g = cond.acquire();
        assert_eq!(cond.notify(&g, 2), 2);
        drop(g);
        until(&woken, 3);
        // The two woken together compete for the lock, so either may record itself first.
        let mut first_three = cond.acquire().clone();
        first_three.sort_unstable();
        assert_eq!(first_three, vec![0, 1, 2], "not woken oldest first");
        let g = cond.acquire();
        assert_eq!(cond.notify(&g, 10), 1);
    });
    let mut all = cond.into_inner().into_inner();
    all.sort_unstable();
    assert_eq!(all, vec![0, 1, 2, 3]);
}

#[test]
fn timeout_without_notifier() {
    let cond = Condition::new();
    let timeout = Duration::from_millis(500);
    thread::scope(|s| {
        for _ in 0..5 {
            s.spawn(|| {
                let mut g = cond.acquire();
                let start = Instant::now();
                let notified = cond.wait_timeout(&mut g, timeout);
                let elapsed = start.elapsed();
                assert!(!notified);
                assert_timeout(elapsed, timeout);
                assert!(cond.lock().is_owned(), "returned without the lock");
            });
        }
    });
    assert_eq!(format!("{cond:?}").matches("waiters: 0").count(), 1);
}

#[test]
fn timed_out_waiter_is_not_counted() {
    let cond = Condition::with_lock(Lock::new());
    let woke = Event::new();
    let queued = Event::new();
    thread::scope(|s| {
        s.spawn(|| {
            let mut g = cond.acquire();
            assert!(!cond.wait_timeout(&mut g, Duration::from_millis(20)));
        })
        .join()
        .unwrap();
        s.spawn(|| {
            let mut g = cond.acquire();
            queued.set();
            assert!(cond.wait_timeout(&mut g, LONG));
            woke.set();
        });
        queued.wait();
        let g = cond.acquire(); // the waiter released it: it is queued
        assert_eq!(cond.notify(&g, 1), 1);
    });
    assert!(woke.is_set());
}

#[test]
fn wait_for() {
    let cond = Condition::with_lock(Lock::with_value(0));
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            let mut state = cond.acquire();
            let start = Instant::now();
            cond.wait_for(&mut state, |s| *s == 4);
            (*state, start.elapsed())
        });
        for _ in 0..4 {
            thread::sleep(Duration::from_millis(10));
            let mut state = cond.acquire();
            *state += 1;
            cond.notify(&state, 1);
        }
        let (state, _) = waiter.join().unwrap();
        assert_eq!(state, 4);
    });
}

#[test]
fn wait_for_true_at_once_does_not_wait() {
    let cond = Condition::with_lock(Lock::with_value(1));
    let mut g = cond.acquire();
    let mut calls = 0;
    assert!(cond.wait_for_timeout(
        &mut g,
        |_| {
            calls += 1;
            true
        },
        Duration::ZERO
    ));
    assert_eq!(calls, 1);
    // A zero timeout with a false predicate checks once and gives up.
    assert!(!cond.wait_for_timeout(&mut g, |g| *g == 2, Duration::ZERO));
}

#[test]
fn wait_for_timeout_keeps_one_deadline() {
    // Python's test_waitfor_timeout (3 increments, the predicate wants 4), with the notifier
    // going on until the waiter gives up: the many wake-ups must not extend the deadline.
    let cond = Condition::with_lock(Lock::with_value(0));
    let stop = Event::new();
    let timeout = Duration::from_millis(200);
    thread::scope(|s| {
        s.spawn(|| {
            let start = Instant::now();
            while !stop.wait_timeout(Duration::from_millis(5)) && start.elapsed() < LONG {
                let mut state = cond.acquire();
                *state = (*state + 1) % 4; // never 4
                cond.notify_all(&state);
            }
        });
        let mut state = cond.acquire();
        let start = Instant::now();
        let result = cond.wait_for_timeout(&mut state, |s| *s == 4, timeout);
        let elapsed = start.elapsed();
        drop(state);
        stop.set();
        assert!(!result);
        assert_timeout(elapsed, timeout);
    });
}

#[test]
fn wait_for_deadline_returns_the_last_value() {
    let cond = Condition::with_lock(Lock::with_value(false));
    thread::scope(|s| {
        s.spawn(|| {
            let mut g = cond.acquire();
            assert!(cond.wait_for_deadline(&mut g, |g| *g, Instant::now() + LONG));
        });
        wait_threads_blocked(1);
        let mut g = cond.acquire();
        *g = true;
        cond.notify_all(&g);
    });
}

#[test]
fn rlock_depth_released_during_wait_and_restored() {
    let cond = Condition::new();
    let waiting = Event::new();
    thread::scope(|s| {
        s.spawn(|| {
            let a = cond.acquire();
            let b = cond.acquire();
            let mut c = cond.acquire();
            assert_eq!(cond.lock().recursion_count(), 3);
            waiting.set();
            assert!(cond.wait_timeout(&mut c, LONG));
            assert_eq!(cond.lock().recursion_count(), 3);
            drop(c);
            drop(b);
            assert_eq!(cond.lock().recursion_count(), 1);
            drop(a);
            assert!(!cond.lock().locked());
        });
        waiting.wait();
        // Only possible if the waiter released all three levels.
        let g = cond.acquire();
        assert_eq!(cond.lock().recursion_count(), 1);
        assert_eq!(cond.notify(&g, 1), 1);
    });
}

#[test]
fn guard_of_another_lock_panics() {
    let cond = Condition::with_lock(Lock::new());
    let other = Lock::new();
    let mut g = other.acquire();
    let r = panic::catch_unwind(AssertUnwindSafe(|| cond.wait(&mut g)));
    let msg = r.unwrap_err();
    let msg = msg.downcast_ref::<String>().unwrap();
    assert!(msg.starts_with("cannot wait on un-acquired lock"), "{msg}");
    let r = panic::catch_unwind(AssertUnwindSafe(|| cond.notify(&g, 1)));
    let msg = r.unwrap_err();
    let msg = msg.downcast_ref::<String>().unwrap();
    assert!(
        msg.starts_with("cannot notify on un-acquired lock"),
        "{msg}"
    );
    assert!(!cond.lock().locked());
    assert!(other.locked());

    let rcond = Condition::new();
    let other = RLock::new();
    let mut g = other.acquire();
    let r = panic::catch_unwind(AssertUnwindSafe(|| rcond.wait_for(&mut g, |_| false)));
    assert!(r.is_err());
    assert!(panic::catch_unwind(AssertUnwindSafe(|| rcond.notify_all(&g))).is_err());
}

#[test]
fn guard_released_behind_its_back_panics() {
    let cond = Condition::new();
    let mut g = cond.acquire();
    cond.lock().release().unwrap();
    let r = panic::catch_unwind(AssertUnwindSafe(|| cond.wait(&mut g)));
    assert!(r.is_err());
    drop(g); // does nothing: this thread no longer owns the lock
    assert!(!cond.lock().locked());
}

#[test]
fn predicate_panic_leaves_no_waiter_and_releases() {
    let cond = Condition::new();
    let calls = AtomicUsize::new(0);
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            panic::catch_unwind(AssertUnwindSafe(|| {
                let mut g = cond.acquire();
                let _outer = cond.acquire();
                cond.wait_for(&mut g, |_| {
                    if calls.fetch_add(1, Ordering::SeqCst) == 1 {
                        panic!("predicate failed");
                    }
                    false
                });
            }))
            .is_err()
        });
        // Notify until the waiter has evaluated its predicate twice.
        while calls.load(Ordering::SeqCst) < 2 {
            let g = cond.acquire();
            cond.notify(&g, 1);
            drop(g);
            thread::yield_now();
        }
        assert!(waiter.join().unwrap());
    });
    // The waiter is gone from the queue and its guards released the lock while unwinding.
    assert!(!cond.lock().locked());
    let g = cond.acquire();
    assert_eq!(cond.notify_all(&g), 0);
}

#[test]
fn two_conditions_share_one_lock() {
    // Python's queue.Queue: `not_empty` and `not_full` over one mutex.
    const CAPACITY: usize = 2;
    let mutex = Arc::new(Lock::with_value(std::collections::VecDeque::new()));
    let not_empty = Condition::with_lock(Arc::clone(&mutex));
    let not_full = Condition::with_lock(Arc::clone(&mutex));
    let received = thread::scope(|s| {
        let consumer = s.spawn(|| {
            let mut got = Vec::new();
            for _ in 0..200 {
                let mut q = not_empty.acquire();
                assert!(not_empty.wait_for_timeout(&mut q, |q| !q.is_empty(), LONG));
                got.push(q.pop_front().unwrap());
                not_full.notify(&q, 1);
            }
            got
        });
        for i in 0..200 {
            let mut q = not_full.acquire();
            assert!(not_full.wait_for_timeout(&mut q, |q| q.len() < CAPACITY, LONG));
            q.push_back(i);
            assert!(q.len() <= CAPACITY);
            not_empty.notify(&q, 1);
        }
        consumer.join().unwrap()
    });
    assert_eq!(received, (0..200).collect::<Vec<_>>());
    assert!(!mutex.locked());
}

#[test]
fn condition_over_a_borrowed_rlock() {
    let rlock = RLock::new();
    let cond = Condition::with_lock(&rlock);
    let outer = rlock.acquire(); // taken directly; the condition's guard nests inside it
    let mut g = cond.acquire();
    assert_eq!(rlock.recursion_count(), 2);
    assert!(!cond.wait_timeout(&mut g, Duration::from_millis(1)));
    assert_eq!(rlock.recursion_count(), 2);
    drop(g);
    drop(outer);
    assert!(!rlock.locked());
}

#[test]
fn debug_like_cpython_repr() {
    let cond = Condition::with_lock(Lock::new());
    let s = format!("{cond:?}");
    assert!(s.starts_with("Condition { lock: Lock {"), "{s}");
    assert!(s.contains("unlocked") && s.ends_with("waiters: 0 }"), "{s}");
    let queued = Event::new();
    thread::scope(|s| {
        s.spawn(|| {
            let mut g = cond.acquire();
            queued.set();
            cond.wait(&mut g);
        });
        queued.wait();
        let g = cond.acquire();
        let s = format!("{cond:?}");
        assert!(
            s.contains("state: locked") && s.ends_with("waiters: 1 }"),
            "{s}"
        );
        cond.notify_all(&g);
    });
}

/// A waiter notified while the notifier keeps the lock past the waiter's deadline was notified:
/// it reports `true` once it holds the lock again (after a notify it waits on the lock's queue,
/// and the deadline no longer decides the outcome).
fn notified_then_deadline_passes<L>(cond: Condition<L>)
where
    L: ConditionLock + Send + Sync,
{
    let waiting = Event::new();
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            let mut g = cond.acquire();
            waiting.set();
            cond.wait_timeout(&mut g, Duration::from_millis(100))
        });
        waiting.wait();
        let g = cond.acquire(); // the waiter has released the lock: it is parked
        assert_eq!(cond.notify(&g, 1), 1);
        thread::sleep(Duration::from_millis(300)); // past the waiter's deadline, lock held
        drop(g);
        assert!(waiter.join().unwrap(), "a notified waiter reports true");
    });
    // Nothing is left behind: the lock is free and nobody is counted as waiting.
    let g = cond.acquire();
    assert_eq!(cond.notify_all(&g), 0);
}

#[test]
fn notified_waiter_whose_deadline_passes_on_the_lock_still_reports_notified() {
    notified_then_deadline_passes(Condition::with_lock(Lock::new()));
    notified_then_deadline_passes(Condition::new());
}

// ----- wait_for predicates get the data, as std's wait_while (issue 13) -----

#[test]
fn wait_for_predicate_gets_mut_data() {
    let cond = Condition::with_lock(Lock::with_value(Vec::<u32>::new()));
    let mut taken = Vec::new();
    thread::scope(|s| {
        s.spawn(|| {
            for i in 0..3 {
                let mut items = cond.acquire();
                items.push(i);
                cond.notify(&items, 1);
            }
        });
        let mut items = cond.acquire();
        // The predicate drains what it finds (it has `&mut Vec`), and is done at three.
        let () = cond.wait_for(&mut items, |v| {
            taken.append(v);
            taken.len() == 3
        });
        assert!(items.is_empty());
    });
    assert_eq!(taken, [0, 1, 2]);
}

#[test]
fn wait_for_over_rlock_with_data_gets_shared_ref() {
    use std::cell::Cell;
    let cond = Condition::with_lock(RLock::with_value(Cell::new(0)));
    thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..2 {
                let n = cond.acquire();
                n.set(n.get() + 1);
                cond.notify_all(&n);
            }
        });
        let mut n = cond.acquire();
        cond.wait_for(&mut n, |c: &Cell<i32>| c.get() == 2);
        assert_eq!(n.get(), 2);
        assert!(!cond.wait_for_timeout(&mut n, |c| c.get() == 3, Duration::ZERO));
    });
}
