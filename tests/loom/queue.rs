//! `Queue` (module `fifo`) and `LifoQueue` (module `lifo`; `PriorityQueue` has the same core):
//! nothing lost or duplicated through a bounded queue of size 1 (two producers, one
//! consumer, per-producer order kept), `join` returns only after the last `task_done`, shutdown
//! wakes a blocked getter and a blocked putter; and the witness models (issue 10): every `get`,
//! blocked `put` and `join` that returns, waited on again, is owed a put, a get, every
//! `task_done`; a put racing `shutdown` / `shutdown_immediate` is refused or delivered, never lost.
//!
//! Under `--cfg loom` a `Queue`'s stores are the real ones: a bounded queue's ring
//! (`src/queue/ring.rs`) and an unbounded queue's chain of rings (`src/queue/chain.rs`, whose
//! first ring has one slot under loom, so that a second put grows it), on loom's atomics and
//! `UnsafeCell`. The models with `Queue::new(1)` / `new(2)` check the ring and the core's ring
//! path (the tail word as put count and flag word, no `begun`, no putting flag); those with
//! `Queue::new(0)` the same path over the chain, and the `chain_*` models its growth. The
//! models with `Queue::new(UNRINGED)` (a bound above the ring's limit: a locked deque) check
//! the core's other protocol (`begun`/`finished`, the putting flags and the wait for puts in
//! flight), which a resized queue's second store also uses.
//!
//! `LifoQueue` runs the same models over its own core (`src/queue/locked_core.rs`: everything
//! behind one lock, sleeper counts read under it, the lock given up only once the sleeper is
//! queued on its key); its store is the real one.
//!
//! Mutants (`--cfg threadkit_mutant=...`, loom only; `.ci/loom.sh --mutants`): `queue_wake_early`
//! (a put wakes the getter before storing), `queue_no_flight_wait` (shutdown and a shut-down get
//! do not wait for puts in flight), `queue_join_trusts_wake` (joiners woken at every
//! `task_done`, and a woken `join` returns without re-checking): each fails these models.
//! `queue_locked_unlock_early` (the locked core gives its lock up before the sleeper is queued on
//! its key, so a waker's unpark can come in between) fails `lifo::get_returns_only_what_was_put`.
//! `queue_flag_late` (a put raises its putting flag after its step on `begun`) fails
//! `fifo::put_racing_shutdown_is_refused_or_delivered`. `queue_unslotted_uncounted` (a put
//! made without a flag, from a thread-local destructor, is not counted in flight) fails
//! `fifo::flagless_put_racing_shutdown_is_refused_or_delivered`. The ring's mutants
//! (`ring_*`, listed in `.ci/loom.sh` with the models that catch each) fail the `fifo::ring_*`
//! models and `fifo::raised_bound_wakes_a_blocked_putter`.

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use threadkit::queue::{GetError, LifoQueue, Queue};

use crate::support::{assert_nobody_parked, model};

/// Runs `put` on `q` in a thread of its own; the handle returns whether the put succeeded.
fn spawn_put<Q: Send + Sync + 'static>(
    q: &Arc<Q>,
    put: fn(&Q) -> bool,
) -> thread::JoinHandle<bool> {
    let q = Arc::clone(q);
    thread::spawn(move || put(&q))
}

/// The body of the put-racing-`shutdown` models: `$put` (run in a thread of its own, returning
/// whether the put succeeded) races `shutdown`; the put's own result is the witness: a put that
/// succeeded is owed its item in the `get` after the shutdown, a failed one must not show up.
macro_rules! racing_shutdown {
    ($Q:ident, $put:expr) => {
        racing_shutdown!($Q, 0, $put)
    };
    ($Q:ident, $maxsize:expr, $put:expr) => {
        model(|| {
            let q = Arc::new($Q::new($maxsize));
            let putter = spawn_put(&q, $put);
            q.shutdown();
            let got = q.get();
            let put_ok = putter.join().unwrap();
            match got {
                Ok(item) => assert!(put_ok && item == 7),
                Err(GetError) => assert!(!put_ok, "a put succeeded but its item was never got"),
            }
            assert_eq!(q.get(), Err(GetError));
            assert_nobody_parked();
        })
    };
}

