//! `catch_unwind` around code that uses threadkit's primitives compiles, as with std's Mutex,
//! and a panic inside leaves every primitive released and usable (issue 13). What is not
//! unwind safe (a `Lock<T>` with data: no poisoning) is a compile_fail doctest in src/lock/mod.rs.

// Uses the thread API, which is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

use std::panic::{catch_unwind, RefUnwindSafe, UnwindSafe};
use std::sync::Arc;

use threadkit::{
    Barrier, BoundedSemaphore, Condition, Event, Lock, OwnedSemaphorePermit, RLock, Semaphore,
};

fn unwind_safe<T: UnwindSafe + RefUnwindSafe + ?Sized>() {}

#[test]
fn primitives_are_unwind_safe() {
    unwind_safe::<Lock>();
    unwind_safe::<RLock>();
    unwind_safe::<RLock<i32>>(); // shared access only: as `&i32`
    unwind_safe::<Condition>();
    unwind_safe::<Condition<Lock>>();
    unwind_safe::<Condition<Arc<Lock>>>();
    unwind_safe::<Barrier>();
    unwind_safe::<Semaphore>();
    unwind_safe::<BoundedSemaphore>();
    unwind_safe::<OwnedSemaphorePermit>();
    unwind_safe::<Event>();
    unwind_safe::<Arc<Lock>>();
}

#[test]
fn a_panic_inside_catch_unwind_releases_everything() {
    let lock = Lock::new();
    let rlock = RLock::new();
    let cond = Condition::with_lock(Lock::new());
    let sem = BoundedSemaphore::new(1);
    let barrier = Barrier::new(1);
    let event = Event::new();
    let r = catch_unwind(|| {
        let _l = lock.acquire();
        let _r1 = rlock.acquire();
        let _r2 = rlock.acquire();
        let _c = cond.acquire();
        let _p = sem.acquire();
        barrier.wait().unwrap();
        event.set();
        panic!("inside");
    });
    assert!(r.is_err());
    // Witnesses: each primitive is free again and takes a new holder at once.
    assert!(lock.try_acquire().is_some());
    assert_eq!(rlock.recursion_count(), 0);
    assert!(!rlock.locked());
    assert!(cond.try_acquire().is_some());
    assert_eq!(sem.value(), 1);
    assert_eq!(barrier.wait().unwrap().index(), 0);
    assert!(event.is_set());
}
