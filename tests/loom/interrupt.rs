//! `threadkit::interrupt`: an interrupt ends a thread's timed wait as a timeout would, on every
//! primitive, racing the primitive's own wake-up.
//!
//! Each model has three threads: the model's main thread waits with a deadline the model never
//! reaches (so its wait can end only by a wake-up or by the interrupt), one thread interrupts
//! it, one does the primitive's wake-up. Witnesses:
//! - a wait that returns empty-handed is owed the interrupt (`take()` says one was pending);
//! - a wait that returns with something is owed the wake-up (the permit, the lock, the item,
//!   the notify that counted it) and nothing is lost or created: the primitive's state at the
//!   end is exactly what the operations that succeeded leave;
//! - nobody stays parked, and loom finds no deadlock (a wait the interrupt should have ended).

use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use threadkit::interrupt::{self, Interrupter};
use threadkit::queue::{LifoQueue, Queue};
use threadkit::{Barrier, Condition, Event, Lock, Semaphore};

use crate::support::{assert_nobody_parked, model, model_fair_and_unfair};

/// A deadline the model never reaches.
const FOREVER: Duration = Duration::from_secs(3600);

/// Runs `interrupt()` on a new thread for the calling (waiting) thread.
fn interrupter() -> thread::JoinHandle<()> {
    let me = Interrupter::current();
    thread::spawn(move || me.interrupt())
}

#[test]
fn semaphore_acquire_ends_with_a_permit_or_the_interrupt() {
    model_fair_and_unfair(|| {
        let sem = Arc::new(Semaphore::new(0));
        let b = interrupter();
        let c = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.release(1))
        };
        let got = sem.acquire_timeout(FOREVER).map(|p| p.forget()).is_some();
        let interrupted = interrupt::take();
        b.join().unwrap();
        c.join().unwrap();
        assert!(
            got || interrupted,
            "an acquire returned empty-handed, owed nothing"
        );
        assert_eq!(
            sem.value(),
            usize::from(!got),
            "a permit was lost or created"
        );
        assert_nobody_parked();
    });
}

#[test]
fn lock_acquire_ends_with_the_lock_or_the_interrupt() {
    model_fair_and_unfair(|| {
        let lock = Arc::new(Lock::new());
        lock.acquire().forget();
        let b = interrupter();
        let c = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || lock.release().unwrap())
        };
        let guard = lock.acquire_timeout(FOREVER);
        let got = guard.is_some();
        let interrupted = interrupt::take();
        b.join().unwrap();
        c.join().unwrap();
        assert!(
            got || interrupted,
            "an acquire returned empty-handed, owed nothing"
        );
        if got {
            assert!(
                lock.try_acquire().is_none(),
                "acquired, yet the lock is free"
            );
        }
        drop(guard);
        assert!(lock.try_acquire().is_some(), "the lock was left locked");
        assert_nobody_parked();
    });
}

#[test]
fn event_wait_ends_with_the_set_or_the_interrupt() {
    model_fair_and_unfair(|| {
        let event = Arc::new(Event::new());
        let b = interrupter();
        let c = {
            let event = Arc::clone(&event);
            thread::spawn(move || event.set())
        };
        let set = event.wait_timeout(FOREVER);
        let interrupted = interrupt::take();
        b.join().unwrap();
        c.join().unwrap();
        assert!(set || interrupted, "a wait returned false, owed nothing");
        // Nothing ever clears the flag, and a `true` must be a set that happened.
        assert!(event.is_set());
        assert_nobody_parked();
    });
}

