//! Stress and fault tests: many threads, exact invariants, panics in the wrong places, and
//! timeouts on a busy machine.
//!
//! Every test is bounded (a few hundred milliseconds to a second on 2 cores) and holds `SERIAL`,
//! a threadkit `Lock`, for its whole run: they all load the machine and some of them read
//! process-wide state (the thread registry, the excepthook, the process's memory), so running
//! them one at a time keeps each one's assertions exact. Waits that would hang on a bug have a
//! generous timeout, so a lost wake-up fails the test instead of hanging the suite.
//!
//! Under `--cfg loom` the thread API is compiled out (see src/lib.rs), so this file is too.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use threadkit::{Builder, Event, Lock, Thread};

/// Held by every test in this file (see the module docs). A panicking test releases it: Lock
/// guards do not poison.
static SERIAL: Lock = Lock::new();

mod common;
use common::{join_or_fail, size, HANG};

// ----- exact invariants under contention -----

/// N threads x M increments through every way of acquiring: the counter is exactly N x M and
/// nobody is ever inside with someone else.
#[test]
fn lock_counter_is_exact_under_contention() {
    let _serial = SERIAL.acquire();
    let threads = size(8, 3) as u64;
    let ops = size(20_000, 30) as u64;
    let counter = Arc::new(Lock::with_value(0u64));
    let inside = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (counter, inside) = (Arc::clone(&counter), Arc::clone(&inside));
            threadkit::spawn(move || {
                for i in 0..ops {
                    let mut guard = match (t + i) % 3 {
                        0 => counter.acquire(),
                        1 => loop {
                            if let Some(g) = counter.try_acquire() {
                                break g;
                            }
                            std::hint::spin_loop();
                        },
                        _ => counter
                            .acquire_timeout(HANG)
                            .expect("a 20 s timed acquire timed out"),
                    };
                    assert_eq!(inside.fetch_add(1, Ordering::Relaxed), 0, "two inside");
                    // A non-atomic read-modify-write: lost updates would show in the total.
                    let v = *guard;
                    *guard = v + 1;
                    inside.fetch_sub(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in handles {
        join_or_fail(h, "incrementer");
    }
    assert_eq!(*counter.acquire(), threads * ops);
    assert!(!counter.locked());
}

/// Waiters wait again and again while a setter sets and clears as fast as it can: every wait
/// returns `true` (a waiter woken by `set` reports it even when `clear` followed at once), and
/// none is left behind.
#[test]
fn event_leaves_no_waiter_behind_across_set_clear_cycles() {
    let _serial = SERIAL.acquire();
    let waiters_count = size(4, 2);
    let waits = size(500, 5);
    let event = Arc::new(Event::new());
    let done = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..waiters_count)
        .map(|_| {
            let (event, done) = (Arc::clone(&event), Arc::clone(&done));
            threadkit::spawn(move || {
                for _ in 0..waits {
                    assert!(event.wait_timeout(HANG), "a waiter was left behind");
                }
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    // (One `set` may satisfy several successive waits of a waiter that runs before the `clear`,
    // so the number of cycles is not an invariant; every wait returning `true` is.)
    let mut cycles = 0u64;
    while done.load(Ordering::SeqCst) < waiters_count {
        event.set();
        event.clear();
        cycles += 1;
        if cycles & 63 == 0 {
            std::thread::yield_now();
        }
    }
    for h in waiters {
        join_or_fail(h, "waiter");
    }
}

// ----- faults -----

/// A panic while holding a guard releases the lock (no poisoning); the next acquirer proceeds
/// and sees every completed update.
#[test]
fn panic_inside_lock_guard_releases_it() {
    let _serial = SERIAL.acquire();
    let threads = size(4, 2) as u64;
    let iterations = size(200, 20) as u64;
    let counter = Arc::new(Lock::with_value(0u64));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let counter = Arc::clone(&counter);
            threadkit::spawn(move || {
                let mut panics = 0u64;
                for i in 0..iterations {
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let mut guard = counter.acquire();
                        *guard += 1;
                        if i % 10 == 0 {
                            panic!("inside the guard");
                        }
                    }));
                    panics += u64::from(r.is_err());
                }
                panics
            })
        })
        .collect();
    let panics: u64 = handles
        .into_iter()
        .map(|h| join_or_fail(h, "panicker"))
        .sum();
    assert_eq!(panics, threads * iterations / 10);
    assert!(!counter.locked());
    assert_eq!(*counter.acquire(), threads * iterations);

    // A thread that panics while holding the guard and dies of it releases the lock too.
    let c = Arc::clone(&counter);
    let h = std::thread::spawn(move || {
        let _guard = c.acquire();
        panic!("thread dies holding the guard");
    });
    assert!(h.join().is_err());
    assert!(counter.acquire_timeout(HANG).is_some());
}

/// A thread that exits while holding a plain `Lock` leaves it locked (as in Python); another
/// thread may release it, which lets a blocked acquirer in.
#[test]
fn thread_exiting_while_holding_lock_can_be_released_by_another() {
    let _serial = SERIAL.acquire();
    let lock = Arc::new(Lock::new());
    let holder = {
        let lock = Arc::clone(&lock);
        threadkit::spawn(move || {
            lock.acquire().forget();
            threadkit::get_ident()
        })
    };
    let holder_ident = join_or_fail(holder, "holder");
    assert!(lock.locked(), "the dead thread's acquisition must stay");
    assert!(format!("{lock:?}").contains(&holder_ident.to_string()));

    let acquired = Arc::new(Event::new());
    let waiter = {
        let (lock, acquired) = (Arc::clone(&lock), Arc::clone(&acquired));
        threadkit::spawn(move || {
            let _g = lock.acquire();
            acquired.set();
        })
    };
    // The waiter cannot get in until someone releases the dead thread's lock.
    assert!(!acquired.wait_timeout(Duration::from_millis(20)));
    let releaser = {
        let lock = Arc::clone(&lock);
        threadkit::spawn(move || lock.release())
    };
    assert_eq!(join_or_fail(releaser, "releaser"), Ok(()));
    assert!(acquired.wait_timeout(HANG));
    join_or_fail(waiter, "waiter");
    assert!(!lock.locked());
    assert!(lock.release().is_err());
}

/// A panic escaping a thread's target goes to the excepthook (once, with that thread), the
/// thread leaves the registry, and its `JoinHandle` returns the panic.
#[test]
fn panic_in_target_reaches_excepthook_and_join() {
    let _serial = SERIAL.acquire();
    static SEEN: Lock<Vec<(String, Option<u64>, String)>> = Lock::with_value(Vec::new());
    SEEN.acquire().clear();
    threadkit::set_excepthook(|args| {
        SEEN.acquire().push((
            args.thread().name().to_string(),
            args.thread().ident(),
            args.message().unwrap_or("<no message>").to_string(),
        ));
    });

    let n = size(8, 2);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            Builder::new()
                .name(format!("stress-panicker-{i}"))
                .spawn(move || -> u32 { panic!("target {i} failed") })
                .unwrap()
        })
        .collect();
    let threads: Vec<Thread> = handles.iter().map(|h| h.thread().clone()).collect();
    for (i, h) in handles.into_iter().enumerate() {
        let err = match h.join_timeout(HANG) {
            Ok(r) => r.expect_err("the target panicked"),
            Err(_) => panic!("panicking thread never finished"),
        };
        let msg = err
            .downcast_ref::<String>()
            .expect("a formatted panic message");
        assert_eq!(msg, &format!("target {i} failed"));
    }
    threadkit::reset_excepthook();

    let seen = SEEN.acquire().clone();
    assert_eq!(
        seen.len(),
        n,
        "the hook runs exactly once per thread: {seen:?}"
    );
    let live = threadkit::enumerate();
    for (i, t) in threads.iter().enumerate() {
        let name = format!("stress-panicker-{i}");
        let entry = seen
            .iter()
            .find(|(n, _, _)| *n == name)
            .unwrap_or_else(|| panic!("no hook call for {name}: {seen:?}"));
        assert_eq!(entry.1, t.ident());
        assert_eq!(entry.2, format!("target {i} failed"));
        assert!(!t.is_alive());
        assert!(!live.contains(t), "{name} still in the registry after join");
    }
}

