//! Behaviour tests for `threadkit::queue`: CPython's `test_queue.py` (reference §3.16), the
//! 3.13 shutdown semantics (§5), and "nothing lost" stress tests for every queue kind (shutdown
//! under load and racing puts: `queue_shutdown.rs`).
// The thread API is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use threadkit::queue::{
    GetError, GetTimeoutError, LifoQueue, PriorityQueue, PutError, PutTimeoutError, Queue,
    TryGetError, TryPutError,
};

const QUEUE_SIZE: usize = 5;
const SHORT: Duration = Duration::from_millis(10);

mod common;
use common::queue::{join_soon, LET_BLOCK, PATIENCE};
/// The tests that CPython runs on `Queue`, `LifoQueue` and `PriorityQueue` alike.
macro_rules! common_tests {
    ($module:ident, $Q:ident, $order:expr) => {
        mod $module {
            use super::*;

            /// test_basic (run twice on the same queue, as CPython does).
            #[test]
            fn basic() {
                let q = Arc::new($Q::new(QUEUE_SIZE));
                basic_round(&q);
                basic_round(&q);
            }

            fn basic_round(q: &Arc<$Q<i32>>) {
                assert!(q.is_empty() && !q.is_full());
                for item in [111, 333, 222] {
                    q.put(item).unwrap();
                }
                let got: Vec<i32> = (0..3).map(|_| q.get().unwrap()).collect();
                assert_eq!(got, $order, "{}", stringify!($Q));
                assert!(q.is_empty());

                for i in 0..QUEUE_SIZE as i32 - 1 {
                    q.put(i).unwrap();
                    assert!(!q.is_empty() && !q.is_full());
                }
                q.put(99).unwrap();
                assert!(q.is_full());
                assert_eq!(q.try_put(7), Err(TryPutError::Full(7)));
                assert_eq!(q.put_timeout(8, SHORT), Err(PutTimeoutError::Timeout(8)));
                assert_eq!(q.len(), QUEUE_SIZE);

                // A blocking put waits for a get in another thread.
                let got_one = Arc::new(AtomicBool::new(false));
                let getter = thread::spawn({
                    let (q, got_one) = (Arc::clone(q), Arc::clone(&got_one));
                    move || {
                        thread::sleep(LET_BLOCK);
                        got_one.store(true, Ordering::SeqCst);
                        q.get().unwrap()
                    }
                });
                q.put(100).unwrap();
                assert!(
                    got_one.load(Ordering::SeqCst),
                    "put returned before there was room"
                );
                join_soon(getter);
                // The same with a (long) timeout.
                let getter = thread::spawn({
                    let q = Arc::clone(q);
                    move || q.get().unwrap()
                });
                q.put_timeout(101, PATIENCE).unwrap();
                join_soon(getter);

                for _ in 0..QUEUE_SIZE {
                    q.get().unwrap();
                }
                assert!(q.is_empty());
                assert_eq!(q.try_get(), Err(TryGetError::Empty));
                assert_eq!(q.get_timeout(SHORT), Err(GetTimeoutError::Timeout));

                // A blocking get waits for a put in another thread.
                let putter = thread::spawn({
                    let q = Arc::clone(q);
                    move || {
                        thread::sleep(LET_BLOCK);
                        q.put(5).unwrap();
                    }
                });
                assert_eq!(q.get(), Ok(5));
                join_soon(putter);
                let putter = thread::spawn({
                    let q = Arc::clone(q);
                    move || q.put(6).unwrap()
                });
                assert_eq!(q.get_timeout(PATIENCE), Ok(6));
                join_soon(putter);
                // Balance the tasks so the second round (and join) start clean.
                while q.task_done().is_ok() {}
                assert_eq!(q.unfinished_tasks(), 0);
            }

            #[test]
            fn task_done_on_fresh_queue_is_an_error() {
                let q = $Q::<i32>::new(0);
                let err = q.task_done().unwrap_err();
                assert_eq!(err.to_string(), "task_done() called too many times");
            }

            /// test_queue_join (×2): two workers sum 0..99; join returns only after all of them.
            #[test]
            fn join_waits_for_every_task_done() {
                let q = Arc::new($Q::new(0));
                let sum = Arc::new(AtomicU64::new(0));
                let workers: Vec<_> = (0..2)
                    .map(|_| {
                        let (q, sum) = (Arc::clone(&q), Arc::clone(&sum));
                        thread::spawn(move || {
                            while let Ok(x) = q.get() {
                                if x < 0 {
                                    q.task_done().unwrap();
                                    break;
                                }
                                sum.fetch_add(x as u64, Ordering::SeqCst);
                                q.task_done().unwrap();
                            }
                        })
                    })
                    .collect();
                for round in 0..2 {
                    for i in 0..100 {
                        q.put(i).unwrap();
                    }
                    q.join();
                    assert_eq!(sum.load(Ordering::SeqCst), 4950 * (round + 1));
                }
                q.join(); // again, with nothing unfinished
                for _ in 0..2 {
                    q.put(-1).unwrap();
                }
                q.join();
                workers.into_iter().for_each(join_soon);
                assert!(q.task_done().is_err());
            }

            #[test]
            fn nowait() {
                let q = $Q::new(QUEUE_SIZE);
                for i in 0..QUEUE_SIZE {
                    q.try_put(i).unwrap();
                }
                assert!(q.try_put(9).unwrap_err().is_full());
                for _ in 0..QUEUE_SIZE {
                    q.try_get().unwrap();
                }
                assert_eq!(q.try_get(), Err(TryGetError::Empty));
            }

            #[test]
            fn zero_timeouts_do_not_block() {
                let q = $Q::new(1);
                assert_eq!(q.get_timeout(Duration::ZERO), Err(GetTimeoutError::Timeout));
                q.put_timeout(1, Duration::ZERO).unwrap();
                assert!(q.put_timeout(2, Duration::ZERO).unwrap_err().is_timeout());
                assert_eq!(q.get_deadline(Instant::now()), Ok(1));
            }

            #[test]
            fn shutdown_empty() {
                let q = $Q::new(QUEUE_SIZE);
                q.shutdown();
                assert_eq!(q.put("data"), Err(PutError("data")));
                assert_eq!(q.get(), Err(GetError));
                assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
                assert_eq!(q.get_timeout(SHORT), Err(GetTimeoutError::ShutDown));
            }

            #[test]
            fn shutdown_nonempty() {
                let q = $Q::new(QUEUE_SIZE);
                q.put("data").unwrap();
                q.shutdown();
                assert_eq!(q.get(), Ok("data"));
                assert_eq!(q.get(), Err(GetError));
            }

            #[test]
            fn shutdown_immediate() {
                let q = $Q::new(QUEUE_SIZE);
                q.put("data").unwrap();
                q.shutdown_immediate();
                assert_eq!(q.get(), Err(GetError));
                assert!(q.is_empty());
            }

            #[test]
            fn shutdown_allowed_transitions() {
                let q = $Q::<u8>::new(QUEUE_SIZE);
                assert!(!q.is_shutdown());
                q.shutdown();
                assert!(q.is_shutdown());
                q.shutdown_immediate();
                assert!(q.is_shutdown());
                q.shutdown();
                assert!(q.is_shutdown());
            }

            /// test_shutdown_all_methods_in_one_thread.
            #[test]
            fn shutdown_all_methods_in_one_thread() {
                let q = $Q::new(2);
                q.put("L").unwrap();
                q.try_put("O").unwrap();
                q.shutdown();
                assert!(q.put("E").is_err());
                assert_eq!(q.try_put("W"), Err(TryPutError::ShutDown("W")));
                assert_eq!(
                    q.put_timeout("X", SHORT),
                    Err(PutTimeoutError::ShutDown("X"))
                );
                let mut got = vec![q.get().unwrap(), q.try_get().unwrap()];
                got.sort_unstable();
                assert_eq!(got, ["L", "O"]);
                q.task_done().unwrap();
                q.task_done().unwrap();
                q.join();
                assert_eq!(q.get(), Err(GetError));
                assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
                assert_eq!(q.get_timeout(PATIENCE), Err(GetTimeoutError::ShutDown));
            }

            /// test_shutdown_immediate_all_methods_in_one_thread.
            #[test]
            fn shutdown_immediate_all_methods_in_one_thread() {
                let q = $Q::new(2);
                q.put("L").unwrap();
                q.try_put("O").unwrap();
                q.shutdown_immediate();
                assert!(q.put("E").is_err());
                assert!(q.try_put("W").unwrap_err().is_shut_down());
                assert_eq!(q.get(), Err(GetError));
                assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
                assert!(q.task_done().is_err(), "the drained items count as done");
                q.join();
            }

            /// test_shutdown_get: three getters on a full Queue(2) after a shutdown.
            #[test]
            fn shutdown_get() {
                for immediate in [false, true] {
                    let q = Arc::new($Q::new(2));
                    q.put(1).unwrap();
                    q.put(2).unwrap();
                    if immediate {
                        q.shutdown_immediate();
                    } else {
                        q.shutdown();
                    }
                    let getters: Vec<_> = (0..3)
                        .map(|_| {
                            let q = Arc::clone(&q);
                            thread::spawn(move || q.get())
                        })
                        .collect();
                    let results: Vec<_> = getters.into_iter().map(join_soon).collect();
                    let failed = results.iter().filter(|r| r.is_err()).count();
                    assert_eq!(failed, if immediate { 3 } else { 1 }, "{results:?}");
                }
            }

            /// test_shutdown_put: blocked putters on a full queue wake with the error.
            #[test]
            fn shutdown_wakes_blocked_putters() {
                for immediate in [false, true] {
                    let q = Arc::new($Q::new(1));
                    q.put(0).unwrap();
                    let putters: Vec<_> = (1..=2)
                        .map(|i| {
                            let q = Arc::clone(&q);
                            thread::spawn(move || q.put(i))
                        })
                        .collect();
                    thread::sleep(LET_BLOCK);
                    if immediate {
                        q.shutdown_immediate();
                    } else {
                        q.shutdown();
                    }
                    for p in putters {
                        assert!(join_soon(p).is_err());
                    }
                }
            }

            /// test_shutdown_pending_get: a blocked get wakes with the error.
            #[test]
            fn shutdown_wakes_blocked_getters() {
                let q = Arc::new($Q::<u8>::new(0));
                let getters: Vec<_> = (0..3)
                    .map(|_| {
                        let q = Arc::clone(&q);
                        thread::spawn(move || q.get())
                    })
                    .collect();
                let timed = thread::spawn({
                    let q = Arc::clone(&q);
                    move || q.get_timeout(PATIENCE * 3)
                });
                thread::sleep(LET_BLOCK);
                q.shutdown();
                for g in getters {
                    assert_eq!(join_soon(g), Err(GetError));
                }
                assert_eq!(join_soon(timed), Err(GetTimeoutError::ShutDown));
            }

            /// test_shutdown_join / test_shutdown_put_join.
            #[test]
            fn shutdown_and_join() {
                for immediate in [false, true] {
                    let q = Arc::new($Q::new(2));
                    q.put("Y").unwrap();
                    assert_eq!(q.unfinished_tasks(), 1);
                    let joiners: Vec<_> = (0..2)
                        .map(|_| {
                            let q = Arc::clone(&q);
                            thread::spawn(move || q.join())
                        })
                        .collect();
                    thread::sleep(LET_BLOCK);
                    if immediate {
                        q.shutdown_immediate();
                        assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
                    } else {
                        q.shutdown();
                        assert!(q.put("Z").is_err());
                        assert!(joiners.iter().all(|j| !j.is_finished()));
                        assert_eq!(q.get(), Ok("Y"));
                        q.task_done().unwrap();
                    }
                    joiners.into_iter().for_each(join_soon);
                    assert_eq!(q.unfinished_tasks(), 0);
                }
            }

            /// An immediate shutdown releases join only for the drained items: one taken and
            /// not yet done keeps it waiting (CPython's observed behaviour).
            #[test]
            fn immediate_shutdown_keeps_join_for_items_taken() {
                let q = Arc::new($Q::new(0));
                q.put(1).unwrap();
                q.put(2).unwrap();
                q.get().unwrap();
                q.shutdown_immediate();
                assert_eq!(q.unfinished_tasks(), 1);
                assert!(!q.join_timeout(SHORT));
                q.task_done().unwrap();
                assert!(q.join_timeout(SHORT));
            }

            /// test_shutdown_get_task_done_join.
            #[test]
            fn shutdown_get_task_done_join() {
                let q = Arc::new($Q::new(2));
                q.put("Y").unwrap();
                q.put("D").unwrap();
                let mut threads = Vec::new();
                for _ in 0..2 {
                    let q = Arc::clone(&q);
                    threads.push(thread::spawn(move || {
                        q.get().unwrap();
                        q.task_done().unwrap();
                    }));
                }
                for _ in 0..2 {
                    let q = Arc::clone(&q);
                    threads.push(thread::spawn(move || q.join()));
                }
                q.shutdown();
                threads.into_iter().for_each(join_soon);
            }

            /// Every item dropped exactly once: queued ones when the queue goes away or on an
            /// immediate shutdown, taken ones by their taker.
            #[test]
            fn items_are_dropped_exactly_once() {
                let token = Arc::new(());
                let q = $Q::new(0);
                for i in 0..4 {
                    q.put((i, Arc::clone(&token))).unwrap();
                }
                drop(q.get().unwrap());
                assert_eq!(Arc::strong_count(&token), 4);
                drop(q);
                assert_eq!(Arc::strong_count(&token), 1);

                let q = $Q::new(0);
                for i in 0..4 {
                    q.put((i, Arc::clone(&token))).unwrap();
                }
                q.shutdown_immediate();
                assert_eq!(Arc::strong_count(&token), 1);
            }

            #[test]
            fn debug_shows_kind_len_and_maxsize() {
                let q = $Q::new(3);
                q.put(1).unwrap();
                let s = format!("{q:?}");
                assert!(
                    s.starts_with(concat!(stringify!($Q), " { len: 1, maxsize: 3")),
                    "{s}"
                );
            }

            /// Nothing lost: P producers and C consumers through a small bounded queue; every
            /// item arrives exactly once and `join` returns only after the last `task_done`.
            #[test]
            fn producers_consumers_lose_nothing() {
                let (p, c) = (4, 4);
                let per_producer: u64 = if cfg!(debug_assertions) {
                    5_000
                } else {
                    50_000
                };
                let total = p as u64 * per_producer;
                let q = Arc::new($Q::new(16));
                let done = Arc::new(AtomicU64::new(0));
                let consumers: Vec<_> = (0..c)
                    .map(|_| {
                        let (q, done) = (Arc::clone(&q), Arc::clone(&done));
                        thread::spawn(move || {
                            let mut seen = Vec::new();
                            while let Ok(item) = q.get() {
                                seen.push(item);
                                done.fetch_add(1, Ordering::SeqCst);
                                q.task_done().unwrap();
                            }
                            seen
                        })
                    })
                    .collect();
                let producers: Vec<_> = (0..p as u64)
                    .map(|id| {
                        let q = Arc::clone(&q);
                        thread::spawn(move || {
                            for seq in 0..per_producer {
                                q.put(id << 32 | seq).unwrap();
                            }
                        })
                    })
                    .collect();
                producers.into_iter().for_each(join_soon);
                q.join();
                assert_eq!(done.load(Ordering::SeqCst), total, "join returned early");
                q.shutdown();
                let streams: Vec<Vec<u64>> = consumers.into_iter().map(join_soon).collect();
                check_exactly_once(&streams, p as u64, per_producer);
                check_per_producer_order(stringify!($Q), &streams);
            }
        }
    };
}

