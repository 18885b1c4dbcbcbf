//! [`Chain`]: the store of an unbounded [`Queue`](super::Queue) and of a
//! [`SimpleQueue`](super::SimpleQueue): a chain of lock-free [`Ring`]s, each twice the size of
//! the one before, whose last ring's tail word counts the puts and carries the queue's flags, as
//! a bounded queue's ring does.
//!
//! # The algorithm
//!
//! Producers push into the last ring. A push that finds it full links a ring of twice the size
//! after it (`next`, a `SeqCst` compare-and-swap from null, unless one is linked already), then
//! *seals* it ([`Ring::seal_if_full`]: one compare-and-swap sets [`SEALED`] in its tail word, so
//! that every push from then on is refused and no position of it is claimed any more), and
//! moves the producers' hint (`tail`) on. A push refused with [`SEALED`] follows `next` and tries
//! again there. The link comes before the seal, so a sealed ring always has its next: nobody
//! ever waits for a sealer (crossbeam's list channel waits for the thread that installs its next
//! block), and a ring linked by a push whose seal then failed (a pop made room) waits, unused,
//! for the next time the ring fills. Pushes that find the ring full together make one ring:
//! the first claims the link (a marker in `next`) and the others retry until it is there. Every item of a ring was claimed before the ring was
//! sealed, and every item of the next ring after: first in, first out holds across rings.
//!
//! Consumers pop from the first ring with items (the hint `head`). A ring whose pop finds it
//! empty *and* reads [`SEALED`] in the same tail word ([`Ring::try_pop`]) is exhausted for
//! good: nothing can be claimed in it any more, and its pop waits for items that were claimed
//! and are still being stored. The consumer then moves `head` on to `next`.
//!
//! A ring is never freed before the chain is dropped (a consumer or producer may still be
//! reading a ring the hints have left behind): the chain keeps up to about four times as many
//! slots as the most items the queue ever held (the rings add up to twice the last, which is
//! linked when the one before fills), as a `VecDeque` keeps its largest buffer. An empty chain
//! holds one ring of 32 slots. Once the rings are big enough for
//! the queue's peak, the last ring is reused lap after lap, and no put allocates: crossbeam's
//! `SegQueue` (the previous store) allocates a block every 31 puts and frees it after.
//!
//! # Counts and flags
//!
//! Each ring knows the puts made before it (`base`: the puts of the rings before it). It is
//! only known once the ring before is sealed (its sealed tail word holds its final count), so a
//! ring is linked with `base` unknown and the first thread to step from the sealed ring to it
//! writes it (every such thread computes the same value); the producers' hint is moved to a
//! ring only after its `base` is written. The chain's puts are the last ring's `base` plus its
//! own count (a function of its tail position, [`Ring::puts_at`]), read in the tail word that
//! shows the ring not sealed: so the count is exact at that read, as a bounded ring's is. The queue's flags
//! ([`SHUT`](super::store::SHUT), [`RESIZED`](super::store::RESIZED)) are set by
//! [`Chain::set_flags`] in every ring from the producers' hint on, following `next` past each
//! sealed ring, until a ring that is not sealed: the last one, whose claims the flag then ends.
//! A put into a ring the flag has not reached yet is linearized before the flag, which is what
//! the queue's core needs (`store.rs`): after `set_flags` returns, no put succeeds. A put
//! refused by a flag in a sealed ring finishes the setter's walk itself before it returns, so
//! that no put succeeds after one was refused either.
//!
//! # The waiter handshake
//!
//! [`Chain::is_empty`] reads each ring's positions (`SeqCst`, [`Ring::empty_at`]) from the
//! consumers' hint on and follows `next` (`SeqCst`) past sealed, empty rings. A sleeping
//! getter raises its count and then calls it; a putter's claim (`SeqCst`, in the ring it found
//! through `next` or the hint, both written after the `SeqCst` store of `next`) comes before its
//! load of the getters' count. A putter reaches a ring only through a sealed tail word before
//! it; if the getter read that tail word not sealed, its read precedes the seal in the single
//! total order of `SeqCst` accesses, and so the putter's claim and its load of the count: the
//! putter sees the getter's raise and wakes it. Otherwise the getter reached the ring the putter
//! claimed in (a sealed ring's `next` is linked before the seal), as with one ring (`ring.rs`).

