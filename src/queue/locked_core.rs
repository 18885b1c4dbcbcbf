//! [`LockedCore`]: the core of the queues whose store needs a lock anyway ([`LifoQueue`]'s
//! stack, [`PriorityQueue`]'s heap): everything (the items, the task count, the shut-down flag,
//! the counts of sleepers) lives behind that one lock, as in CPython's `queue.Queue` and in the
//! `Mutex` + `Condvar` bounded buffer a Rust user writes.
//!
//! # Why not the lock-free [`Core`](super::core::Core)
//!
//! The lock-free core keeps its task count, shutdown flag and sleeper counts in atomics beside a
//! lock-free store, so that producers and consumers share no lock. Over a store that takes a
//! lock on every call, those atomics are pure cost: a `put` paid two read-modify-writes for its
//! task, the store's lock and unlock, and a `SeqCst` length mirror (an `xchg`), eight locked
//! instructions per put+get against a `Mutex` + `Condvar` buffer's four. Here a put+get is the
//! lock's two acquires and two releases, and nothing else that locks the bus.
//!
//! # The protocol
//!
//! Condition variables without the condition objects: a caller that must wait raises the
//! sleeper count of its kind (getters, putters, joiners) under the lock, and parks on that
//! kind's key (the count's address); the parking layer calls back, with the thread already
//! queued on the key, to release the lock (`before_sleep`). A caller that changes the state
//! reads the sleeper count under the lock and, after releasing it, unparks on the key. A waker
//! that read the count after the sleeper raised it runs its unpark after the sleeper released
//! the lock, so after the sleeper was queued: no wake-up is lost. A woken (or timed-out) sleeper
//! takes the lock and checks the state again: a wake-up that someone else consumed first costs
//! a second sleep, never a wrong answer.
//!
//! Before its first sleep (and again after each wake-up that found nothing), a blocking get or
//! put gives the lock up and spins a little, busy only ([`SPIN_ROUNDS`] rounds of `pause`
//! instructions, no yield), while the mirrors say it would still have to wait, then takes the
//! lock and looks again; only then does it sleep as above. With a producer and a consumer both
//! running, the item (or the room) often comes within that spin, and neither side pays a
//! futex sleep and wake-up: on 2 CPUs at load ~8, a 1P1C `LifoQueue` made 29,000-30,000 futex
//! calls per 4 million items with it, 49,000-61,000 without it (parking_lot's `Mutex<Vec>` +
//! `Condvar`: 35,000-133,000 across the runs, at load 5-11). Nothing is decided on the mirrors: the look again under the lock is what
//! counts (mutant `queue_locked_spin_unchecked`, which sleeps without it, loses a wake-up in the
//! models). The spin does not yield: with `SpinWait::spin`'s yields, two CPU-bound processes
//! beside a 1P1C `PriorityQueue` on 2 CPUs made it ~20x slower (4.9 us per item against 0.23 us
//! sleeping at once), a yield handing the CPU to a hog for its whole slice.
//!
//! The count is lowered by whoever takes the thread off the key's queue, under the parking
//! lot's bucket lock: the waker (in its unpark callback, or by the number `unpark_all` woke),
//! the sleeper's own `timed_out` callback (a timeout, or an interrupt), or the sleeper itself
//! when the park was refused before it was queued. So the count never falls below the threads
//! queued, and it says "nobody asleep" as soon as the last one is woken: the puts that follow a
//! wake-up, before the woken getter is back, skip the parking lot (with the count lowered by
//! the sleeper after its wake-up, each of them took the bucket lock to find nobody queued,
//! which made a 1P1C LifoQueue 1.4-1.6x a parking_lot `Mutex<Vec>` + `Condvar`). parking_lot's
//! `Condvar` does the same: its notify clears its state when it takes the last waiter.
//!
//! [`LifoQueue`]: super::LifoQueue
//! [`PriorityQueue`]: super::PriorityQueue

use std::fmt;
use std::time::Instant;

