//! Stress and fault tests for the primitives merged after the first verification round:
//! Semaphore, Barrier, Queue, Local and Timer. N threads x M operations with exact invariants,
//! and panics where they hurt (a Barrier action, Timer callbacks).
//!
//! As in `tests/stress.rs`: every test is bounded (well under a second on 2 cores, except where
//! noted) and holds `SERIAL` for its whole run (they load the machine, and the Timer test sets the
//! process-wide excepthook); a wait that would hang on a bug has a generous timeout, so a lost
//! wake-up fails the test instead of hanging the suite. Sizes shrink under Miri (`size`).
//!
//! Under `--cfg loom` the thread API is compiled out (see src/lib.rs), so this file is too.
#![cfg(not(loom))]

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use threadkit::queue::Queue;
use threadkit::{Barrier, BoundedSemaphore, Local, Lock, Semaphore, Timer};

/// Held by every test in this file (see the module docs).
static SERIAL: Lock = Lock::new();

mod common;
use common::{join_or_fail, size, HANG};

// ----- Semaphore -----

/// 8 threads x M acquisitions of a `Semaphore(3)` through `acquire`, `try_acquire` and
/// `acquire_timeout`: never more than 3 inside (counted with an atomic), 3 reached, and the value
/// is back to 3 at the end (no permit lost or created).
#[test]
fn semaphore_never_more_than_k_inside() {
    let _serial = SERIAL.acquire();
    const K: usize = 3;
    let threads = size(8, 3);
    let ops = size(5_000, 20);
    let sem = Arc::new(Semaphore::new(K));
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (sem, inside, peak) = (Arc::clone(&sem), Arc::clone(&inside), Arc::clone(&peak));
            threadkit::spawn(move || {
                for i in 0..ops {
                    let permit = match (t + i) % 3 {
                        0 => sem.acquire(),
                        1 => loop {
                            if let Some(p) = sem.try_acquire() {
                                break p;
                            }
                            std::hint::spin_loop();
                        },
                        _ => sem
                            .acquire_timeout(HANG)
                            .expect("a 20 s timed acquire timed out"),
                    };
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    assert!(now <= K, "{now} threads inside a Semaphore({K})");
                    peak.fetch_max(now, Ordering::Relaxed);
                    if i % 64 == 0 {
                        std::thread::yield_now(); // let others pile up behind us
                    }
                    inside.fetch_sub(1, Ordering::SeqCst);
                    drop(permit);
                }
            })
        })
        .collect();
    for h in handles {
        join_or_fail(h, "semaphore worker");
    }
    assert_eq!(sem.value(), K, "a permit was lost or created");
    assert!(peak.load(Ordering::Relaxed) >= 1);
}

