//! [`Locked`]: a store behind one [`Lock`], for the stores no lock-free crate offers (a stack, a
//! heap) and for FIFO queues too large to allocate up front.

use std::collections::VecDeque;

use super::store::Store;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::Lock;

/// The collection inside a [`Locked`] store: where an item goes and which comes out next.
pub(crate) trait Container: Default {
    /// What the collection holds.
    type Item;
    /// Adds `item`. If it unwinds, the item must be in the collection (std's heap keeps it).
    fn put(&mut self, item: Self::Item);
    /// Takes the next item out.
    fn take(&mut self) -> Option<Self::Item>;
    /// How many items it holds.
    fn len(&self) -> usize;
}

/// A stack: last in, first out.
impl<T> Container for Vec<T> {
    type Item = T;
    fn put(&mut self, item: T) {
        self.push(item);
    }
    fn take(&mut self) -> Option<T> {
        self.pop()
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
}

/// First in, first out.
impl<T> Container for VecDeque<T> {
    type Item = T;
    fn put(&mut self, item: T) {
        self.push_back(item);
    }
    fn take(&mut self) -> Option<T> {
        self.pop_front()
    }
    fn len(&self) -> usize {
        VecDeque::len(self)
    }
}

/// A [`Container`] behind one lock, with its length mirrored in an atomic so that waiters can
/// check it without the lock (under the parking lot's bucket lock they must not block).
pub(crate) struct Locked<C> {
    items: Lock<C>,
    /// The collection's length, stored (`SeqCst`) under the lock after every change, also when
    /// the change unwinds.
    len: AtomicUsize,
    /// 0 for unbounded. Changed only under the lock ([`set_maxsize`](Self::set_maxsize)), so a
    /// push checks the bound in force at the push.
    maxsize: AtomicUsize,
}

/// Stores the collection's length into the mirror when dropped: after a change, or while a
/// panic in the change (a user's `Ord`) unwinds.
struct SyncLen<'a, C: Container> {
    items: &'a mut C,
    len: &'a AtomicUsize,
}

impl<C: Container> Drop for SyncLen<'_, C> {
    fn drop(&mut self) {
        self.len.store(self.items.len(), Ordering::SeqCst);
    }
}

impl<C: Container> Locked<C> {
    /// Stores `item` if the bound leaves room for it behind `ahead()` items kept elsewhere (the
    /// ring a resized `Queue` moved from: `resize.rs`), or hands it back. `ahead` is called under
    /// the lock; a value too high only refuses a put that a later try lets in.
    #[inline]
    pub(crate) fn push_behind(
        &self,
        item: C::Item,
        ahead: impl FnOnce() -> usize,
    ) -> Result<(), C::Item> {
        let mut items = self.items.acquire();
        let maxsize = self.maxsize.load(Ordering::Relaxed);
        if maxsize != 0 && items.len().saturating_add(ahead()) >= maxsize {
            return Err(item);
        }
        let sync = SyncLen {
            items: &mut *items,
            len: &self.len,
        };
        sync.items.put(item);
        Ok(())
    }

    /// Whether the store holds `maxsize` items, counting `ahead` kept elsewhere.
    #[inline]
    pub(crate) fn is_full_behind(&self, ahead: usize) -> bool {
        let maxsize = self.maxsize.load(Ordering::Relaxed);
        maxsize != 0 && self.len().saturating_add(ahead) >= maxsize
    }

    /// The items of the store plus `ahead()` kept elsewhere, `ahead` called under the lock (so
    /// no push into this store lands between the two reads).
    pub(crate) fn len_behind(&self, ahead: impl FnOnce() -> usize) -> usize {
        let items = self.items.acquire();
        items.len() + ahead()
    }

    /// The bound (`0`: none).
    pub(crate) fn maxsize(&self) -> usize {
        self.maxsize.load(Ordering::Relaxed)
    }

    /// Changes the bound, under the lock: every push after this one checks the new bound.
    pub(crate) fn set_maxsize(&self, maxsize: usize) {
        let _items = self.items.acquire();
        self.maxsize.store(maxsize, Ordering::Relaxed);
    }
}

impl<C: Container> Store for Locked<C> {
    type Item = C::Item;
    type Drained = C;

    fn new(maxsize: usize) -> Self {
        Locked {
            items: Lock::with_value(C::default()),
            len: AtomicUsize::new(0),
            maxsize: AtomicUsize::new(maxsize),
        }
    }

    #[inline]
    fn push(&self, item: C::Item) -> Result<(), C::Item> {
        self.push_behind(item, || 0)
    }
    #[inline]
    fn pop(&self) -> Option<C::Item> {
        let mut items = self.items.acquire();
        let sync = SyncLen {
            items: &mut *items,
            len: &self.len,
        };
        sync.items.take()
    }

    #[inline]
    fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }

    #[inline]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    fn is_full(&self) -> bool {
        self.is_full_behind(0)
    }

    fn drain(&self) -> (usize, C) {
        let mut items = self.items.acquire();
        let drained = std::mem::take(&mut *items);
        self.len.store(0, Ordering::SeqCst);
        (drained.len(), drained)
    }
}