use super::core::Refusal;
use super::error::TaskDoneError;
use super::locked::Container;
use crate::identity::Identity;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::wait::{self, ParkResult, Target, UnparkToken, WaitKind, DEFAULT_PARK_TOKEN};
use crate::{Lock, LockGuard};

/// Whether `deadline` has passed.
fn past(deadline: Option<Instant>) -> bool {
    wait::expired(deadline)
}

/// Busy rounds (`SpinWait::spin_no_yield`: 2, 4, ... 64 pause instructions, 126 in all) a
/// blocking get or put spins before it sleeps: about the cost of the futex sleep and wake-up it
/// saves on a recent x86 (a `pause` is ~140 cycles there), much less on older ones.
#[cfg(not(loom))]
const SPIN_ROUNDS: u32 = 6;

/// Wakers pass no information.
const TOKEN: UnparkToken = UnparkToken(0);

/// Everything behind the lock.
struct State<C> {
    items: C,
    unfinished: usize,
}

impl<C: Container> State<C> {
    /// Whether the items fill `maxsize` (0: no bound), the bound read under the lock.
    fn is_full(&self, maxsize: usize) -> bool {
        maxsize != 0 && self.items.len() >= maxsize
    }
}

/// The lock-based queue core: see the module docs.
///
/// `repr(C, align(64))`, laid out so that a put or a get writes one cache line besides the
/// collection's own buffer (test `a_change_writes_one_cache_line`): the first line holds what
/// changes rarely and is read often (the sleeper counts, the bound: 32 bytes) and the lock's
/// diagnostic words (its identity and holder's site, `Lock` being `repr(C)`: 32 bytes); the
/// second begins with the lock's state word, then what the lock guards (`State`: 32 bytes for a
/// `LifoQueue`'s `Vec`, 40 for a `PriorityQueue`'s heap), then the copies of the length and the
/// task count that the lock-free queries read. The shut-down flag (written once) and the
/// identity are cold (for a `LifoQueue` the flag falls on the second line: harmless, as it is
/// written once). With holder sites on (`src/wait/record.rs`: debug builds, or asked for), every
/// acquire also writes the holder's site on the first line: one line is the release-build
/// default. Stop 22's layout (the bound, the task count and the flag inside the
/// guarded state; the sleeper counts and the copies after the lock) spread a put's writes over
/// two lines. Four alternated rounds here, the median ns per item of the old layout then this
/// one: 1P1C `LifoQueue` 96-99 / 93-97 (parking_lot's `Mutex<Vec>` + `Condvar` 91-96), 4P4C
/// 108-132 / 88-123 (98-105); `PriorityQueue` unchanged within the noise (its heap's lines
/// dominate).
#[repr(C, align(64))]
pub(crate) struct LockedCore<C> {
    /// Threads asleep (or about to be) waiting for an item, for room, for `unfinished == 0`,
    /// indexed by [`Kind`]: raised under the lock, lowered by whoever takes a thread off the
    /// queue (see the module docs). Each one's address is its kind's park key.
    sleepers: [AtomicUsize; 3],
    /// The bound (0: none): changed under the lock, so exact when read under it (by puts), and
    /// read without it by queries.
    maxsize: AtomicUsize,
    state: Lock<State<C>>,
    /// Copies of what the lock-free queries read (`len`, `unfinished_tasks`, `is_shutdown`,
    /// thread dumps): stored under the lock with plain (`Relaxed`) stores after every change,
    /// read without it. Python's `qsize()` is as approximate.
    len: AtomicUsize,
    unfinished: AtomicUsize,
    /// 1 once shut down: stored under the lock (once), so exact when read under it.
    shut_down: AtomicUsize,
    identity: Identity,
}

/// Which sleepers a change may release (and so must wake); the index of their count.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Getters = 0,
    Putters = 1,
    Joiners = 2,
}

