//! [`SimpleQueue`]: Python's `queue.SimpleQueue`, an unbounded FIFO without task tracking.

use std::fmt;
use std::time::{Duration, Instant};

use super::core::Core;
use super::fifo::Fifo;
use crate::identity::{Identity, ObjectKind};
use crate::wait;

/// An unbounded first-in, first-out queue without task tracking: Python's `queue.SimpleQueue`.
///
/// [`put`](Self::put) never waits and never fails; [`get`](Self::get) waits for an item. There is
/// no `maxsize`, no `task_done`/`join` and no shutdown, which makes `put` a little cheaper than
/// [`Queue`](super::Queue)'s. Items are dropped by the queue as soon as they are taken out (they
/// are moved to the caller).
///
/// # Differences from Python
///
/// - [`get`](Self::get) returns the item itself: without a shutdown it cannot fail.
/// - `get(block=False)` / `get_nowait()` is [`try_get`](Self::try_get) and `get(timeout=t)` is
///   [`get_timeout`](Self::get_timeout); they return `None` where Python raises `queue.Empty`,
///   the only thing that can go wrong (as [`Lock::try_acquire`](crate::Lock::try_acquire) does).
/// - `put(item, block, timeout)` ignores its flags in Python; here it takes only the item.
///   `put_nowait` is the same call.
/// - Python's C `SimpleQueue.put` may be called from a `__del__` during another `put`; here an
///   item's `Drop` may likewise use the queue, since the queue never drops items under its locks.
///
/// # Memory ordering
///
/// Everything a thread did before putting an item happens-before everything the thread that gets
/// it does afterwards.
///
/// # Examples
///
/// ```
/// use threadkit::queue::SimpleQueue;
///
/// let q = SimpleQueue::new();
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         for i in 1..=4 {
///             q.put(i);
///         }
///     });
///     let got: Vec<_> = (0..4).map(|_| q.get()).collect();
///     assert_eq!(got, [1, 2, 3, 4]);
/// });
/// ```
pub struct SimpleQueue<T> {
    core: Core<Fifo<T>>,
}

crate::identity::diagnosable!([T] SimpleQueue<T>, |q| q.core.identity());

// Items go in and come out whole (no `&mut T` is handed out), and the queue's counts are kept
// consistent on every unwind path (`OnUnwind` in core.rs), so a reference may cross
// `catch_unwind` (issue 13); the `Lock` inside is what makes the compiler refuse it otherwise.
impl<T: std::panic::UnwindSafe> std::panic::RefUnwindSafe for SimpleQueue<T> {}

impl<T> SimpleQueue<T> {
    /// Creates an empty queue: Python's `SimpleQueue()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = threadkit::queue::SimpleQueue::<String>::new();
    /// assert!(q.is_empty());
    /// ```
    #[track_caller]
    pub fn new() -> Self {
        SimpleQueue {
            core: Core::new(
                0,
                false,
                Identity::new(ObjectKind::Queue, crate::identity::caller()),
            ),
        }
    }

    /// Creates an empty queue with a name for [thread dumps](crate::diagnostics); an unnamed
    /// queue is shown by its creation site.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = threadkit::queue::SimpleQueue::<u8>::named("events");
    /// assert_eq!(q.name(), Some("events"));
    /// ```
    #[track_caller]
    pub fn named(name: impl Into<String>) -> Self {
        SimpleQueue {
            core: Core::new(
                0,
                false,
                Identity::named(ObjectKind::Queue, name, std::panic::Location::caller()),
            ),
        }
    }

    /// The name given with [`SimpleQueue::named`], if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(threadkit::queue::SimpleQueue::<u8>::new().name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.core.name()
    }

    /// Appends `item`; never waits. Python's `q.put(item)` and `q.put_nowait(item)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = threadkit::queue::SimpleQueue::new();
    /// q.put("a");
    /// assert_eq!(q.len(), 1);
    /// ```
    #[doc(alias = "put_nowait")]
    #[inline]
    pub fn put(&self, item: T) {
        // An unbounded queue that is never shut down admits every item.
        let result = self.core.try_put(item);
        debug_assert!(result.is_ok());
    }

    /// Takes the oldest item out, waiting for one if the queue is empty. Python's `q.get()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = std::sync::Arc::new(threadkit::queue::SimpleQueue::new());
    /// let putter = std::thread::spawn({
    ///     let q = q.clone();
    ///     move || q.put(7)
    /// });
    /// assert_eq!(q.get(), 7);
    /// # putter.join().unwrap();
    /// ```
    #[inline]
    #[track_caller]
    pub fn get(&self) -> T {
        loop {
            // Without a deadline or a shutdown, `Core::get` only returns with an item.
            if let Ok(item) = self.core.get(None) {
                return item;
            }
        }
    }

    /// Takes the oldest item out if there is one, without waiting: Python's `q.get_nowait()`.
    /// `None` is Python's `queue.Empty`.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = threadkit::queue::SimpleQueue::new();
    /// assert_eq!(q.try_get(), None);
    /// q.put(1);
    /// assert_eq!(q.try_get(), Some(1));
    /// ```
    #[doc(alias = "get_nowait")]
    #[inline]
    pub fn try_get(&self) -> Option<T> {
        self.core.try_get().ok()
    }

    /// Takes the oldest item out, waiting at most `timeout` for one: Python's
    /// `q.get(timeout=t)`. `None` is Python's `queue.Empty`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let q = threadkit::queue::SimpleQueue::<u8>::new();
    /// assert_eq!(q.get_timeout(Duration::from_millis(1)), None);
    /// ```
    #[track_caller]
    pub fn get_timeout(&self, timeout: Duration) -> Option<T> {
        self.core.get(wait::deadline_after(timeout)).ok()
    }

    /// Takes the oldest item out, waiting for one until `deadline` at the latest.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let q = threadkit::queue::SimpleQueue::new();
    /// q.put('x');
    /// assert_eq!(q.get_deadline(Instant::now() + Duration::from_millis(1)), Some('x'));
    /// ```
    #[track_caller]
    pub fn get_deadline(&self, deadline: Instant) -> Option<T> {
        self.core.get(Some(deadline)).ok()
    }

    /// The number of items in the queue: Python's `q.qsize()` (possibly stale at once).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = threadkit::queue::SimpleQueue::new();
    /// q.put(());
    /// q.put(());
    /// assert_eq!(q.len(), 2);
    /// ```
    #[doc(alias = "qsize")]
    #[inline]
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// Whether the queue holds no item: Python's `q.empty()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = threadkit::queue::SimpleQueue::new();
    /// assert!(q.is_empty());
    /// q.put(0);
    /// assert!(!q.is_empty());
    /// ```
    #[doc(alias = "empty")]
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.core.len() == 0
    }
}

impl<T> Default for SimpleQueue<T> {
    fn default() -> Self {
        SimpleQueue::new()
    }
}

impl<T> fmt::Debug for SimpleQueue<T> {
    /// Shows the kind and the length: a `SimpleQueue` has no `maxsize` (nor task counts), so
    /// none is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimpleQueue")
            .field("len", &self.core.len())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fifo_and_debug() {
        let q = SimpleQueue::new();
        q.put(1);
        q.put(2);
        assert_eq!(format!("{q:?}"), "SimpleQueue { len: 2 }");
        assert_eq!(q.get(), 1);
        assert_eq!(q.try_get(), Some(2));
        assert_eq!(q.try_get(), None);
    }
}
