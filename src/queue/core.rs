//! [`Core`]: what every queue type does on top of its [`Store`]: blocking and waking, the task
//! accounting behind `task_done`/`join`, and shutdown.
//!
//! # The protocol
//!
//! A `Queue`'s store is the ring (`ring.rs`; unbounded, a chain of rings, `chain.rs`, whose
//! last ring plays its part), which keeps the protocol's state itself: its tail word is the
//! puts so far (its position), with the shut-down and resized flags in its low bits. A put
//! into it is counted, and checked against shutdown and resize, by the one `SeqCst`
//! compare-and-swap that claims its slot; a put refused (full, or a flag set) claimed
//! nothing and counted nothing. Puts in flight are claimed slots not yet stamped, and the ring's
//! `pop` waits for those, so a get that finds the ring empty after seeing the shut-down flag is
//! final for it. `shutdown` and `set_maxsize` set their flag in `begun` first, then in the
//! ring's tail (`Store::set_flags`). A put the ring refuses for the resized flag goes on with the
//! protocol below (into the second store, `resize.rs`).
//!
//! Every other store (the locked deque of a bound above 65,536, a resized queue's second
//! store) uses two words besides the store, and a flag per thread:
//! - `begun` (producers' cache line): puts begun, times four, with the shut-down flag in bit 0
//!   and the resized flag in bit 1 (`set_maxsize` was called: puts go to a second store; see
//!   `resize.rs`, which the put reads in the same step).
//!   A put adds 4 *before* touching the store and reads the flag in the same atomic step, so a
//!   put either began before the shutdown or sees it. Every put begun is a task from then on,
//!   so a consumer can never hold an item whose task is not counted yet: unfinished tasks =
//!   the ring's puts + `begun / 4 - finished` (modulo 2^62). A refused put (full, shut down)
//!   also finishes its task (at most down to zero, as a `task_done` would, and waking joiners
//!   at zero): a put in flight only ever makes `join` wait a little longer.
//! - `finished` (its own line): `task_done` calls, refused puts, and the items an immediate
//!   shutdown dropped.
//! - the putting flag of the putting thread (`putting.rs`): set to this queue's address before
//!   the step on `begun`, cleared by a plain store once the item is stored or refused.
//!
//! Whoever must know that no more items can arrive once the queue is shut down (a `get` about
//! to answer "shut down", the drain of an immediate shutdown) waits until no thread's flag
//! names the queue: a few instructions, unless the putter was preempted (then it yields). So a
//! put into the ring does one read-modify-write (the tail), into another store two (`begun`,
//! and the store's own), a get one (the slot claim); consumers never write a producer word: a
//! `put`/`get` pair shares only the store's own words; `finished` is written only by
//! `task_done` and refusals.
//!
//! Waiting: getters, putters and joiners each have a count of sleepers and park on its address.
//! A sleeper raises its count, then re-checks the store under the parking lot's bucket lock; a
//! waker changes the store, then reads the count (all `SeqCst`): either the waker sees the
//! sleeper, or the sleeper sees the change.

use std::fmt;
use std::time::Instant;

use crate::identity::Identity;

use super::putting::{self, Slot};
use super::resize::Resized;
use super::spin::Spinner;
use super::store::{back_off, CachePadded, Flagged, Store, RESIZED, SHUT};
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::wait::{self, ParkResult, SpinWait, Target, UnparkToken, WaitKind, DEFAULT_PARK_TOKEN};

/// Why a queue operation could not go ahead (mapped to the public error types by each method).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The queue is full (or stayed full until the deadline).
    Full,
    /// The queue is empty (or stayed empty until the deadline).
    Empty,
    /// The queue is shut down (and, for a get, empty).
    ShutDown,
}

/// One put in `begun`.
const ONE_PUT: usize = 4;
/// Counts of puts live in `begun`'s upper bits, so all task arithmetic is modulo this + 1.
pub(super) const MASK: usize = usize::MAX >> 2;

