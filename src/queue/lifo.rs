//! [`LifoQueue`]: Python's `queue.LifoQueue`, a stack shared between threads.

use super::{Buffer, Refusal, State};
use crate::Lock;

/// The store of [`LifoQueue`]: a vector behind one lock, pushed and popped at its end.
pub(crate) struct Lifo<T> {
    items: Lock<Vec<T>>,
}

impl<T> Default for Lifo<T> {
    fn default() -> Self {
        Lifo {
            items: Lock::with_value(Vec::new()),
        }
    }
}

impl<T> Buffer for Lifo<T> {
    type Item = T;
    type Drained = Vec<T>;

    #[inline]
    fn push(&self, item: T, state: &State) -> Result<(), (T, Refusal)> {
        let mut items = self.items.acquire();
        if let Err(refusal) = state.admit_uncached() {
            return Err((item, refusal));
        }
        items.push(item);
        state.pushed();
        Ok(())
    }

    #[inline]
    fn pop(&self, state: &State) -> Result<T, Refusal> {
        let mut items = self.items.acquire();
        match items.pop() {
            Some(item) => {
                state.popped();
                Ok(item)
            }
            None => Err(state.refuse_get()),
        }
    }

    fn close(&self, state: &State, immediate: bool) -> (usize, Vec<T>) {
        let mut items = self.items.acquire();
        state.close();
        if !immediate {
            return (0, Vec::new());
        }
        let drained = std::mem::take(&mut *items);
        state.drained(drained.len());
        (drained.len(), drained)
    }
}

bounded_queue! {
    /// A last-in, first-out queue (a stack) for passing items between threads: Python's
    /// `queue.LifoQueue`.
    ///
    /// The same API as [`Queue`](super::Queue), except that [`get`](Self::get) takes the item put
    /// most recently.
    ///
    /// # Differences from Python
    ///
    /// Those of [`Queue`](super::Queue#differences-from-python).
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
    fn debug_names_the_kind() {
        let q = LifoQueue::<u8>::new(2);
        assert!(format!("{q:?}").starts_with("LifoQueue { len: 0, maxsize: 2"));
    }
}