/// Timed acquires that give up (tiny timeouts, often while parked, the path loom cannot reach)
/// mixed with blocking ones on a `BoundedSemaphore(1)`: no permit is stranded (every blocking
/// acquire gets through), the value ends at 1, and an over-release is still refused.
#[test]
fn semaphore_timeouts_strand_no_permit() {
    let _serial = SERIAL.acquire();
    let ops = size(3_000, 10);
    let sem = Arc::new(BoundedSemaphore::new(1));
    let timed_out = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for t in 0..6 {
        let (sem, timed_out) = (Arc::clone(&sem), Arc::clone(&timed_out));
        handles.push(threadkit::spawn(move || {
            for i in 0..ops {
                if t < 4 {
                    // 0..=49 microseconds: long enough to park, short enough to time out there.
                    let timeout = Duration::from_micros(((t * 7 + i) % 50) as u64);
                    match sem.acquire_timeout(timeout) {
                        Some(permit) => drop(permit),
                        None => {
                            timed_out.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                } else {
                    let permit = sem
                        .acquire_timeout(HANG)
                        .expect("a blocking acquirer was stranded");
                    drop(permit);
                }
            }
        }));
    }
    for h in handles {
        join_or_fail(h, "semaphore timeout worker");
    }
    assert_eq!(sem.value(), 1, "a permit was lost or created");
    assert!(sem.release(1).is_err(), "over-release accepted");
    assert_eq!(sem.value(), 1);
}

// ----- Barrier -----

/// 4 parties x R rounds with an action: in every round all parties pass together (nobody leaves
/// before all 4 arrived, nobody is more than one round ahead), the indices are a permutation of
/// 0..4, the action runs once per round before anyone of that round is released.
#[test]
fn barrier_every_round_all_parties_pass_together() {
    let _serial = SERIAL.acquire();
    const PARTIES: usize = 4;
    let rounds = size(2_000, 10);
    let actions = Arc::new(AtomicUsize::new(0));
    let barrier = {
        let actions = Arc::clone(&actions);
        Arc::new(
            Barrier::builder(PARTIES)
                .action(move || {
                    actions.fetch_add(1, Ordering::SeqCst);
                })
                .timeout(HANG)
                .build(),
        )
    };
    let arrived = Arc::new(AtomicUsize::new(0));
    let index_masks: Arc<Vec<AtomicUsize>> =
        Arc::new((0..rounds).map(|_| AtomicUsize::new(0)).collect());
    let handles: Vec<_> = (0..PARTIES)
        .map(|_| {
            let (barrier, arrived, actions, index_masks) = (
                Arc::clone(&barrier),
                Arc::clone(&arrived),
                Arc::clone(&actions),
                Arc::clone(&index_masks),
            );
            threadkit::spawn(move || {
                for round in 0..rounds {
                    arrived.fetch_add(1, Ordering::SeqCst);
                    let result = barrier
                        .wait()
                        .expect("barrier broke (timeout: lost wake-up?)");
                    let seen = arrived.load(Ordering::SeqCst);
                    assert!(
                        seen >= PARTIES * (round + 1),
                        "round {round}: passed at {seen}"
                    );
                    assert!(
                        seen < PARTIES * (round + 2),
                        "round {round}: someone ran ahead"
                    );
                    assert!(actions.load(Ordering::SeqCst) > round, "action not run yet");
                    let bit = 1 << result.index();
                    let before = index_masks[round].fetch_or(bit, Ordering::Relaxed);
                    assert_eq!(
                        before & bit,
                        0,
                        "round {round}: index {} twice",
                        result.index()
                    );
                }
            })
        })
        .collect();
    for h in handles {
        join_or_fail(h, "barrier party");
    }
    assert_eq!(actions.load(Ordering::SeqCst), rounds);
    // Four distinct indices per round (checked as they came), all below 4: a permutation.
    for (round, mask) in index_masks.iter().enumerate() {
        assert_eq!(
            mask.load(Ordering::Relaxed),
            0b1111,
            "round {round}: indices not 0..4"
        );
    }
    assert!(!barrier.is_broken());
    assert_eq!(barrier.n_waiting(), 0);
}

/// A panicking action: the barrier breaks, the other parties get the error, the panic continues
/// in the leader (the thread whose `wait` ran the action); `reset` makes it usable again.
#[test]
fn barrier_action_panic_breaks_barrier_and_reaches_leader() {
    let _serial = SERIAL.acquire();
    const PARTIES: usize = 3;
    let cycles = size(50, 3);
    let armed = Arc::new(AtomicBool::new(true));
    let barrier = {
        let armed = Arc::clone(&armed);
        Arc::new(
            Barrier::builder(PARTIES)
                .action(move || {
                    if armed.load(Ordering::SeqCst) {
                        panic!("barrier action failed");
                    }
                })
                .timeout(HANG)
                .build(),
        )
    };
    // Outcomes: 0 = passed, 1 = broken, 2 = the action's panic came out of wait.
    for cycle in 0..cycles {
        let handles: Vec<_> = (0..PARTIES)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                threadkit::spawn(move || {
                    match panic::catch_unwind(AssertUnwindSafe(|| barrier.wait())) {
                        Ok(Ok(_)) => 0,
                        Ok(Err(_)) => 1,
                        Err(payload) => {
                            assert_eq!(
                                payload.downcast_ref::<&str>(),
                                Some(&"barrier action failed")
                            );
                            2
                        }
                    }
                })
            })
            .collect();
        let mut outcomes: Vec<u8> = handles
            .into_iter()
            .map(|h| join_or_fail(h, "barrier party"))
            .collect();
        outcomes.sort_unstable();
        assert_eq!(outcomes, [1, 1, 2], "cycle {cycle}");
        assert!(barrier.is_broken());
        assert!(
            barrier.wait().is_err(),
            "a broken barrier let a waiter through"
        );
        barrier.reset();
    }
    // Disarmed, the same barrier works again.
    armed.store(false, Ordering::SeqCst);
    let handles: Vec<_> = (0..PARTIES)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            threadkit::spawn(move || barrier.wait().is_ok())
        })
        .collect();
    for h in handles {
        assert!(join_or_fail(h, "barrier party"));
    }
}

