//! Behaviour tests for `Barrier`, ported from CPython's `lock_tests.BarrierTests`
//! (catalogue §3.7): N = 5 threads, a default timeout as a safety net.

// Uses the thread API, which is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use threadkit::{Barrier, BrokenBarrierError, Lock};

const N: usize = 5;
/// The default timeout of the barriers under test: only there so that a bug fails instead of
/// hanging (CPython uses 2 s; this machine is noisier).
const SAFETY: Duration = Duration::from_secs(10);

fn barrier() -> Arc<Barrier> {
    Arc::new(Barrier::with_timeout(N, SAFETY))
}

/// Runs `f(barrier)` in N threads; returns their results in no particular order.
fn run_threads<T: Send + 'static>(
    barrier: &Arc<Barrier>,
    f: impl Fn(&Barrier) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let f = Arc::new(f);
    let threads: Vec<_> = (0..N)
        .map(|_| {
            let (f, b) = (Arc::clone(&f), Arc::clone(barrier));
            thread::spawn(move || f(&b))
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// Polls `cond` until it holds (CPython's `sleeping_retry` loops); fails after a long while.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn constructor_rejects_zero_parties() {
    let err = panic::catch_unwind(|| Barrier::new(0)).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"parties must be > 0"));
    assert!(panic::catch_unwind(|| Barrier::builder(0)).is_err());
}

/// CPython's `multipass`: lock-step rounds; before each `wait` the other phase's marks are
/// complete.
fn multipass(rounds: usize) {
    let b = barrier();
    let before = Arc::new(AtomicUsize::new(0));
    let after = Arc::new(AtomicUsize::new(0));
    let (bf, af) = (Arc::clone(&before), Arc::clone(&after));
    run_threads(&b, move |b| {
        assert_eq!(b.parties(), N);
        for i in 0..rounds {
            bf.fetch_add(1, Ordering::SeqCst);
            assert_eq!(af.load(Ordering::SeqCst), i * N);
            b.wait().unwrap();
            af.fetch_add(1, Ordering::SeqCst);
            assert_eq!(bf.load(Ordering::SeqCst), (i + 1) * N);
            b.wait().unwrap();
        }
    });
    assert_eq!(before.load(Ordering::SeqCst), rounds * N);
    assert_eq!(after.load(Ordering::SeqCst), rounds * N);
    assert_eq!(b.n_waiting(), 0);
    assert!(!b.is_broken());
    assert_eq!(b.parties(), N);
}

#[test]
fn barrier_one_round() {
    multipass(1);
}

#[test]
fn barrier_ten_rounds() {
    multipass(10);
}

#[test]
fn wait_returns_a_permutation_of_indices() {
    let b = barrier();
    for _ in 0..3 {
        let results = run_threads(&b, |b| b.wait().unwrap());
        let mut indices: Vec<usize> = results.iter().map(|r| r.index()).collect();
        indices.sort_unstable();
        assert_eq!(indices, (0..N).collect::<Vec<_>>());
        let leaders: Vec<_> = results.iter().filter(|r| r.is_leader()).collect();
        assert_eq!(leaders.len(), 1);
        assert_eq!(leaders[0].index(), N - 1);
    }
}

#[test]
fn action_runs_once_in_the_leader_before_release() {
    let runs = Arc::new(AtomicUsize::new(0));
    let ran_in = Arc::new(Lock::with_value(None));
    let b = {
        let (runs, ran_in) = (Arc::clone(&runs), Arc::clone(&ran_in));
        Arc::new(
            Barrier::builder(N)
                .timeout(SAFETY)
                .action(move || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    *ran_in.acquire() = Some(threadkit::get_ident());
                })
                .build(),
        )
    };
    let runs2 = Arc::clone(&runs);
    let results = run_threads(&b, move |b| {
        let r = b.wait().unwrap();
        // Whoever returns first, the action has already run, exactly once.
        assert_eq!(runs2.load(Ordering::SeqCst), 1);
        (r.is_leader(), threadkit::get_ident())
    });
    let leader = results.iter().find(|r| r.0).unwrap().1;
    assert_eq!(*ran_in.acquire(), Some(leader));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
