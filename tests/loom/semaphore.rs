//! `Semaphore` and `BoundedSemaphore`: never over-admits, `release(n)` wakes sleepers, bounded
//! over-release is rejected without changing the value, a timed-out acquirer strands no permit.

use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use threadkit::{BoundedSemaphore, Semaphore};

use crate::support::{assert_nobody_parked, model, model_fair_and_unfair, wait_until_parked};

/// Enters the semaphore, checks that at most `k` threads are inside, and leaves.
fn enter(sem: &Semaphore, inside: &AtomicUsize, k: usize) {
    let permit = sem.acquire();
    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
    assert!(now <= k, "{now} threads inside a Semaphore({k})");
    inside.fetch_sub(1, Ordering::SeqCst);
    drop(permit);
}

/// Three threads (the model's main thread and two spawned ones) contend for `k` permits.
fn never_over_admits(k: usize) {
    model_fair_and_unfair(move || {
        let sem = Arc::new(Semaphore::new(k));
        let inside = Arc::new(AtomicUsize::new(0));
        let others: Vec<_> = (0..2)
            .map(|_| {
                let (sem, inside) = (Arc::clone(&sem), Arc::clone(&inside));
                thread::spawn(move || enter(&sem, &inside, k))
            })
            .collect();
        enter(&sem, &inside, k);
        for t in others {
            t.join().unwrap();
        }
        assert_eq!(sem.value(), k, "a permit was lost or created");
        assert_nobody_parked();
    });
}

#[test]
fn one_permit_three_threads_never_over_admits() {
    never_over_admits(1);
}

#[test]
fn two_permits_three_threads_never_over_admits() {
    never_over_admits(2);
}

/// `release(2)` on an empty semaphore lets two blocked acquirers through (loom reports a
/// deadlock if either stays asleep), whether or not they had parked yet.
#[test]
fn release_n_wakes_n_acquirers() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let acquirers: Vec<_> = (0..2)
            .map(|_| {
                let sem = Arc::clone(&sem);
                thread::spawn(move || sem.acquire().forget())
            })
            .collect();
        sem.release(2);
        for t in acquirers {
            t.join().unwrap();
        }
        assert_eq!(sem.value(), 0);
        assert_nobody_parked();
    });
}

/// Two releases racing on a full `BoundedSemaphore(1)` whose permit is out: exactly one is
/// accepted, the other gets the error, and the value ends at the bound, never above it.
#[test]
fn bounded_racing_releases_exactly_one_accepted() {
    model(|| {
        let sem = Arc::new(BoundedSemaphore::new(1));
        sem.acquire().forget();
        let other = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.release(1).is_ok())
        };
        let mine = sem.release(1).is_ok();
        let theirs = other.join().unwrap();
        assert!(mine ^ theirs, "mine = {mine}, theirs = {theirs}");
        assert_eq!(sem.value(), 1);
    });
}

/// An over-release racing with an acquirer: the rejected `release(2)` changes nothing, so the
/// acquirer and the final value see only the one accepted permit.
#[test]
fn bounded_over_release_rejected_value_unchanged() {
    model(|| {
        let sem = Arc::new(BoundedSemaphore::new(2));
        sem.acquire().forget(); // value 1 of 2
        let acquirer = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.acquire().forget())
        };
        // Room for one permit at most (two if the acquirer went first): release(2) is accepted
        // only in the second case.
        let accepted = sem.release(2).is_ok();
        if !accepted {
            // The value is unchanged, so the acquirer may still need this permit.
            sem.release(1).unwrap();
        }
        acquirer.join().unwrap();
        assert_eq!(sem.value(), if accepted { 2 } else { 1 });
        assert!(sem.release(3).is_err());
        assert_eq!(sem.value(), if accepted { 2 } else { 1 });
        assert_nobody_parked();
    });
}

/// An acquirer giving up (past deadline) while another blocks and a permit is released: the
/// permit reaches whoever still wants it. If the timed acquirer took it, its drop passes it on;
/// if it gave up, the blocked acquirer is woken. Either way nobody stays parked.
///
/// Note: with a deadline already past, `acquire_slow` gives up before parking, so the
/// "timed out while parked, was the last sleeper" branch (clearing PARKED) needs a real clock;
/// `tests/stress.rs` covers it.
#[test]
fn timed_out_acquirer_strands_no_permit() {
    model_fair_and_unfair(|| {
        let sem = Arc::new(Semaphore::new(0));
        let blocking = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || drop(sem.acquire()))
        };
        let timed = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.acquire_timeout(Duration::ZERO).is_some())
        };
        sem.release(1);
        blocking.join().unwrap();
        let _ = timed.join().unwrap(); // either outcome is fine
        assert_eq!(sem.value(), 1, "the released permit was lost");
        assert_nobody_parked();
    });
}