// ----- Queue -----

/// P producers x M items through a bounded queue to C consumers: every item delivered exactly
/// once, each producer's items in order for every consumer, `join` returns once every item had
/// its `task_done`, and shutdown ends the consumers. Run with room for 8 items, for 1, unbounded
/// and with a bound too large for the preallocated ring.
#[test]
fn queue_every_item_delivered_exactly_once() {
    let _serial = SERIAL.acquire();
    // The ring store (bounded), the list store (unbounded), the locked deque (huge bound).
    for (maxsize, per_producer) in [
        (8, size(5_000, 20)),
        (1, size(1_000, 10)),
        (0, size(5_000, 20)),
        (1 << 20, size(2_000, 10)),
    ] {
        const PRODUCERS: usize = 4;
        const CONSUMERS: usize = 3;
        let q = Arc::new(Queue::new(maxsize));
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let q = Arc::clone(&q);
                threadkit::spawn(move || {
                    let mut got = Vec::new();
                    // `get` fails once the queue is shut down and drained.
                    while let Ok(item) = q.get() {
                        got.push(item);
                        q.task_done().unwrap();
                    }
                    got
                })
            })
            .collect();
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let q = Arc::clone(&q);
                threadkit::spawn(move || {
                    for i in 0..per_producer {
                        q.put((p, i)).unwrap();
                    }
                })
            })
            .collect();
        for h in producers {
            join_or_fail(h, "producer");
        }
        q.join();
        assert_eq!(q.unfinished_tasks(), 0);
        q.shutdown();
        let mut seen = vec![vec![false; per_producer]; PRODUCERS];
        let mut total = 0;
        for h in consumers {
            let got = join_or_fail(h, "consumer");
            let mut last = [None; PRODUCERS];
            for (p, i) in got {
                assert!(!seen[p][i], "item ({p}, {i}) delivered twice");
                seen[p][i] = true;
                assert!(last[p] < Some(i), "producer {p}'s items out of order");
                last[p] = Some(i);
                total += 1;
            }
        }
        assert_eq!(
            total,
            PRODUCERS * per_producer,
            "maxsize {maxsize}: items lost"
        );
        assert!(q.is_empty());
    }
}

// ----- Local -----

/// A `Local` whose initializer is a boxed closure (so a `Vec` of them has one type).
type CountedLocal = Local<Counted, Box<dyn Fn() -> Counted + Send + Sync>>;