/// The resident set size of this process, in KiB (Linux only).
fn vm_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// 2,000 threads started and joined in a loop (8 at a time): afterwards none of them is in the
/// registry, the registry is no larger than before, and memory has not grown with the count.
#[test]
#[cfg_attr(
    miri,
    ignore = "2,000 OS threads and /proc reads: far too slow under Miri"
)]
fn two_thousand_threads_leave_nothing_behind() {
    let _serial = SERIAL.acquire();
    let run_batch = |count: usize| -> Vec<u64> {
        let mut idents = Vec::with_capacity(count);
        for _ in 0..count / 8 {
            let batch: Vec<_> = (0..8)
                .map(|_| {
                    Builder::new()
                        .stack_size(64 * 1024)
                        .spawn(threadkit::get_ident)
                        .unwrap()
                })
                .collect();
            for h in batch {
                idents.push(join_or_fail(h, "short-lived thread"));
            }
        }
        idents
    };
    let _ = threadkit::current_thread(); // register this thread before taking the baseline
    run_batch(200); // warm-up: allocator arenas, thread-stack caches
    let before_count = threadkit::active_count();
    let before_rss = vm_rss_kib();

    let idents = run_batch(2_000);

    let after_count = threadkit::active_count();
    let live: Vec<u64> = threadkit::enumerate()
        .iter()
        .filter_map(Thread::ident)
        .collect();
    assert!(
        idents.iter().all(|id| !live.contains(id)),
        "a joined thread is still registered"
    );
    assert!(
        after_count <= before_count,
        "registry grew from {before_count} to {after_count}"
    );
    if let (Some(before), Some(after)) = (before_rss, vm_rss_kib()) {
        // Loose: a leak of even 16 KiB per thread would be 32 MiB.
        assert!(
            after < before + 24 * 1024,
            "VmRSS grew from {before} KiB to {after} KiB over 2,000 threads"
        );
    }
}

