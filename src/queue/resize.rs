//! `Queue::set_maxsize` (Python's `q.maxsize = n`) over a store whose bound cannot change.
//!
//! A [`Queue`](super::Queue)'s bounded store is a ring of `maxsize` slots allocated up front
//! (`ring.rs`), and its unbounded one a chain of rings (`chain.rs`): neither can change its bound,
//! and enforcing another bound on top of them would need a length counter written by every put
//! and every get (the shared cache line the lock-free store avoids). So a queue whose bound is
//! changed *moves*: from the first `set_maxsize` on, puts go to a second store, a deque behind a
//! lock whose bound can change ([`Locked`]), and gets take what is left in the ring first. The
//! queue then costs what a `LifoQueue` does (a lock per put and per get); a queue that is never
//! resized pays nothing on its item path: the move is a bit ([`RESIZED`]) in the word that
//! every put already reads in its one read-modify-write (tested together with the shut-down
//! bit): the ring's tail for a bounded queue, the last ring's for an unbounded one, `begun`
//! for a bound above the ring's limit (a locked deque); a get looks at it only when the ring is
//! empty. (Below, "the ring" is the first store, whichever it is; the chain behaves as one
//! ring, its flags set in every ring from the producers' on, `chain.rs`.)
//!
//! For the ring, `set_maxsize` sets [`RESIZED`] in `begun` and then in the ring's tail; a put
//! the ring refuses for it goes on through `begun` (which has the bit by then: the ring's
//! `Acquire` read of the tail synchronises with the `fetch_or`) into the second store, by the
//! protocol below. Puts into the ring in flight are its claimed, unstamped slots: retiring the
//! ring does not wait for those, since the ring's own `pop` waits for them (so a get never
//! passes a claimed item) and its length counts them (so the bound does); a child process
//! forked while a put held a claim can therefore still resize (the claim's thread does not
//! exist there: a wait for it would never end, `tests/queue_fork_resize.rs`). The queue counts as
//! resized (`is_resized`) from the ring's bit, not `begun`'s: until the ring refuses puts a
//! waiting putter must see the ring's fullness, not the second store's room.
//!
//! # The protocol
//!
//! - `set_maxsize(n)` stores `n` as the second store's bound (under its lock), sets [`RESIZED`]
//!   in `begun` (a read-modify-write), *retires the ring*, then wakes every waiting putter.
//! - A put whose step on `begun` sees [`RESIZED`] (and not the shut-down bit) goes to the second
//!   store: it switches its putting flag to `queue | 1` (or moves itself from `unslotted` to
//!   `unslotted_resized` when it has no flag), retires the ring, and pushes under the second
//!   store's lock if the ring's length plus the store's is below the bound.
//! - A get never waits for puts in flight: it reads `ring_retired`, pops the ring, and takes
//!   from the second store only if the ring was retired before it popped the ring (the ring
//!   then only shrinks, so an empty ring stays empty). If the ring was not retired yet but the
//!   second store holds items, some put into it retired the ring before it pushed: the get
//!   reads `ring_retired` again (set by then) and tries the ring once more, then the second
//!   store.
//! - *Retiring the ring* waits until no put that began before [`RESIZED`] is in flight: no
//!   flagless put counted in `unslotted`, and every putting flag seen once not holding the
//!   queue's plain address (`putting::wait_until_no_slot_holds`). The first to finish it
//!   records it (`ring_retired`), so later callers skip it. Only `set_maxsize` and puts into the
//!   second store retire the ring (and wait). Why it is enough is the argument of
//!   `putting.rs` for the shut-down bit: a put whose step on `begun` came before [`RESIZED`]
//!   raised its flag before that step, so the flag store happens-before anyone who read
//!   [`RESIZED`], and the `Release` store that lowers it comes after the item is in the ring.
//!   A put whose step saw [`RESIZED`] holds the plain address only for the few instructions
//!   before it switches.
//!
//! # What it guarantees
//!
//! - No item is lost or duplicated, and a producer's items come out in the order it put them:
//!   every ring item was put by a put that was over before the ring was retired, every item of
//!   the second store by a put that retired it first, so all ring items are older; a get takes
//!   from the second store only after finding the ring empty once it was retired, and a
//!   retired ring only shrinks.
//! - The bound: a put into the second store succeeds only if, under the store's lock, the items
//!   in the ring (read there; it only shrinks) plus those of the store are fewer than the bound
//!   then in force; `set_maxsize` changes the bound under the same lock. So right after a put
//!   into the second store the queue holds at most the bound in force at that put (its
//!   linearization point). Puts into the ring linearize before the ring is retired, under the
//!   queue's first bound; `set_maxsize` takes effect, at the latest, when it returns (the first
//!   call retires the ring before it returns). Lowering the bound keeps the items queued (there
//!   may be more than the new bound, as in Python); puts then wait until gets bring the length
//!   under it.
//! - `len()` of a resized queue reads the second store's length and the ring's under the
//!   second store's lock (puts into it are made under the lock, and the retired ring only
//!   shrinks), so it never counts the same room twice (review of issue 15, M3: two separate
//!   reads reported up to twice the bound).
//! - Waiting putters are woken by `set_maxsize` and check the new bound (CPython's assignment
//!   wakes nobody: there a waiting putter waits for the next `get` even if the new bound leaves
//!   room).
//! - The ring stays allocated after the move (`maxsize` slots, until the queue is dropped):
//!   freeing it would need every get to know that no other get is still reading it.

