//! `threadkit::interrupt` on real threads: an interrupt ends a parked timed wait of every
//! primitive at once, as a timeout, leaving the primitive exactly as a timeout does; untimed
//! waits and other threads are not disturbed; interrupts racing wake-ups lose nothing.
// The thread API is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::diag::until_thread;
use threadkit::interrupt::{self, Interrupter};
use threadkit::queue::{LifoQueue, Queue};
use threadkit::{Barrier, Builder, Condition, Event, Lock, RLock, Semaphore};

/// Far longer than any test runs: a wait with it ends only by a wake-up or an interrupt.
const LONG: Duration = Duration::from_secs(3600);
/// How long an interrupted wait may take to return on a loaded 2-core machine.
const PROMPT: Duration = Duration::from_secs(5);

/// Runs `wait` (which must block until interrupted and return whether it got something) on a
/// named thread, interrupts it once it is parked, and checks that it returned empty-handed,
/// promptly, with the interrupt owed.
fn interrupted_while_parked(name: &'static str, wait: impl FnOnce() -> bool + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = Builder::new()
        .name(name)
        .spawn(move || {
            tx.send(Interrupter::current()).unwrap();
            let got = wait();
            (got, interrupt::take(), interrupt::take())
        })
        .unwrap();
    let handle = rx.recv().unwrap();
    until_thread(name, |t| t.waiting.is_some());
    let sent = Instant::now();
    handle.interrupt();
    let (got, taken, taken_twice) = common::join_or_fail(waiter, name);
    let took = sent.elapsed();
    assert!(!got, "{name}: an interrupted wait returned with something");
    assert!(taken, "{name}: the wait ended with no interrupt pending");
    assert!(!taken_twice, "{name}: take() did not clear the interrupt");
    assert!(
        took < PROMPT,
        "{name}: returned {took:?} after the interrupt"
    );
}

#[test]
fn every_primitive_s_timed_wait_is_interrupted() {
    let _serial = common::diag::serial();

    let lock = Arc::new(Lock::new());
    let held = lock.acquire();
    let l = Arc::clone(&lock);
    interrupted_while_parked("lock", move || l.acquire_timeout(LONG).is_some());
    drop(held);
    assert!(lock.try_acquire().is_some(), "the lock was left locked");

    let rlock = Arc::new(RLock::new());
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
    let holder = {
        let rlock = Arc::clone(&rlock);
        std::thread::spawn(move || {
            let _g = rlock.acquire();
            held_tx.send(()).unwrap();
            rx.recv().unwrap();
        })
    };
    held_rx.recv().unwrap();
    let r = Arc::clone(&rlock);
    interrupted_while_parked("rlock", move || r.acquire_timeout(LONG).is_some());
    tx.send(()).unwrap();
    holder.join().unwrap();
    assert!(rlock.try_acquire().is_some(), "the rlock was left held");

    let sem = Arc::new(Semaphore::new(0));
    let s = Arc::clone(&sem);
    interrupted_while_parked("sem", move || s.acquire_timeout(LONG).is_some());
    sem.release(1);
    assert_eq!(sem.value(), 1, "a permit was lost or created");

    let event = Arc::new(Event::new());
    let e = Arc::clone(&event);
    interrupted_while_parked("event", move || e.wait_timeout(LONG));
    assert!(!event.is_set());

    let cond = Arc::new(Condition::with_lock(Lock::new()));
    let c = Arc::clone(&cond);
    interrupted_while_parked("cond", move || {
        let mut g = c.acquire();
        let notified = c.wait_timeout(&mut g, LONG);
        // The lock is held again on return, as after a timeout.
        assert!(c.lock().try_acquire().is_none());
        notified
    });
    assert_eq!(
        cond.notify(&cond.acquire(), 1),
        0,
        "the waiter count is off"
    );

    let c = Arc::clone(&cond);
    interrupted_while_parked("cond-for", move || {
        let mut g = c.acquire();
        c.wait_for_timeout(&mut g, |_| false, LONG)
    });

    let q: Arc<Queue<u32>> = Arc::new(Queue::new(1));
    let g = Arc::clone(&q);
    interrupted_while_parked("getter", move || g.get_timeout(LONG).is_ok());
    q.put(1).unwrap();
    let p = Arc::clone(&q);
    interrupted_while_parked("putter", move || p.put_timeout(2, LONG).is_ok());
    assert_eq!(q.try_get(), Ok(1), "the queue lost or gained an item");
    assert!(q.try_get().is_err());

    let lifo: Arc<LifoQueue<u32>> = Arc::new(LifoQueue::new(0));
    let g = Arc::clone(&lifo);
    interrupted_while_parked("lifo-getter", move || g.get_timeout(LONG).is_ok());
    lifo.put(5).unwrap();
    assert_eq!(lifo.try_get(), Ok(5));

    let barrier = Arc::new(Barrier::new(2));
    let b = Arc::clone(&barrier);
    interrupted_while_parked("barrier", move || b.wait_timeout(LONG).is_ok());
    // A plain timed barrier wait ends as a timeout does: the barrier breaks.
    assert!(barrier.is_broken());
}