/// Counts drops of the values it is put in.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// T threads, each using 20 `Local`s (more than the per-thread slot cache holds) many times: each
/// thread only ever sees its own values, and every thread's values are dropped by the time its
/// `join` returns (Python: at thread exit), none later with the `Local`s.
#[test]
fn local_values_per_thread_and_dropped_at_exit() {
    let _serial = SERIAL.acquire();
    const LOCALS: usize = 20;
    let threads = size(16, 3);
    let rounds = size(200, 3);
    let drops = Arc::new(AtomicUsize::new(0));
    let ids: Arc<Vec<Local<Cell<usize>>>> = Arc::new((0..LOCALS).map(|_| Local::new()).collect());
    let guards: Arc<Vec<CountedLocal>> = Arc::new(
        (0..LOCALS)
            .map(|_| {
                let drops = Arc::clone(&drops);
                let init: Box<dyn Fn() -> Counted + Send + Sync> =
                    Box::new(move || Counted(Arc::clone(&drops)));
                Local::with_init(init)
            })
            .collect(),
    );
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (ids, guards) = (Arc::clone(&ids), Arc::clone(&guards));
            threadkit::spawn(move || {
                for round in 0..rounds {
                    for (l, local) in ids.iter().enumerate() {
                        let mine = t * 1_000_000 + l * 1_000 + round;
                        if round == 0 {
                            assert!(!local.has_value(), "a new thread saw a value");
                            local.set(Cell::new(mine));
                        } else {
                            local.with(|c| {
                                assert_eq!(c.get(), mine - 1, "saw another thread's value");
                                c.set(mine);
                            });
                        }
                        guards[l].with(|_| ());
                    }
                }
            })
        })
        .collect();
    for h in handles {
        join_or_fail(h, "local user");
    }
    assert_eq!(
        drops.load(Ordering::SeqCst),
        threads * LOCALS,
        "values not dropped at thread exit"
    );
    drop(guards);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        threads * LOCALS,
        "a value dropped twice"
    );
}

// ----- Timer -----

/// Many timers at once, every tenth one panicking: each panic reaches the excepthook with the
/// panicking timer's own name and message, every other timer still fires exactly once.
#[test]
fn timers_fire_and_panics_are_reported_with_the_timers_name() {
    let _serial = SERIAL.acquire();
    static HOOKED: Lock<Vec<(String, String)>> = Lock::with_value(Vec::new());
    HOOKED.acquire().clear();
    threadkit::set_excepthook(|args| {
        HOOKED.acquire().push((
            args.thread().name().to_string(),
            args.message().unwrap_or("<no message>").to_string(),
        ));
    });
    let n = size(300, 10);
    let fired = Arc::new(AtomicUsize::new(0));
    let timers: Vec<Timer> = (0..n)
        .map(|i| {
            let fired = Arc::clone(&fired);
            let timer = Timer::new(Duration::from_micros((i % 20 * 250) as u64), move || {
                if i % 10 == 0 {
                    panic!("timer {i} failed");
                }
                fired.fetch_add(1, Ordering::SeqCst);
            });
            timer.set_name(format!("stress-timer-{i}"));
            timer
        })
        .collect();
    for t in &timers {
        t.start().unwrap();
    }
    for t in &timers {
        assert_eq!(
            t.join_timeout(HANG),
            Ok(true),
            "{} never finished",
            t.name()
        );
        assert!(!t.is_alive());
    }
    threadkit::reset_excepthook();

    let panicking = (0..n).filter(|i| i % 10 == 0).count();
    assert_eq!(fired.load(Ordering::SeqCst), n - panicking);
    let mut hooked = HOOKED.acquire().clone();
    hooked.sort();
    let mut want: Vec<(String, String)> = (0..n)
        .filter(|i| i % 10 == 0)
        .map(|i| (format!("stress-timer-{i}"), format!("timer {i} failed")))
        .collect();
    want.sort();
    assert_eq!(
        hooked, want,
        "each panic reported once, with its timer's name"
    );
}

// ----- RLock and Condition -----

