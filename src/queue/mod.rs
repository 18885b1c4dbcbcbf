//! Python's `queue` module: [`Queue`], [`LifoQueue`], [`PriorityQueue`] and [`SimpleQueue`].
//!
//! Queues move items between threads. [`Queue`] hands them out first in, first out;
//! [`LifoQueue`] last in, first out; [`PriorityQueue`] smallest first (ties in the order they were
//! put). The three take a `maxsize` (0 means unbounded): `put` on a full queue waits for room and
//! `get` on an empty one waits for an item, or gives up at once (`try_`), after a timeout
//! (`_timeout`) or at a deadline (`_deadline`). They count the items put and not yet marked done
//! with `task_done`, so that `join` can wait until everything put has been processed, and they can
//! be shut down (Python 3.13), which makes `put` fail and, once the queue is drained, `get` too.
//! [`SimpleQueue`] is the bare unbounded FIFO: no `maxsize`, no task counting, no shutdown.
//!
//! ```
//! use std::sync::Arc;
//! use threadkit::queue::Queue;
//!
//! let jobs = Arc::new(Queue::new(0));
//! let worker = std::thread::spawn({
//!     let jobs = Arc::clone(&jobs);
//!     move || {
//!         let mut total = 0;
//!         // `get` fails once the queue is shut down and empty.
//!         while let Ok(n) = jobs.get() {
//!             total += n;
//!             jobs.task_done().unwrap();
//!         }
//!         total
//!     }
//! });
//! for n in 1..=10 {
//!     jobs.put(n).unwrap();
//! }
//! jobs.join(); // every item has had its task_done
//! jobs.shutdown();
//! assert_eq!(worker.join().unwrap(), 55);
//! ```
//!
//! # From Python
//!
//! | Python `queue` | threadkit |
//! |---|---|
//! | `Queue(maxsize)`, `LifoQueue(maxsize)`, `PriorityQueue(maxsize)`, `SimpleQueue()` | [`Queue::new`], [`LifoQueue::new`], [`PriorityQueue::new`], [`SimpleQueue::new`] |
//! | `q.put(x)` / `put(x, block=False)`, `put_nowait(x)` / `put(x, timeout=t)` | [`put`](Queue::put) / [`try_put`](Queue::try_put) / [`put_timeout`](Queue::put_timeout), [`put_deadline`](Queue::put_deadline) |
//! | `q.get()` / `get(block=False)`, `get_nowait()` / `get(timeout=t)` | [`get`](Queue::get) / [`try_get`](Queue::try_get) / [`get_timeout`](Queue::get_timeout), [`get_deadline`](Queue::get_deadline) |
//! | `qsize()`, `empty()`, `full()`, `maxsize` | [`len`](Queue::len), [`is_empty`](Queue::is_empty), [`is_full`](Queue::is_full), [`maxsize`](Queue::maxsize) |
//! | `task_done()`, `join()`, `unfinished_tasks` | [`task_done`](Queue::task_done), [`join`](Queue::join) (+ [`join_timeout`](Queue::join_timeout)), [`unfinished_tasks`](Queue::unfinished_tasks) |
//! | `try: ... finally: q.task_done()` | [`let _done = q.task_guard();`](Queue::task_guard) ([`TaskDone`]) |
//! | `shutdown()`, `shutdown(immediate=True)`, `is_shutdown` | [`shutdown`](Queue::shutdown), [`shutdown_immediate`](Queue::shutdown_immediate), [`is_shutdown`](Queue::is_shutdown) |
//! | `queue.Full`, `queue.Empty`, `queue.ShutDown` | [`TryPutError::Full`], [`TryGetError::Empty`] (and the `Timeout` variants), the `ShutDown` variants, [`PutError`], [`GetError`] |
//!
//! # Differences from Python, for all the queues
//!
//! - What Python raises is returned as an error that hands a rejected item back.
//! - `q.maxsize = n` is `set_maxsize(n)`, and it wakes the putters waiting for room so that
//!   those the new bound lets in go ahead (CPython's assignment wakes nobody: a waiting putter
//!   waits for the next `get` even when the new bound leaves room). A [`Queue`] whose bound was
//!   changed moves its items to a store behind a lock (its lock-free ring cannot change size):
//!   from then on it costs what a [`LifoQueue`] does; one never resized pays nothing for it.
//! - A [`Duration`](std::time::Duration) cannot be negative, so the `ValueError` for a negative
//!   timeout cannot happen; a timeout too large for the clock means "wait forever".
//! - The store cannot be customised by overriding `_put`/`_get`; pick the queue type instead.
//! - Waits are not interrupted by signals.
//!
//! # How they are built
//!
//! [`Queue`] and [`SimpleQueue`] are a store of items (`store.rs`: what a store must promise)
//! under a lock-free core (`core.rs`) that does the waiting, the task accounting and the
//! shutdown. They keep their items in a lock-free ring of the crate's own (bounded; preallocated,
//! Vyukov's algorithm as crossbeam's `ArrayQueue`, with the queue's put count and shut-down and
//! resized flags in its tail word: `ring.rs`) or a chain of such rings, each twice the size of
//! the one before, the last one's tail word counting and flagged in the same way (unbounded:
//! `chain.rs`), so producers and consumers share no lock and no cache line but the slots
//! themselves (`fifo.rs`). Getters, putters and joiners park on keys of their own in the crate's
//! parking layer, each kind with a count of sleepers, so a `put` or `get` with nobody waiting
//! makes no system call; before parking, a blocked `get` or `put` spins and yields briefly
//! (`spin.rs`). A `put` is
//! counted, and checked against shutdown, by the one compare-and-swap that claims its slot.
//! Only a queue bounded above 65,536 items (a deque behind a lock) or one whose bound was
//! changed counts its puts on a cache line only producers write and raises a per-thread
//! "putting" flag (`putting.rs`) that the rare paths of a shutdown scan. Consumers write no
//! producer word but in `task_done`. The protocol is described in `core.rs`.
//!
//! [`LifoQueue`] and [`PriorityQueue`] keep a vector or a heap behind one
//! [`Lock`](crate::Lock), and with it everything else (task count, shutdown flag, sleeper
//! counts): the condition-variable design of CPython's `queue.Queue` and of a Rust `Mutex` +
//! `Condvar` buffer, with no atomic beside the lock (`locked_core.rs`).

#[macro_use]
mod api;
#[macro_use]
mod api_tasks;
#[macro_use]
mod locked_core;
mod chain;
mod core;
mod error;
mod fifo;
mod guard;
mod lifo;
mod locked;
mod priority;
mod putting;
mod resize;
mod ring;
mod simple;
mod spin;
mod store;
mod tasks;

pub use error::{
    GetError, GetTimeoutError, PutError, PutTimeoutError, TaskDoneError, TryGetError, TryPutError,
};
pub use fifo::Queue;
pub use guard::TaskDone;
pub use lifo::LifoQueue;
pub use priority::PriorityQueue;
pub use simple::SimpleQueue;

/// Loom models only (`tests/loom/queue.rs`): puts made as if from a thread-local destructor.
#[cfg(loom)]
#[doc(hidden)]
pub use putting::as_if_exiting as __loom_puts_as_if_exiting;