/// A barrier wait with a check: the interrupt runs the check at once; one that takes it and
/// returns `Ok` lets the wait go on (the barrier stays whole), one that fails withdraws.
#[test]
fn barrier_check_runs_on_interrupt() {
    let _serial = common::diag::serial();
    let barrier = Arc::new(Barrier::new(2));
    let checks = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = {
        let (barrier, checks) = (Arc::clone(&barrier), Arc::clone(&checks));
        Builder::new()
            .name("checker")
            .spawn(move || {
                tx.send(Interrupter::current()).unwrap();
                barrier.wait_interruptible(None, LONG, || {
                    if interrupt::take() {
                        // The first interrupt is a handler that returns; the second raises.
                        if checks.fetch_add(1, Ordering::SeqCst) == 1 {
                            return Err("interrupted");
                        }
                    }
                    Ok(())
                })
            })
            .unwrap()
    };
    let handle = rx.recv().unwrap();
    until_thread("checker", |t| t.waiting.is_some());
    handle.interrupt();
    let deadline = Instant::now() + PROMPT;
    while checks.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the interrupt did not run the check"
        );
        std::thread::yield_now();
    }
    // Parked again, still one party waiting.
    until_thread("checker", |t| t.waiting.is_some());
    assert_eq!(barrier.n_waiting(), 1);
    handle.interrupt();
    let r = common::join_or_fail(waiter, "checker");
    assert_eq!(r.unwrap_err(), "interrupted");
    assert!(!barrier.is_broken());
    assert_eq!(
        barrier.n_waiting(),
        0,
        "the withdrawn party is still counted"
    );
}

/// An untimed wait cannot report an interrupt: it sleeps on until its wake-up, and the
/// interrupt stays pending for the thread's next timed wait.
#[test]
fn untimed_waits_are_not_interrupted() {
    let _serial = common::diag::serial();
    let lock = Arc::new(Lock::new());
    let held = lock.acquire();
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = {
        let lock = Arc::clone(&lock);
        Builder::new()
            .name("untimed")
            .spawn(move || {
                tx.send(Interrupter::current()).unwrap();
                drop(lock.acquire());
                let pending = Interrupter::current().is_pending();
                // Pending: the next timed wait returns at once.
                let quick = !Event::new().wait_timeout(LONG);
                (pending, quick, interrupt::take())
            })
            .unwrap()
    };
    let handle = rx.recv().unwrap();
    until_thread("untimed", |t| t.waiting.is_some());
    handle.interrupt();
    // Still waiting for the lock after the interrupt.
    until_thread("untimed", |t| t.waiting.is_some());
    assert!(handle.is_pending());
    drop(held);
    assert_eq!(common::join_or_fail(waiter, "untimed"), (true, true, true));
}

/// An interrupt of one thread never ends another thread's wait on the same object.
#[test]
fn only_the_interrupted_thread_wakes() {
    let _serial = common::diag::serial();
    let event = Arc::new(Event::new());
    let others_done = Arc::new(AtomicBool::new(false));
    let other = {
        let (event, done) = (Arc::clone(&event), Arc::clone(&others_done));
        Builder::new()
            .name("bystander")
            .spawn(move || {
                Interrupter::current(); // interruptible, never interrupted
                let set = event.wait_timeout(LONG);
                done.store(true, Ordering::SeqCst);
                set
            })
            .unwrap()
    };
    until_thread("bystander", |t| t.waiting.is_some());
    let e = Arc::clone(&event);
    interrupted_while_parked("target", move || e.wait_timeout(LONG));
    until_thread("bystander", |t| t.waiting.is_some());
    assert!(!others_done.load(Ordering::SeqCst));
    event.set();
    assert!(common::join_or_fail(other, "bystander"));
}