fn abort() {
    let b = barrier();
    let passed = Arc::new(AtomicUsize::new(0));
    let broken = Arc::new(AtomicUsize::new(0));
    let (p, k) = (Arc::clone(&passed), Arc::clone(&broken));
    run_threads(&b, move |b| {
        let i = b.wait().unwrap().index();
        if i == N / 2 {
            // This thread "raises" instead of waiting again, and aborts.
            b.abort();
            return;
        }
        match b.wait() {
            Ok(_) => p.fetch_add(1, Ordering::SeqCst),
            Err(BrokenBarrierError { .. }) => k.fetch_add(1, Ordering::SeqCst),
        };
    });
    assert_eq!(passed.load(Ordering::SeqCst), 0);
    assert_eq!(broken.load(Ordering::SeqCst), N - 1);
    assert!(b.is_broken());
    assert_eq!(b.n_waiting(), 0);
    // Later callers fail at once, too.
    assert!(b.wait().is_err());
}

#[test]
fn reset() {
    let b = barrier();
    let passed = Arc::new(AtomicUsize::new(0));
    let broken = Arc::new(AtomicUsize::new(0));
    let again = Arc::new(AtomicUsize::new(0));
    let (p, k, a) = (Arc::clone(&passed), Arc::clone(&broken), Arc::clone(&again));
    run_threads(&b, move |b| {
        let i = b.wait().unwrap().index();
        if i == N / 2 {
            wait_until("the others wait", || b.n_waiting() >= N - 1);
            b.reset();
        } else {
            match b.wait() {
                Ok(_) => p.fetch_add(1, Ordering::SeqCst),
                Err(_) => k.fetch_add(1, Ordering::SeqCst),
            };
        }
        // The reset barrier is usable again.
        b.wait().unwrap();
        a.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(passed.load(Ordering::SeqCst), 0);
    assert_eq!(broken.load(Ordering::SeqCst), N - 1);
    assert_eq!(again.load(Ordering::SeqCst), N);
    assert!(!b.is_broken());
}

#[test]
fn abort_and_reset() {
    let b = barrier();
    let b2 = Arc::new(Barrier::with_timeout(N, SAFETY));
    let passed = Arc::new(AtomicUsize::new(0));
    let broken = Arc::new(AtomicUsize::new(0));
    let again = Arc::new(AtomicUsize::new(0));
    let (p, k, a) = (Arc::clone(&passed), Arc::clone(&broken), Arc::clone(&again));
    run_threads(&b, move |b| {
        let i = b.wait().unwrap().index();
        if i == N / 2 {
            b.abort();
        } else {
            match b.wait() {
                Ok(_) => p.fetch_add(1, Ordering::SeqCst),
                Err(_) => k.fetch_add(1, Ordering::SeqCst),
            };
        }
        // Synchronize and reset the barrier: first so that everyone has left it, after so that
        // no one enters it before the reset.
        if b2.wait().unwrap().index() == N / 2 {
            b.reset();
        }
        b2.wait().unwrap();
        b.wait().unwrap();
        a.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(passed.load(Ordering::SeqCst), 0);
    assert_eq!(broken.load(Ordering::SeqCst), N - 1);
    assert_eq!(again.load(Ordering::SeqCst), N);
}

#[test]
fn timeout_breaks_it_for_everyone() {
    let b = barrier();
    let results = run_threads(&b, |b| {
        let i = b.wait().unwrap().index();
        if i == N / 2 {
            // One thread is late (the scenario, not synchronization).
            thread::sleep(Duration::from_millis(500));
        }
        b.wait_timeout(Duration::from_millis(100))
    });
    assert!(results.iter().all(Result::is_err), "{results:?}");
    assert!(b.is_broken());
}

#[test]
fn default_timeout() {
    let b = Barrier::with_timeout(2, Duration::from_millis(100));
    let t0 = Instant::now();
    assert_eq!(b.wait().unwrap_err().to_string(), "barrier is broken");
    assert!(
        t0.elapsed() >= Duration::from_millis(60),
        "{:?}",
        t0.elapsed()
    );
    assert!(b.is_broken());

    // With several threads: one is later than the default timeout; everyone fails.
    let b = Arc::new(Barrier::with_timeout(N, Duration::from_millis(100)));
    let b0 = Arc::new(Barrier::with_timeout(N, SAFETY));
    let b0c = Arc::clone(&b0);
    let results = run_threads(&b, move |b| {
        if b0c.wait().unwrap().index() == N / 2 {
            thread::sleep(Duration::from_millis(500));
        }
        b.wait()
    });
    assert!(results.iter().all(Result::is_err), "{results:?}");
}

#[test]
fn wait_timeout_overrides_the_default() {
    let b = Arc::new(Barrier::with_timeout(2, Duration::from_millis(1)));
    let b2 = Arc::clone(&b);
    let t = thread::spawn(move || b2.wait_timeout(SAFETY));
    // Once the waiter is in, give the barrier's 1 ms default far longer than it needs to expire:
    // the waiter above uses its own, long timeout, so it is still waiting.
    while b.n_waiting() == 0 {
        thread::yield_now();
    }
    thread::sleep(Duration::from_millis(50));
    assert!(!b.is_broken());
    assert_eq!(b.wait_timeout(SAFETY).unwrap().index(), 1);
    assert_eq!(t.join().unwrap().unwrap().index(), 0);
}

#[test]
fn single_thread() {
    let b = Barrier::new(1);
    assert_eq!(b.wait().unwrap().index(), 0);
    assert_eq!(b.wait().unwrap().index(), 0);
    assert!(b.wait().unwrap().is_leader());
}

#[test]
fn n_waiting_and_debug() {
    let b = Arc::new(Barrier::new(3));
    assert_eq!(format!("{b:?}"), "Barrier { waiters: 0/3 }");
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let b = Arc::clone(&b);
            thread::spawn(move || b.wait_timeout(SAFETY).unwrap())
        })
        .collect();
    wait_until("two threads wait", || b.n_waiting() >= 2);
    assert_eq!(b.n_waiting(), 2);
    assert_eq!(format!("{b:?}"), "Barrier { waiters: 2/3 }");
    b.wait_timeout(SAFETY).unwrap();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(format!("{b:?}"), "Barrier { waiters: 0/3 }");
    b.abort();
    assert_eq!(format!("{b:?}"), "Barrier { state: broken }");
    assert_eq!(b.n_waiting(), 0);
}

#[test]
fn panicking_action_breaks_the_barrier() {
    let fail = Arc::new(AtomicBool::new(true));
    let f = Arc::clone(&fail);
    let b = Arc::new(
        Barrier::builder(3)
            .timeout(SAFETY)
            .action(move || {
                if f.load(Ordering::SeqCst) {
                    panic!("action failed");
                }
            })
            .build(),
    );
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let b = Arc::clone(&b);
            thread::spawn(move || panic::catch_unwind(AssertUnwindSafe(|| b.wait())))
        })
        .collect();
    let mut panicked = 0;
    let mut broken = 0;
    for t in threads {
        match t.join().unwrap() {
            Err(payload) => {
                assert_eq!(payload.downcast_ref::<&str>(), Some(&"action failed"));
                panicked += 1;
            }
            Ok(r) => {
                assert!(r.is_err());
                broken += 1;
            }
        }
    }
    assert_eq!((panicked, broken), (1, 2));
    assert!(b.is_broken());

    // After a reset (and with a well-behaved action) the barrier works again.
    fail.store(false, Ordering::SeqCst);
    b.reset();
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let b = Arc::clone(&b);
            thread::spawn(move || b.wait().unwrap().index())
        })
        .collect();
    let mut indices: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    indices.sort_unstable();
    assert_eq!(indices, [0, 1, 2]);
}