use std::collections::VecDeque;

use super::core::{key, Core, OnUnwind, Refusal};
use super::locked::Locked;
use super::putting::{self, Slot};
use super::store::{back_off, Store, RESIZED};
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::wait::{self, SpinWait, UnparkToken};

/// The second store of a resized [`Queue`](super::Queue), and whether its ring is retired.
pub(crate) struct Resized<T> {
    items: Locked<VecDeque<T>>,
    /// Set once no put into the ring can be in flight any more (see the module docs).
    ring_retired: AtomicBool,
}

impl<T> Resized<T> {
    /// An empty second store with the queue's first bound; no allocation.
    pub(super) fn new(maxsize: usize) -> Self {
        Resized {
            items: Locked::new(maxsize),
            ring_retired: AtomicBool::new(false),
        }
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(super) fn maxsize(&self) -> usize {
        self.items.maxsize()
    }

    pub(super) fn drain(&self) -> (usize, VecDeque<T>) {
        self.items.drain()
    }
}

impl<S: Store> Core<S> {
    /// Whether `set_maxsize` was called: puts go to the second store. For a store that keeps
    /// the flags (the ring), its own flag, which is set after `begun`'s: puts into the ring go
    /// on until it is set, so a waiter must not believe the queue resized before (it would
    /// retry a put the ring refuses as full, in a loop, instead of sleeping).
    #[inline]
    pub(super) fn is_resized(&self) -> bool {
        let flags = match self.store.flags() {
            // Mutant (loom only): the ring's queue taken as resized from `begun`'s flag.
            Some(flags) if !cfg!(all(loom, threadkit_mutant = "ring_resized_from_begun")) => flags,
            _ => self.puts.begun.load(Ordering::SeqCst),
        };
        flags & RESIZED != 0
    }

    /// Whether a resized queue holds its bound (the ring's items count), from two lock-free
    /// reads: what waiters check under the parking lot's bucket lock, where they must not block.
    pub(super) fn resized_is_full(&self) -> bool {
        self.resized.items.is_full_behind(self.store.len())
    }

    /// The items of a resized queue: the second store's and the ring's, read under the second
    /// store's lock (see the module docs).
    pub(super) fn resized_len(&self) -> usize {
        self.resized.items.len_behind(|| self.store.len())
    }

    /// Whether a resized queue holds its bound, its length read as
    /// [`resized_len`](Self::resized_len).
    pub(super) fn resized_is_full_now(&self) -> bool {
        let maxsize = self.resized.maxsize();
        maxsize != 0 && self.resized_len() >= maxsize
    }

    /// `set_maxsize`: see the module docs.
    pub(crate) fn set_maxsize(&self, maxsize: usize) {
        self.resized.items.set_maxsize(maxsize);
        // `begun` first: a put the ring refuses for the flag then finds it in `begun` too.
        self.puts.begun.fetch_or(RESIZED, Ordering::SeqCst);
        self.store.set_flags(RESIZED);
        // Mutant (loom): `set_maxsize` returns before the puts into the ring are over.
        if !cfg!(threadkit_mutant = "queue_resize_set_no_retire") {
            self.retire_ring();
        }
        wait::unpark_all(key(&self.config.putters), UnparkToken(0));
    }

    /// Waits until no put into the ring is in flight. The caller has read [`RESIZED`].
    fn retire_ring(&self) {
        if self.resized.ring_retired.load(Ordering::SeqCst) {
            return;
        }
        // Mutant (tests and loom): trust that no put into the ring is in flight.
        if cfg!(threadkit_mutant = "queue_resize_no_retire") {
            return;
        }
        let mut spin = SpinWait::new();
        while self.puts.unslotted.load(Ordering::SeqCst) != 0 {
            back_off(&mut spin);
        }
        putting::wait_until_no_slot_holds(self.address(), || back_off(&mut spin));
        self.resized.ring_retired.store(true, Ordering::SeqCst);
    }

