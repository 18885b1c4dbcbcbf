//! `Queue`: nothing lost or duplicated through a bounded queue of size 1 (two producers, one
//! consumer, per-producer order kept), `join` returns only after the last `task_done`, shutdown
//! wakes a blocked getter and a blocked putter.

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use threadkit::queue::{GetError, Queue};

use crate::support::{assert_nobody_parked, model};

/// Two producers through `Queue::new(1)`, the model's main thread consuming: producer A puts
/// 1 then 2, producer B puts 3. Every `put` past the first blocks until the consumer makes room,
/// and every `get` may block until a producer puts: each item arrives exactly once, A's in order.
#[test]
fn two_producers_one_consumer_size_one_nothing_lost() {
    model(|| {
        let q = Arc::new(Queue::new(1));
        let a = {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                q.put(1).unwrap();
                q.put(2).unwrap();
            })
        };
        let b = {
            let q = Arc::clone(&q);
            thread::spawn(move || q.put(3).unwrap())
        };
        let got: Vec<i32> = (0..3).map(|_| q.get().unwrap()).collect();
        a.join().unwrap();
        b.join().unwrap();
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [1, 2, 3], "lost or duplicated: {got:?}");
        let pos = |x| got.iter().position(|&y| y == x).unwrap();
        assert!(pos(1) < pos(2), "producer A's items out of order: {got:?}");
        assert!(q.is_empty());
        assert_eq!(q.unfinished_tasks(), 3);
        assert_nobody_parked();
    });
}

/// `join` returns only once the worker's `task_done` ran, and sees what the worker did before it.
#[test]
fn join_returns_after_task_done() {
    model(|| {
        let q = Arc::new(Queue::new(0));
        let processed = Arc::new(AtomicBool::new(false));
        q.put(7).unwrap();
        let worker = {
            let (q, processed) = (Arc::clone(&q), Arc::clone(&processed));
            thread::spawn(move || {
                assert_eq!(q.get().unwrap(), 7);
                processed.store(true, Ordering::Relaxed);
                q.task_done().unwrap();
            })
        };
        q.join();
        // Relaxed on purpose: `join` returning must itself order the worker's write before us.
        assert!(
            processed.load(Ordering::Relaxed),
            "join returned before task_done"
        );
        assert_eq!(q.unfinished_tasks(), 0);
        worker.join().unwrap();
        assert!(q.task_done().is_err(), "task_done with no unfinished task");
        assert_nobody_parked();
    });
}

/// A getter blocked on an empty queue is woken by `shutdown` with the error (or sees the
/// shutdown on arrival); later puts are refused.
#[test]
fn shutdown_wakes_blocked_getter() {
    model(|| {
        let q = Arc::new(Queue::<i32>::new(0));
        let getter = {
            let q = Arc::clone(&q);
            thread::spawn(move || q.get())
        };
        q.shutdown();
        assert_eq!(getter.join().unwrap(), Err(GetError));
        assert!(q.put(1).is_err());
        assert!(q.is_shutdown());
        assert_nobody_parked();
    });
}

/// A putter blocked on a full queue is woken by `shutdown` with its item handed back; the item
/// already queued can still be taken.
#[test]
fn shutdown_wakes_blocked_putter() {
    model(|| {
        let q = Arc::new(Queue::new(1));
        q.put(1).unwrap();
        let putter = {
            let q = Arc::clone(&q);
            thread::spawn(move || q.put(2).map_err(|e| e.0))
        };
        q.shutdown();
        assert_eq!(putter.join().unwrap(), Err(2));
        assert_eq!(q.get(), Ok(1));
        assert_eq!(q.get(), Err(GetError));
        assert_nobody_parked();
    });
}