/// A waiter whose timeout fires just as the last party arrives must agree with the others:
/// either the cycle passed for both, or the barrier broke for both.
#[test]
fn timeout_racing_the_last_arrival_is_consistent() {
    for i in 0..300u32 {
        let b = Arc::new(Barrier::new(2));
        let b2 = Arc::clone(&b);
        let timeout = Duration::from_micros(u64::from(i % 40) * 5);
        let t = thread::spawn(move || b2.wait_timeout(timeout).map(|r| r.index()));
        // Arrive at about the moment the other thread gives up.
        let spin_until = Instant::now() + Duration::from_micros(u64::from(i * 7 % 200));
        while Instant::now() < spin_until {
            std::hint::spin_loop();
        }
        let mine = b.wait_timeout(SAFETY).map(|r| r.index());
        let theirs = t.join().unwrap();
        match (mine, theirs) {
            (Ok(a), Ok(b)) => assert_eq!(a + b, 1),
            (Err(_), Err(_)) => {}
            other => panic!("inconsistent outcomes {other:?} in round {i}"),
        }
        assert_eq!(b.n_waiting(), 0);
    }
}

#[test]
fn static_barrier() {
    static B: Barrier = Barrier::new(2);
    thread::scope(|s| {
        s.spawn(|| B.wait().unwrap());
        B.wait().unwrap();
    });
    assert_eq!(B.n_waiting(), 0);
}