// ----- timeouts under load -----

/// Keeps every core busy until dropped.
struct Burners {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<u64>>,
}

impl Burners {
    fn start() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..cores)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let mut spins = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        spins = spins.wrapping_add(1);
                        std::hint::spin_loop();
                    }
                    spins
                })
            })
            .collect();
        Burners { stop, threads }
    }
}

impl Drop for Burners {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Asserts a timed wait took at least `timeout` (never early) and not absurdly long.
fn assert_timeout_bounds(what: &str, elapsed: Duration, timeout: Duration) {
    assert!(
        elapsed >= timeout,
        "{what} returned early: {elapsed:?} < {timeout:?}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "{what} returned absurdly late: {elapsed:?} for {timeout:?}"
    );
}

/// With every core busy, timed acquires, waits and joins return neither early nor absurdly late.
#[test]
#[cfg_attr(miri, ignore = "measures real time; Miri's clock is virtual and slow")]
fn timeouts_hold_with_all_cores_busy() {
    let _serial = SERIAL.acquire();
    let _burners = Burners::start();
    let timeout = Duration::from_millis(100);

    let lock = Arc::new(Lock::new());
    let _held = lock.acquire();
    let event = Arc::new(Event::new());
    let blocked = {
        let event = Arc::clone(&event);
        threadkit::spawn(move || event.wait())
    };

    for _ in 0..3 {
        // From another thread, so the holder is not the one waiting.
        let timed = {
            let lock = Arc::clone(&lock);
            threadkit::spawn(move || {
                let start = Instant::now();
                let got = lock.acquire_timeout(timeout).is_some();
                (got, start.elapsed())
            })
        };
        let (got, elapsed) = join_or_fail(timed, "timed acquirer");
        assert!(!got, "acquired a lock held by another thread");
        assert_timeout_bounds("Lock::acquire_timeout", elapsed, timeout);

        let start = Instant::now();
        assert!(!event.wait_timeout(timeout));
        assert_timeout_bounds("Event::wait_timeout", start.elapsed(), timeout);

        let start = Instant::now();
        assert_eq!(blocked.thread().join_timeout(timeout), Ok(false));
        assert_timeout_bounds("Thread::join_timeout", start.elapsed(), timeout);
    }
    event.set();
    join_or_fail(blocked, "event waiter");
}

/// A timed acquire that is released in time gets the lock, under load, long before its
/// deadline: timeouts do not delay wake-ups.
#[test]
#[cfg_attr(miri, ignore = "measures real time")]
fn timed_acquire_succeeds_when_released_under_load() {
    let _serial = SERIAL.acquire();
    let _burners = Burners::start();
    let lock = Arc::new(Lock::new());
    let held = lock.acquire();
    let handoffs = Arc::new(AtomicU64::new(0));
    let waiter = {
        let (lock, handoffs) = (Arc::clone(&lock), Arc::clone(&handoffs));
        threadkit::spawn(move || {
            let got = lock.acquire_timeout(HANG).is_some();
            handoffs.fetch_add(u64::from(got), Ordering::SeqCst);
        })
    };
    std::thread::sleep(Duration::from_millis(10)); // let it block (not needed for correctness)
    let released = Instant::now();
    drop(held);
    join_or_fail(waiter, "timed waiter");
    assert!(
        released.elapsed() < Duration::from_secs(5),
        "the wake-up waited for the deadline"
    );
    assert_eq!(handoffs.load(Ordering::SeqCst), 1);
}