/// The lock held for a change of the state. Dropping it (also while a panicking `Ord` unwinds
/// out of the change) updates the mirrors, releases the lock and then wakes the sleepers of the
/// kind in `wake` if the state says there are some: one getter or putter, every joiner.
struct Change<'a, C: Container> {
    core: &'a LockedCore<C>,
    state: Option<LockGuard<'a, State<C>>>,
    wake: Option<Kind>,
}

impl<C: Container> Change<'_, C> {
    fn state(&mut self) -> &mut State<C> {
        self.state.as_mut().expect("the lock is held until drop")
    }
}

impl<C: Container> Drop for Change<'_, C> {
    fn drop(&mut self) {
        let Some(state) = self.state.take() else {
            return;
        };
        let core = self.core;
        core.len.store(state.items.len(), Ordering::Relaxed);
        core.unfinished.store(state.unfinished, Ordering::Relaxed);
        let owed = match self.wake {
            Some(Kind::Joiners) if state.unfinished != 0 => None,
            Some(kind) if self.core.asleep(kind) => Some(kind),
            _ => None,
        };
        drop(state);
        match owed {
            Some(Kind::Joiners) => self.core.wake_all(Kind::Joiners),
            Some(kind) => self.core.wake_one(kind),
            None => {}
        }
    }
}

/// The lock held by a put or a get on its fast path (no wait): [`Change`] with the kind to wake
/// fixed at compile time (`K`, a [`Kind`] as `usize`). [`finish`](Self::finish) (inline: a few
/// stores, one load and the release) ends the change; if the change unwinds instead (a
/// panicking `Ord`), the drop does the same out of line. Either way: the mirrors updated, the
/// lock released, and one sleeper of kind `K` woken if the count says there is one.
struct Done<'a, C: Container, const K: usize> {
    core: &'a LockedCore<C>,
    state: Option<LockGuard<'a, State<C>>>,
}

impl<'a, C: Container, const K: usize> Done<'a, C, K> {
    #[inline(always)]
    fn new(core: &'a LockedCore<C>, state: LockGuard<'a, State<C>>) -> Self {
        Done {
            core,
            state: Some(state),
        }
    }

    #[inline(always)]
    fn state(&mut self) -> &mut State<C> {
        match self.state.as_mut() {
            Some(state) => state,
            // Set at construction, taken only by `finish` or the drop.
            None => unreachable!(),
        }
    }

    /// Ends the change (see the type's docs).
    #[inline(always)]
    fn finish(mut self) {
        if let Some(state) = self.state.take() {
            self.core.release::<K>(state);
        }
    }
}

impl<C: Container, const K: usize> Drop for Done<'_, C, K> {
    /// Only when the change unwinds: `finish` has taken the lock out otherwise.
    #[inline]
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            self.core.release_cold::<K>(state);
        }
    }
}

impl<C: Container> LockedCore<C> {
    /// `track_tasks` must be true: the locked queues always count tasks.
    pub(crate) fn new(maxsize: usize, track_tasks: bool, identity: Identity) -> Self {
        debug_assert!(track_tasks);
        LockedCore {
            sleepers: [
                AtomicUsize::new(0),
                AtomicUsize::new(0),
                AtomicUsize::new(0),
            ],
            maxsize: AtomicUsize::new(maxsize),
            state: Lock::with_value(State {
                items: C::default(),
                unfinished: 0,
            }),
            len: AtomicUsize::new(0),
            unfinished: AtomicUsize::new(0),
            shut_down: AtomicUsize::new(0),
            identity,
        }
    }

    /// The key sleepers of `kind` park on: the address of their count.
    fn key(&self, kind: Kind) -> usize {
        self.count(kind) as *const AtomicUsize as usize
    }

    /// The count of sleepers of `kind`.
    fn count(&self, kind: Kind) -> &AtomicUsize {
        &self.sleepers[kind as usize]
    }

    /// Whether a thread of `kind` may be asleep (read under the lock by a change).
    #[inline]
    fn asleep(&self, kind: Kind) -> bool {
        self.count(kind).load(Ordering::Relaxed) != 0
    }

