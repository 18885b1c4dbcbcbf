//! [`Ring`]: the bounded store of a [`Queue`](super::Queue), a lock-free multi-producer,
//! multi-consumer ring whose tail word also counts the puts and carries the queue's shut-down and
//! resized flags.
//!
//! # The algorithm
//!
//! Dmitry Vyukov's bounded MPMC queue, as crossbeam-queue's `ArrayQueue` builds it: `cap` slots,
//! each with a *stamp*; a `head` and a `tail` position, each a lap and an index (`lap + index`,
//! a lap being the smallest power of two above `cap`, so the index is the low bits). A slot's
//! stamp says what it is ready for: stamp `p` means empty, ready for the push at position `p`;
//! `p + 1` holds the item pushed at `p`, ready for the pop at `p`; the pop then stamps it
//! `p + lap`, ready for the push one lap later.
//!
//! - A push reads the tail `t` and the stamp of its slot. Stamp `t`: it claims the position with
//!   a compare-and-swap of the tail to the next position, writes the item, stores the stamp
//!   `t + 1` (`Release`). Stamp `t + 1 - lap` (the item of a lap ago is still there): full if
//!   the head is a lap behind the tail, otherwise that item's pop is under way; wait for it.
//! - A pop reads the head `h` and its slot's stamp. Stamp `h + 1`: it claims the position with a
//!   compare-and-swap of the head, reads the item, stores the stamp `h + lap` (`Release`). Stamp
//!   `h`: empty if the tail is `h`; otherwise a push claimed `h` and has not stamped it yet, and
//!   the pop waits for it (spinning, then yielding): a pop never answers "empty" while a claimed
//!   item is on its way.
//!
//! # What is different here
//!
//! Positions are kept in every word (head, tail, stamps) shifted left by three ([`STEP`]), and
//! the tail word's three low bits are flags: the queue's [`SHUT`] and [`RESIZED`] (`store.rs`),
//! and [`SEALED`], which an unbounded queue's chain of rings sets in a full ring when it moves
//! on to a bigger one (`chain.rs`). A push compare-and-swaps the tail only from a value with
//! every bit clear, and refuses the item, naming the bits, when it reads one set (flags are
//! only ever set, by [`Ring::set_flags`] and [`Ring::seal_if_full`], with read-modify-writes of
//! the tail, which make any compare-and-swap from the old value fail). So the one
//! read-modify-write that claims a slot also counts the put (the puts so far are a function of
//! the tail position: laps × `cap` + index, [`Ring::puts`]) and checks it against shutdown and
//! resize, atomically. A put refused as full or by a flag claimed nothing and counted nothing.
//!
//! Puts in flight are the positions claimed and not stamped yet. A pop waits for them (above),
//! so a pop that finds the ring empty after reading [`SHUT`] in the tail is final: no position
//! can be claimed any more and none is pending; [`Ring::len`] counts them.
//!
//! # Linearization and the waiter handshake
//!
//! A push takes effect at its successful compare-and-swap of the tail, a pop at its successful
//! compare-and-swap of the head (both `SeqCst`); an "empty" answer at its `SeqCst` load of the
//! tail, a "full" one at its `SeqCst` load of the head. [`Ring::is_empty`], [`Ring::is_full`] and
//! [`Ring::len`] read the two *positions* (`SeqCst`), never the stamps: that is what the waiter
//! handshake of `Core::park_on` needs. A sleeping getter raises its count (`SeqCst`) and then
//! reads the positions; a putter's `SeqCst` compare-and-swap of the tail comes before its `SeqCst`
//! load of the getters' count. All four are `SeqCst`, so in their single total order either the
//! putter's load follows the sleeper's raise (it wakes the sleeper) or the sleeper's load of the
//! tail follows the claim (it sees the ring not empty and does not sleep; its pop then waits for
//! the stamp). The stamp store is `Release` only and a `Release` store followed by a `SeqCst`
//! load of another word is not ordered (on x86 the store may wait in the store buffer; in the C++
//! model nothing orders them), so a handshake built on the stamps would lose wake-ups. The same
//! holds for putters asleep on a full ring and the head's compare-and-swap of a pop.
//!
//! # Limits
//!
//! Positions wrap around at 2^61, which is where the flags leave them room: with a lap of `L`
//! positions (`cap < L <= 2 cap`) that is after `2^61 / L × cap` puts, at least 2^60 (about 36
//! years at a billion puts a second); at that point [`Ring::puts`]
//! jumps back to 0 while the queue's other counts go on modulo 2^62, so the queue's
//! `unfinished_tasks` would be off from then on. Order and storage are not affected (wrapping
//! arithmetic throughout). Positions are 64-bit words on every target ([`Pos`]), so a 32-bit
//! target has the same limit (with `usize` words its count would have jumped after 2^29 puts).