/// The producers' words: written by every put, read by consumers only on the slow paths.
#[derive(Default)]
pub(super) struct Puts {
    /// Puts begun × 4, plus [`SHUT`] and [`RESIZED`].
    pub(super) begun: AtomicUsize,
    /// Puts in flight made by a thread whose putting flag is gone (`putting.rs`: from a
    /// thread-local destructor at thread exit). Normally 0 and never touched.
    pub(super) unslotted: AtomicUsize,
    /// Those of them that go to a resized queue's second store (`resize.rs`).
    pub(super) unslotted_resized: AtomicUsize,
}

/// The read-mostly part: settings, the shut-down flag as waiters read it, the sleeper counts.
pub(super) struct Config {
    /// Set by `shutdown` after [`SHUT`]; what blocked callers check before sleeping.
    shut_down: AtomicBool,
    /// 0 for unbounded.
    maxsize: usize,
    /// Whether the queue counts tasks and can be shut down (not for `SimpleQueue`).
    pub(super) track_tasks: bool,
    /// Kind, id, name and creation site, for thread dumps.
    identity: Identity,
    pub(super) getters: AtomicUsize,
    pub(super) putters: AtomicUsize,
    pub(super) joiners: AtomicUsize,
}

/// The machinery shared by every queue type, over a [`Store`].
pub(crate) struct Core<S: Store> {
    pub(super) puts: CachePadded<Puts>,
    pub(super) finished: CachePadded<AtomicUsize>,
    pub(super) config: CachePadded<Config>,
    pub(super) store: S,
    /// Where items go once `set_maxsize` was called (`resize.rs`); empty and untouched before.
    pub(super) resized: CachePadded<Resized<S::Item>>,
}

/// Runs its closure when dropped, which the core only lets happen while unwinding (on the normal
/// path it is `mem::forget`-ten): the bookkeeping and the wake-up owed for a change that a
/// panicking store (a user's `Ord`) made before unwinding (issue 10, defect 5).
pub(super) struct OnUnwind<F: FnMut()>(pub(super) F);

impl<F: FnMut()> Drop for OnUnwind<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// Whether `deadline` has passed (a zero timeout only tries once, without spinning).
#[inline]
fn past(deadline: Option<Instant>) -> bool {
    wait::expired(deadline)
}

/// Wakers pass no information.
const TOKEN: UnparkToken = UnparkToken(0);

pub(super) fn key(counter: &AtomicUsize) -> usize {
    counter as *const AtomicUsize as usize
}

impl<S: Store> Core<S> {
    pub(crate) fn new(maxsize: usize, track_tasks: bool, identity: Identity) -> Self {
        Core {
            puts: CachePadded(Puts::default()),
            finished: CachePadded(AtomicUsize::new(0)),
            config: CachePadded(Config {
                shut_down: AtomicBool::new(false),
                maxsize,
                track_tasks,
                identity,
                getters: AtomicUsize::new(0),
                putters: AtomicUsize::new(0),
                joiners: AtomicUsize::new(0),
            }),
            store: S::new(maxsize),
            resized: CachePadded(Resized::new(maxsize)),
        }
    }

