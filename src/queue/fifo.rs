//! [`Queue`]: Python's `queue.Queue`, and [`Fifo`], the first-in, first-out store it shares
//! with [`SimpleQueue`](super::SimpleQueue).

use std::collections::VecDeque;

use super::chain::Chain;
use super::core::Core;
use super::locked::Locked;
use super::ring::{Refused, Ring};
use super::store::{Flagged, Store};

/// The largest bound kept in a preallocated [`Ring`]; larger bounds would allocate too much up
/// front, and use a deque behind a lock instead.
pub(super) const RING_LIMIT: usize = 1 << 16;

/// The FIFO store: the crate's lock-free [`Ring`] for a bound (one allocation of `maxsize`
/// slots; its tail word also counts the puts and carries the queue's flags, `ring.rs`), a
/// [`Chain`] of growing rings when unbounded (the last ring's tail word counts and carries the
/// flags in the same way, `chain.rs`), and a locked deque for bounds above [`RING_LIMIT`].
/// Producers and consumers share no lock and no cache line but the slots.
///
/// Under `--cfg loom` the ring and the chain are the same code, on loom's atomics and cells
/// (so the models check it; the chain's first ring has one slot there, so that two puts grow
/// it).
pub(crate) enum Fifo<T> {
    Ring(Ring<T>),
    Chain(Chain<T>),
    Locked(Locked<VecDeque<T>>),
}

impl<T> Store for Fifo<T> {
    type Item = T;
    type Drained = Vec<T>;

    fn new(maxsize: usize) -> Self {
        if maxsize == 0 {
            return Fifo::Chain(Chain::new());
        }
        if maxsize <= RING_LIMIT {
            return Fifo::Ring(Ring::new(maxsize));
        }
        Fifo::Locked(Locked::new(maxsize))
    }

    // Always inlined, as `pop`: out of line, the match and the call cost a put+get about 20
    // instructions of prologue and epilogue (callgrind, `queue_1t`).
    #[inline(always)]
    fn push(&self, item: T) -> Result<(), T> {
        match self {
            // Only a queue that keeps no flags (no task counting) pushes this way: none is set.
            Fifo::Ring(q) => q.push(item).map_err(Refused::into_item),
            Fifo::Chain(q) => q.push(item).map_err(Refused::into_item),
            Fifo::Locked(q) => q.push(item),
        }
    }

    #[inline(always)]
    fn pop(&self) -> Option<T> {
        match self {
            Fifo::Ring(q) => q.pop(),
            Fifo::Chain(q) => q.pop(),
            Fifo::Locked(q) => q.pop(),
        }
    }

    /// The ring and the chain fence right after their claims (`ring.rs`); the locked deque
    /// does not.
    #[cfg(loom)]
    fn fences_its_changes(&self) -> bool {
        !matches!(self, Fifo::Locked(_))
    }

    #[inline]
    fn len(&self) -> usize {
        match self {
            Fifo::Ring(q) => q.len(),
            Fifo::Chain(q) => q.len(),
            Fifo::Locked(q) => q.len(),
        }
    }

    #[inline]
    fn is_empty(&self) -> bool {
        match self {
            Fifo::Ring(q) => q.is_empty(),
            Fifo::Chain(q) => q.is_empty(),
            Fifo::Locked(q) => q.is_empty(),
        }
    }

    #[inline]
    fn is_full(&self) -> bool {
        match self {
            Fifo::Ring(q) => q.is_full(),
            Fifo::Chain(_) => false,
            Fifo::Locked(q) => q.is_full(),
        }
    }

    fn drain(&self) -> (usize, Vec<T>) {
        let items: Vec<T> = match self {
            Fifo::Locked(q) => q.drain().1.into(),
            Fifo::Ring(q) => q.drain(),
            Fifo::Chain(q) => q.drain(),
        };
        (items.len(), items)
    }

    #[inline(always)]
    fn push_flagged(&self, item: T) -> Flagged<T> {
        match self {
            Fifo::Ring(q) => flagged(q.push(item)),
            Fifo::Chain(q) => flagged(q.push(item)),
            Fifo::Locked(_) => Flagged::Unflagged(item),
        }
    }

    #[inline(always)]
    fn flagged_puts(&self) -> usize {
        match self {
            Fifo::Ring(q) => q.puts(),
            Fifo::Chain(q) => q.puts(),
            Fifo::Locked(_) => 0,
        }
    }

    #[inline(always)]
    fn gets(&self) -> Option<usize> {
        match self {
            Fifo::Ring(q) => Some(q.gets()),
            Fifo::Chain(q) => Some(q.gets()),
            Fifo::Locked(_) => None,
        }
    }

    #[inline(always)]
    fn flags(&self) -> Option<usize> {
        match self {
            Fifo::Ring(q) => Some(q.flags()),
            Fifo::Chain(q) => Some(q.flags()),
            Fifo::Locked(_) => None,
        }
    }