#[test]
fn condition_wait_ends_with_a_counted_notify_or_the_interrupt() {
    model(|| {
        let cond = Arc::new(Condition::with_lock(Lock::new()));
        let woken_by_notify = Arc::new(AtomicUsize::new(0));
        let mut g = cond.acquire();
        let b = interrupter();
        let c = {
            let (cond, woken) = (Arc::clone(&cond), Arc::clone(&woken_by_notify));
            thread::spawn(move || {
                let g = cond.acquire();
                woken.store(cond.notify(&g, 1), Ordering::SeqCst);
            })
        };
        let notified = cond.wait_timeout(&mut g, FOREVER);
        drop(g);
        let interrupted = interrupt::take();
        b.join().unwrap();
        c.join().unwrap();
        let counted = woken_by_notify.load(Ordering::SeqCst);
        assert!(
            notified || interrupted,
            "a wait returned false, owed nothing"
        );
        // A `true` is owed the notify that counted this waiter, and a notify that counted it
        // must have ended its wait with `true` (else the notification was swallowed).
        assert_eq!(
            usize::from(notified),
            counted,
            "notified {notified}, notify counted {counted}"
        );
        // The waiter count is exact: nobody is left to notify.
        assert_eq!(cond.notify(&cond.acquire(), 1), 0);
        assert_nobody_parked();
    });
}

/// A get on an empty queue raced by a put of 7 and an interrupt: it returns 7 (owed the put)
/// or nothing (owed the interrupt), and the item is then in exactly one place.
fn get_ends_with_the_item_or_the_interrupt<Q: Send + Sync + 'static>(
    q: Q,
    put: fn(&Q),
    get: fn(&Q) -> Option<u32>,
    try_get: fn(&Q) -> Option<u32>,
) {
    let q = Arc::new(q);
    let b = interrupter();
    let c = {
        let q = Arc::clone(&q);
        thread::spawn(move || put(&q))
    };
    let got = get(&q);
    let interrupted = interrupt::take();
    b.join().unwrap();
    c.join().unwrap();
    assert!(
        got.is_some() || interrupted,
        "a get returned empty-handed, owed nothing"
    );
    // Nothing lost, nothing duplicated.
    let left = try_get(&q);
    assert_eq!(got.or(left), Some(7));
    assert!(
        got.is_none() || left.is_none(),
        "the item was delivered twice"
    );
    assert_nobody_parked();
}

#[test]
fn queue_get_ends_with_the_item_or_the_interrupt() {
    model(|| {
        get_ends_with_the_item_or_the_interrupt(
            Queue::<u32>::new(1),
            |q| q.put(7).unwrap(),
            |q| q.get_timeout(FOREVER).ok(),
            |q| q.try_get().ok(),
        );
    });
}

/// An interrupt runs the barrier wait's check at once; a check that takes it and returns `Ok`
/// lets the wait go on, so both parties pass and the barrier stays whole.
#[test]
fn barrier_check_runs_on_interrupt_and_the_wait_goes_on() {
    model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let checks_that_took = Arc::new(AtomicUsize::new(0));
        let b = interrupter();
        let c = {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || barrier.wait().unwrap().index())
        };
        let took = Arc::clone(&checks_that_took);
        let mine = barrier
            .wait_interruptible(Some(FOREVER), FOREVER, move || {
                if interrupt::take() {
                    took.fetch_add(1, Ordering::SeqCst);
                }
                Ok::<(), ()>(())
            })
            .unwrap()
            .unwrap()
            .index();
        b.join().unwrap();
        let theirs = c.join().unwrap();
        let pending = interrupt::take();
        // The interrupt was taken by a check or is still pending: exactly once either way.
        assert_eq!(
            checks_that_took.load(Ordering::SeqCst) + usize::from(pending),
            1
        );
        assert_eq!(mine + theirs, 1, "indices {mine} and {theirs}");
        assert!(!barrier.is_broken());
        assert_eq!(barrier.n_waiting(), 0);
        assert_nobody_parked();
    });
}

/// A thread that takes its interrupt and waits again is not woken by that interrupt's wake-up
/// arriving late (the interrupter read the key of the first wait, the thread parked again on
/// the same key): every wait that returns empty-handed is owed an interrupt of its own.
#[test]
fn taken_interrupt_never_ends_a_later_wait() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let b = interrupter();
        let c = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.release(1))
        };
        while sem.acquire_timeout(FOREVER).map(|p| p.forget()).is_none() {
            assert!(
                interrupt::take(),
                "a later wait ended by an interrupt already taken"
            );
        }
        b.join().unwrap();
        c.join().unwrap();
        assert_eq!(sem.value(), 0);
        assert_nobody_parked();
    });
}