use super::ring::{Pos, Refused, Ring, SEALED};
use super::store::{CachePadded, FLAGS};
use crate::loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// The first ring's capacity. Under loom, one slot, so that the models reach a growth in two
/// puts.
const FIRST_CAPACITY: usize = if cfg!(loom) { 1 } else { 32 };

/// The largest ring: a chain past it adds rings of this size (beyond any memory; it keeps the
/// doubling and `Ring::new` from overflowing, on 32-bit targets too).
const MAX_CAPACITY: usize = if usize::BITS > 44 {
    1 << 40
} else {
    1 << (usize::BITS - 4)
};

/// What `next` holds while one push allocates the next ring (a dangling pointer, which no
/// allocation returns): the others wait for it rather than each allocate one (a ring is never
/// sealed before its next is linked, so only pushes into a full ring wait, as they would for
/// room).
fn growing<T>() -> *mut Link<T> {
    std::ptr::NonNull::dangling().as_ptr()
}

/// The sealed bit, as a tail word's.
const SEALED_BIT: Pos = SEALED as Pos;

/// One ring of the chain, and the link to the next.
struct Link<T> {
    ring: Ring<T>,
    /// The next, bigger ring, linked (`SeqCst`) before this one is sealed; null until then.
    next: AtomicPtr<Link<T>>,
    /// The puts made into the rings before this one (modulo 2^62), or [`UNKNOWN`] until a
    /// thread steps to it from the sealed ring before (module docs).
    base: AtomicUsize,
}

/// A ring's `base` before it is known (counts are kept modulo 2^62, so none is this).
const UNKNOWN: usize = usize::MAX;

/// Counts modulo 2^62, as the queue's core keeps them.
const COUNT_MASK: usize = usize::MAX >> 2;

impl<T> Link<T> {
    /// A new, unlinked ring of `cap` slots after `base` puts, on the heap.
    fn boxed(cap: usize, base: usize) -> *mut Link<T> {
        Box::into_raw(Box::new(Link {
            ring: Ring::new(cap),
            next: AtomicPtr::new(std::ptr::null_mut()),
            base: AtomicUsize::new(base),
        }))
    }

    /// The next ring, if one is linked (`SeqCst`: see the waiter handshake). Always, once this
    /// ring is sealed.
    #[inline]
    fn next(&self) -> Option<&Link<T>> {
        let next = self.next.load(Ordering::SeqCst);
        if next == growing() {
            return None;
        }
        // SAFETY: a linked ring lives as long as the chain (module docs), and `self` borrows
        // the chain.
        unsafe { next.as_ref() }
    }

    /// The ring after this sealed one (`sealed`: its tail word, `base`: its own base), with
    /// its base written.
    fn step(&self, sealed: Pos, base: usize) -> (&Link<T>, usize) {
        let next = self.next().expect("a sealed ring has its next linked");
        let next_base = base.wrapping_add(self.ring.puts_at(sealed)) & COUNT_MASK;
        // Every thread that steps here writes the same value; `Release`: for the producers'
        // hint, moved here after this store.
        next.base.store(next_base, Ordering::Release);
        (next, next_base)
    }
}

/// An unbounded lock-free MPMC FIFO of growing rings (module docs).
pub(crate) struct Chain<T> {
    /// The first ring with items (a hint: it may lag behind). Written by consumers.
    head: CachePadded<AtomicPtr<Link<T>>>,
    /// The last ring (a hint: it may lag behind). Written by the producers that grow the chain.
    tail: CachePadded<AtomicPtr<Link<T>>>,
    /// The first ring, where the chain's drop starts.
    first: *mut Link<T>,
    /// Rings made by `grow` (tests: one per growth, however many pushes found the ring full).
    #[cfg(all(test, not(loom)))]
    made: std::sync::atomic::AtomicUsize,
}

