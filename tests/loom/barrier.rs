//! `Barrier`: parties released together with a permutation of indices, the action once per
//! cycle, abort and reset break waiters, a timed-out waiter and the leader agree on the outcome.

use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use threadkit::Barrier;

use crate::support::{assert_nobody_parked, model, wait_until_parked};

/// Three parties: nobody leaves `wait` before all three have arrived, the indices are 0, 1, 2
/// and exactly one thread is the leader.
#[test]
fn three_parties_released_together() {
    model(|| {
        let barrier = Arc::new(Barrier::new(3));
        let arrived = Arc::new(AtomicUsize::new(0));
        let party = |barrier: &Barrier, arrived: &AtomicUsize| {
            arrived.fetch_add(1, Ordering::SeqCst);
            let result = barrier.wait().expect("barrier broke");
            assert_eq!(
                arrived.load(Ordering::SeqCst),
                3,
                "released before all arrived"
            );
            (result.index(), result.is_leader())
        };
        let others: Vec<_> = (0..2)
            .map(|_| {
                let (barrier, arrived) = (Arc::clone(&barrier), Arc::clone(&arrived));
                thread::spawn(move || party(&barrier, &arrived))
            })
            .collect();
        let mut results = vec![party(&barrier, &arrived)];
        results.extend(others.into_iter().map(|t| t.join().unwrap()));
        let mut indices: Vec<usize> = results.iter().map(|r| r.0).collect();
        indices.sort_unstable();
        assert_eq!(indices, [0, 1, 2]);
        assert_eq!(results.iter().filter(|r| r.1).count(), 1, "not one leader");
        assert!(results.iter().all(|&(i, leader)| leader == (i == 2)));
        assert_eq!(barrier.n_waiting(), 0);
        assert!(!barrier.is_broken());
        assert_nobody_parked();
    });
}

/// Two parties, two cycles, an action: the action runs exactly once per cycle, before anyone of
/// that cycle is released, and a thread coming back quickly for the second cycle never passes
/// with the first.
#[test]
fn two_cycles_action_runs_once_per_cycle() {
    model(|| {
        let actions = Arc::new(AtomicUsize::new(0));
        let barrier = {
            let actions = Arc::clone(&actions);
            Arc::new(Barrier::with_action(2, move || {
                actions.fetch_add(1, Ordering::SeqCst);
            }))
        };
        let arrived = Arc::new(AtomicUsize::new(0));
        let party = move |barrier: &Barrier, arrived: &AtomicUsize, actions: &AtomicUsize| {
            for cycle in 1..=2 {
                arrived.fetch_add(1, Ordering::SeqCst);
                barrier.wait().expect("barrier broke");
                assert!(
                    arrived.load(Ordering::SeqCst) >= 2 * cycle,
                    "passed too early"
                );
                assert!(
                    actions.load(Ordering::SeqCst) >= cycle,
                    "action not run yet"
                );
            }
        };
        let other = {
            let (barrier, arrived, actions) = (
                Arc::clone(&barrier),
                Arc::clone(&arrived),
                Arc::clone(&actions),
            );
            thread::spawn(move || party(&barrier, &arrived, &actions))
        };
        party(&barrier, &arrived, &actions);
        other.join().unwrap();
        assert_eq!(actions.load(Ordering::SeqCst), 2);
        assert_nobody_parked();
    });
}

/// `abort` breaks the barrier for a waiter, whether it arrives before or after; `reset` makes it
/// usable again.
#[test]
fn abort_breaks_waiter_and_reset_repairs() {
    model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let waiter = {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || barrier.wait().is_err())
        };
        barrier.abort();
        assert!(waiter.join().unwrap(), "a waiter passed an aborted barrier");
        assert!(barrier.is_broken());
        assert!(barrier.wait().is_err());
        barrier.reset();
        assert!(!barrier.is_broken());
        let other = {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || barrier.wait().unwrap().index())
        };
        let mine = barrier.wait().unwrap().index();
        assert_eq!(mine + other.join().unwrap(), 1);
        assert_nobody_parked();
    });
}

/// `reset` while two of three parties wait: both get the error, and the barrier is empty and not
/// broken afterwards.
///
/// Both parties' arrival is witnessed by the barrier's own count as well as by the parking layer:
/// two parked threads alone do not mean two arrivals, since a thread can be parked on the
/// barrier's lock after that lock was released (the release frees the word first and wakes the
/// sleeper after it) and arrive only after the reset, in the next cycle, where it rightly waits.
#[test]
fn reset_breaks_parked_waiters() {
    model(|| {
        let barrier = Arc::new(Barrier::new(3));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || barrier.wait().is_err())
            })
            .collect();
        wait_until_parked(2);
        while barrier.n_waiting() < 2 {
            thread::yield_now();
        }
        barrier.reset();
        for w in waiters {
            assert!(w.join().unwrap(), "a waiter passed a reset barrier");
        }
        assert!(!barrier.is_broken());
        assert_eq!(barrier.n_waiting(), 0);
        assert_nobody_parked();
    });
}

/// A waiter whose deadline passes while the other party arrives: either the cycle completed (both
/// pass) or the timeout broke it (both fail). They never disagree, including when the timed-out
/// waiter left the queue just before the leader ended the cycle (the "straggler" path).
#[test]
fn timed_out_waiter_and_leader_agree() {
    model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let timed = {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || barrier.wait_timeout(Duration::ZERO).is_ok())
        };
        let mine = barrier.wait().is_ok();
        let theirs = timed.join().unwrap();
        assert_eq!(mine, theirs, "one party passed, the other broke");
        assert_eq!(barrier.is_broken(), !mine);
        assert_nobody_parked();
    });
}

/// Witness over two cycles: a `wait` that returns in cycle `c` was owed every arrival of that
/// cycle (`arrived` counts arrivals before they are made), so a waiter of cycle 2 woken by the
/// end of cycle 1 fails here.
#[test]
fn second_cycle_wait_is_owed_its_arrivals() {
    model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let arrived = Arc::new(AtomicUsize::new(0));
        let party = |barrier: &Barrier, arrived: &AtomicUsize| {
            for cycle in 1..=2 {
                arrived.fetch_add(1, Ordering::SeqCst);
                barrier.wait().expect("barrier broke");
                assert!(
                    arrived.load(Ordering::SeqCst) >= 2 * cycle,
                    "cycle {cycle} released before both parties arrived"
                );
            }
        };
        let other = {
            let (barrier, arrived) = (Arc::clone(&barrier), Arc::clone(&arrived));
            thread::spawn(move || party(&barrier, &arrived))
        };
        party(&barrier, &arrived);
        other.join().unwrap();
        assert_nobody_parked();
    });
}
