//! The 3.13 shutdown under load (reference §5): shutdown racing every blocking call on real
//! threads, and puts racing a shutdown, with every item accounted for (delivered, or dropped by
//! an immediate shutdown, never both and never lost), for every store of every queue kind.
// The thread API is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use threadkit::queue::{LifoQueue, Queue, TryGetError};

mod common;
use common::queue::join_soon;

/// test_shutdown_[immediate_]all_methods_in_many_threads, with the data checked: writers,
/// readers, joiners and a shutdown thread start together; every blocked caller wakes, no item is
/// returned twice, and every item a `put` accepted is either returned by a `get` or (immediate
/// only) dropped by the shutdown.
#[test]
fn shutdown_under_load_loses_nothing_and_wakes_everyone() {
    // Every store: the ring (bounded), the list (unbounded), and the locked deque (huge bound).
    for maxsize in [64, 0, 100_000] {
        for immediate in [false, true] {
            shutdown_under_load(maxsize, immediate);
        }
    }
    // The locked core (LifoQueue's and PriorityQueue's).
    for maxsize in [64, 0] {
        for immediate in [false, true] {
            shutdown_under_load_lifo(maxsize, immediate);
        }
    }
}

/// An item that records, when dropped without having been received, that it was discarded.
struct Tracked {
    value: u64,
    received: bool,
    discarded: Arc<AtomicU64>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if !self.received {
            self.discarded.fetch_add(self.value, Ordering::SeqCst);
        }
    }
}

/// `$name(maxsize, immediate)`: the shutdown-under-load run over the queue type `$Q`.
macro_rules! shutdown_under_load {
    ($name:ident, $Q:ident) => {
        fn $name(maxsize: usize, immediate: bool) {
            let (writers, readers, joiners) = (4, 6, 2);
            let q = Arc::new($Q::new(maxsize));
            let discarded = Arc::new(AtomicU64::new(0));
            let start = Arc::new(Barrier::new(writers + readers + joiners + 1));
            let put_sum = Arc::new(AtomicU64::new(0));
            let got_sum = Arc::new(AtomicU64::new(0));
            let writer_refused = Arc::new(AtomicUsize::new(0));
            let mut threads = Vec::new();
            for w in 0..writers as u64 {
                let (q, start, put_sum, discarded, refused) = (
                    Arc::clone(&q),
                    Arc::clone(&start),
                    Arc::clone(&put_sum),
                    Arc::clone(&discarded),
                    Arc::clone(&writer_refused),
                );
                threads.push(thread::spawn(move || {
                    start.wait();
                    for i in 1.. {
                        let value = w * 1_000_000_000 + i;
                        let item = Tracked {
                            value,
                            received: false,
                            discarded: Arc::clone(&discarded),
                        };
                        match q.put(item) {
                            Ok(()) => put_sum.fetch_add(value, Ordering::SeqCst),
                            Err(err) => {
                                let mut item = err.into_inner();
                                item.received = true; // refused, not discarded
                                refused.fetch_add(1, Ordering::SeqCst);
                                return;
                            }
                        };
                    }
                }));
            }
            for _ in 0..readers {
                let (q, start, got_sum) =
                    (Arc::clone(&q), Arc::clone(&start), Arc::clone(&got_sum));
                threads.push(thread::spawn(move || {
                    start.wait();
                    while let Ok(mut item) = q.get() {
                        item.received = true;
                        got_sum.fetch_add(item.value, Ordering::SeqCst);
                        q.task_done().unwrap();
                    }
                }));
            }
            for _ in 0..joiners {
                let (q, start) = (Arc::clone(&q), Arc::clone(&start));
                threads.push(thread::spawn(move || {
                    start.wait();
                    q.join();
                }));
            }
            start.wait();
            thread::sleep(Duration::from_millis(20));
            if immediate {
                q.shutdown_immediate();
                assert!(q.is_empty());
            } else {
                q.shutdown();
            }
            threads.into_iter().for_each(join_soon);
            assert_eq!(writer_refused.load(Ordering::SeqCst), writers);
            assert!(q.is_empty());
            assert_eq!(q.unfinished_tasks(), 0);
            assert_eq!(
                put_sum.load(Ordering::SeqCst),
                got_sum.load(Ordering::SeqCst) + discarded.load(Ordering::SeqCst),
                "{}, maxsize {maxsize}, immediate: {immediate}",
                stringify!($Q)
            );
            if !immediate {
                assert_eq!(discarded.load(Ordering::SeqCst), 0);
            }
        }
    };
}

shutdown_under_load!(shutdown_under_load, Queue);
shutdown_under_load!(shutdown_under_load_lifo, LifoQueue);

/// A put racing a shutdown, on real threads, many times: a put that returned `Ok` is either got
/// after a plain shutdown or dropped by an immediate one, never left behind; the task count ends
/// at zero once every item got is done (the loom models check the same over every interleaving
/// of a small case).
#[test]
fn put_racing_shutdown_is_refused_or_delivered() {
    for maxsize in [0, 1, 100_000] {
        for round in 0..300 {
            let immediate = round % 2 == 1;
            let q = Arc::new(Queue::new(maxsize));
            let start = Arc::new(Barrier::new(2));
            let putter = thread::spawn({
                let (q, start) = (Arc::clone(&q), Arc::clone(&start));
                move || {
                    start.wait();
                    q.put(round).is_ok()
                }
            });
            start.wait();
            if immediate {
                q.shutdown_immediate();
            } else {
                q.shutdown();
            }
            let put_ok = join_soon(putter);
            let got = q.try_get();
            match (immediate, got) {
                (false, Ok(item)) => {
                    assert!(put_ok && item == round);
                    q.task_done().unwrap();
                }
                (false, Err(e)) => assert!(!put_ok && e.is_shut_down(), "item lost: {e:?}"),
                (true, got) => assert_eq!(got, Err(TryGetError::ShutDown), "outlived the drain"),
            }
            assert!(q.is_empty());
            assert_eq!(q.unfinished_tasks(), 0, "maxsize {maxsize} round {round}");
        }
    }
}
