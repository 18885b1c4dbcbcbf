//! Behaviour tests for `threadkit::queue::SimpleQueue` (CPython's `test_queue.py`, reference
//! §3.16, for `queue.SimpleQueue`).

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use threadkit::queue::SimpleQueue;

mod common;

/// test_basic for SimpleQueue.
#[test]
fn basic() {
    let q = SimpleQueue::new();
    assert!(q.is_empty());
    for i in 1..=4 {
        q.put(i);
    }
    assert_eq!(q.len(), 4);
    assert_eq!(q.get(), 1);
    assert_eq!(q.try_get(), Some(2));
    assert_eq!(q.get_timeout(Duration::from_millis(100)), Some(3));
    assert_eq!(q.get_deadline(Instant::now()), Some(4));
    assert!(q.is_empty());
    assert_eq!(q.try_get(), None);
    assert_eq!(q.get_timeout(Duration::from_micros(1)), None);
}

/// test_order: one producer, one consumer, order kept.
#[test]
fn order() {
    let q = SimpleQueue::new();
    thread::scope(|s| {
        s.spawn(|| (0..10_000).for_each(|i| q.put(i)));
        for i in 0..10_000 {
            assert_eq!(q.get(), i);
        }
    });
}

/// test_many_threads / _nonblock / _timeout: 10 000 items through many threads, none lost.
#[test]
fn many_threads() {
    for mode in 0..3 {
        let (threads, n) = (8u64, 10_000u64);
        let q = SimpleQueue::new();
        let got: Vec<u64> = thread::scope(|s| {
            let q = &q;
            let consumers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(move || {
                        let mut seen = Vec::new();
                        loop {
                            let item = match mode {
                                0 => Some(q.get()),
                                1 => q.try_get(),
                                _ => q.get_timeout(Duration::from_micros(10)),
                            };
                            match item {
                                Some(u64::MAX) => return seen,
                                Some(x) => seen.push(x),
                                None => thread::yield_now(),
                            }
                        }
                    })
                })
                .collect();
            let producers: Vec<_> = (0..threads)
                .map(|t| s.spawn(move || (t..n).step_by(threads as usize).for_each(|i| q.put(i))))
                .collect();
            producers.into_iter().for_each(|p| p.join().unwrap());
            (0..threads).for_each(|_| q.put(u64::MAX));
            consumers
                .into_iter()
                .flat_map(|c| c.join().unwrap())
                .collect()
        });
        let mut got = got;
        got.sort_unstable();
        assert_eq!(got, (0..n).collect::<Vec<_>>(), "mode {mode}");
    }
}

/// test_references: the queue lets go of an item as soon as it is taken out.
#[test]
fn references_released_on_get() {
    let token = Arc::new(());
    let q = SimpleQueue::new();
    q.put(Arc::clone(&token));
    q.put(Arc::clone(&token));
    drop(q.get());
    assert_eq!(Arc::strong_count(&token), 2);
    drop(q);
    assert_eq!(Arc::strong_count(&token), 1);
}

/// An item's `Drop` may use the queue that dropped it (CPython's test_reentrancy).
#[test]
fn put_from_drop_of_a_dropped_queue_item() {
    struct PutOnDrop(Arc<SimpleQueue<u32>>, u32);
    impl Drop for PutOnDrop {
        fn drop(&mut self) {
            self.0.put(self.1);
        }
    }
    let numbers = Arc::new(SimpleQueue::new());
    let q = SimpleQueue::new();
    q.put(PutOnDrop(Arc::clone(&numbers), 7));
    drop(q.get());
    drop(q);
    assert_eq!(numbers.try_get(), Some(7));
}