    /// Wakes one sleeper of `kind`, lowering the count for it under the bucket lock.
    fn wake_one(&self, kind: Kind) {
        wait::unpark_one(self.key(kind), |result| {
            if result.unparked_threads != 0 {
                self.count(kind).fetch_sub(1, Ordering::Relaxed);
            }
            TOKEN
        });
    }

    /// The end of a fast-path change ([`Done`]): updates the mirrors, releases the lock and
    /// wakes one sleeper of kind `K` (a [`Kind`] as `usize`) if its count says there is one.
    /// A change that wakes getters is a put, the only fast path that changes the task count;
    /// a get's leaves the task mirror alone.
    #[inline(always)]
    fn release<const K: usize>(&self, state: LockGuard<'_, State<C>>) {
        self.len.store(state.items.len(), Ordering::Relaxed);
        if K == Kind::Getters as usize {
            self.unfinished.store(state.unfinished, Ordering::Relaxed);
        }
        let owed = self.sleepers[K].load(Ordering::Relaxed) != 0;
        drop(state);
        if owed {
            self.wake_one_cold(K);
        }
    }

    /// [`release`](Self::release) out of line, for a change that unwinds.
    #[cold]
    #[inline(never)]
    fn release_cold<const K: usize>(&self, state: LockGuard<'_, State<C>>) {
        self.release::<K>(state);
    }

    /// [`wake_one`](Self::wake_one) out of line, for the fast paths' guard (`kind` a [`Kind`] as
    /// `usize`: the getters or the putters).
    #[cold]
    #[inline(never)]
    fn wake_one_cold(&self, kind: usize) {
        self.wake_one(if kind == Kind::Getters as usize {
            Kind::Getters
        } else {
            Kind::Putters
        });
    }

    /// Wakes every sleeper of `kind` and lowers the count by as many (after the bucket lock:
    /// meanwhile the count is too high, which costs a waker a useless unpark at worst).
    fn wake_all(&self, kind: Kind) {
        let woken = wait::unpark_all(self.key(kind), TOKEN);
        if woken != 0 {
            self.count(kind).fetch_sub(woken, Ordering::Relaxed);
        }
    }