    /// The items in the store and, once resized, in the second store (both read under the
    /// second store's lock: `resize.rs`).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        if self.is_resized() {
            self.resized_len()
        } else {
            self.store.len()
        }
    }

    /// [`len`](Self::len) without taking any lock (may count up to twice the bound of a resized
    /// queue): for thread dumps, which must not block.
    fn len_lock_free(&self) -> usize {
        self.store.len() + self.resized.len()
    }

    #[inline]
    pub(crate) fn maxsize(&self) -> usize {
        if self.is_resized() {
            self.resized.maxsize()
        } else {
            self.config.maxsize
        }
    }

    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        if self.is_resized() {
            self.resized_is_full_now()
        } else {
            self.store.is_full()
        }
    }

    /// Whether a put has to wait for room, without taking any lock (checked under the parking
    /// lot's bucket lock, where it must not block).
    #[inline]
    fn is_full_lock_free(&self) -> bool {
        if self.is_resized() {
            self.resized_is_full()
        } else {
            self.store.is_full()
        }
    }

    #[inline]
    pub(crate) fn is_shutdown(&self) -> bool {
        self.config.shut_down.load(Ordering::SeqCst)
    }

    /// Whether no put is in flight: no thread's putting flag names this queue (`putting.rs`)
    /// and no flagless put is counted. Final once the queue refuses puts (see `putting.rs`).
    fn no_put_in_flight(&self) -> bool {
        self.puts.unslotted.load(Ordering::SeqCst) == 0
            && self.puts.unslotted_resized.load(Ordering::SeqCst) == 0
            && !putting::someone_putting_into(self.address())
    }

    /// What a putting flag holds while a put into this queue is in flight.
    #[inline]
    pub(super) fn address(&self) -> usize {
        self as *const Self as usize
    }

    /// Waits (spinning, then yielding) until no put is in flight. Only called once no put can
    /// begin successfully any more (shut down), so it ends within the few instructions of a put,
    /// or when a preempted putter runs again.
    fn wait_for_puts_in_flight(&self) {
        // Mutant (loom only): trust that nothing is in flight.
        if cfg!(all(loom, threadkit_mutant = "queue_no_flight_wait")) {
            return;
        }
        let mut spin = SpinWait::new();
        while !self.no_put_in_flight() {
            back_off(&mut spin);
        }
    }

    /// `Debug` for the public types: kind, length, maxsize and the rest of the state.
    pub(crate) fn debug(&self, kind: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct(kind);
        d.field("len", &self.len());
        d.field("maxsize", &self.maxsize());
        if self.config.track_tasks {
            d.field("unfinished_tasks", &self.unfinished_tasks());
            d.field("is_shutdown", &self.is_shutdown());
        }
        d.finish()
    }

    /// Wakes one thread parked on `counter`'s key, if its count says there is one. With nobody
    /// parked this is one load.
    #[inline]
    pub(super) fn wake_one(counter: &AtomicUsize) {
        crate::loom::seq_cst_fence_for_loom(); // see there: loom's SeqCst is weaker than real
        Self::wake_one_unfenced(counter);
    }

    /// [`wake_one`](Self::wake_one) without the loom stand-in fence.
    #[inline(always)]
    fn wake_one_unfenced(counter: &AtomicUsize) {
        if counter.load(Ordering::SeqCst) != 0 {
            wait::unpark_one(key(counter), |_| TOKEN);
        }
    }

    /// [`wake_one`](Self::wake_one) after a change of the store: under loom, without the
    /// stand-in fence when the store fenced its change itself ([`Store::fences_its_changes`]).
    #[inline(always)]
    fn wake_after_store_change(&self, counter: &AtomicUsize) {
        #[cfg(loom)]
        if !self.store.fences_its_changes() {
            crate::loom::seq_cst_fence_for_loom();
        }
        Self::wake_one_unfenced(counter);
    }

    /// Wakes every joiner, if one sleeps and `done` (no task left; read only then) holds.
    pub(super) fn wake_joiners_if(&self, done: impl FnOnce() -> bool) {
        crate::loom::seq_cst_fence_for_loom(); // see there: loom's SeqCst is weaker than real
        if self.config.joiners.load(Ordering::SeqCst) != 0 && done() {
            wait::unpark_all(key(&self.config.joiners), TOKEN);
        }
    }

    /// Parks on `counter`'s key while `still_blocked` holds, until woken or `deadline`; returns
    /// whether the wait timed out.
    ///
    /// The counter is raised before `still_blocked` is checked under the bucket lock, and wakers
    /// change the state before reading the counter (both `SeqCst`, see [`Store`]): either the
    /// waker sees the sleeper and wakes it, or the sleeper's check sees the change.
    #[track_caller]
    pub(super) fn park_on(
        &self,
        kind: WaitKind,
        counter: &AtomicUsize,
        still_blocked: impl FnOnce() -> bool,
        deadline: Option<Instant>,
    ) -> bool {
        counter.fetch_add(1, Ordering::SeqCst);
        crate::loom::seq_cst_fence_for_loom(); // see there: loom's SeqCst is weaker than real
        let result = wait::park_for(
            kind,
            self.wait_target(),
            key(counter),
            still_blocked,
            || {},
            |_, _| {},
            DEFAULT_PARK_TOKEN,
            deadline,
        );
        counter.fetch_sub(1, Ordering::Relaxed);
        matches!(result, ParkResult::TimedOut)
    }

    /// What a blocked caller publishes: the queue, with its length and unfinished tasks.
    fn wait_target(&self) -> Target {
        /// # Safety
        /// `core` points to a live `Core<S>`.
        unsafe fn status<S: Store>(core: *const ()) -> String {
            // SAFETY: the caller's contract.
            let core = unsafe { &*(core as *const Core<S>) };
            let mut s = format!("{} items", core.len_lock_free());
            if core.config.track_tasks {
                s += &format!(", {} unfinished tasks", core.unfinished_tasks());
            }
            s
        }
        Target::Object {
            identity: &self.config.identity,
            holder: None,
            status: Some((self as *const Self as *const (), status::<S>)),
        }
    }

    /// The queue's identity (for `Diagnosable`).
    pub(crate) fn identity(&self) -> &Identity {
        &self.config.identity
    }

    /// The name given at construction, if any.
    pub(crate) fn name(&self) -> Option<&str> {
        self.config.identity.name()
    }

    /// Whether a `get` has to wait (empty and open).
    #[inline]
    fn get_blocks(&self) -> bool {
        self.store.is_empty() && self.resized.is_empty() && !self.is_shutdown()
    }

    /// Whether a `put` has to wait (full and open).
    #[inline]
    fn put_blocks(&self) -> bool {
        self.is_full_lock_free() && !self.is_shutdown()
    }

    /// A put that never waits. Always inlined: out of line, its prologue and epilogue were a
    /// tenth of a put+get's instructions.
    ///
    /// Into a store that keeps the flags (the ring), the put is counted and checked against
    /// shutdown and resize by the store's one read-modify-write that claims its slot: no
    /// `begun`, no putting flag. Into any other store, [`try_put_counted`](Self::try_put_counted).
    #[inline(always)]
    pub(crate) fn try_put(&self, item: S::Item) -> Result<(), (S::Item, Refusal)> {
        if !self.config.track_tasks {
            return self.push(item, || {});
        }
        match self.store.push_flagged(item) {
            Flagged::Stored => {
                self.wake_after_store_change(&self.config.getters);
                Ok(())
            }
            Flagged::Full(item) => Err((item, Refusal::Full)),
            Flagged::Refused(item, flags) => self.put_refused_by_flag(item, flags),
            Flagged::Unflagged(item) => self.try_put_counted(item, putting::current()),
        }
    }

    /// A put the store refused for a flag: shut down, or resized (then it goes to the second
    /// store through `begun`, whose [`RESIZED`] was set before the store's: `resize.rs`).
    #[cold]
    #[inline(never)]
    fn put_refused_by_flag(&self, item: S::Item, flags: usize) -> Result<(), (S::Item, Refusal)> {
        if flags & SHUT != 0 {
            return Err((item, Refusal::ShutDown));
        }
        self.try_put_counted(item, putting::current())
    }

    /// A put into a task-counting queue, its putting flag `slot` (`None`: counted in
    /// `unslotted` instead) raised from before its step on `begun` until it is over.
    #[inline(always)]
    fn try_put_counted(
        &self,
        item: S::Item,
        slot: Option<&Slot>,
    ) -> Result<(), (S::Item, Refusal)> {
        let leave = || match slot {
            Some(slot) => slot.leave(),
            // Mutant (loom only): a flagless put is not counted in flight.
            #[cfg(all(loom, threadkit_mutant = "queue_unslotted_uncounted"))]
            None => {}
            #[cfg(not(all(loom, threadkit_mutant = "queue_unslotted_uncounted")))]
            None => drop(self.puts.unslotted.fetch_sub(1, Ordering::SeqCst)),
        };
        // Mutant (loom only): the flag raised after the step on `begun`, so that a shutdown
        // in between finds no put in flight.
        #[cfg(not(all(loom, threadkit_mutant = "queue_flag_late")))]
        self.enter(slot);
        let begun = self.puts.begun.fetch_add(ONE_PUT, Ordering::SeqCst);
        #[cfg(all(loom, threadkit_mutant = "queue_flag_late"))]
        self.enter(slot);
        if begun & (SHUT | RESIZED) != 0 {
            if begun & SHUT == 0 {
                return self.put_resized(item, slot);
            }
            leave();
            self.forget_tasks(1);
            return Err((item, Refusal::ShutDown));
        }
        let pushed = self.push(item, leave);
        if pushed.is_err() {
            self.forget_tasks(1);
        }
        pushed
    }

    /// Raises the putting flag (or counts a flagless put).
    #[inline(always)]
    pub(super) fn enter(&self, slot: Option<&Slot>) {
        match slot {
            Some(slot) => slot.enter(self.address()),
            #[cfg(all(loom, threadkit_mutant = "queue_unslotted_uncounted"))]
            None => {}
            #[cfg(not(all(loom, threadkit_mutant = "queue_unslotted_uncounted")))]
            None => drop(self.puts.unslotted.fetch_add(1, Ordering::SeqCst)),
        }
    }

    /// Stores `item`, then runs `over` (the put is no longer in flight) and wakes the getter
    /// owed the item. A full store hands the item back (after `over`).
    #[inline(always)]
    fn push(&self, item: S::Item, over: impl Fn()) -> Result<(), (S::Item, Refusal)> {
        // A panicking `Ord` unwinds out of `push` with the item in the store: the put is over
        // and the getter is owed its wake-up all the same.
        let on_unwind = OnUnwind(|| {
            over();
            Self::wake_one(&self.config.getters);
        });
        // Mutant (loom only): the wake-up before the change it announces.
        #[cfg(all(loom, threadkit_mutant = "queue_wake_early"))]
        Self::wake_one(&self.config.getters);
        let pushed = self.store.push(item);
        std::mem::forget(on_unwind);
        over();
        if let Err(item) = pushed {
            return Err((item, Refusal::Full));
        }
        #[cfg(not(all(loom, threadkit_mutant = "queue_wake_early")))]
        self.wake_after_store_change(&self.config.getters);
        Ok(())
    }

    /// A put that waits for room until `deadline` (`None`: forever). `Full` means timed out.
    ///
    /// The first try is inlined here and the waiting loop kept out of line: the loop's frame
    /// (spinner, deadline) cost a put+get about 50 instructions of prologue and epilogue when it
    /// wrapped the fast path (callgrind, `queue_1t`).
    #[inline]
    #[track_caller]
    pub(crate) fn put(
        &self,
        item: S::Item,
        deadline: Option<Instant>,
    ) -> Result<(), (S::Item, Refusal)> {
        match self.try_put(item) {
            Err((item, Refusal::Full)) => self.put_waiting(item, deadline),
            done => done,
        }
    }

    /// [`put`](Self::put) once the queue was found full: try again, spin a little, sleep.
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn put_waiting(
        &self,
        mut item: S::Item,
        deadline: Option<Instant>,
    ) -> Result<(), (S::Item, Refusal)> {
        let mut spin = Spinner::new();
        loop {
            match self.try_put(item) {
                Err((back, Refusal::Full)) => item = back,
                done => return done,
            }
            if past(deadline) {
                return Err((item, Refusal::Full));
            }
            // Spin and yield a little while the queue stays full (`spin.rs`), then sleep.
            while self.put_blocks() && spin.spin() {}
            if !self.put_blocks() {
                continue;
            }
            let timed_out = self.park_on(
                WaitKind::QueuePut,
                &self.config.putters,
                || self.put_blocks(),
                deadline,
            );
            if timed_out {
                return self.try_put(item);
            }
            spin.reset();
        }
    }

    /// A get that never waits.
    #[inline]
    pub(crate) fn try_get(&self) -> Result<S::Item, Refusal> {
        if let Some(item) = self.pop().or_else(|| self.pop_resized()) {
            return Ok(item);
        }
        if !self.is_shutdown() {
            return Err(Refusal::Empty);
        }
        // Shut down and empty, unless a put that began before the shutdown is still on its way:
        // wait for it, then look once more.
        self.wait_for_puts_in_flight();
        self.pop()
            .or_else(|| self.pop_resized())
            .ok_or(Refusal::ShutDown)
    }

    /// Takes an item out of the store and wakes the putter owed its room (always inlined, as
    /// [`try_put`](Self::try_put)).
    #[inline(always)]
    fn pop(&self) -> Option<S::Item> {
        // A panicking `Ord` unwinds out of `pop` with an item gone: wake the putter all the same.
        let on_unwind = OnUnwind(|| Self::wake_one(&self.config.putters));
        let item = self.store.pop();
        std::mem::forget(on_unwind);
        if item.is_some() {
            self.wake_after_store_change(&self.config.putters);
        }
        item
    }

    /// A get that waits for an item until `deadline` (`None`: forever). `Empty` means timed out.
    /// The first try inlined, the waiting loop out of line (as for [`put`](Self::put)).
    #[inline]
    #[track_caller]
    pub(crate) fn get(&self, deadline: Option<Instant>) -> Result<S::Item, Refusal> {
        match self.pop() {
            Some(item) => Ok(item),
            None => self.get_waiting(deadline),
        }
    }

    /// [`get`](Self::get) once the queue was found empty: try again, spin a little, sleep.
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn get_waiting(&self, deadline: Option<Instant>) -> Result<S::Item, Refusal> {
        let mut spin = Spinner::new();
        loop {
            match self.try_get() {
                Err(Refusal::Empty) => {}
                done => return done,
            }
            if past(deadline) {
                return Err(Refusal::Empty);
            }
            while self.get_blocks() && spin.spin() {}
            if !self.get_blocks() {
                continue;
            }
            let timed_out = self.park_on(
                WaitKind::QueueGet,
                &self.config.getters,
                || self.get_blocks(),
                deadline,
            );
            if timed_out {
                return self.try_get();
            }
            spin.reset();
        }
    }

    /// `shutdown(immediate)`: refuse further puts, wake every blocked getter and putter; with
    /// `immediate`, also drop what is queued and count those tasks done.
    pub(crate) fn shutdown(&self, immediate: bool) {
        self.puts.begun.fetch_or(SHUT, Ordering::SeqCst);
        self.store.set_flags(SHUT);
        self.config.shut_down.store(true, Ordering::SeqCst);
        wait::unpark_all(key(&self.config.putters), TOKEN);
        wait::unpark_all(key(&self.config.getters), TOKEN);
        if !immediate {
            return;
        }
        // Every put that began before the flag is stored (or refused) first: none after it.
        self.wait_for_puts_in_flight();
        let (n, drained) = self.store.drain();
        let (n_resized, drained_resized) = self.resized.drain();
        self.forget_tasks(n + n_resized);
        drop(drained); // an item's `drop` may use the queue
        drop(drained_resized);
    }

    /// The sleeper counts (getters, putters, joiners), for tests.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn sleepers(&self) -> [usize; 3] {
        let c = &self.config;
        [&c.getters, &c.putters, &c.joiners].map(|n| n.load(Ordering::Relaxed))
    }
}