/// A thread released from a cycle never sees that cycle's waiters in `n_waiting`.
#[test]
fn released_threads_see_the_new_cycle() {
    for _ in 0..50 {
        let b = barrier();
        let counts = run_threads(&b, |b| {
            b.wait().unwrap();
            b.n_waiting()
        });
        // Nobody waits again, so the new cycle is empty whenever each thread looked.
        assert_eq!(counts, [0; N]);
    }
}

// ----- wait_interruptible: the binding's Ctrl-C path -----

/// The withdrawal scenario of a 3-party barrier: one party waits (`wait`), a second waits in
/// `quit` (a `wait_interruptible` whose check ends the wait once `stop` is set), then `stop` is
/// set. Checks what a withdrawal must leave (`n_waiting` 2 -> 1, not broken, the first party not
/// released), then completes the cycle with two more arrivals (indices 1 and 2: the taken-back
/// arrival left index 1 free). Returns what `quit` returned.
fn withdraw_one_of_three<R: Send + 'static>(
    quit: impl FnOnce(&Barrier, &AtomicBool) -> R + Send + 'static,
) -> R {
    let barrier = Arc::new(Barrier::with_timeout(3, SAFETY));
    let stop = Arc::new(AtomicBool::new(false));
    let stayer = {
        let b = Arc::clone(&barrier);
        thread::spawn(move || b.wait())
    };
    wait_until("the first party waits", || barrier.n_waiting() == 1);
    let quitter = {
        let (b, stop) = (Arc::clone(&barrier), Arc::clone(&stop));
        thread::spawn(move || quit(&b, &stop))
    };
    wait_until("both wait", || barrier.n_waiting() == 2);
    stop.store(true, Ordering::SeqCst);
    let quit_result = quitter.join().unwrap();
    assert_eq!(barrier.n_waiting(), 1);
    assert!(!barrier.is_broken());
    assert!(!stayer.is_finished(), "the other party was released");
    let replacement = {
        let b = Arc::clone(&barrier);
        thread::spawn(move || b.wait())
    };
    wait_until("the replacement waits", || barrier.n_waiting() == 2);
    let last = barrier.wait().unwrap();
    assert!(last.is_leader());
    assert_eq!(last.index(), 2);
    assert_eq!(replacement.join().unwrap().unwrap().index(), 1);
    assert_eq!(stayer.join().unwrap().unwrap().index(), 0);
    quit_result
}