    /// Takes the lock for a change that owes `wake` a wake-up.
    #[inline]
    #[track_caller]
    fn change(&self, wake: Option<Kind>) -> Change<'_, C> {
        Change {
            core: self,
            state: Some(self.state.acquire()),
            wake,
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn maxsize(&self) -> usize {
        self.maxsize.load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        let maxsize = self.maxsize();
        maxsize != 0 && self.len() >= maxsize
    }

    /// Python's `q.maxsize = n`: the new bound holds for every later put; the items queued stay
    /// (a smaller bound only makes puts wait until gets bring the length under it). Putters
    /// waiting for room are woken to check the new bound.
    pub(crate) fn set_maxsize(&self, maxsize: usize) {
        let change = self.change(None);
        self.maxsize.store(maxsize, Ordering::Relaxed);
        let putters = self.asleep(Kind::Putters);
        drop(change);
        // Mutant (loom only): the putters the new bound lets in are left asleep.
        if putters && !cfg!(all(loom, threadkit_mutant = "locked_resize_unwoken")) {
            self.wake_all(Kind::Putters);
        }
    }

    #[inline]
    pub(crate) fn is_shutdown(&self) -> bool {
        self.shut_down.load(Ordering::Relaxed) != 0
    }

    #[inline]
    pub(crate) fn unfinished_tasks(&self) -> usize {
        self.unfinished.load(Ordering::Relaxed)
    }

    /// The queue's identity (for `Diagnosable`).
    pub(crate) fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The name given at construction, if any.
    pub(crate) fn name(&self) -> Option<&str> {
        self.identity.name()
    }

    /// `Debug` for the public types, as [`Core::debug`](super::core::Core::debug) writes it.
    pub(crate) fn debug(&self, kind: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(kind)
            .field("len", &self.len())
            .field("maxsize", &self.maxsize())
            .field("unfinished_tasks", &self.unfinished_tasks())
            .field("is_shutdown", &self.is_shutdown())
            .finish()
    }

    /// What a blocked caller publishes: the queue, with its length and unfinished tasks.
    fn wait_target(&self) -> Target {
        /// # Safety
        /// `core` points to a live `LockedCore<C>`.
        unsafe fn status<C: Container>(core: *const ()) -> String {
            // SAFETY: the caller's contract.
            let core = unsafe { &*(core as *const LockedCore<C>) };
            format!(
                "{} items, {} unfinished tasks",
                core.len(),
                core.unfinished_tasks()
            )
        }
        Target::Object {
            identity: &self.identity,
            holder: None,
            status: Some((self as *const Self as *const (), status::<C>)),
        }
    }

    /// Before a sleep: gives the lock up (the change must owe no wake-up) and spins a little
    /// (busy, [`SPIN_ROUNDS`]) while `blocked()`, read from the mirrors without the lock, says
    /// the caller would still have to sleep; then takes the lock again for a change that owes
    /// `wake`, for the caller to look again (see the module docs). A wait that the other side
    /// ends within microseconds then costs neither a sleep nor a wake-up; the sleep that follows
    /// a spin in vain is the plain protocol.
    #[track_caller]
    fn spin_while<'a>(
        &'a self,
        change: Change<'a, C>,
        wake: Kind,
        blocked: impl Fn() -> bool,
    ) -> Change<'a, C> {
        debug_assert!(change.wake.is_none());
        drop(change);
        // Busy rounds only: a yield under a loaded scheduler hands the CPU to whatever else is
        // runnable for a whole slice (module docs).
        #[cfg(not(loom))]
        {
            let mut spin = wait::SpinWait::new();
            for _ in 0..SPIN_ROUNDS {
                if !blocked() {
                    break;
                }
                spin.spin_no_yield();
            }
        }
        // Loom explores the lock given up and taken again, not the spin (each read would be
        // one more scheduling point).
        #[cfg(loom)]
        let _ = blocked;
        self.change(Some(wake))
    }

    /// Sleeps as one of `kind`, the lock given up while asleep; returns the lock again (the
    /// count lowered) and whether the wait timed out.
    #[track_caller]
    fn sleep<'a>(
        &'a self,
        mut change: Change<'a, C>,
        kind: Kind,
        wait_kind: WaitKind,
        deadline: Option<Instant>,
    ) -> (Change<'a, C>, bool) {
        self.count(kind).fetch_add(1, Ordering::Relaxed);
        let wake = change.wake;
        let guard = change.state.take().expect("the lock is held until drop");
        // Mutant (loom only): give the lock up before being queued on the key, so that a
        // waker can run its unpark in between (the lost wake-up this protocol exists to avoid).
        #[cfg(all(loom, threadkit_mutant = "queue_locked_unlock_early"))]
        drop(guard);
        #[cfg(not(all(loom, threadkit_mutant = "queue_locked_unlock_early")))]
        let mut guard = Some(guard);
        let result = wait::park_for(
            wait_kind,
            self.wait_target(),
            self.key(kind),
            || true,
            || {
                #[cfg(not(all(loom, threadkit_mutant = "queue_locked_unlock_early")))]
                drop(guard.take());
            },
            // Off the queue by itself (a timeout, an interrupt): nobody else lowers the count.
            |_, _| {
                self.count(kind).fetch_sub(1, Ordering::Relaxed);
            },
            DEFAULT_PARK_TOKEN,
            deadline,
        );
        // The waiting layer may refuse the park without running `before_sleep` (an interrupt
        // pending, `crate::interrupt`): then the lock is still held here, and taken again
        // otherwise (acquiring it while holding it would block this thread for ever).
        #[cfg(not(all(loom, threadkit_mutant = "queue_locked_unlock_early")))]
        let (state, queued) = match guard.take() {
            Some(held) => (held, false),
            None => (self.state.acquire(), true),
        };
        #[cfg(all(loom, threadkit_mutant = "queue_locked_unlock_early"))]
        let (state, queued) = (self.state.acquire(), !matches!(result, ParkResult::Invalid));
        // Mutant (loom only): the woken sleeper lowers the count as well as its waker.
        if !queued || cfg!(all(loom, threadkit_mutant = "queue_locked_lowered_twice")) {
            // Refused before it was queued: the raise is this thread's to take back.
            self.count(kind).fetch_sub(1, Ordering::Relaxed);
        }
        let change = Change {
            core: self,
            state: Some(state),
            wake,
        };
        (change, matches!(result, ParkResult::TimedOut))
    }

    /// A put that never waits.
    #[inline]
    pub(crate) fn try_put(&self, item: C::Item) -> Result<(), (C::Item, Refusal)> {
        self.put_or_wait(item, false, None)
    }

    /// A put that waits for room until `deadline` (`None`: forever). `Full` means timed out.
    #[inline]
    #[track_caller]
    pub(crate) fn put(
        &self,
        item: C::Item,
        deadline: Option<Instant>,
    ) -> Result<(), (C::Item, Refusal)> {
        self.put_or_wait(item, true, deadline)
    }

    /// A put that waits for room (if `block`) until `deadline`: the fast path (room, not shut
    /// down) inline, the rest in [`put_slow`](Self::put_slow).
    #[inline(always)]
    #[track_caller]
    fn put_or_wait(
        &self,
        item: C::Item,
        block: bool,
        deadline: Option<Instant>,
    ) -> Result<(), (C::Item, Refusal)> {
        let state = self.state.acquire();
        if self.is_shutdown() || state.is_full(self.maxsize()) {
            return self.put_slow(state, item, block, deadline);
        }
        let mut done = Done::<C, { Kind::Getters as usize }>::new(self, state);
        let state = done.state();
        // The task first: an `Ord` that panics in `put` leaves the item in the heap.
        state.unfinished += 1;
        state.items.put(item);
        done.finish();
        Ok(())
    }

    /// The rest of [`put_or_wait`](Self::put_or_wait), with the lock held (`state`): shut down,
    /// or full (wait for room if `block`).
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn put_slow(
        &self,
        state: LockGuard<'_, State<C>>,
        item: C::Item,
        block: bool,
        deadline: Option<Instant>,
    ) -> Result<(), (C::Item, Refusal)> {
        let mut change = Change {
            core: self,
            state: Some(state),
            wake: Some(Kind::Getters),
        };
        let mut spun = false;
        loop {
            let state = change.state();
            if self.is_shutdown() {
                change.wake = None;
                return Err((item, Refusal::ShutDown));
            }
            if !state.is_full(self.maxsize()) {
                break;
            }
            if !block || past(deadline) {
                change.wake = None;
                return Err((item, Refusal::Full));
            }
            if !spun {
                spun = true;
                change.wake = None;
                change = self.spin_while(change, Kind::Getters, || {
                    self.is_full() && !self.is_shutdown()
                });
                // Mutant (loom only): sleep after the spin without looking at the queue again
                // (a put or get while the lock was given up then owes this thread nothing).
                if !cfg!(all(loom, threadkit_mutant = "queue_locked_spin_unchecked")) {
                    continue;
                }
            }
            let timed_out;
            (change, timed_out) = self.sleep(change, Kind::Putters, WaitKind::QueuePut, deadline);
            spun = false;
            if timed_out && change.state().is_full(self.maxsize()) && !self.is_shutdown() {
                change.wake = None;
                return Err((item, Refusal::Full));
            }
        }
        let state = change.state();
        // The task first: an `Ord` that panics in `put` leaves the item in the heap.
        state.unfinished += 1;
        state.items.put(item);
        Ok(())
    }

    /// A get that never waits.
    #[inline]
    pub(crate) fn try_get(&self) -> Result<C::Item, Refusal> {
        self.get_or_wait(false, None)
    }

    /// A get that waits for an item until `deadline` (`None`: forever). `Empty` means timed out.
    #[inline]
    #[track_caller]
    pub(crate) fn get(&self, deadline: Option<Instant>) -> Result<C::Item, Refusal> {
        self.get_or_wait(true, deadline)
    }

    /// A get that waits for an item (if `block`) until `deadline`: the fast path (an item
    /// queued) inline, the rest in [`get_slow`](Self::get_slow).
    #[inline(always)]
    #[track_caller]
    fn get_or_wait(&self, block: bool, deadline: Option<Instant>) -> Result<C::Item, Refusal> {
        let state = self.state.acquire();
        if state.items.len() == 0 {
            return self.get_slow(state, block, deadline);
        }
        let mut done = Done::<C, { Kind::Putters as usize }>::new(self, state);
        // An `Ord` that panics in `take` has taken the item out: the putter is owed its room
        // (the guard's drop wakes it).
        let item = done.state().items.take();
        done.finish();
        match item {
            Some(item) => Ok(item),
            // `len` said there is one.
            None => unreachable!(),
        }
    }

    /// The rest of [`get_or_wait`](Self::get_or_wait), with the lock held (`state`): empty
    /// (wait for an item if `block`).
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn get_slow(
        &self,
        state: LockGuard<'_, State<C>>,
        block: bool,
        deadline: Option<Instant>,
    ) -> Result<C::Item, Refusal> {
        let mut change = Change {
            core: self,
            state: Some(state),
            wake: Some(Kind::Putters),
        };
        let mut spun = false;
        loop {
            // An `Ord` that panics in `take` has taken the item out: the putter is owed its room.
            if let Some(item) = change.state().items.take() {
                return Ok(item);
            }
            change.wake = None;
            if self.is_shutdown() {
                return Err(Refusal::ShutDown);
            }
            if !block || past(deadline) {
                return Err(Refusal::Empty);
            }
            if !spun {
                spun = true;
                change = self.spin_while(change, Kind::Putters, || {
                    self.len() == 0 && !self.is_shutdown()
                });
                // Mutant (loom only): sleep after the spin without looking at the queue again
                // (a put or get while the lock was given up then owes this thread nothing).
                if !cfg!(all(loom, threadkit_mutant = "queue_locked_spin_unchecked")) {
                    continue;
                }
            }
            let timed_out;
            (change, timed_out) = self.sleep(change, Kind::Getters, WaitKind::QueueGet, deadline);
            spun = false;
            change.wake = Some(Kind::Putters);
            if timed_out && change.state().items.len() == 0 {
                change.wake = None;
                let shut = self.is_shutdown();
                return Err(if shut {
                    Refusal::ShutDown
                } else {
                    Refusal::Empty
                });
            }
        }
    }

    /// `task_done`: one unfinished task fewer; wakes the joiners when none is left.
    pub(crate) fn task_done(&self) -> Result<(), TaskDoneError> {
        let mut change = self.change(Some(Kind::Joiners));
        let state = change.state();
        if state.unfinished == 0 {
            return Err(TaskDoneError(()));
        }
        state.unfinished -= 1;
        Ok(())
    }

    /// `join`: waits until no task is unfinished, or until `deadline`; returns whether none is.
    #[track_caller]
    pub(crate) fn join(&self, deadline: Option<Instant>) -> bool {
        let mut change = self.change(None);
        loop {
            if change.state().unfinished == 0 {
                return true;
            }
            if past(deadline) {
                return false;
            }
            let timed_out;
            (change, timed_out) = self.sleep(change, Kind::Joiners, WaitKind::QueueJoin, deadline);
            // Mutant (loom only): a woken joiner trusts its wake-up.
            if cfg!(all(loom, threadkit_mutant = "queue_join_trusts_wake")) {
                return true;
            }
            if timed_out {
                return change.state().unfinished == 0;
            }
        }
    }

    /// `shutdown(immediate)`: refuse further puts, wake every blocked getter and putter; with
    /// `immediate`, also take out what is queued (dropped after the lock is released) and count
    /// those tasks done.
    pub(crate) fn shutdown(&self, immediate: bool) {
        let mut change = self.change(Some(Kind::Joiners));
        let state = change.state();
        // Stored here, the one place that changes it, under the lock: read under the lock, it
        // is exact.
        self.shut_down.store(1, Ordering::Relaxed);
        let drained = immediate.then(|| {
            let items = std::mem::take(&mut state.items);
            state.unfinished = state.unfinished.saturating_sub(items.len());
            items
        });
        drop(change);
        self.wake_all(Kind::Putters);
        self.wake_all(Kind::Getters);
        drop(drained); // an item's `drop` may use the queue
    }

    /// The sleeper counts (getters, putters, joiners), for tests.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn sleepers(&self) -> [usize; 3] {
        let _s = self.state.acquire();
        [Kind::Getters, Kind::Putters, Kind::Joiners].map(|k| self.count(k).load(Ordering::Relaxed))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The layout the type's docs describe: the lock's state word, the guarded state, and the
    /// length and task copies in one cache line, the sleeper counts and the bound in the line
    /// before it, for both collections the queues keep. Witness: the addresses, line by line.
    #[test]
    fn a_change_writes_one_cache_line() {
        fn check<C: Container>(what: &str) {
            let identity = Identity::new(
                crate::identity::ObjectKind::Queue,
                crate::identity::caller(),
            );
            let core = LockedCore::<C>::new(8, true, identity);
            let line = |addr: usize| addr / 64;
            let base = &core as *const LockedCore<C> as usize;
            assert_eq!(base % 64, 0, "{what}: not aligned to a line");
            let word = core.state.state_word_addr();
            let state = &*core.state.acquire() as *const State<C> as usize;
            let hot = [
                ("the guarded state's start", state),
                (
                    "the guarded state's end",
                    state + std::mem::size_of::<State<C>>() - 1,
                ),
                ("the length copy", &core.len as *const AtomicUsize as usize),
                (
                    "the task copy",
                    &core.unfinished as *const AtomicUsize as usize + 7,
                ),
            ];
            for (name, addr) in hot {
                assert_eq!(
                    line(addr),
                    line(word),
                    "{what}: {name} off the state word's line"
                );
            }
            for (i, count) in core.sleepers.iter().enumerate() {
                let addr = count as *const AtomicUsize as usize;
                assert_ne!(
                    line(addr),
                    line(word),
                    "{what}: sleeper count {i} on the hot line"
                );
            }
            let bound = &core.maxsize as *const AtomicUsize as usize;
            assert_ne!(line(bound), line(word), "{what}: the bound on the hot line");
        }
        check::<Vec<u64>>("LifoQueue<u64>");
        check::<super::super::priority::Heap<u64>>("PriorityQueue<u64>");
    }
}

/// `set_maxsize` for a queue over a [`LockedCore`] (`LifoQueue`, `PriorityQueue`).
macro_rules! set_maxsize_api {
    ($Q:ident $(where T: $bound:path)?) => {
        impl<T $(: $bound)?> $Q<T> {
            #[doc = concat!("Changes the bound: Python's `q.maxsize = maxsize` (`0`: no limit).

Items already queued stay, also when there are more than the new bound: puts then wait until
gets bring the length under it. Putters waiting for room are woken to check the new bound.

# Examples

```
use threadkit::queue::", stringify!($Q), ";

let q = ", stringify!($Q), "::new(1);
q.put(1).unwrap();
assert!(q.try_put(2).is_err());
q.set_maxsize(2);
assert_eq!(q.maxsize(), 2);
q.try_put(2).unwrap();
q.set_maxsize(1); // shrinking keeps both items
assert_eq!(q.len(), 2);
assert!(q.try_put(3).is_err());
```")]
            pub fn set_maxsize(&self, maxsize: usize) {
                self.core.set_maxsize(maxsize);
            }
        }
    };
}