common_tests!(fifo, Queue, [111, 333, 222]);
common_tests!(lifo, LifoQueue, [222, 333, 111]);
common_tests!(priority, PriorityQueue, [111, 222, 333]);

/// Every (producer, seq) pair arrives once: count, checksum and a set.
fn check_exactly_once(streams: &[Vec<u64>], producers: u64, per_producer: u64) {
    let all: Vec<u64> = streams.iter().flatten().copied().collect();
    assert_eq!(all.len() as u64, producers * per_producer, "count");
    let sum: u64 = all
        .iter()
        .map(|x| (x >> 32) * per_producer + (x & 0xffff_ffff))
        .sum();
    let n = producers * per_producer;
    assert_eq!(sum, n * (n - 1) / 2, "checksum");
    let distinct: HashSet<u64> = all.iter().copied().collect();
    assert_eq!(distinct.len(), all.len(), "duplicates");
}

/// For the FIFO queue, each consumer sees each producer's items in the order they were put.
fn check_per_producer_order(kind: &str, streams: &[Vec<u64>]) {
    if kind != "Queue" {
        return;
    }
    for stream in streams {
        let mut last = std::collections::HashMap::new();
        for x in stream {
            let (id, seq) = (x >> 32, x & 0xffff_ffff);
            if let Some(prev) = last.insert(id, seq) {
                assert!(prev < seq, "producer {id}: {seq} after {prev}");
            }
        }
    }
}

/// Single thread: a queue of one producer's items is handed out in the exact FIFO order.
#[test]
fn fifo_order_one_producer_one_consumer() {
    let q = Arc::new(Queue::new(8));
    let producer = thread::spawn({
        let q = Arc::clone(&q);
        move || {
            for i in 0..20_000u32 {
                q.put(i).unwrap();
            }
        }
    });
    for i in 0..20_000u32 {
        assert_eq!(q.get(), Ok(i));
    }
    join_soon(producer);
}

/// A bound too large to allocate up front (the locked deque) behaves as any other.
#[test]
fn enormous_maxsize_is_fine() {
    let q = Queue::new(usize::MAX);
    q.put(1).unwrap();
    assert!(!q.is_full());
    assert_eq!(q.maxsize(), usize::MAX);
    assert_eq!(q.get(), Ok(1));
}