/// An interrupted party takes its arrival back, as CPython's `Barrier.wait` does when an
/// exception ends it (`finally: self._count -= 1`): the barrier does not break, the party that
/// is still waiting keeps waiting, and it passes when a replacement arrives. Witness: the
/// waiting party's `Ok`, `n_waiting` dropping from 2 to 1, `is_broken()` staying false, and the
/// cycle completing with one more arrival than it would have needed (indices 1 and 2 after it).
#[test]
fn interrupted_party_withdraws_without_breaking() {
    let result = withdraw_one_of_three(|b, stop| {
        b.wait_interruptible(None, Duration::from_millis(2), || {
            if stop.load(Ordering::SeqCst) {
                Err("interrupted")
            } else {
                Ok(())
            }
        })
    });
    assert_eq!(result.unwrap_err(), "interrupted");
}

/// A check that passes changes nothing: the checking party passes with the others, after being
/// checked while it waited. Witness: the number of checks (> 0: it really waited in slices) and
/// the three distinct indices.
#[test]
fn passing_checks_leave_the_wait_alone() {
    let barrier = Arc::new(Barrier::with_timeout(3, SAFETY));
    let checks = Arc::new(AtomicUsize::new(0));
    let checker = {
        let (b, checks) = (Arc::clone(&barrier), Arc::clone(&checks));
        thread::spawn(move || {
            b.wait_interruptible(None, Duration::from_millis(1), || {
                checks.fetch_add(1, Ordering::SeqCst);
                Ok::<(), ()>(())
            })
        })
    };
    wait_until("the checker waits and was checked", || {
        checks.load(Ordering::SeqCst) >= 3
    });
    let other = {
        let b = Arc::clone(&barrier);
        thread::spawn(move || b.wait())
    };
    wait_until("both wait", || barrier.n_waiting() == 2);
    let mine = barrier.wait().unwrap().index();
    let mut indices = vec![
        mine,
        other.join().unwrap().unwrap().index(),
        checker.join().unwrap().unwrap().unwrap().index(),
    ];
    indices.sort();
    assert_eq!(indices, [0, 1, 2]);
    assert!(!barrier.is_broken());
}

/// The cycle ends or breaks while the checking party is between two parks (running its check):
/// it is owed that cycle's outcome. Witness: over many rounds, every checking party's result
/// equals the other party's, and no round hangs (the default timeout would break it and make
/// the results `Err`, which fails the pass count).
#[test]
fn cycle_ending_during_a_check_gives_its_outcome() {
    let barrier = Arc::new(Barrier::with_timeout(2, SAFETY));
    let rounds = 200;
    let mut passed = 0;
    for round in 0..rounds {
        let b = Arc::clone(&barrier);
        let checker = thread::spawn(move || {
            b.wait_interruptible(None, Duration::from_micros(50), || {
                // A slow check widens the window in which the cycle ends without us parked.
                thread::yield_now();
                Ok::<(), ()>(())
            })
        });
        let breaks = round % 4 == 3;
        let mine = if breaks {
            wait_until("the checker waits", || barrier.n_waiting() == 1);
            barrier.abort();
            false
        } else {
            barrier.wait().is_ok()
        };
        let theirs = checker.join().unwrap().unwrap();
        assert_eq!(theirs.is_ok(), mine, "round {round}");
        if breaks {
            barrier.reset();
        } else {
            passed += 1;
        }
    }
    assert_eq!(passed, rounds - rounds / 4);
}

/// A panicking check withdraws the party exactly as a failing one does (CPython's `finally:
/// self._count -= 1` runs on any exception), then the panic propagates. Witness: the panic
/// reaches the caller, `n_waiting` drops from 2 to 1, the barrier is not broken, the party still
/// waiting is not released, and the 3-party cycle then needs two more arrivals (indices 1 and 2);
/// before the fix the departed party stayed counted and the next arrival was the leader.
#[test]
fn panicking_check_withdraws_the_party() {
    let result = withdraw_one_of_three(|b, stop| {
        panic::catch_unwind(AssertUnwindSafe(|| {
            b.wait_interruptible(None, Duration::from_millis(2), || {
                if stop.load(Ordering::SeqCst) {
                    panic!("check panicked");
                }
                Ok::<(), ()>(())
            })
        }))
    });
    assert!(result.is_err(), "the panic did not propagate");
}
