//! What a queue keeps its items in: the [`Store`] contract between the stores (FIFO, LIFO,
//! priority) and the waiting and accounting [`Core`](super::core::Core) on top of them.

use std::ops::{Deref, DerefMut};

use crate::wait::SpinWait;

/// Lets a thread this one waits for run (a preempted putter, a push or pop between its claim and
/// its stamp): spins a little, then yields (a yield loom also sees). Shared by the stores and
/// the core.
#[inline]
pub(crate) fn back_off(spin: &mut SpinWait) {
    if !spin.spin() {
        crate::loom::yield_now();
    }
}

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

/// The shut-down flag: in the core's `begun` word (bit 0), and in the tail word of a store
/// that keeps the flags itself (the ring: [`Store::push_flagged`]).
pub(crate) const SHUT: usize = 1;
/// The resized flag (bit 1): `set_maxsize` was called, puts go to the second store
/// (`resize.rs`).
pub(crate) const RESIZED: usize = 2;
/// Both flags.
pub(crate) const FLAGS: usize = SHUT | RESIZED;

/// What [`Store::push_flagged`] did with an item.
pub(crate) enum Flagged<T> {
    /// Stored, and counted in [`Store::flagged_puts`].
    Stored,
    /// Handed back, the store being full; not counted.
    Full(T),
    /// Handed back, these flag bits being set; not counted.
    Refused(T, usize),
    /// Handed back untried: this store keeps no flags and counts no puts, so the core's own
    /// protocol (`begun` and the putting flags, `core.rs`) applies.
    Unflagged(T),
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
///
/// A store may also keep the queue's flags ([`SHUT`], [`RESIZED`]) and count its puts in the
/// word whose read-modify-write claims a slot (the ring, `ring.rs`), through the methods
/// with defaults below. Then, for puts made with [`push_flagged`](Store::push_flagged):
///
/// - that read-modify-write is `SeqCst` and is the put's linearization point: it counts the put
///   and checks the flags in one step, and what `is_empty`/`is_full` read (the positions, not
///   a later `Release` store) changes with it; this is the store's half of the waiter
///   handshake for those puts;
/// - `pop` never answers "empty" while a put that claimed a slot is storing its item (it waits
///   for it), so a `pop` that finds the store empty after reading a flag set by
///   [`set_flags`](Store::set_flags) is final: no such put can be in flight, and `len` counts
///   such a put from its claim on;
/// - [`flagged_puts`](Store::flagged_puts) only grows (modulo the documented wrap), and counts
///   a put before its item can be taken.
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

    /// Stores `item` if no flag is set, counting it, in one atomic step; or hands it back
    /// (see [`Flagged`]). The default keeps no flags: [`Flagged::Unflagged`].
    #[inline(always)]
    fn push_flagged(&self, item: Self::Item) -> Flagged<Self::Item> {
        Flagged::Unflagged(item)
    }

    /// The puts [`push_flagged`](Self::push_flagged) stored so far (modulo 2^62); 0 for a
    /// store that keeps no flags.
    #[inline(always)]
    fn flagged_puts(&self) -> usize {
        0
    }

    /// The flag bits set in the store's flag word (`SeqCst`); `None` for a store that keeps
    /// no flags.
    #[inline(always)]
    fn flags(&self) -> Option<usize> {
        None
    }

    /// A lower bound of the pops made so far (modulo 2^62), read from the consumers' own words
    /// (`Acquire`: a pop counted here happens-before the caller's next step, and so does the
    /// put of its item); `None` for a store that keeps no such count. It never exceeds
    /// [`flagged_puts`](Self::flagged_puts) (every pop took a put's item), so `task_done` can
    /// check its bound against it without reading the producers' words (`tasks.rs`).
    #[inline(always)]
    fn gets(&self) -> Option<usize> {
        None
    }

    /// Under `--cfg loom`: whether every change a waiter waits for (a stored item, a taken one)
    /// is a `SeqCst` read-modify-write followed by the stand-in fence
    /// ([`seq_cst_fence_for_loom`](crate::loom::seq_cst_fence_for_loom)), so that the waker
    /// needs none of its own before it reads the sleeper count. The default (false): the waker
    /// fences, which orders every store it made before, more than the real code's `SeqCst`
    /// accesses do (a store whose waiter check read a `Release` store would pass the models
    /// and lose wake-ups on real hardware: VERIFICATION.md).
    #[cfg(loom)]
    fn fences_its_changes(&self) -> bool {
        false
    }

    /// Sets `bits` ([`SHUT`], [`RESIZED`]) in the store's flag word (a `SeqCst`
    /// read-modify-write), if it has one.
    #[inline(always)]
    fn set_flags(&self, _bits: usize) {}
}