// SAFETY: the rings are `Sync` for `T: Send` (`ring.rs`) and live until the chain is dropped;
// the links' own fields are atomics.
unsafe impl<T: Send> Sync for Chain<T> {}
// SAFETY: the chain owns its rings and their items; moving it moves them (`T: Send`).
unsafe impl<T: Send> Send for Chain<T> {}

// Items go in and come out whole and no user code runs inside the chain, so a panic elsewhere
// cannot leave it half-changed (as crossbeam's `SegQueue`, the previous store, declares too).
impl<T> std::panic::UnwindSafe for Chain<T> {}
impl<T> std::panic::RefUnwindSafe for Chain<T> {}

impl<T> Chain<T> {
    /// An empty chain: one ring of [`FIRST_CAPACITY`] slots.
    pub(crate) fn new() -> Self {
        let first = Link::boxed(FIRST_CAPACITY, 0);
        Chain {
            head: CachePadded(AtomicPtr::new(first)),
            tail: CachePadded(AtomicPtr::new(first)),
            first,
            #[cfg(all(test, not(loom)))]
            made: Default::default(),
        }
    }

    /// The ring a hint points to.
    #[inline(always)]
    fn at(&self, hint: &AtomicPtr<Link<T>>) -> &Link<T> {
        // SAFETY: the hints only ever point to rings of this chain, which live as long as it
        // (module docs); `Acquire` pairs with the `Release` (or `SeqCst`) that published the
        // ring, so its fields are initialised.
        unsafe { &*hint.load(Ordering::Acquire) }
    }

    /// Moves `hint` from `from` on to `to` (unless another thread has moved it already).
    #[inline]
    fn advance(hint: &AtomicPtr<Link<T>>, from: &Link<T>, to: &Link<T>) {
        let from = from as *const Link<T> as *mut Link<T>;
        let to = to as *const Link<T> as *mut Link<T>;
        let _ = hint.compare_exchange(from, to, Ordering::Release, Ordering::Relaxed);
    }

    /// Stores `item` at the end, or hands it back with the queue's flag bits
    /// ([`Refused::Flagged`]); never full. The compare-and-swap that claims its slot in the
    /// last ring counts it and checks the flags.
    #[inline(always)]
    pub(crate) fn push(&self, mut item: T) -> Result<(), Refused<T>> {
        let mut link = self.at(&self.tail);
        loop {
            match link.ring.push(item) {
                Ok(()) => return Ok(()),
                Err(Refused::Flagged(back, bits)) if bits & FLAGS != 0 => {
                    // A flag whose setter may not have reached the last ring yet: finish its
                    // walk, so that from this refusal on no ring takes a put (a resized
                    // queue's second store relies on it, `resize.rs`).
                    // Mutant (loom only): the walk left to the setter.
                    if bits & SEALED != 0
                        && !cfg!(all(loom, threadkit_mutant = "chain_refusal_unhelped"))
                    {
                        self.set_flags(bits & FLAGS);
                    }
                    return Err(Refused::Flagged(back, bits & FLAGS));
                }
                Err(Refused::Flagged(back, _)) | Err(Refused::Full(back)) => {
                    item = back;
                    link = self.grow(link);
                }
            }
        }
    }

    /// After a push into `link` was refused as full or sealed: links a ring twice its size
    /// (unless one is linked) and seals it if it is still full; if it is sealed, moves the
    /// producers' hint on and returns the next ring to try, else `link` again.
    #[cold]
    #[inline(never)]
    fn grow<'a>(&'a self, link: &'a Link<T>) -> &'a Link<T> {
        let growing = growing();
        let mut next = link.next.load(Ordering::SeqCst);
        if next.is_null() {
            // Claim the allocation, so that pushes finding the ring full together make one
            // ring, not one each.
            match link.next.compare_exchange(
                std::ptr::null_mut(),
                growing,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => {
                    let cap = (link.ring.capacity() * 2).min(MAX_CAPACITY);
                    next = Link::boxed(cap, UNKNOWN);
                    #[cfg(all(test, not(loom)))]
                    self.made.fetch_add(1, Ordering::Relaxed);
                    link.next.store(next, Ordering::SeqCst);
                }
                Err(now) => next = now,
            }
        }
        if next == growing {
            // Another push is making the next ring; this ring is not sealed before it is
            // linked, so try again (as a push into a full ring waits for room).
            crate::loom::yield_now();
            return link;
        }
        link.ring.seal_if_full();
        let tail = link.ring.tail_word();
        if tail & SEALED_BIT == 0 {
            // Not full any more, or a flag set: try the same ring again.
            return link;
        }
        // `link`'s base is known: the producers' hint points to rings whose base is written,
        // and every step from there wrote the next one's.
        let (next, _) = link.step(tail, link.base.load(Ordering::Acquire));
        Self::advance(&self.tail, link, next);
        next
    }