    /// A put whose step on `begun` found the queue resized (and open): into the second store.
    /// Its flag (`slot`) holds the queue's address, or it is counted in `unslotted`.
    #[cold]
    #[inline(never)]
    pub(super) fn put_resized(
        &self,
        item: S::Item,
        slot: Option<&Slot>,
    ) -> Result<(), (S::Item, Refusal)> {
        let unslotted_resized = &self.puts.unslotted_resized;
        match slot {
            Some(slot) => slot.enter(self.address() | 1),
            // Mutant (loom): the put uncounted between the two words.
            #[cfg(threadkit_mutant = "queue_resize_unslotted_swapped")]
            None => {
                self.puts.unslotted.fetch_sub(1, Ordering::SeqCst);
                unslotted_resized.fetch_add(1, Ordering::SeqCst);
            }
            #[cfg(not(threadkit_mutant = "queue_resize_unslotted_swapped"))]
            None => {
                unslotted_resized.fetch_add(1, Ordering::SeqCst);
                self.puts.unslotted.fetch_sub(1, Ordering::SeqCst);
            }
        }
        // Mutant (loom): a put into the second store that does not retire the ring first.
        if !cfg!(threadkit_mutant = "queue_resize_put_no_retire") {
            self.retire_ring();
        }
        // Mutant (tests and loom): the ring's items not counted against the bound.
        let ahead = || {
            if cfg!(threadkit_mutant = "queue_resize_ring_uncounted") {
                0
            } else {
                self.store.len()
            }
        };
        let over = || match slot {
            Some(slot) => slot.leave(),
            None => drop(unslotted_resized.fetch_sub(1, Ordering::SeqCst)),
        };
        // A panicking push (the deque's capacity overflows) unwinds with the item dropped: the
        // put is over, and its task never was one.
        let on_unwind = OnUnwind(|| {
            over();
            self.forget_tasks(1);
        });
        let pushed = self.resized.items.push_behind(item, ahead);
        std::mem::forget(on_unwind);
        over();
        match pushed {
            Ok(()) => {
                Self::wake_one(&self.config.getters);
                Ok(())
            }
            Err(item) => {
                self.forget_tasks(1);
                Err((item, Refusal::Full))
            }
        }
    }

    /// The get of a resized queue whose ring was found empty: the ring once more (a put that
    /// began before the resize may have landed since), then the second store if the ring was
    /// retired before that look (module docs). Never waits. `None` at once if the queue was
    /// never resized.
    #[cold]
    #[inline(never)]
    pub(super) fn pop_resized(&self) -> Option<S::Item> {
        if !self.is_resized() {
            return None;
        }
        let item = self.pop_resized_inner();
        if item.is_some() {
            Self::wake_one(&self.config.putters);
        }
        item
    }

    fn pop_resized_inner(&self) -> Option<S::Item> {
        // Mutant (loom): the second store taken from without knowing the ring retired.
        if cfg!(threadkit_mutant = "queue_resize_get_unordered") {
            return self.store.pop().or_else(|| self.resized.items.pop());
        }
        let retired = &self.resized.ring_retired;
        if !retired.load(Ordering::SeqCst) {
            if let Some(item) = self.store.pop() {
                return Some(item);
            }
            if self.resized.is_empty() {
                return None;
            }
            // The second store holds items: the put that pushed one set `ring_retired` first
            // (its `SeqCst` store comes before the push, which this thread read with `SeqCst`).
            let seen = retired.load(Ordering::SeqCst);
            if cfg!(loom) {
                assert!(
                    seen,
                    "items in the second store before the ring was retired"
                );
            } else if !seen {
                return None; // not reached; a get must never wait for puts in flight
            }
        }
        self.store.pop().or_else(|| self.resized.items.pop())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use crate::queue::Queue;
    use std::sync::Arc;

    /// A producer racing a resize (Miri runs this for data races): every item arrives, in order.
    #[test]
    fn resize_racing_a_producer_keeps_order() {
        let n = if cfg!(miri) { 20 } else { 2_000 };
        for maxsize in [4, 0] {
            let q = Arc::new(Queue::new(maxsize));
            let producer = {
                let q = Arc::clone(&q);
                std::thread::spawn(move || (0..n).for_each(|i| q.put(i).unwrap()))
            };
            q.set_maxsize(2);
            let got: Vec<usize> = (0..n).map(|_| q.get().unwrap()).collect();
            producer.join().unwrap();
            assert_eq!(got, (0..n).collect::<Vec<_>>());
            assert!(q.is_empty() && q.maxsize() == 2);
        }
    }
}