/// Panics inside nested RLock guards: both levels are released on unwinding (no poisoning), the
/// next acquirer proceeds, and the counter the lock protects is exact.
#[test]
fn panic_inside_rlock_guard_releases_every_level() {
    let _serial = SERIAL.acquire();
    let threads = size(4, 2);
    let ops = size(2_000, 20);
    let lock = Arc::new(threadkit::RLock::new());
    let counter = Arc::new(AtomicUsize::new(0));
    let panics = Arc::new(AtomicUsize::new(0));
    // Keep the default hook's "thread panicked" lines out of the test output.
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (lock, counter, panics) =
                (Arc::clone(&lock), Arc::clone(&counter), Arc::clone(&panics));
            threadkit::spawn(move || {
                for i in 0..ops {
                    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                        let _outer = lock.acquire();
                        let _inner = lock.acquire();
                        // Not atomic as a whole: a second thread inside would lose updates.
                        let v = counter.load(Ordering::Relaxed);
                        counter.store(v + 1, Ordering::Relaxed);
                        if (t + i) % 7 == 0 {
                            panic!("inside the RLock");
                        }
                    }));
                    if outcome.is_err() {
                        panics.fetch_add(1, Ordering::Relaxed);
                        assert!(!lock.is_owned(), "a panic left a level held");
                    }
                }
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join_timeout(HANG)).collect();
    panic::set_hook(hook);
    for r in results {
        assert!(matches!(r, Ok(Ok(()))), "worker failed or hung");
    }
    assert_eq!(counter.load(Ordering::Relaxed), threads * ops);
    assert!(panics.load(Ordering::Relaxed) > 0);
    assert!(!lock.locked());
    assert!(
        lock.try_acquire().is_some(),
        "the next acquirer cannot get in"
    );
}

/// A bounded buffer on one Condition: producers and consumers wait for room / items and
/// `notify_all`; every item is consumed exactly once and nobody is left waiting.
#[test]
fn condition_bounded_buffer_delivers_every_item_once() {
    let _serial = SERIAL.acquire();
    const PRODUCERS: usize = 3;
    const CONSUMERS: usize = 3;
    let per_producer = size(3_000, 10);
    let cond = Arc::new(threadkit::Condition::with_lock(Lock::with_value(
        std::collections::VecDeque::new(),
    )));
    let consumed = Arc::new(AtomicUsize::new(0));
    let sum = Arc::new(AtomicUsize::new(0));
    let total = PRODUCERS * per_producer;
    let mut handles = Vec::new();
    for p in 0..PRODUCERS {
        let cond = Arc::clone(&cond);
        handles.push(threadkit::spawn(move || {
            for i in 0..per_producer {
                let mut buf = cond.acquire();
                assert!(
                    cond.wait_for_timeout(&mut buf, |b| b.len() < 4, HANG),
                    "a producer waited 20 s for room (lost wake-up?)"
                );
                buf.push_back(p * per_producer + i);
                cond.notify_all(&buf);
            }
        }));
    }
    for _ in 0..CONSUMERS {
        let (cond, consumed, sum) = (Arc::clone(&cond), Arc::clone(&consumed), Arc::clone(&sum));
        handles.push(threadkit::spawn(move || loop {
            let mut buf = cond.acquire();
            assert!(
                cond.wait_for_timeout(
                    &mut buf,
                    |b| !b.is_empty() || consumed.load(Ordering::SeqCst) == total,
                    HANG,
                ),
                "a consumer waited 20 s for an item (lost wake-up?)"
            );
            let Some(item) = buf.pop_front() else {
                return; // everything consumed
            };
            sum.fetch_add(item, Ordering::SeqCst);
            consumed.fetch_add(1, Ordering::SeqCst);
            // Room for the producers; after the last item, the other consumers' way out.
            cond.notify_all(&buf);
        }));
    }
    for h in handles {
        join_or_fail(h, "bounded-buffer thread");
    }
    assert_eq!(consumed.load(Ordering::SeqCst), total);
    assert_eq!(sum.load(Ordering::SeqCst), total * (total - 1) / 2);
    assert!(cond.acquire().is_empty());
}