/// Interrupts racing releases on one semaphore, many rounds: every acquire that returned
/// without a permit was owed an interrupt, and no permit is lost or created.
#[test]
fn interrupts_racing_releases_lose_no_permit() {
    let rounds = common::size(2000, 20);
    let sem = Arc::new(Semaphore::new(0));
    let (tx, rx) = std::sync::mpsc::channel();
    let go = Arc::new(Event::new());
    let waiter = {
        let (sem, go) = (Arc::clone(&sem), Arc::clone(&go));
        std::thread::spawn(move || {
            tx.send(Interrupter::current()).unwrap();
            let (mut got, mut empty_owed) = (0, 0);
            for _ in 0..rounds {
                go.wait();
                match sem.acquire_timeout(LONG) {
                    Some(p) => {
                        p.forget();
                        got += 1;
                    }
                    None => {
                        assert!(interrupt::take(), "returned empty-handed, owed nothing");
                        empty_owed += 1;
                    }
                }
                go.clear();
            }
            (got, empty_owed)
        })
    };
    let handle = rx.recv().unwrap();
    let mut released = 0;
    for i in 0..rounds {
        go.set();
        // Jitter, so that the release and the interrupt land before, during and after the
        // waiter's park across the rounds (not synchronization: every outcome is checked).
        for _ in 0..(i % 7) * 3000 {
            std::hint::spin_loop();
        }
        // Each round: a release, an interrupt, or both, racing the waiter's park.
        if i % 3 != 1 {
            sem.release(1);
            released += 1;
        }
        if i % 3 != 0 {
            handle.interrupt();
        }
        while go.is_set() {
            std::thread::yield_now();
        }
    }
    let (got, _empty) = waiter.join().unwrap();
    interrupt::take();
    assert_eq!(
        got + sem.value(),
        released,
        "permits: got {got}, left {}",
        sem.value()
    );
}

/// Interrupting a thread that has finished, or one never parked, is harmless.
#[test]
fn interrupting_a_finished_thread_is_harmless() {
    let handle = std::thread::spawn(Interrupter::current).join().unwrap();
    handle.interrupt();
    assert!(handle.is_pending());
    assert!(
        !interrupt::take(),
        "another thread's interrupt reached this one"
    );
}

/// A notified Condition waiter moved onto its lock's queue is found there by the deadlock
/// finder also when its thread is interruptible (its park token then carries the armed bit):
/// the waiter holds `b` and waits for the condition's lock, the notifier holds that lock and
/// waits for `b`.
#[test]
fn a_requeued_interruptible_condition_waiter_closes_a_deadlock_cycle() {
    let _serial = common::diag::serial();
    let cond = Arc::new(Condition::with_lock(Lock::new()));
    let b = Arc::new(Lock::new());
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = {
        let (cond, b) = (Arc::clone(&cond), Arc::clone(&b));
        std::thread::spawn(move || {
            Interrupter::current();
            let held_b = b.acquire();
            let mut g = cond.acquire();
            tx.send(()).unwrap();
            let _ = cond.wait_timeout(&mut g, Duration::from_secs(20));
            drop(g);
            drop(held_b);
        })
    };
    rx.recv().unwrap();
    let notifier = {
        let (cond, b) = (Arc::clone(&cond), Arc::clone(&b));
        std::thread::spawn(move || loop {
            let g = cond.acquire();
            if cond.notify(&g, 1) == 1 {
                // Holding the condition's lock, wait for `b` (bounded, so the test ends).
                let _ = b.acquire_timeout(Duration::from_secs(4));
                break;
            }
            drop(g);
            std::thread::yield_now();
        })
    };
    let deadline = Instant::now() + Duration::from_millis(3500);
    let found = loop {
        let found = threadkit::diagnostics::find_deadlocks();
        if !found.is_empty() || Instant::now() > deadline {
            break found;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    notifier.join().unwrap();
    waiter.join().unwrap();
    assert_eq!(
        found.len(),
        1,
        "the cycle through the requeued waiter was missed"
    );
}