    /// Takes the first item out, if there is one. The pop in the first ring with items is the
    /// linearization point; an "empty" answer is the `SeqCst` load of a tail word that shows
    /// its ring empty and not sealed.
    #[inline(always)]
    pub(crate) fn pop(&self) -> Option<T> {
        let mut link = self.at(&self.head);
        loop {
            match link.ring.try_pop() {
                Ok(item) => return Some(item),
                // Mutant (loom only): a sealed ring's "empty" taken as the chain's.
                Err(tail)
                    if tail & SEALED_BIT == 0
                        || cfg!(all(loom, threadkit_mutant = "chain_pop_stops_at_seal")) =>
                {
                    return None
                }
                Err(tail) => {
                    // Sealed and empty: exhausted for good. On to the next ring, its base
                    // written before the consumers' hint moves to it (for `gets`): the hint's
                    // rings all have theirs, and so `link` has.
                    let (next, _) = link.step(tail, link.base.load(Ordering::Acquire));
                    Self::advance(&self.head, link, next);
                    link = next;
                }
            }
        }
    }

    /// Whether the chain holds no item (see the waiter handshake in the module docs).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        let mut link = self.at(&self.head);
        loop {
            match link.ring.empty_at() {
                Err(_) => return false,
                // Mutant (loom only): a sealed, empty ring's "empty" taken as the chain's.
                Ok(tail)
                    if tail & SEALED_BIT == 0
                        || cfg!(all(loom, threadkit_mutant = "chain_empty_stops_at_seal")) =>
                {
                    return true
                }
                Ok(_) => match link.next() {
                    Some(next) => link = next,
                    None => return true,
                },
            }
        }
    }

    /// Items in the chain (the sum of its rings', each read at its own moment: exact when
    /// nothing moves).
    pub(crate) fn len(&self) -> usize {
        let mut link = self.at(&self.head);
        let mut len = 0;
        loop {
            len += link.ring.len();
            match link.next() {
                Some(next) => link = next,
                None => return len,
            }
        }
    }

    /// The last ring, from the producers' hint: the tail word (`SeqCst`) that shows it not
    /// sealed, and the puts before it.
    fn last(&self) -> (&Link<T>, Pos, usize) {
        let mut link = self.at(&self.tail);
        let mut base = link.base.load(Ordering::Acquire);
        debug_assert!(
            base != UNKNOWN,
            "the producers' hint points to a ring whose base is known"
        );
        loop {
            let tail = link.ring.tail_word();
            if tail & SEALED_BIT == 0 {
                return (link, tail, base);
            }
            (link, base) = link.step(tail, base);
        }
    }

    /// Items ever pushed, modulo 2^62: exact at the read of the last ring's tail word (module
    /// docs).
    #[inline]
    pub(crate) fn puts(&self) -> usize {
        let (link, tail, base) = self.last();
        // Mutant (loom only): the last ring's own count, without the rings before it.
        if cfg!(all(loom, threadkit_mutant = "chain_base_ignored")) {
            return link.ring.puts_at(tail);
        }
        base.wrapping_add(link.ring.puts_at(tail)) & COUNT_MASK
    }

    /// A lower bound of the items ever popped, modulo 2^62: the pops of the consumers' ring
    /// and of the rings before it (see [`Ring::gets`]).
    #[inline]
    pub(crate) fn gets(&self) -> usize {
        let link = self.at(&self.head);
        let base = link.base.load(Ordering::Acquire);
        debug_assert!(
            base != UNKNOWN,
            "the consumers' hint points to a ring whose base is known"
        );
        base.wrapping_add(link.ring.gets()) & COUNT_MASK
    }

    /// The queue's flag bits set in the last ring.
    #[inline]
    pub(crate) fn flags(&self) -> usize {
        let (_, tail, _) = self.last();
        (tail & FLAGS as Pos) as usize
    }

    /// Sets `bits` in every ring from the producers' hint to the last one (module docs); every
    /// push from then on is refused with them.
    pub(crate) fn set_flags(&self, bits: usize) {
        let mut link = self.at(&self.tail);
        loop {
            link.ring.set_flags(bits);
            // Mutant (loom only): the flag set in the hinted ring only.
            if cfg!(all(loom, threadkit_mutant = "chain_flag_hint_only"))
                || link.ring.tail_word() & SEALED_BIT == 0
            {
                return;
            }
            link = link.next().expect("a sealed ring has its next linked");
        }
    }

    /// Takes every item out (in order).
    pub(crate) fn drain(&self) -> Vec<T> {
        std::iter::from_fn(|| self.pop()).collect()
    }
}