/// With no wake-up coming, only the interrupt can end the wait: it must (loom reports a
/// deadlock otherwise: an interrupt lost while the thread was between publishing its key and
/// parking), empty-handed, with the interrupt owed.
fn only_the_interrupt_ends(wait: impl FnOnce() -> bool) {
    let b = interrupter();
    assert!(!wait(), "a wait returned with something nobody gave");
    assert!(
        interrupt::take(),
        "a wait returned empty-handed, owed nothing"
    );
    b.join().unwrap();
    assert_nobody_parked();
}

#[test]
fn only_the_interrupt_ends_a_semaphore_acquire() {
    model(|| {
        let sem = Semaphore::new(0);
        only_the_interrupt_ends(|| sem.acquire_timeout(FOREVER).is_some());
        assert_eq!(sem.value(), 0);
    });
}

#[test]
fn only_the_interrupt_ends_a_lock_acquire() {
    model(|| {
        let lock = Lock::new();
        let held = lock.acquire();
        only_the_interrupt_ends(|| lock.acquire_timeout(FOREVER).is_some());
        drop(held);
        assert!(lock.try_acquire().is_some());
    });
}

#[test]
fn only_the_interrupt_ends_an_event_wait() {
    model(|| {
        let event = Event::new();
        only_the_interrupt_ends(|| event.wait_timeout(FOREVER));
    });
}

#[test]
fn only_the_interrupt_ends_a_condition_wait() {
    model(|| {
        let cond = Condition::with_lock(Lock::new());
        let mut g = cond.acquire();
        only_the_interrupt_ends(|| cond.wait_timeout(&mut g, FOREVER));
        drop(g);
        // The waiter left the count, whether its park was refused or interrupted: the count
        // (what `Debug` shows, CPython's repr's waiters) is exact, and a notify finds nobody.
        let shown = format!("{cond:?}");
        assert!(
            shown.contains("waiters: 0"),
            "the waiter count leaked: {shown}"
        );
        assert_eq!(cond.notify(&cond.acquire(), 1), 0);
    });
}

/// The lock-based core (LifoQueue, PriorityQueue) gives its lock up in `before_sleep`: a park
/// refused for a pending interrupt must leave the lock held, not taken twice (a deadlock).
#[test]
fn only_the_interrupt_ends_a_lifo_get() {
    model(|| {
        let q: LifoQueue<u32> = LifoQueue::new(0);
        only_the_interrupt_ends(|| q.get_timeout(FOREVER).is_ok());
        q.put(1).unwrap();
        assert_eq!(q.try_get(), Ok(1));
    });
}

#[test]
fn lifo_get_ends_with_the_item_or_the_interrupt() {
    model(|| {
        get_ends_with_the_item_or_the_interrupt(
            LifoQueue::<u32>::new(0),
            |q| q.put(7).unwrap(),
            |q| q.get_timeout(FOREVER).ok(),
            |q| q.try_get().ok(),
        );
    });
}

/// Two waiters on one semaphore, one of them interrupted, one release: the release is owed to
/// whoever did not return empty-handed, and the other waiter is never left asleep.
#[test]
fn an_interrupted_waiter_strands_no_release_for_another() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let other = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.acquire_timeout(FOREVER).map(|p| p.forget()).is_some())
        };
        let b = interrupter();
        let c = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.release(1))
        };
        let mine = sem.acquire_timeout(FOREVER).map(|p| p.forget()).is_some();
        let interrupted = interrupt::take();
        assert!(mine || interrupted);
        b.join().unwrap();
        c.join().unwrap();
        if mine {
            sem.release(1); // the other waiter's turn
        }
        assert!(other.join().unwrap());
        assert_eq!(sem.value(), 0);
        assert_nobody_parked();
    });
}

#[test]
fn only_the_interrupt_ends_a_queue_get() {
    model(|| {
        let q: Queue<u32> = Queue::new(1);
        only_the_interrupt_ends(|| q.get_timeout(FOREVER).is_ok());
    });
}
