//! `task_guard`: Python's `try: ... finally: q.task_done()`.
// The thread API is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;

use threadkit::queue::{LifoQueue, PriorityQueue, Queue};

mod common;
use common::queue::{join_soon, PATIENCE};

/// A worker whose job panics still marks its task done, so `join` returns (without the
/// guard it would wait forever: witness, `unfinished_tasks` before and after).
#[test]
fn a_panicking_job_does_not_leave_join_waiting() {
    let q = Arc::new(Queue::new(0));
    for job in 0..3 {
        q.put(job).unwrap();
    }
    let worker = thread::spawn({
        let q = Arc::clone(&q);
        move || {
            let mut panics = 0;
            for _ in 0..3 {
                let job = q.get().unwrap();
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    let _done = q.task_guard();
                    assert!(job != 1, "job 1 fails");
                }));
                panics += usize::from(outcome.is_err());
            }
            panics
        }
    });
    assert!(
        q.join_timeout(PATIENCE),
        "join waited for a task that panicked"
    );
    assert_eq!(join_soon(worker), 1);
    assert_eq!(q.unfinished_tasks(), 0);
}

/// `done` reports the error the guard's drop would panic with; the drop panics when the
/// task was already marked done by hand.
#[test]
fn misuse_is_reported() {
    let q = Queue::new(0);
    q.put(1).unwrap();
    q.get().unwrap();
    let guard = q.task_guard();
    q.task_done().unwrap();
    assert!(guard.done().is_err());
    assert_eq!(q.unfinished_tasks(), 0);
    let dropped = catch_unwind(AssertUnwindSafe(|| drop(q.task_guard())));
    assert!(dropped.is_err(), "a guard with no task left must say so");
    q.put(2).unwrap();
    assert_eq!(q.unfinished_tasks(), 1, "the failed guard changed nothing");
}

/// One guard, one `task_done`: on every queue kind.
#[test]
fn every_bounded_kind_has_it() {
    let (q, l, p) = (Queue::new(0), LifoQueue::new(0), PriorityQueue::new(0));
    q.put(1).unwrap();
    l.put(1).unwrap();
    p.put(1).unwrap();
    drop((q.task_guard(), l.task_guard(), p.task_guard()));
    assert_eq!(
        (
            q.unfinished_tasks(),
            l.unfinished_tasks(),
            p.unfinished_tasks()
        ),
        (0, 0, 0)
    );
}