/// The body of the put-racing-`shutdown_immediate` models: afterwards nothing is queued and no
/// task is unfinished, whether the put won or lost.
macro_rules! racing_immediate_shutdown {
    ($Q:ident, $put:expr) => {
        racing_immediate_shutdown!($Q, 0, $put)
    };
    ($Q:ident, $maxsize:expr, $put:expr) => {
        model(|| {
            let q = Arc::new($Q::new($maxsize));
            let putter = spawn_put(&q, $put);
            q.shutdown_immediate();
            let after_shutdown = q.len();
            putter.join().unwrap();
            assert_eq!(after_shutdown, 0, "an item outlived the immediate shutdown");
            assert_eq!(q.len(), 0, "an item landed after the immediate shutdown");
            assert_eq!(q.unfinished_tasks(), 0);
            assert_eq!(q.get(), Err(GetError));
            assert_nobody_parked();
        })
    };
}

/// The models, over the queue type `$Q`.
macro_rules! models {
    ($Q:ident) => {
        /// Two producers through `new(1)`, the model's main thread consuming: producer A puts
        /// 1 then 2, producer B puts 3. Every `put` past the first blocks until the consumer makes room,
        /// and every `get` may block until a producer puts: each item arrives exactly once, A's in order.
        #[test]
        fn two_producers_one_consumer_size_one_nothing_lost() {
            model(|| {
                let q = Arc::new($Q::new(1));
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
                let q = Arc::new($Q::new(0));
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
                let q = Arc::new($Q::<i32>::new(0));
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
                let q = Arc::new($Q::new(1));
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

        // ----- Witness models (issue 10): a wake-up means what it says. -----
        //
        // Each wait below is waited on, consumed, and waited on again, and every return is checked
        // against a count of the operations that could have released it: a `get` that returns is owed a
        // put, a `put` that returns from a full queue is owed a get, a `join` that returns is owed every
        // `task_done`. The counts are raised *before* the releasing call, so they are an upper bound on
        // what has been released: a wait that returns beyond them returned for nothing.

        /// Consumer waits, takes, waits again: the k-th `get` returns item k, and only once at least k
        /// puts have begun. Size 1, so the producer waits for room in between.
        #[test]
        fn get_returns_only_what_was_put() {
            model(|| {
                let q = Arc::new($Q::new(1));
                let puts_begun = Arc::new(AtomicUsize::new(0));
                let producer = {
                    let (q, puts_begun) = (Arc::clone(&q), Arc::clone(&puts_begun));
                    thread::spawn(move || {
                        for i in 1..=2 {
                            puts_begun.fetch_add(1, Ordering::SeqCst);
                            q.put(i).unwrap();
                        }
                    })
                };
                for k in 1..=2 {
                    let item = q.get().unwrap();
                    assert!(
                        k <= puts_begun.load(Ordering::SeqCst),
                        "get #{k} returned before its put began"
                    );
                    assert_eq!(item, k, "lost, duplicated or reordered");
                }
                producer.join().unwrap();
                assert!(q.is_empty());
                assert_nobody_parked();
            });
        }

        /// Producer fills a queue of size 1 and waits, is given room, waits again: its k-th blocked
        /// `put` returns only once at least k gets have begun (each put beyond the first needs room).
        #[test]
        fn blocked_put_returns_only_for_room() {
            model(|| {
                let q = Arc::new($Q::new(1));
                let gets_begun = Arc::new(AtomicUsize::new(0));
                q.put(0).unwrap();
                let producer = {
                    let (q, gets_begun) = (Arc::clone(&q), Arc::clone(&gets_begun));
                    thread::spawn(move || {
                        for k in 1..=2 {
                            q.put(k).unwrap();
                            assert!(
                                gets_begun.load(Ordering::SeqCst) >= k,
                                "put #{k} returned from a full queue with no get to make room"
                            );
                            assert!(q.len() <= 1, "more items than maxsize");
                        }
                    })
                };
                let got: Vec<usize> = (0..3)
                    .map(|_| {
                        gets_begun.fetch_add(1, Ordering::SeqCst);
                        q.get().unwrap()
                    })
                    .collect();
                producer.join().unwrap();
                assert_eq!(got, [0, 1, 2]);
                assert_nobody_parked();
            });
        }

        /// `join`, more work, `join` again: each return is owed every `task_done` for the items put
        /// before it (counted before each `task_done`), and the unfinished count is then zero. The first
        /// `join` waits for two tasks, so a joiner woken by the first `task_done` must wait on.
        #[test]
        fn join_returns_only_when_every_task_is_done() {
            model(|| {
                let q = Arc::new($Q::new(0));
                let done = Arc::new(AtomicUsize::new(0));
                let worker = {
                    let (q, done) = (Arc::clone(&q), Arc::clone(&done));
                    thread::spawn(move || {
                        for _ in 0..3 {
                            q.get().unwrap();
                            done.fetch_add(1, Ordering::SeqCst);
                            q.task_done().unwrap();
                        }
                    })
                };
                let mut put = 0;
                for (round, items) in [(1, 2), (2, 1)] {
                    for _ in 0..items {
                        put += 1;
                        q.put(put).unwrap();
                    }
                    q.join();
                    assert_eq!(
                        done.load(Ordering::SeqCst),
                        put,
                        "join #{round} returned before the task_done it waits for"
                    );
                    assert_eq!(q.unfinished_tasks(), 0);
                }
                worker.join().unwrap();
                assert_nobody_parked();
            });
        }

        /// A put racing `shutdown`: it either fails, or its item is still there for a `get` after the
        /// shutdown (a `get` never answers "shut down" while a put that began before it is in flight).
        #[test]
        fn put_racing_shutdown_is_refused_or_delivered() {
            racing_shutdown!($Q, |q: &$Q<i32>| q.put(7).is_ok());
        }

        /// A put racing `shutdown_immediate`: afterwards nothing is queued and no task is unfinished,
        /// whether the put won or lost (the drain waits for a put in flight).
        #[test]
        fn put_racing_immediate_shutdown_leaves_nothing() {
            racing_immediate_shutdown!($Q, |q: &$Q<i32>| q.put(7).is_ok());
        }
    };
}

mod fifo {
    use super::*;
    use threadkit::queue::__loom_puts_as_if_exiting as as_if_exiting;
    models!(Queue);

    /// A bound above the ring's limit (`RING_LIMIT` in `src/queue/fifo.rs`): the queue keeps
    /// its items in a locked deque, whose puts go through `begun` and the putting flags.
    const UNRINGED: usize = (1 << 16) + 1;

    /// A put through `begun` and its putting flag racing `shutdown`: refused, or its item is
    /// there for the `get` after the shutdown.
    #[test]
    fn unringed_put_racing_shutdown_is_refused_or_delivered() {
        racing_shutdown!(Queue, UNRINGED, |q: &Queue<i32>| q.put(7).is_ok());
    }

    /// A put through `begun` racing `shutdown_immediate`: nothing queued, no task unfinished.
    #[test]
    fn unringed_put_racing_immediate_shutdown_leaves_nothing() {
        racing_immediate_shutdown!(Queue, UNRINGED, |q: &Queue<i32>| q.put(7).is_ok());
    }

    /// A put made without a putting flag (as from a thread-local destructor at thread exit,
    /// counted in the queue's `unslotted` word instead) racing `shutdown`: refused, or its item
    /// is there for the `get` after the shutdown.
    #[test]
    fn flagless_put_racing_shutdown_is_refused_or_delivered() {
        racing_shutdown!(Queue, UNRINGED, |q: &Queue<i32>| as_if_exiting(|| q
            .put(7)
            .is_ok()));
    }

    /// A flagless put racing `shutdown_immediate`: nothing queued and no task unfinished after it.
    #[test]
    fn flagless_put_racing_immediate_shutdown_leaves_nothing() {
        racing_immediate_shutdown!(Queue, UNRINGED, |q: &Queue<i32>| as_if_exiting(|| q
            .put(7)
            .is_ok()));
    }

    /// `set_maxsize` racing a producer's two puts into an unbounded queue, then gets of both
    /// (in one thread of their own; the producer is the main thread): a put that began before
    /// the resize may still be on its way into the old store while the producer's next put
    /// lands in the new one; the get must not take the second before the first (the old store
    /// is retired before the new one is used). Shaped so that the interleaving that shows the
    /// bug needs two preemptions (the default bound), and so that at most one thread at a time
    /// waits for the old store's puts in flight: loom cannot finish exploring two threads that
    /// spin (yielding) for a third (they may yield to each other for ever).
    fn resize_racing_puts(flagless: bool, maxsize: usize) {
        model(move || {
            let q = Arc::new(Queue::new(maxsize));
            let resizer = {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    q.set_maxsize(5);
                    [q.get().unwrap(), q.get().unwrap()]
                })
            };
            let puts = || {
                q.put(1).unwrap();
                q.put(2).unwrap();
            };
            if flagless {
                as_if_exiting(puts);
            } else {
                puts();
            }
            let got = resizer.join().unwrap();
            assert_eq!(
                got,
                [1, 2],
                "a producer's items reordered across the resize"
            );
            assert_eq!(q.unfinished_tasks(), 2);
            assert_nobody_parked();
        });
    }

    #[test]
    fn resize_racing_puts_keeps_each_producers_order() {
        resize_racing_puts(false, UNRINGED);
    }

    /// The same with puts made without a putting flag (counted in `unslotted`).
    #[test]
    fn resize_racing_flagless_puts_keeps_each_producers_order() {
        resize_racing_puts(true, UNRINGED);
    }

    /// One item queued; a producer's `try_put` races `set_maxsize(2)` and the main thread's own
    /// `try_put` after it. Witness: the bound in force at each put. Exactly one of the two puts
    /// fits (before the resize the old store is unbounded, after it the item already queued
    /// counts), so the queue ends with 2 items and 2 tasks, never 3.
    #[test]
    fn resize_bound_counts_what_the_old_store_holds() {
        model(|| {
            let q = Arc::new(Queue::new(UNRINGED));
            q.put(1).unwrap();
            let producer = spawn_put(&q, |q: &Queue<i32>| q.try_put(2).is_ok());
            q.set_maxsize(2);
            let mine = q.try_put(3).is_ok();
            let theirs = producer.join().unwrap();
            assert_eq!(
                q.len(),
                2,
                "the queue went past its bound (or refused a put with room)"
            );
            assert!(
                mine != theirs,
                "both or neither of the puts fit: {mine} {theirs}"
            );
            assert_eq!(
                q.unfinished_tasks(),
                2,
                "a refused put was counted as a task"
            );
            assert_nobody_parked();
        });
    }

    /// A producer's two puts, `set_maxsize` in a second thread and two gets in a third (review
    /// of issue 15, M1: the getter is not the resizer): the gets return 1 then 2. A get that
    /// took from the second store having found the ring empty before the ring was retired
    /// could return 2 while 1 was still on its way into the ring. Getters never wait for puts in
    /// flight (before the fix they did, and loom could not finish exploring this model: two
    /// threads yielding while they wait for a third). Witness: the items got, in order.
    #[test]
    fn resize_in_a_third_thread_keeps_the_getters_order() {
        model(|| {
            let q = Arc::new(Queue::new(UNRINGED));
            let producer = {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    q.put(1).unwrap();
                    q.put(2).unwrap();
                })
            };
            let resizer = {
                let q = Arc::clone(&q);
                thread::spawn(move || q.set_maxsize(5))
            };
            let got = [q.get().unwrap(), q.get().unwrap()];
            producer.join().unwrap();
            resizer.join().unwrap();
            assert_eq!(
                got,
                [1, 2],
                "a producer's items reordered across the resize"
            );
            assert_eq!(q.unfinished_tasks(), 2);
            assert_nobody_parked();
        });
    }

    /// One item queued in an unbounded queue; a producer's `try_put` races `set_maxsize(1)`.
    /// Once `set_maxsize` has returned, the new bound is in force: the producer's put either
    /// landed before (the length read right after the call counts it: 2) or is held to the
    /// bound of 1 (refused). Witness: that length, and whether the put succeeded.
    #[test]
    fn new_bound_in_force_when_set_maxsize_returns() {
        model(|| {
            let q = Arc::new(Queue::new(UNRINGED));
            q.put(0).unwrap();
            let producer = spawn_put(&q, |q: &Queue<i32>| q.try_put(1).is_ok());
            q.set_maxsize(1);
            let len_after = q.len();
            let put_ok = producer.join().unwrap();
            assert!(
                !put_ok || len_after == 2,
                "a put landed after set_maxsize(1) returned with 1 item queued"
            );
            assert_eq!(q.len(), 1 + usize::from(put_ok));
            assert_eq!(q.unfinished_tasks(), 1 + usize::from(put_ok));
        });
    }

    /// A put into a resized queue's second store (its flag holds the queue's address `| 1`, or
    /// it is counted in `unslotted_resized`) racing `shutdown`: refused, or its item is there
    /// for the `get` after the shutdown (the wait for puts in flight sees it). Witness: the put's
    /// result against what the gets return.
    fn resized_put_racing_shutdown(flagless: bool) {
        model(move || {
            let q = Arc::new(Queue::new(UNRINGED));
            q.set_maxsize(5);
            let putter = if flagless {
                spawn_put(&q, |q: &Queue<i32>| as_if_exiting(|| q.put(7).is_ok()))
            } else {
                spawn_put(&q, |q: &Queue<i32>| q.put(7).is_ok())
            };
            q.shutdown();
            let got = q.get();
            let put_ok = putter.join().unwrap();
            match got {
                Ok(item) => assert!(put_ok && item == 7, "got {item}, put_ok {put_ok}"),
                Err(GetError) => assert!(!put_ok, "a put succeeded but its item was never got"),
            }
            assert_eq!(q.get(), Err(GetError));
        });
    }

    #[test]
    fn resized_put_racing_shutdown_is_refused_or_delivered() {
        resized_put_racing_shutdown(false);
    }

    /// The same with a put made without a putting flag (counted in `unslotted`, then in
    /// `unslotted_resized`).
    #[test]
    fn resized_flagless_put_racing_shutdown_is_refused_or_delivered() {
        resized_put_racing_shutdown(true);
    }

    /// A putter asleep on a full queue of 1 is woken by `set_maxsize(2)` and returns with no get
    /// made (witness: the item count, 2, and nobody left parked).
    #[test]
    fn raised_bound_wakes_a_blocked_putter() {
        model(|| {
            let q = Arc::new(Queue::new(1));
            q.put(1).unwrap();
            let putter = spawn_put(&q, |q: &Queue<i32>| q.put(2).is_ok());
            q.set_maxsize(2);
            assert!(putter.join().unwrap());
            assert_eq!(q.len(), 2);
            assert_eq!((q.get(), q.get()), (Ok(1), Ok(2)));
            assert_nobody_parked();
        });
    }

    // ----- The ring (`src/queue/ring.rs`): a bounded `Queue`'s store, whose tail word counts
    // the puts and carries the shut-down and resized flags. -----

    /// A put into the ring racing `shutdown`: refused (the flag, read in the step that would
    /// claim its slot), or its item is there for the `get` after the shutdown; never delivered
    /// after a get answered "shut down". Witness: the put's own result against the gets.
    #[test]
    fn ring_put_racing_shutdown_is_refused_or_delivered() {
        racing_shutdown!(Queue, 2, |q: &Queue<i32>| q.put(7).is_ok());
    }

    /// A put into the ring racing `shutdown_immediate`: nothing queued, no task unfinished.
    #[test]
    fn ring_put_racing_immediate_shutdown_leaves_nothing() {
        racing_immediate_shutdown!(Queue, 2, |q: &Queue<i32>| q.put(7).is_ok());
    }

    /// A producer's two puts through a ring of 1, a consumer getting and finishing each: while
    /// the consumer holds an item, `unfinished_tasks` counts it (at least 1), and never more
    /// than the puts begun less the tasks done (counted before each put and after each
    /// `task_done`): the ring's count of puts is its tail position, laps × capacity + index.
    #[test]
    fn ring_unfinished_tasks_cover_what_a_getter_holds() {
        model(|| {
            let q = Arc::new(Queue::new(1));
            let begun = Arc::new(AtomicUsize::new(0));
            let producer = {
                let (q, begun) = (Arc::clone(&q), Arc::clone(&begun));
                thread::spawn(move || {
                    for i in 1..=2 {
                        begun.fetch_add(1, Ordering::SeqCst);
                        q.put(i).unwrap();
                    }
                })
            };
            for done in 0..2 {
                assert_eq!(q.get(), Ok(done + 1));
                let unfinished = q.unfinished_tasks();
                assert!(unfinished >= 1, "a held item's task is not counted");
                let most = begun.load(Ordering::SeqCst) - done as usize;
                assert!(
                    unfinished <= most,
                    "{unfinished} tasks, at most {most} unfinished"
                );
                q.task_done().unwrap();
            }
            producer.join().unwrap();
            assert_eq!(q.unfinished_tasks(), 0);
            assert!(q.task_done().is_err());
        });
    }

    /// `set_maxsize` racing a producer's two puts into a ring of 2 (the first may still be
    /// claimed and unstamped when the second, refused by the resized flag, goes to the second
    /// store): the gets return 1 then 2.
    #[test]
    fn ring_resize_racing_puts_keeps_each_producers_order() {
        resize_racing_puts(false, 2);
    }

    /// A producer's three `try_put`s into a ring of 1 racing a consumer's two `try_get`s: an
    /// item refused as full is handed back whole, and exactly the items whose put returned `Ok`
    /// come out, once each, in order. Witness: the puts' results against the items got.
    #[test]
    fn ring_full_never_loses_an_item() {
        model(|| {
            let q = Arc::new(Queue::new(1));
            let producer = {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    let mut stored = Vec::new();
                    for i in 1..=3 {
                        match q.try_put(i) {
                            Ok(()) => stored.push(i),
                            Err(e) => {
                                assert!(e.is_full());
                                assert_eq!(e.into_inner(), i, "the refused item changed");
                            }
                        }
                    }
                    stored
                })
            };
            let mut got: Vec<i32> = (0..2).filter_map(|_| q.try_get().ok()).collect();
            let stored = producer.join().unwrap();
            got.extend(std::iter::from_fn(|| q.try_get().ok()));
            assert_eq!(got, stored, "lost, duplicated or reordered");
            assert_eq!(
                q.unfinished_tasks(),
                stored.len(),
                "a refused put was counted"
            );
            assert!(q.is_empty());
        });
    }

    /// One thread: three puts into a ring, one get, then `task_done` four times. The first
    /// three are owed (Python counts puts, not gets: `task_done` may run for items still
    /// queued), the fourth is not. Witness: each result. `task_done` checks its bound against
    /// the gets first (the consumers' words), which lag the tasks done here.
    #[test]
    fn task_done_past_the_gets_stops_at_the_puts() {
        model(|| {
            for maxsize in [4, 0] {
                let q = Queue::new(maxsize);
                for i in 0..3 {
                    q.put(i).unwrap();
                }
                assert_eq!(q.get(), Ok(0));
                for _ in 0..3 {
                    q.task_done().unwrap();
                }
                assert!(q.task_done().is_err(), "a task done beyond the puts");
                assert_eq!(q.unfinished_tasks(), 0);
            }
        });
    }

    // ----- The chain (`src/queue/chain.rs`): an unbounded `Queue`'s store, rings that grow;
    // under loom the first ring has one slot, so a second put seals it and links a second. -----

    /// `set_maxsize` racing a producer whose second put grows the chain: the gets return 1
    /// then 2.
    #[test]
    fn chain_resize_racing_puts_keeps_each_producers_order() {
        resize_racing_puts(false, 0);
    }

    /// One item fills the first ring; a producer's put grows the chain (seals the first ring,
    /// links a second) while the main thread gets twice (the second get may sleep). Witness:
    /// the items got, in order, and the tasks counted (the second ring's count starts after the
    /// first ring's puts): 2. No one is left asleep.
    #[test]
    fn chain_get_follows_the_growth() {
        model(|| {
            let q = Arc::new(Queue::new(0));
            q.put(1).unwrap();
            let producer = spawn_put(&q, |q: &Queue<i32>| q.put(2).is_ok());
            assert_eq!(q.get(), Ok(1));
            assert_eq!(q.get(), Ok(2), "the item in the second ring was not got");
            assert!(producer.join().unwrap());
            assert_eq!(
                q.unfinished_tasks(),
                2,
                "a ring's puts counted without the rings before"
            );
            assert!(q.is_empty());
            assert_nobody_parked();
        });
    }

    /// A put that grows the chain racing `shutdown`: refused, or delivered; and once `shutdown`
    /// has returned, a put by the same thread is refused, whichever ring the producers' hint
    /// points to (the flag reaches the last ring). Witness: the puts' results against the gets.
    #[test]
    fn chain_growth_racing_shutdown_leaves_no_ring_open() {
        model(|| {
            let q = Arc::new(Queue::new(0));
            q.put(1).unwrap();
            let producer = spawn_put(&q, |q: &Queue<i32>| q.put(2).is_ok());
            q.shutdown();
            assert!(
                q.try_put(3).is_err(),
                "a put succeeded after shutdown returned"
            );
            let put_ok = producer.join().unwrap();
            assert_eq!(q.get(), Ok(1));
            match q.get() {
                Ok(item) => assert!(put_ok && item == 2, "got {item}, put_ok {put_ok}"),
                Err(GetError) => assert!(!put_ok, "a put succeeded but its item was never got"),
            }
            assert_eq!(q.get(), Err(GetError));
            assert_nobody_parked();
        });
    }

    /// A put in its own thread grows the chain (seals the first ring, links a second) while
    /// `set_maxsize` runs in a second thread; the main thread puts 1, joins the grower (its put
    /// is over), and puts 2. A put refused for the resize by the sealed first ring goes to the
    /// second store; the same thread's next put must not land in the second ring (gets take the
    /// rings first). Witness: 1 got before 2. (From the chain's review, which found that only
    /// shutdown's side of the refused put's help was modelled. The putter joins the grower
    /// rather than spinning on a flag: the spin made this the slowest model, ~100 s.)
    #[test]
    fn chain_resize_refusal_keeps_the_producers_order() {
        model(|| {
            let q = Arc::new(Queue::new(0));
            q.put(0).unwrap();
            let grower = {
                let q = Arc::clone(&q);
                thread::spawn(move || q.put(10).unwrap())
            };
            let resizer = {
                let q = Arc::clone(&q);
                thread::spawn(move || q.set_maxsize(5))
            };
            q.put(1).unwrap();
            grower.join().unwrap();
            q.put(2).unwrap();
            resizer.join().unwrap();
            let got: Vec<i32> = (0..4).map(|_| q.get().unwrap()).collect();
            let at = |x| got.iter().position(|&g| g == x).unwrap();
            assert!(at(1) < at(2), "a producer's items reordered: {got:?}");
        });
    }

    /// A put that grows the chain and `shutdown` (each in a thread of its own) racing the main
    /// thread's two `try_put`s: once a put is refused for the shutdown, the thread's next put
    /// is refused too, even when the refusal came from a sealed ring that the shutdown's flag
    /// reached before the ring after it. Witness: the two results, in order.
    #[test]
    fn chain_put_refused_for_shutdown_stays_refused() {
        model(|| {
            let q = Arc::new(Queue::new(0));
            q.put(1).unwrap();
            let producer = spawn_put(&q, |q: &Queue<i32>| q.put(2).is_ok());
            let shutter = {
                let q = Arc::clone(&q);
                thread::spawn(move || q.shutdown())
            };
            let first = q.try_put(3);
            let second = q.try_put(4);
            assert!(
                !(first.is_err() && second.is_ok()),
                "a put succeeded after one was refused for the shutdown"
            );
            producer.join().unwrap();
            shutter.join().unwrap();
        });
    }
}

mod lifo {
    use super::*;
    models!(LifoQueue);

    /// The locked core's `set_maxsize` (`LifoQueue`'s and `PriorityQueue`'s): a putter asleep
    /// on a full queue of 1 is woken by `set_maxsize(2)` and returns with no get made. Witness:
    /// the item count, 2, the items in last-in-first-out order, and nobody left parked (a
    /// wake-up left out leaves the putter asleep for ever: loom reports the deadlock).
    #[test]
    fn raised_bound_wakes_a_blocked_putter() {
        model(|| {
            let q = Arc::new(LifoQueue::new(1));
            q.put(1).unwrap();
            let putter = spawn_put(&q, |q: &LifoQueue<i32>| q.put(2).is_ok());
            q.set_maxsize(2);
            assert!(putter.join().unwrap());
            assert_eq!(q.len(), 2);
            assert_eq!((q.get(), q.get()), (Ok(2), Ok(1)));
            assert_nobody_parked();
        });
    }
}