    #[inline(always)]
    fn set_flags(&self, bits: usize) {
        match self {
            Fifo::Ring(q) => q.set_flags(bits),
            Fifo::Chain(q) => q.set_flags(bits),
            Fifo::Locked(_) => {}
        }
    }
}

/// A ring's or a chain's push, as [`Store::push_flagged`] reports it.
#[inline(always)]
fn flagged<T>(pushed: Result<(), Refused<T>>) -> Flagged<T> {
    match pushed {
        Ok(()) => Flagged::Stored,
        Err(Refused::Full(item)) => Flagged::Full(item),
        Err(Refused::Flagged(item, bits)) => Flagged::Refused(item, bits),
    }
}

/// The core of [`Queue`]: the lock-free core over the FIFO store.
pub(crate) type FifoCore<T> = Core<Fifo<T>>;

bounded_queue! {
    /// A first-in, first-out queue for passing items between threads: Python's `queue.Queue`.
    ///
    /// [`put`](Self::put) appends an item, waiting while the queue holds `maxsize` items;
    /// [`get`](Self::get) takes the oldest, waiting while the queue is empty. Both have non-blocking
    /// (`try_`), timeout and deadline variants. Each item put counts as an unfinished task until a
    /// consumer calls [`task_done`](Self::task_done); [`join`](Self::join) waits for them all.
    /// [`shutdown`](Self::shutdown) and [`shutdown_immediate`](Self::shutdown_immediate) end the
    /// queue's life as in Python 3.13. Share it with [`Arc`](std::sync::Arc) or a scoped thread.
    ///
    /// # Differences from Python
    ///
    /// - `put(x, block=False)` / `put_nowait` is [`try_put`](Self::try_put) and `put(x, timeout=t)`
    ///   is [`put_timeout`](Self::put_timeout); the same for `get`. Errors hand the item back.
    /// - `qsize()`, `empty()`, `full()` are [`len`](Self::len), [`is_empty`](Self::is_empty),
    ///   [`is_full`](Self::is_full); `q.maxsize = n` is [`set_maxsize`](Self::set_maxsize), which
    ///   also wakes the putters waiting for room (CPython's assignment wakes nobody).
    /// - `shutdown(immediate=True)` is [`shutdown_immediate`](Self::shutdown_immediate).
    /// - [`join_timeout`](Self::join_timeout) / [`join_deadline`](Self::join_deadline) are
    ///   additions.
    /// - The store is not a subclassable deque; see the [module docs](crate::queue) for how it is
    ///   built. A bounded queue of up to 65,536 items allocates its `maxsize` slots when it is
    ///   made (Python's deque grows as needed). An unbounded queue starts with room for 32
    ///   items, grows by doubling and keeps the room of its longest moment until it is dropped
    ///   (up to about four times the most items it held), as a `Vec` or `VecDeque` keeps its
    ///   largest buffer; Python's deque frees blocks as it shrinks.
    ///
    /// # Memory ordering
    ///
    /// Everything a thread did before putting an item happens-before everything the thread that
    /// gets it does afterwards; everything before a `task_done` happens-before the return of a
    /// `join` that it released.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::queue::Queue;
    ///
    /// let q = Queue::new(0);
    /// for item in [111, 333, 222] {
    ///     q.put(item).unwrap();
    /// }
    /// let order: Vec<_> = std::iter::from_fn(|| q.try_get().ok()).collect();
    /// assert_eq!(order, [111, 333, 222]);
    /// ```
    pub struct Queue<T> => FifoCore;
}

// Items go in and come out whole (no `&mut T` is handed out), and the queue's counts are kept
// consistent on every unwind path (`OnUnwind` in core.rs), so a reference may cross
// `catch_unwind` (issue 13); the `Lock` inside is what makes the compiler refuse it otherwise.
// (Not `PriorityQueue`: a panicking `Ord` may leave the heap's order unspecified.)
impl<T: std::panic::UnwindSafe> std::panic::RefUnwindSafe for Queue<T> {}

