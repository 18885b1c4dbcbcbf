//! `Semaphore` and `BoundedSemaphore` permits that own an `Arc` of their semaphore (issue 13):
//! `acquire_owned` and friends, whose permit can leave the acquiring scope and thread. The
//! borrowed-permit behaviour (ported from CPython's lock tests) is in `semaphore.rs`.

// Uses the thread API, which is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use threadkit::{BoundedSemaphore, Event, OwnedSemaphorePermit, Semaphore};

mod common;
use common::wait_threads_blocked;

/// Upper bound for waits that should end long before it.
const LONG: Duration = Duration::from_secs(20);

#[test]
fn owned_permits_travel_to_threads_and_come_back() {
    let sem = Arc::new(Semaphore::new(2));
    let go = Arc::new(Event::new());
    let holders: Vec<_> = (0..2)
        .map(|_| {
            let permit: OwnedSemaphorePermit = Arc::clone(&sem).acquire_owned();
            let go = Arc::clone(&go);
            thread::spawn(move || {
                assert!(go.wait_timeout(LONG));
                drop(permit);
            })
        })
        .collect();
    // Witness: both permits are out while their holders wait.
    assert_eq!(sem.value(), 0);
    assert!(Arc::clone(&sem).try_acquire_owned().is_none());
    go.set();
    for h in holders {
        h.join().unwrap();
    }
    assert_eq!(sem.value(), 2);
    assert_eq!(Arc::strong_count(&sem), 1, "a permit kept its Arc");
}

#[test]
fn blocked_acquire_owned_wakes_on_release() {
    let sem = Arc::new(Semaphore::new(0));
    let waiter = thread::spawn({
        let sem = Arc::clone(&sem);
        move || sem.acquire_owned()
    });
    wait_threads_blocked(1);
    sem.release(1);
    let permit = waiter.join().unwrap();
    assert_eq!(sem.value(), 0);
    drop(permit);
    assert_eq!(sem.value(), 1);
}

#[test]
fn owned_forget_keeps_the_permit_taken_and_drops_the_arc() {
    let sem = Arc::new(BoundedSemaphore::new(1));
    Arc::clone(&sem).acquire_owned().forget();
    assert_eq!(sem.value(), 0);
    assert_eq!(Arc::strong_count(&sem), 1);
    sem.release(1).unwrap();
    assert_eq!(sem.value(), 1);
}

#[test]
fn owned_timeouts_give_the_arc_back() {
    let sem = Arc::new(Semaphore::new(1));
    let held = Arc::clone(&sem).acquire_timeout_owned(LONG).unwrap();
    let start = Instant::now();
    assert!(Arc::clone(&sem)
        .acquire_timeout_owned(Duration::from_millis(20))
        .is_none());
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert!(Arc::clone(&sem)
        .acquire_deadline_owned(Instant::now())
        .is_none());
    assert_eq!(Arc::strong_count(&sem), 2); // only `held` keeps one
    drop(held);
    assert!(Arc::clone(&sem)
        .acquire_deadline_owned(Instant::now() + LONG)
        .is_some());
    assert_eq!(sem.value(), 1);
}

#[test]
fn bounded_owned_permit_never_exceeds_the_bound() {
    let sem = Arc::new(BoundedSemaphore::new(1));
    let permit = Arc::clone(&sem).acquire_owned();
    sem.release(1).unwrap(); // behind the permit's back
    drop(permit); // the bound holds: nothing added
    assert_eq!(sem.value(), 1);
    assert!(format!("{:?}", Arc::clone(&sem).acquire_owned()).contains("BoundedSemaphore"));
}