use std::mem::MaybeUninit;

use super::store::{back_off, CachePadded, FLAGS};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicU64, Ordering};
use crate::wait::SpinWait;

/// A position (× [`STEP`], with the tail's flags in the three low bits): 64 bits on every
/// target, so that the count of puts read from the tail ([`Ring::puts`]) stays exact for at least
/// 2^60 puts on 32-bit targets too (with `usize` positions it would jump after 2^29 there, and a
/// queue's `unfinished_tasks` with it).
pub(crate) type Pos = u64;

/// The queue's flag bits, as a position's.
const FLAG_BITS: Pos = FLAGS as Pos;

/// The sealed bit of the tail (bit 2): set by [`Ring::seal_if_full`] on a ring of an unbounded
/// queue's chain (`chain.rs`) when the chain moves on to a bigger ring; every push from then on
/// is refused with it, so no position of this ring is claimed any more.
pub(crate) const SEALED: usize = 4;

/// Every flag bit of the tail: the queue's and [`SEALED`].
const TAIL_BITS: Pos = FLAG_BITS | SEALED as Pos;

/// One position, in every word: the three low bits are the tail's flags.
const STEP: Pos = TAIL_BITS + 1;

/// Why [`Ring::push`] handed an item back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused<T> {
    /// Every slot holds an item.
    Full(T),
    /// The tail carries these flag bits ([`SHUT`](super::store::SHUT),
    /// [`RESIZED`](super::store::RESIZED)).
    Flagged(T, usize),
}

impl<T> Refused<T> {
    /// The item handed back.
    #[inline(always)]
    pub(crate) fn into_item(self) -> T {
        match self {
            Refused::Full(item) | Refused::Flagged(item, _) => item,
        }
    }
}

/// A slot: an item, or room for one, and the stamp that says which (module docs).
struct Slot<T> {
    stamp: AtomicU64,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// A bounded lock-free MPMC FIFO whose tail word counts the puts and carries two flags (module
/// docs).
pub(crate) struct Ring<T> {
    /// The next position to pop (× [`STEP`]). Written by consumers only.
    head: CachePadded<AtomicU64>,
    /// The next position to push (× [`STEP`]), plus the flag bits. Written by producers and by
    /// [`set_flags`](Self::set_flags).
    tail: CachePadded<AtomicU64>,
    slots: Box<[Slot<T>]>,
    /// One lap, × [`STEP`]: the smallest power of two above the capacity, so index and lap are
    /// bit fields of a position.
    lap: Pos,
    /// `lap - 1`: the index bits of a position (× [`STEP`]).
    mask: Pos,
    /// The index bits of the last slot's positions: `(cap - 1) × STEP`.
    last: Pos,
    /// log2 of one lap in positions, × [`STEP`] (the shift from a tail word to its lap count).
    lap_shift: u32,
}

// SAFETY: items are moved in and out whole, each by the one thread whose compare-and-swap
// claimed its position, so sending items between threads (`T: Send`) is all a shared ring does.
unsafe impl<T: Send> Sync for Ring<T> {}
// SAFETY: the ring owns its items; moving it moves them (`T: Send`).
unsafe impl<T: Send> Send for Ring<T> {}

impl<T> Ring<T> {
    /// An empty ring of `cap` slots, all allocated now.
    ///
    /// # Panics
    ///
    /// If `cap` is 0 or above `usize::MAX / 8`.
    pub(crate) fn new(cap: usize) -> Self {
        Self::starting_at(cap, 0)
    }

