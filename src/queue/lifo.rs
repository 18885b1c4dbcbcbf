//! [`LifoQueue`]: Python's `queue.LifoQueue`, a stack shared between threads.

use super::locked_core::LockedCore;

/// The core of [`LifoQueue`]: a vector behind one lock with the rest of the state, pushed and
/// popped at its end.
pub(crate) type Lifo<T> = LockedCore<Vec<T>>;

bounded_queue! {
    /// A last-in, first-out queue (a stack) for passing items between threads: Python's
    /// `queue.LifoQueue`.
    ///
    /// The same API as [`Queue`](super::Queue), except that [`get`](Self::get) takes the item put
    /// most recently.
    ///
    /// # Differences from Python
    ///
    /// Those of [`Queue`](super::Queue#differences-from-python), except that `maxsize` can be
    /// changed ([`set_maxsize`](Self::set_maxsize)), which wakes the putters waiting for room so
    /// that those the new bound lets in go ahead (CPython's `q.maxsize = n` wakes nobody: a
    /// waiting putter goes on waiting for the next `get`, even when the new bound leaves room).
    ///
    /// # Memory ordering
    ///
    /// As for [`Queue`](super::Queue#memory-ordering).
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::queue::LifoQueue;
    ///
    /// let q = LifoQueue::new(0);
    /// for item in [111, 333, 222] {
    ///     q.put(item).unwrap();
    /// }
    /// let order: Vec<_> = std::iter::from_fn(|| q.try_get().ok()).collect();
    /// assert_eq!(order, [222, 333, 111]);
    /// ```
    pub struct LifoQueue<T> => Lifo;
}

// Items go in and come out whole (no `&mut T` is handed out), and the queue's counts are kept
// consistent on every unwind path (`OnUnwind` in core.rs), so a reference may cross
// `catch_unwind` (issue 13); the `Lock` inside is what makes the compiler refuse it otherwise.
// (Not `PriorityQueue`: a panicking `Ord` may leave the heap's order unspecified.)
impl<T: std::panic::UnwindSafe> std::panic::RefUnwindSafe for LifoQueue<T> {}

set_maxsize_api!(LifoQueue);

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn last_in_first_out() {
        let q = LifoQueue::new(0);
        for i in 0..5 {
            q.put(i).unwrap();
        }
        assert_eq!(q.get(), Ok(4));
        q.put(9).unwrap();
        let rest: Vec<_> = std::iter::from_fn(|| q.try_get().ok()).collect();
        assert_eq!(rest, [9, 3, 2, 1, 0]);
    }

    #[test]
    fn no_waiters_left_behind() {
        use std::time::Duration;
        let q = LifoQueue::<u8>::new(1);
        assert!(q.get_timeout(Duration::from_millis(1)).is_err());
        q.put(1).unwrap();
        assert!(q.put_timeout(2, Duration::from_millis(1)).is_err());
        assert!(!q.join_timeout(Duration::from_millis(1)));
        assert_eq!(q.core.sleepers(), [0, 0, 0]);
        assert_eq!((q.len(), q.unfinished_tasks()), (1, 1));
    }

    #[test]
    fn debug_names_the_kind() {
        let q = LifoQueue::<u8>::new(2);
        assert!(format!("{q:?}").starts_with("LifoQueue { len: 0, maxsize: 2"));
    }
}
