//! What a queue keeps its items in: the [`Store`] contract between the stores (FIFO, LIFO,
//! priority) and the waiting and accounting [`Core`](super::core::Core) on top of them.

use std::ops::{Deref, DerefMut};

/// Aligns a value to its own cache line(s), so that fields written by producers and fields
/// written by consumers do not share one (128 bytes: adjacent-line prefetch pairs lines on x86).
#[repr(align(128))]
#[derive(Default)]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for CachePadded<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// A queue's item store, safe to use from many threads at once.
///
/// It knows nothing of waiting, shutdown or tasks: [`Core`](super::core::Core) does all that on
/// top, through these calls only. What the core relies on:
///
/// - `push`, `pop`, `len`, `is_empty` and `is_full` are linearizable, and `is_empty` /
///   `is_full` never block and never panic (a parked thread's re-check calls them under the
///   parking lot's bucket lock);
/// - the write that makes a pushed item visible, and the write that frees its slot on a pop, are
///   `SeqCst` and come before `push` / `pop` return; `is_empty` / `is_full` read with `SeqCst`.
///   This is the store's half of the waiter handshake (see `Core::park_on`);
/// - if `push` unwinds (a user's `Ord`), the item is in the store; if `pop` unwinds, one item has
///   left the store (and was dropped).
pub(crate) trait Store {
    /// What the queue holds.
    type Item;
    /// What [`drain`](Self::drain) takes out, dropped by the caller.
    type Drained;
    /// An empty store for at most `maxsize` items (`0`: unbounded).
    fn new(maxsize: usize) -> Self;
    /// Stores `item`, or hands it back if the store holds `maxsize` items.
    fn push(&self, item: Self::Item) -> Result<(), Self::Item>;
    /// Takes the next item out, if there is one.
    fn pop(&self) -> Option<Self::Item>;
    /// How many items the store holds.
    fn len(&self) -> usize;
    /// Whether the store holds no item.
    fn is_empty(&self) -> bool;
    /// Whether the store holds `maxsize` items (never, when unbounded).
    fn is_full(&self) -> bool;
    /// Takes every item out; returns how many and the items.
    fn drain(&self) -> (usize, Self::Drained);
}