    /// An empty ring whose head and tail start at lap `first_lap` (tests: the wrap of positions).
    fn starting_at(cap: usize, first_lap: Pos) -> Self {
        assert!(cap > 0, "a ring needs at least one slot");
        let lap = cap
            .checked_add(1)
            .and_then(usize::checked_next_power_of_two)
            .and_then(|l| (l as Pos).checked_mul(STEP))
            .expect("ring capacity too large");
        let start = first_lap.wrapping_mul(lap);
        let slots = (0..cap)
            .map(|i| Slot {
                stamp: AtomicU64::new(start.wrapping_add(i as Pos * STEP)),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Ring {
            head: CachePadded(AtomicU64::new(start)),
            tail: CachePadded(AtomicU64::new(start)),
            slots,
            lap,
            mask: lap - 1,
            last: (cap as Pos - 1) * STEP,
            lap_shift: lap.trailing_zeros(),
        }
    }

    /// How many items the ring can hold.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The index of position `pos`'s slot (flag bits clear): below the capacity, so it fits.
    #[inline(always)]
    fn index(&self, pos: Pos) -> usize {
        ((pos & self.mask) / STEP) as usize
    }

    /// The slot of position `pos` (flag bits clear).
    #[inline(always)]
    fn slot(&self, pos: Pos) -> &Slot<T> {
        &self.slots[self.index(pos)]
    }

    /// The position after `pos`: the next index, or index 0 of the next lap.
    #[inline(always)]
    fn next(&self, pos: Pos) -> Pos {
        if pos & self.mask < self.last {
            pos + STEP
        } else {
            // Index 0 of the next lap: the lap bits plus one, as `mask + 1` is one lap.
            (pos | self.mask).wrapping_add(1)
        }
    }

    /// Stores `item` at the tail, or hands it back: [`Refused::Full`] if every slot holds an
    /// item, [`Refused::Flagged`] if a flag is set in the tail. Only a stored item is counted in
    /// [`puts`](Self::puts); the compare-and-swap that claims its slot is the linearization
    /// point, and it checks the flags in the same step.
    #[inline(always)]
    pub(crate) fn push(&self, item: T) -> Result<(), Refused<T>> {
        let mut spin = SpinWait::new();
        // `Acquire`: a push refused by a flag goes on to read words the flag's setter wrote
        // before it (the queue's `begun`, `resize.rs`).
        let mut tail = self.tail.load(Ordering::Acquire);
        loop {
            let flags = tail & TAIL_BITS;
            // Mutant (loom only): the claim ignores the flags and carries them along.
            if flags != 0 && !cfg!(all(loom, threadkit_mutant = "ring_flag_unchecked")) {
                return Err(Refused::Flagged(item, flags as usize));
            }
            let pos = tail ^ flags;
            let slot = self.slot(pos);
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == pos {
                let claimed = self.tail.compare_exchange_weak(
                    tail,
                    self.next(pos) | flags,
                    Ordering::SeqCst,
                    Ordering::Acquire,
                );
                match claimed {
                    Ok(_) => {
                        // Stands in for the claim's `SeqCst` in the waiter handshake, as the
                        // only fence on this path (`Store::fences_its_changes`).
                        crate::loom::seq_cst_fence_for_loom();
                        // SAFETY: the compare-and-swap gave this thread position `pos`, whose
                        // slot is empty (stamp `pos`) and which no other push or pop can claim
                        // until the stamp below: nobody else accesses the value meanwhile.
                        slot.value
                            .with_mut(|p| unsafe { p.write(MaybeUninit::new(item)) });
                        // `Release`: the pop that reads the stamp (`Acquire`) sees the item.
                        // Mutant (loom only): `Relaxed`, the item not published.
                        let publish = if cfg!(all(loom, threadkit_mutant = "ring_stamp_relaxed")) {
                            Ordering::Relaxed
                        } else {
                            Ordering::Release
                        };
                        slot.stamp.store(pos + STEP, publish);
                        return Ok(());
                    }
                    Err(now) => {
                        tail = now;
                        std::hint::spin_loop();
                    }
                }
            } else if stamp.wrapping_add(self.lap) == pos + STEP {
                // The slot still holds the item of a lap ago: full, unless its pop has moved
                // the head and not stamped the slot free yet.
                if self.head.load(Ordering::SeqCst).wrapping_add(self.lap) == pos {
                    return Err(Refused::Full(item));
                }
                back_off(&mut spin);
                tail = self.tail.load(Ordering::Acquire);
            } else {
                // Another push claimed `pos` (the tail moved on), or a pop is stamping.
                back_off(&mut spin);
                tail = self.tail.load(Ordering::Acquire);
            }
        }
    }

    /// Takes the item at the head, if there is one; waits for a push that claimed the head's
    /// position and has not stored its item yet. The head's compare-and-swap is the
    /// linearization point (an empty answer: the `SeqCst` load of the tail).
    #[inline]
    pub(crate) fn pop(&self) -> Option<T> {
        self.try_pop().ok()
    }

    /// [`pop`](Self::pop), answering "empty" with the tail word (flags included) whose
    /// `SeqCst` load found the ring empty: the chain (`chain.rs`) reads [`SEALED`] there.
    #[inline(always)]
    pub(crate) fn try_pop(&self) -> Result<T, Pos> {
        let mut spin = SpinWait::new();
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let slot = self.slot(head);
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == head + STEP {
                let claimed = self.head.compare_exchange_weak(
                    head,
                    self.next(head),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                );
                match claimed {
                    Ok(_) => {
                        // As in `push`: the stand-in for the claim's `SeqCst`.
                        crate::loom::seq_cst_fence_for_loom();
                        // SAFETY: the compare-and-swap gave this thread position `head`, whose
                        // slot holds an initialised item (stamp `head + STEP`, stored after the
                        // write and read with `Acquire`); no push can claim it before the stamp
                        // below, so the item is read (moved out) once.
                        let item = slot.value.with(|p| unsafe { p.read().assume_init() });
                        slot.stamp
                            .store(head.wrapping_add(self.lap), Ordering::Release);
                        return Ok(item);
                    }
                    Err(now) => {
                        head = now;
                        std::hint::spin_loop();
                    }
                }
            } else if stamp == head {
                // Empty at `head`: the ring is empty, or a push claimed `head` and is storing.
                // Mutant (loom only): "empty" without looking for a claim in flight.
                let tail = self.tail.load(Ordering::SeqCst);
                if cfg!(all(loom, threadkit_mutant = "ring_pop_skips_claims"))
                    || tail & !TAIL_BITS == head
                {
                    return Err(tail);
                }
                back_off(&mut spin);
                head = self.head.load(Ordering::Relaxed);
            } else {
                // Another pop took `head` (the head moved on).
                back_off(&mut spin);
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Items in the ring, claimed ones on their way included (`SeqCst` reads of the positions;
    /// the tail read twice, so head and tail are from one moment).
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.load(Ordering::SeqCst) & !TAIL_BITS;
            let head = self.head.load(Ordering::SeqCst);
            if self.tail.load(Ordering::SeqCst) & !TAIL_BITS == tail {
                return self.distance(head, tail);
            }
        }
    }

    /// The items from `head` to `tail` (positions, flag bits clear).
    fn distance(&self, head: Pos, tail: Pos) -> usize {
        let (h, t) = (self.index(head), self.index(tail));
        if h < t {
            t - h
        } else if h > t {
            self.slots.len() - h + t
        } else if head == tail {
            0
        } else {
            self.slots.len()
        }
    }

    /// Whether head and tail are at the same position (`SeqCst` reads of both; not the stamps:
    /// see the module docs).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.empty_at().is_ok()
    }

    /// [`is_empty`](Self::is_empty), with the tail word it read (flags included): `Ok` if the
    /// ring was empty at that read.
    #[inline]
    pub(crate) fn empty_at(&self) -> Result<Pos, Pos> {
        let head = self.head.load(Ordering::SeqCst);
        let tail = self.tail.load(Ordering::SeqCst);
        // Mutant (loom only): "empty" read from the head slot's stamp, which a push stores
        // (`Release`) after its claim, instead of from the positions.
        #[cfg(all(loom, threadkit_mutant = "ring_empty_reads_stamps"))]
        {
            let stamped = self.slot(head).stamp.load(Ordering::Acquire) == head + STEP;
            return if stamped { Err(tail) } else { Ok(tail) };
        }
        if tail & !TAIL_BITS == head {
            Ok(tail)
        } else {
            Err(tail)
        }
    }

    /// Whether the head is a lap behind the tail (`SeqCst` reads of both).
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        let tail = self.tail.load(Ordering::SeqCst) & !TAIL_BITS;
        let head = self.head.load(Ordering::SeqCst);
        head.wrapping_add(self.lap) == tail
    }

    /// Items ever pushed (claimed), modulo the wrap of positions (module docs: exact for at
    /// least 2^60 puts). `SeqCst`.
    #[inline]
    pub(crate) fn puts(&self) -> usize {
        self.puts_at(self.tail.load(Ordering::SeqCst))
    }

    /// Items ever popped (claimed), modulo the wrap of positions, as [`puts`](Self::puts)
    /// counts the pushes; `Acquire`, which orders the push of every item counted before what
    /// the caller does next. Never more than [`puts`](Self::puts).
    #[inline]
    pub(crate) fn gets(&self) -> usize {
        self.puts_at(self.head.load(Ordering::Acquire))
    }

    /// The puts counted in the tail word `tail` (flags ignored).
    #[inline]
    pub(crate) fn puts_at(&self, tail: Pos) -> usize {
        let laps = tail >> self.lap_shift;
        let index = self.index(tail) as Pos;
        // Mutant (loom only): a lap counted as one slot more than the ring has.
        let per_lap = if cfg!(all(loom, threadkit_mutant = "ring_count_off_by_one")) {
            self.slots.len() + 1
        } else {
            self.slots.len()
        };
        // Truncated on a 32-bit target: the queue counts tasks modulo 2^30 there, which this
        // keeps continuous.
        laps.wrapping_mul(per_lap as Pos).wrapping_add(index) as usize
    }

    /// The flag bits set in the tail (`SeqCst`).
    #[inline]
    pub(crate) fn flags(&self) -> usize {
        (self.tail.load(Ordering::SeqCst) & FLAG_BITS) as usize
    }

    /// Sets `bits` in the tail (a `SeqCst` `fetch_or`): every push from then on is refused
    /// with them, and none that claimed before is affected.
    #[inline]
    pub(crate) fn set_flags(&self, bits: usize) {
        debug_assert!(bits & !FLAGS == 0);
        self.tail.fetch_or(bits as Pos, Ordering::SeqCst);
    }

    /// Seals the ring ([`SEALED`]) if it is full and no flag is set: from then on every push is
    /// refused with [`SEALED`]. Returns the tail word it sealed (flags clear), or `None` (not
    /// full, or a flag set). The fullness is read just before the seal, so a pop may have
    /// made room meanwhile: the chain then moves on a little early, which costs nothing but
    /// that room.
    pub(crate) fn seal_if_full(&self) -> Option<Pos> {
        let mut tail = self.tail.load(Ordering::SeqCst);
        loop {
            if tail & TAIL_BITS != 0
                || self.head.load(Ordering::SeqCst).wrapping_add(self.lap) != tail
            {
                return None;
            }
            match self.tail.compare_exchange_weak(
                tail,
                tail | SEALED as Pos,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return Some(tail),
                Err(now) => tail = now,
            }
        }
    }

    /// The tail word (`SeqCst`), flags included.
    #[inline]
    pub(crate) fn tail_word(&self) -> Pos {
        self.tail.load(Ordering::SeqCst)
    }

    /// Takes every item out (in order).
    pub(crate) fn drain(&self) -> Vec<T> {
        std::iter::from_fn(|| self.pop()).collect()
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        if !std::mem::needs_drop::<T>() {
            return;
        }
        // `&mut self`: every push and pop is over (each stamps before it returns).
        let mut pos = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed) & !TAIL_BITS;
        while pos != tail {
            // SAFETY: positions from head to tail hold the items pushed and not popped, each
            // initialised and dropped here once; nobody else can access the ring.
            self.slot(pos)
                .value
                .with_mut(|p| unsafe { (*p).assume_init_drop() });
            pos = self.next(pos);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::queue::store::{RESIZED, SHUT};
    use std::sync::atomic::AtomicUsize as StdCount;
    use std::sync::Arc;

    /// Pushes and pops through `laps` laps of a ring of `cap`, filling it each time: order,
    /// length, fullness and the put count hold at every step.
    /// `counted`: whether to check the put count (not across the wrap of positions, where it
    /// jumps).
    fn laps_through(ring: &Ring<usize>, laps: usize, counted: bool) {
        let cap = ring.capacity();
        let base = ring.puts();
        let mut next = 0;
        for _ in 0..laps {
            assert!(ring.is_empty() && !ring.is_full());
            for i in 0..cap {
                assert_eq!(ring.len(), i);
                ring.push(next + i).unwrap();
            }
            assert!(ring.is_full() && !ring.is_empty());
            assert_eq!(ring.push(99), Err(Refused::Full(99)));
            assert_eq!(ring.len(), cap);
            for i in 0..cap {
                assert_eq!(ring.pop(), Some(next + i));
            }
            assert_eq!(ring.pop(), None);
            next += cap;
            if counted {
                let puts = ring.puts().wrapping_sub(base);
                assert_eq!(puts, next, "refused puts are not counted");
            }
        }
        // Half-filled rounds move head and tail to every offset.
        for round in 0..2 * cap {
            for i in 0..=round % cap {
                ring.push(i).unwrap();
            }
            for i in 0..=round % cap {
                assert_eq!(ring.pop(), Some(i));
            }
        }
        assert!(ring.is_empty());
    }

    #[test]
    fn wraps_around_every_capacity() {
        for cap in [1, 2, 3, 4, 5, 7] {
            laps_through(&Ring::new(cap), 5, true);
        }
    }

    #[test]
    fn counts_puts_across_many_laps() {
        let ring = Ring::new(3);
        let n = if cfg!(miri) { 100 } else { 10_000 };
        for i in 0..n {
            ring.push(i).unwrap();
            if i % 2 == 1 {
                ring.pop().unwrap();
                ring.pop().unwrap();
            }
            assert_eq!(ring.puts(), i + 1);
        }
    }

    /// Head and tail start one lap before the positions wrap past `u64::MAX`: order and
    /// fullness hold across the wrap (the put count jumps, as documented).
    #[test]
    fn positions_wrap_around() {
        for cap in [1, 3, 4] {
            let ring = Ring::starting_at(cap, Pos::MAX);
            laps_through(&ring, 3, false);
        }
    }

    #[test]
    fn flags_refuse_pushes_and_keep_items() {
        for flag in [SHUT, RESIZED, SHUT | RESIZED] {
            let ring = Ring::new(2);
            ring.push(1).unwrap();
            ring.set_flags(flag);
            assert_eq!(ring.push(2), Err(Refused::Flagged(2, flag)));
            assert_eq!((ring.len(), ring.puts()), (1, 1));
            assert!(!ring.is_empty() && !ring.is_full());
            assert_eq!(ring.pop(), Some(1));
            assert_eq!(ring.pop(), None);
            assert!(ring.is_empty());
        }
        // A full ring with a flag: the flag is reported, not fullness.
        let ring = Ring::new(1);
        ring.push(1).unwrap();
        ring.set_flags(SHUT);
        assert_eq!(ring.push(2), Err(Refused::Flagged(2, SHUT)));
        assert!(ring.is_full());
    }

    /// Counts its drops.
    struct Counted(Arc<StdCount>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn drop_drops_leftovers_exactly_once() {
        for (cap, pushed, popped) in [(1, 1, 0), (3, 3, 1), (3, 5, 3), (4, 9, 7), (2, 0, 0)] {
            let drops = Arc::new(StdCount::new(0));
            let ring = Ring::new(cap);
            let mut done = 0;
            for _ in 0..pushed {
                if let Err(Refused::Full(back)) = ring.push(Counted(Arc::clone(&drops))) {
                    ring.pop().unwrap();
                    done += 1;
                    assert!(ring.push(back).is_ok());
                }
            }
            for _ in 0..popped {
                if ring.pop().is_some() {
                    done += 1;
                }
            }
            assert_eq!(drops.load(Ordering::Relaxed), done);
            drop(ring);
            assert_eq!(drops.load(Ordering::Relaxed), pushed, "cap {cap}");
        }
    }

    /// Two producers, two consumers through a ring of 2 (Miri checks the slots for races):
    /// every item arrives once, each producer's in order.
    #[test]
    fn many_producers_and_consumers_lose_nothing() {
        let n = if cfg!(miri) { 30 } else { 20_000 };
        let ring = Arc::new(Ring::new(2));
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let ring = Arc::clone(&ring);
                std::thread::spawn(move || {
                    for i in 0..n {
                        let mut item = (p, i);
                        while let Err(Refused::Full(back)) = ring.push(item) {
                            item = back;
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let ring = Arc::clone(&ring);
                std::thread::spawn(move || {
                    let mut last = [None, None];
                    let mut got = 0;
                    while got < n {
                        match ring.pop() {
                            Some((p, i)) => {
                                assert!(last[p] < Some(i), "producer {p} out of order");
                                last[p] = Some(i);
                                got += 1;
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
        assert!(ring.is_empty());
        assert_eq!(ring.puts(), 2 * n);
    }
}