/// Two parked acquirers and a `release(1)`: exactly one gets through; a second `release(1)`
/// lets the other out. The first release must not clear PARKED while a sleeper remains.
#[test]
fn release_one_wakes_one_and_keeps_the_other_wakeable() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let passed = Arc::new(AtomicUsize::new(0));
        let acquirers: Vec<_> = (0..2)
            .map(|_| {
                let (sem, passed) = (Arc::clone(&sem), Arc::clone(&passed));
                thread::spawn(move || {
                    sem.acquire().forget();
                    passed.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        wait_until_parked(2);
        sem.release(1);
        sem.release(1);
        for t in acquirers {
            t.join().unwrap();
        }
        assert_eq!(passed.load(Ordering::SeqCst), 2);
        assert_eq!(sem.value(), 0);
        assert_nobody_parked();
    });
}

/// Witness: an acquire that returns was owed a permit. One thread takes a permit from the first
/// `release`, then acquires again; that second acquire may only return once a second release has
/// begun (`releases` counts them before they are made).
#[test]
fn acquire_consume_acquire_again_is_owed_a_release() {
    model_fair_and_unfair(|| {
        let sem = Arc::new(Semaphore::new(0));
        let releases = Arc::new(AtomicUsize::new(0));
        let taker = {
            let (sem, releases) = (Arc::clone(&sem), Arc::clone(&releases));
            thread::spawn(move || {
                sem.acquire().forget();
                assert!(
                    releases.load(Ordering::SeqCst) >= 1,
                    "a permit out of nothing"
                );
                sem.acquire().forget();
                assert!(
                    releases.load(Ordering::SeqCst) >= 2,
                    "two permits taken, but only one was ever released"
                );
            })
        };
        let releaser = {
            let (sem, releases) = (Arc::clone(&sem), Arc::clone(&releases));
            thread::spawn(move || {
                releases.fetch_add(1, Ordering::SeqCst);
                sem.release(1);
            })
        };
        releaser.join().unwrap();
        releases.fetch_add(1, Ordering::SeqCst);
        sem.release(1);
        taker.join().unwrap();
        assert_eq!(sem.value(), 0);
        assert_nobody_parked();
    });
}

/// Witness for the plain semaphore's one-`fetch_sub` acquire and one-`fetch_add` permit drop:
/// two acquirers on a semaphore whose two permits the main thread holds (so their `fetch_sub`
/// may take the value below zero, and then give the unit back) race the two permit drops, each
/// counted before it is made. Every acquire that returns is owed a release (acquires returned
/// ≤ releases begun, checked as each returns), both get through (loom reports a deadlock if
/// one stays asleep), `value()` never reads more than the permits there are (not even while the
/// other acquirer is below zero), and the value ends where it began.
#[test]
fn below_zero_acquirers_are_each_owed_a_release() {
    model_fair_and_unfair(|| {
        let sem = Arc::new(Semaphore::new(2));
        let held = [sem.acquire(), sem.acquire()];
        let releases = Arc::new(AtomicUsize::new(0));
        let returned = Arc::new(AtomicUsize::new(0));
        let acquirers: Vec<_> = (0..2)
            .map(|_| {
                let (sem, releases, returned) = (
                    Arc::clone(&sem),
                    Arc::clone(&releases),
                    Arc::clone(&returned),
                );
                thread::spawn(move || {
                    let permit = sem.acquire();
                    // The other acquirer may be below zero right now: still no more than 2.
                    let v = sem.value();
                    assert!(v <= 2, "value() read {v} from a Semaphore(2)");
                    let n = returned.fetch_add(1, Ordering::SeqCst) + 1;
                    let r = releases.load(Ordering::SeqCst);
                    assert!(
                        r >= n,
                        "{n} acquires returned, but only {r} permits released"
                    );
                    permit.forget();
                })
            })
            .collect();
        for permit in held {
            releases.fetch_add(1, Ordering::SeqCst);
            drop(permit);
        }
        for t in acquirers {
            t.join().unwrap();
        }
        assert_eq!(sem.value(), 0);
        sem.release(2);
        assert_eq!(sem.value(), 2, "a permit was lost or created");
        assert_nobody_parked();
    });
}

/// `release(n)` (Python's `sem.release()`, not a permit's drop) racing two acquirers that may
/// be below zero on an empty semaphore: the release adds to a word whose value is negative for
/// a moment, which must neither overflow (a panic in every build with overflow checks, loom's
/// included) nor lose or create a permit. Witness: acquires returned ≤ releases begun, checked
/// as each returns, and the value ends at exactly what was released and not taken.
#[test]
fn release_n_racing_below_zero_acquirers_is_owed_and_exact() {
    model_fair_and_unfair(|| {
        let sem = Arc::new(Semaphore::new(0));
        let releases = Arc::new(AtomicUsize::new(0));
        let returned = Arc::new(AtomicUsize::new(0));
        let acquirers: Vec<_> = (0..2)
            .map(|_| {
                let (sem, releases, returned) = (
                    Arc::clone(&sem),
                    Arc::clone(&releases),
                    Arc::clone(&returned),
                );
                thread::spawn(move || {
                    let permit = sem.acquire();
                    let n = returned.fetch_add(1, Ordering::SeqCst) + 1;
                    let r = releases.load(Ordering::SeqCst);
                    assert!(r >= n, "{n} acquires returned, but only {r} released");
                    permit.forget();
                })
            })
            .collect();
        releases.fetch_add(2, Ordering::SeqCst);
        sem.release(2);
        for t in acquirers {
            t.join().unwrap();
        }
        assert_eq!(sem.value(), 0, "a permit was lost or created");
        assert_nobody_parked();
    });
}
