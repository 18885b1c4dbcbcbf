//! [`PriorityQueue`]: Python's `queue.PriorityQueue`, smallest item first.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::locked::Container;
use super::locked_core::LockedCore;

/// A heap entry: the item and its insertion number, ordered so that std's max-heap pops the
/// smallest item, and among equal items the one put first.
pub(crate) struct Entry<T> {
    item: T,
    seq: u64,
}

impl<T: Ord> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T: Ord> Eq for Entry<T> {}

impl<T: Ord> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: Ord> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: the greatest entry (popped first) is the smallest item, then the oldest.
        other
            .item
            .cmp(&self.item)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// The heap and the next insertion number.
pub(crate) struct Heap<T> {
    entries: BinaryHeap<Entry<T>>,
    next_seq: u64,
}

impl<T: Ord> Default for Heap<T> {
    fn default() -> Self {
        Heap {
            entries: BinaryHeap::new(),
            next_seq: 0,
        }
    }
}

/// Smallest item first, ties in insertion order. A panicking `Ord` unwinds out of `put` with the
/// item in the heap (std's sift puts the element it moves back), and out of `take` with the item
/// taken out and dropped: what [`Container`] asks.
impl<T: Ord> Container for Heap<T> {
    type Item = T;
    fn put(&mut self, item: T) {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        self.entries.push(Entry { item, seq });
    }
    fn take(&mut self) -> Option<T> {
        self.entries.pop().map(|entry| entry.item)
    }
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The core of [`PriorityQueue`]: a binary heap behind one lock with the rest of the state.
pub(crate) type Prio<T> = LockedCore<Heap<T>>;

bounded_queue! {
    /// A queue that hands out its smallest item first: Python's `queue.PriorityQueue`.
    ///
    /// The same API as [`Queue`](super::Queue), except that [`get`](Self::get) takes the smallest
    /// item by [`Ord`]; equal items come out in the order they were put. The usual item is a
    /// `(priority, data)` tuple, or [`std::cmp::Reverse`] for largest first.
    ///
    /// # Differences from Python
    ///
    /// Those of [`Queue`](super::Queue#differences-from-python), except that `maxsize` can be
    /// changed ([`set_maxsize`](Self::set_maxsize)), and:
    /// - `set_maxsize` wakes the putters waiting for room, so that those the new bound lets in
    ///   go ahead; CPython's `q.maxsize = n` wakes nobody (a waiting putter goes on waiting for
    ///   the next `get`, even when the new bound leaves room).
    /// - Items must implement [`Ord`], checked at compile time (Python fails at run time when two
    ///   items cannot be compared).
    /// - Equal items come out in insertion order; Python's `heapq` does not promise that (a
    ///   Python user writes `(priority, count, item)` for it). Each item is stored with a 64-bit
    ///   insertion number for this: measured here, a 1P1C `PriorityQueue<u64>` moves an item
    ///   at about the speed of a parking_lot `Mutex<BinaryHeap<(u64, u64)>>` + `Condvar` that
    ///   does the same, and 1.1-1.3x slower than one over plain `u64`s, which breaks ties in
    ///   no particular order (BENCHMARKS.md, `priority_1p1c`).
    ///
    /// # Panics
    ///
    /// A panic in the items' [`Ord`] propagates out of the `put` or `get` that compared them
    /// (Python likewise propagates an exception from `_put`/`_get`). The queue stays usable and
    /// its length right: an item whose `put` panicked stays queued (and counts as a task); an item
    /// whose `get` panicked is dropped, and stays an unfinished task until a `task_done` for it.
    /// A thread waiting for an item or for room is woken as if the call had returned normally.
    ///
    /// # Memory ordering
    ///
    /// As for [`Queue`](super::Queue#memory-ordering).
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::queue::PriorityQueue;
    ///
    /// let q = PriorityQueue::new(0);
    /// q.put((2, "write docs")).unwrap();
    /// q.put((1, "fix bug")).unwrap();
    /// q.put((2, "review")).unwrap();
    /// assert_eq!(q.get(), Ok((1, "fix bug")));
    /// assert_eq!(q.get(), Ok((2, "review")));
    /// assert_eq!(q.get(), Ok((2, "write docs")));
    /// ```
    pub struct PriorityQueue<T> => Prio where T: Ord;
}

set_maxsize_api!(PriorityQueue where T: Ord);

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Equal by `key` only, so that ties are visible through `tag`.
    #[derive(Debug)]
    struct Job {
        key: u8,
        tag: u32,
    }
    impl PartialEq for Job {
        fn eq(&self, other: &Self) -> bool {
            self.key == other.key
        }
    }
    impl Eq for Job {}
    impl PartialOrd for Job {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Job {
        fn cmp(&self, other: &Self) -> Ordering {
            self.key.cmp(&other.key)
        }
    }

    #[test]
    fn smallest_first_ties_in_insertion_order() {
        let q = PriorityQueue::new(0);
        let keys = [3u8, 1, 2, 1, 3, 2, 1];
        for (tag, key) in keys.iter().enumerate() {
            q.put(Job {
                key: *key,
                tag: tag as u32,
            })
            .unwrap();
        }
        let out: Vec<_> = std::iter::from_fn(|| q.try_get().ok())
            .map(|j| (j.key, j.tag))
            .collect();
        assert_eq!(
            out,
            [(1, 1), (1, 3), (1, 6), (2, 2), (2, 5), (3, 0), (3, 4)]
        );
    }
}