impl<T> Default for Chain<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Drop for Chain<T> {
    fn drop(&mut self) {
        let mut link = self.first;
        while !link.is_null() && link != growing() {
            // SAFETY: every ring was made by `Link::boxed` and is linked once, from `first` on;
            // `&mut self`: nobody else can reach them. Each ring drops its own items.
            let boxed = unsafe { Box::from_raw(link) };
            link = boxed.next.load(Ordering::Relaxed);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::queue::store::{RESIZED, SHUT};
    use std::sync::atomic::AtomicUsize as StdCount;
    use std::sync::Arc;

    impl<T> Chain<T> {
        /// The capacities of the rings, first to last.
        fn capacities(&self) -> Vec<usize> {
            let mut caps = Vec::new();
            // SAFETY: the first ring lives as long as the chain.
            let mut link = Some(unsafe { &*self.first });
            while let Some(l) = link {
                caps.push(l.ring.capacity());
                link = l.next();
            }
            caps
        }
    }

    #[test]
    fn grows_by_doubling_and_keeps_order() {
        let chain = Chain::new();
        let n = 5 * FIRST_CAPACITY;
        for i in 0..n {
            chain.push(i).unwrap();
            assert_eq!((chain.len(), chain.puts()), (i + 1, i + 1));
        }
        assert_eq!(
            chain.capacities(),
            [1, 2, 4].map(|k| k * FIRST_CAPACITY),
            "a ring is added only when the last is full"
        );
        assert!(!chain.is_empty());
        for i in 0..n {
            assert_eq!(chain.pop(), Some(i));
            assert_eq!(chain.len(), n - i - 1);
        }
        assert_eq!(chain.pop(), None);
        assert!(chain.is_empty());
        // The consumers' hint has moved to the last ring; the producers' is there too.
        chain.push(7).unwrap();
        assert_eq!((chain.pop(), chain.puts()), (Some(7), n + 1));
    }

    #[test]
    fn a_ring_that_keeps_up_is_reused_without_growing() {
        let chain = Chain::new();
        let rounds = if cfg!(miri) { 100 } else { 100_000 };
        for i in 0..rounds {
            chain.push(i).unwrap();
            chain.push(i).unwrap();
            assert_eq!(chain.pop(), Some(i));
            assert_eq!(chain.pop(), Some(i));
        }
        assert_eq!(chain.capacities(), [FIRST_CAPACITY]);
        assert_eq!(chain.puts(), 2 * rounds);
    }

    #[test]
    fn gets_interleaved_with_growth_keep_order_and_count() {
        let chain = Chain::new();
        let (mut next_in, mut next_out) = (0, 0);
        // Put three, get one, so that the chain grows while it holds items in two rings.
        for _ in 0..4 * FIRST_CAPACITY {
            for _ in 0..3 {
                chain.push(next_in).unwrap();
                next_in += 1;
            }
            assert_eq!(chain.pop(), Some(next_out));
            next_out += 1;
            assert_eq!(chain.len(), next_in - next_out);
            assert_eq!(chain.puts(), next_in);
        }
        assert!(chain.capacities().len() > 2);
        while let Some(item) = chain.pop() {
            assert_eq!(item, next_out);
            next_out += 1;
        }
        assert_eq!(next_out, next_in);
    }

    #[test]
    fn flags_reach_the_last_ring_and_keep_the_items() {
        for flag in [SHUT, RESIZED, SHUT | RESIZED] {
            let chain = Chain::new();
            let n = FIRST_CAPACITY + 3; // two rings
            for i in 0..n {
                chain.push(i).unwrap();
            }
            assert_eq!(chain.flags(), 0);
            chain.set_flags(flag);
            assert_eq!(chain.flags(), flag);
            assert_eq!(chain.push(99), Err(Refused::Flagged(99, flag)));
            assert_eq!(
                (chain.len(), chain.puts()),
                (n, n),
                "a refused put is not counted"
            );
            assert_eq!(chain.drain(), (0..n).collect::<Vec<_>>());
            assert!(chain.is_empty());
            assert_eq!(chain.push(99), Err(Refused::Flagged(99, flag)));
        }
    }

    /// Producers that find the ring full at the same moment make one ring between them, not
    /// one each (review of the chain, M2: each allocated and initialised a ring, and all but
    /// one freed theirs).
    #[test]
    fn racing_growers_make_one_ring_per_growth() {
        let per = if cfg!(miri) { 200 } else { 50_000 };
        let chain = Arc::new(Chain::new());
        let producers: Vec<_> = (0..4)
            .map(|_| {
                let chain = Arc::clone(&chain);
                std::thread::spawn(move || (0..per).for_each(|i| chain.push(i).unwrap()))
            })
            .collect();
        producers.into_iter().for_each(|p| p.join().unwrap());
        assert_eq!(chain.len(), 4 * per);
        let rings = chain.capacities().len();
        assert_eq!(
            chain.made.load(Ordering::Relaxed),
            rings - 1,
            "rings made for {} growths",
            rings - 1
        );
    }

    /// Counts its drops.
    struct Counted(Arc<StdCount>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn drop_drops_leftovers_in_every_ring_exactly_once() {
        for (pushed, popped) in [(0, 0), (1, 0), (3 * FIRST_CAPACITY, 5), (100, 100)] {
            let drops = Arc::new(StdCount::new(0));
            let chain = Chain::new();
            for _ in 0..pushed {
                assert!(chain.push(Counted(Arc::clone(&drops))).is_ok());
            }
            for _ in 0..popped {
                drop(chain.pop().unwrap());
            }
            assert_eq!(drops.load(Ordering::Relaxed), popped);
            drop(chain);
            assert_eq!(drops.load(Ordering::Relaxed), pushed);
        }
    }

    /// Three producers, two consumers, the chain growing under them (Miri checks the slots and
    /// the links for races): every item arrives once, each producer's in order, and the count
    /// is every put.
    #[test]
    fn many_producers_and_consumers_lose_nothing_while_it_grows() {
        let n = if cfg!(miri) { 40 } else { 20_000 };
        let chain = Arc::new(Chain::new());
        let got = Arc::new(StdCount::new(0));
        let producers: Vec<_> = (0..3)
            .map(|p| {
                let chain = Arc::clone(&chain);
                std::thread::spawn(move || {
                    for i in 0..n {
                        chain.push((p, i)).unwrap();
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let (chain, got) = (Arc::clone(&chain), Arc::clone(&got));
                std::thread::spawn(move || {
                    let mut last = [None; 3];
                    while got.load(Ordering::Relaxed) < 3 * n {
                        match chain.pop() {
                            Some((p, i)) => {
                                assert!(last[p] < Some(i), "producer {p} out of order");
                                last[p] = Some(i);
                                got.fetch_add(1, Ordering::Relaxed);
                            }
                            None => std::thread::yield_now(),
                        }
                    }
                })
            })
            .collect();
        for t in producers.into_iter().chain(consumers) {
            t.join().unwrap();
        }
        assert!(chain.is_empty());
        assert_eq!((chain.puts(), got.load(Ordering::Relaxed)), (3 * n, 3 * n));
    }
}