impl<T> Queue<T> {
    /// Changes the bound: Python's `q.maxsize = maxsize` (`0`: no limit).
    ///
    /// Items already queued stay, also when there are more than the new bound: puts then wait
    /// until gets bring the length under it. Putters waiting for room are woken to check the
    /// new bound. From the first call on, a put succeeds only if the queue then holds fewer
    /// items than the bound in force at that moment, so right after it the queue holds at most
    /// that bound; the new bound is in force when the call returns.
    ///
    /// # Differences from Python
    ///
    /// - CPython's assignment wakes nobody: a putter waiting for room goes on waiting for the
    ///   next `get`, even when the new bound leaves room. Here it is woken and goes ahead.
    /// - The first call moves the queue onto a store behind a lock (the lock-free ring of a
    ///   bounded queue has `maxsize` slots allocated up front and cannot grow, the unbounded
    ///   chain of rings has no bound to change): from then on a put or get takes that lock, as a
    ///   [`LifoQueue`](super::LifoQueue)'s does. A queue never resized pays nothing for this.
    ///   The first call (and a put racing it) waits for puts already in flight into the old
    ///   store (a few instructions each, unless their thread was preempted); gets never wait
    ///   for them. The old store stays allocated until the queue is dropped (a bounded
    ///   queue's `maxsize` slots), its items got first.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::queue::Queue;
    ///
    /// let q = Queue::new(1);
    /// q.put(1).unwrap();
    /// assert!(q.try_put(2).is_err());
    /// q.set_maxsize(3);
    /// assert_eq!(q.maxsize(), 3);
    /// q.try_put(2).unwrap();
    /// q.set_maxsize(1); // shrinking keeps both items
    /// assert_eq!(q.len(), 2);
    /// assert!(q.try_put(3).is_err());
    /// assert_eq!((q.get(), q.get()), (Ok(1), Ok(2)));
    /// q.try_put(3).unwrap();
    /// ```
    pub fn set_maxsize(&self, maxsize: usize) {
        self.core.set_maxsize(maxsize);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::queue::{TryGetError, TryPutError};
    use std::time::Duration;

    #[test]
    fn shareable_when_items_are_send() {
        fn shareable<Q: Send + Sync>() {}
        shareable::<Queue<std::cell::Cell<u8>>>();
        shareable::<super::super::LifoQueue<std::cell::Cell<u8>>>();
        shareable::<super::super::PriorityQueue<Box<u8>>>();
        shareable::<super::super::SimpleQueue<std::cell::Cell<u8>>>();
    }

    #[test]
    fn every_store_keeps_order() {
        for maxsize in [0, 3, RING_LIMIT + 1] {
            let q = Queue::new(maxsize);
            q.put(1).unwrap();
            q.put(2).unwrap();
            assert_eq!(q.get(), Ok(1));
            q.put(3).unwrap();
            assert_eq!(q.get(), Ok(2));
            assert_eq!(q.get(), Ok(3));
            assert_eq!(q.len(), 0);
        }
    }

    #[test]
    fn bounds_hold_in_every_store() {
        // The largest ring and the smallest locked deque (too slow to fill under Miri).
        let edges: &[usize] = if cfg!(miri) {
            &[]
        } else {
            &[RING_LIMIT, RING_LIMIT + 1]
        };
        for &maxsize in [1, 3].iter().chain(edges) {
            let q = Queue::new(maxsize);
            for i in 0..maxsize {
                q.try_put(i).unwrap();
            }
            assert!(q.is_full());
            assert_eq!(q.try_put(0), Err(TryPutError::Full(0)));
            assert_eq!(q.len(), maxsize);
        }
    }

    #[test]
    fn counters_track_puts_and_gets() {
        let q = Queue::new(3);
        for i in 0..3 {
            q.put(i).unwrap();
        }
        assert_eq!((q.len(), q.unfinished_tasks()), (3, 3));
        assert!(q.try_put(9).unwrap_err().is_full());
        assert_eq!(q.unfinished_tasks(), 3, "a refused put is not a task");
        q.get().unwrap();
        assert_eq!((q.len(), q.unfinished_tasks()), (2, 3));
    }

    /// `task_done` may run for items still queued (Python counts puts, not gets), never for
    /// more than were put: its bound is read from the gets when they cover it, from the puts
    /// otherwise, in every store.
    #[test]
    fn task_done_counts_against_the_puts_not_the_gets() {
        for maxsize in [0, 4, RING_LIMIT + 1] {
            let q = Queue::new(maxsize);
            for i in 0..3 {
                q.put(i).unwrap();
            }
            q.get().unwrap();
            for _ in 0..3 {
                q.task_done().unwrap();
            }
            assert!(q.task_done().is_err(), "a task done beyond the puts");
            assert_eq!((q.unfinished_tasks(), q.len()), (0, 2));
            assert!(q.join_timeout(Duration::ZERO));
        }
    }

    #[test]
    fn no_waiters_left_behind() {
        let q = Queue::<u8>::new(1);
        assert!(q.get_timeout(Duration::from_millis(1)).is_err());
        q.put(1).unwrap();
        assert!(q.put_timeout(2, Duration::from_millis(1)).is_err());
        assert!(!q.join_timeout(Duration::from_millis(1)));
        assert_eq!(q.core.sleepers(), [0, 0, 0]);
    }

    #[test]
    fn immediate_shutdown_drains_everything() {
        let q = Queue::new(0);
        q.put(1).unwrap();
        q.put(2).unwrap();
        assert_eq!(q.get(), Ok(1));
        q.put(3).unwrap();
        q.shutdown_immediate();
        assert_eq!(q.len(), 0);
        assert_eq!(
            q.unfinished_tasks(),
            1,
            "the item taken is still unfinished"
        );
        assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
    }

    #[test]
    fn debug_shows_kind_len_maxsize() {
        let q = Queue::new(4);
        q.put("x").unwrap();
        assert_eq!(
            format!("{q:?}"),
            "Queue { len: 1, maxsize: 4, unfinished_tasks: 1, is_shutdown: false }"
        );
    }
}
