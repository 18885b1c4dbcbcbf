//! `Condition`: no lost wake-up, `notify(n)` wakes exactly n, the RLock depth is restored after
//! `wait`, a waiter that times out never swallows a notification meant for another.

use std::time::Duration;

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use threadkit::{Condition, Lock};

use crate::support::{assert_nobody_parked, model, model_fair_and_unfair, wait_until_parked};

/// The model never expires a deadline in the future: a wait with it returns only when notified.
const FOREVER: Duration = Duration::from_secs(3600);

/// The classic predicate loop: whatever the interleaving of the waiter's check, its release of
/// the lock inside `wait` and the notifier's set-and-notify, the waiter ends (loom reports a
/// lost wake-up as a deadlock).
#[test]
fn no_lost_wakeup() {
    model_fair_and_unfair(|| {
        let cond = Arc::new(Condition::with_lock(Lock::with_value(false)));
        let waiter = {
            let cond = Arc::clone(&cond);
            thread::spawn(move || {
                let mut ready = cond.acquire();
                while !*ready {
                    cond.wait(&mut ready);
                }
            })
        };
        let mut ready = cond.acquire();
        *ready = true;
        cond.notify(&ready, 1);
        drop(ready);
        waiter.join().unwrap();
        assert_nobody_parked();
    });
}

/// Two parked waiters: `notify(1)` wakes exactly one (it returns 1, one waiter leaves, the other
/// stays parked: no spurious wake-up), the next `notify(1)` the other.
#[test]
fn notify_n_wakes_exactly_n() {
    model(|| {
        let cond = Arc::new(Condition::with_lock(Lock::new()));
        let woken = Arc::new(AtomicUsize::new(0));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let (cond, woken) = (Arc::clone(&cond), Arc::clone(&woken));
                thread::spawn(move || {
                    let mut g = cond.acquire();
                    assert!(cond.wait_timeout(&mut g, FOREVER), "woken without a notify");
                    woken.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        wait_until_parked(2);
        let g = cond.acquire();
        assert_eq!(cond.notify(&g, 1), 1);
        drop(g);
        while woken.load(Ordering::SeqCst) < 1 {
            thread::yield_now();
        }
        assert_eq!(
            threadkit::__loom::parked_threads(),
            1,
            "notify(1) woke more than one"
        );
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        let g = cond.acquire();
        assert_eq!(cond.notify(&g, 1), 1);
        assert_eq!(cond.notify_all(&g), 0, "nobody left to wake");
        drop(g);
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(woken.load(Ordering::SeqCst), 2);
        assert_nobody_parked();
    });
}

/// Over an RLock held two levels deep, `wait` releases every level (the notifier can get in) and
/// restores both afterwards.
#[test]
fn rlock_depth_restored_after_wait() {
    model(|| {
        let cond = Arc::new(Condition::new());
        let flag = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (cond, flag) = (Arc::clone(&cond), Arc::clone(&flag));
            thread::spawn(move || {
                let _outer = cond.acquire();
                let mut inner = cond.acquire();
                while !flag.load(Ordering::Relaxed) {
                    cond.wait(&mut inner);
                    assert!(cond.lock().is_owned());
                    assert_eq!(cond.lock().recursion_count(), 2, "depth not restored");
                }
                assert_eq!(cond.lock().recursion_count(), 2);
            })
        };
        let g = cond.acquire(); // would deadlock if wait kept a level
        flag.store(true, Ordering::Relaxed);
        cond.notify_all(&g);
        drop(g);
        waiter.join().unwrap();
        assert!(!cond.lock().locked());
        assert_nobody_parked();
    });
}

/// Waiter A waits for a flag; waiter B gives up at once (past deadline). The notifier sets the
/// flag and sends `notify(1)`, and sends another only if B reports that it was notified. If a
/// notification counted for B while B reported a timeout, A would sleep forever (loom: deadlock).
/// Also: every notification counted by `notify` is one `true` returned by a wait.
#[test]
fn timed_out_waiter_never_swallows_a_notification() {
    model(|| {
        let cond = Arc::new(Condition::with_lock(Lock::with_value(false)));
        let a = {
            let cond = Arc::clone(&cond);
            thread::spawn(move || {
                let mut ready = cond.acquire();
                let mut notified = 0;
                while !*ready {
                    assert!(cond.wait_timeout(&mut ready, FOREVER));
                    notified += 1;
                }
                notified
            })
        };
        let b = {
            let cond = Arc::clone(&cond);
            thread::spawn(move || {
                let mut g = cond.acquire();
                cond.wait_timeout(&mut g, Duration::ZERO)
            })
        };
        let mut ready = cond.acquire();
        *ready = true;
        let mut sent = cond.notify(&ready, 1);
        drop(ready);
        let b_notified = b.join().unwrap();
        if b_notified {
            let ready = cond.acquire();
            sent += cond.notify(&ready, 1);
        }
        let a_notified = a.join().unwrap();
        assert_eq!(sent, a_notified + usize::from(b_notified));
        assert_nobody_parked();
    });
}

/// Witness: a `wait` that returns was owed a notification. The waiter is notified once, then
/// waits again; the second wait may only end after a second `notify` has been made (`notifies`
/// counts them before they are made). A notify whose wake-up can reach a wait that began after
/// it (a stale wake-up left behind by the first round) fails here.
#[test]
fn wait_consume_wait_again_is_owed_a_notify() {
    model_fair_and_unfair(|| {
        let cond = Arc::new(Condition::with_lock(Lock::new()));
        let notifies = Arc::new(AtomicUsize::new(0));
        let phase = Arc::new(AtomicUsize::new(0));
        let waiter = {
            let (cond, notifies, phase) =
                (Arc::clone(&cond), Arc::clone(&notifies), Arc::clone(&phase));
            thread::spawn(move || {
                let mut g = cond.acquire();
                assert!(cond.wait_timeout(&mut g, FOREVER));
                assert!(
                    notifies.load(Ordering::SeqCst) >= 1,
                    "woke before any notify"
                );
                phase.store(1, Ordering::SeqCst);
                cond.wait(&mut g);
                assert!(
                    notifies.load(Ordering::SeqCst) >= 2,
                    "the second wait ended, but only one notify was ever made"
                );
            })
        };
        for round in 0..2 {
            // Notify only a waiter already asleep (an earlier notify would be lost, correctly).
            while phase.load(Ordering::SeqCst) != round {
                thread::yield_now();
            }
            wait_until_parked(1);
            let g = cond.acquire();
            notifies.fetch_add(1, Ordering::SeqCst);
            assert_eq!(cond.notify(&g, 1), 1);
            drop(g);
        }
        waiter.join().unwrap();
        assert_nobody_parked();
    });
}
