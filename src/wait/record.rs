//! The published wait record: what each blocked thread waits on, readable from other threads.
//!
//! Every thread that ever blocks in threadkit gets a [`Slot`], registered in a process-wide list
//! on its first wait and removed when the thread exits. While a thread is blocked (parked by
//! [`super::park_for`], or in an OS-level join announced with [`announce`]), its slot holds a
//! [`Record`]: the kind of wait, the object (as raw pointers into the primitive), the call site
//! of the blocking call, when it began and its deadline.
//!
//! Readers (`src/diagnostics`, the only one) go through [`for_each`], which registers in the
//! slot as a reader while it looks at the record (see [`Slot`]). That registration is what makes
//! the raw pointers safe to follow: the waiting thread withdraws its record, and waits for the
//! registered readers, before its blocking call returns, and the object it waits on is borrowed
//! for the whole call. So while a reader is registered and sees a record, the object is alive.
//! A waiting thread waits for readers only while withdrawing (microseconds, while a dump copies
//! its record), never a reader for a waiting thread: a dump never blocks on a user's progress.
//!
//! Cost: only blocking calls publish; the uncontended paths of the primitives never come here.
//! One record costs a thread-local lookup, one `Instant::now()`, a few plain stores and one
//! `SeqCst` store and load to withdraw it, next to a park of several microseconds.

use std::cell::{Cell, UnsafeCell};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::panic::Location;
use std::ptr::addr_of_mut;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicUsize as StdAtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub(crate) use super::last_signal::{LastSignal, Signal};
use super::WaitKind;
use crate::identity::Identity;
use crate::loom::sync::atomic::{AtomicU64 as StateWord, AtomicUsize};
use crate::site::Site;

/// Every slot of a live thread.
static SLOTS: Mutex<Vec<Arc<Slot>>> = Mutex::new(Vec::new());

/// The instrumentation word: every switch that sends a Lock acquire off its plain path, so
/// that an uncontended acquire pays one relaxed load for all of them when they are off:
/// [`TRACK_HOLDER_SITES`] | [`TRACK_PROFILING`] | [`TRACK_LOCK_ORDER`].
pub(crate) static TRACKING: AtomicU8 = AtomicU8::new(
    if cfg!(debug_assertions) {
        TRACK_HOLDER_SITES
    } else {
        0
    } | if cfg!(all(feature = "lock-order", not(loom))) {
        // The checker's mode starts undecided, which counts as armed (see `lock_order::armed`).
        TRACK_LOCK_ORDER
    } else {
        0
    },
);

/// Lock and RLock record where their holder acquired them (one relaxed store per acquire).
/// On by default in debug builds.
pub(crate) const TRACK_HOLDER_SITES: u8 = 1;
/// The contention profile is on (see `src/diagnostics/profile.rs`): every Lock acquisition is
/// counted, and the holder's site is recorded as with [`TRACK_HOLDER_SITES`].
pub(crate) const TRACK_PROFILING: u8 = 2;
/// The lock-order checker is armed (its mode is not `Off`); kept in step with the mode by
/// `src/lock_order` alone.
pub(crate) const TRACK_LOCK_ORDER: u8 = 4;

/// Whether `bit` of [`TRACKING`] is set.
#[inline]
pub(crate) fn tracking(bit: u8) -> bool {
    TRACKING.load(Ordering::Relaxed) & bit != 0
}

/// Sets or clears `bit` of [`TRACKING`].
pub(crate) fn set_tracking(bit: u8, on: bool) {
    if on {
        TRACKING.fetch_or(bit, Ordering::Relaxed);
    } else {
        TRACKING.fetch_and(!bit, Ordering::Relaxed);
    }
}

/// A lock-like object's ownership words: who acquired it, where, and how deep (RLock).
#[derive(Clone, Copy)]
pub(crate) struct Holder {
    /// The Lock's state word (see [`crate::lock::owner_of`]).
    pub(crate) state: *const StateWord,
    /// Where the current holder acquired it ([`Site::as_ptr`]; may be stale when unlocked).
    pub(crate) acquired_at: *const AtomicPtr<u8>,
    /// An RLock's recursion count; null for a Lock.
    pub(crate) count: *const AtomicUsize,
}

/// Reads an object's one-line status from a pointer into it.
///
/// # Safety
/// The pointer must point to the live object the function was published with.
pub(crate) type StatusFn = unsafe fn(*const ()) -> String;

/// What a blocked thread waits on.
#[derive(Clone, Copy)]
pub(crate) enum Target {
    /// An object with an identity; `holder` for Lock, RLock and a Condition's lock.
    Object {
        identity: *const Identity,
        holder: Option<Holder>,
        /// A one-line status of the object (semaphore value, event flag, barrier count...).
        status: Option<(*const (), StatusFn)>,
    },
    /// An Event or Condition: no owner, but who last woke its waiters; for a Condition, the
    /// lock a notified waiter takes back.
    Signal {
        identity: *const Identity,
        last: *const LastSignal,
        lock: Option<CondLock>,
    },
    /// The end of the thread with this identifier.
    Join { ident: u64 },
    /// A target built only when a reader looks ([`Record::target`]), by the object's own
    /// `view` from a pointer to it and the waiting thread's identifier: a wait whose target is
    /// many words (a Condition's, with its lock's) publishes two instead of writing them all at
    /// every wait. `view` never returns `Deferred`, and its target has no `holder` (a deferred
    /// wait's record has no `holder_site`).
    Deferred { object: *const (), view: ViewFn },
}

/// Builds a [`Target::Deferred`]'s target from the object's pointer and the waiter's identifier.
///
/// # Safety
/// The pointer must point to the live object the function was published with.
pub(crate) type ViewFn = unsafe fn(*const (), u64) -> Target;

/// A Condition's lock, as its waiter publishes it: a notified waiter is moved, still asleep,
/// onto the lock's queue (`wait::unpark_requeue`), and from then on waits for the lock.
#[derive(Clone, Copy)]
// `pub` in a private module, not `pub(crate)`: it appears in a sealed public trait's hidden
// method, which Rust before 1.74 (the MSRV is 1.71) rejects for a crate-private type (E0446).
#[allow(unreachable_pub)]
pub struct CondLock {
    /// The lock's identity.
    pub(crate) identity: *const Identity,
    /// Its ownership words.
    pub(crate) holder: Holder,
    /// Its parking key: where a moved waiter sleeps.
    pub(crate) key: usize,
    /// The park token this waiter parks with (unique among the threads parked anywhere), by
    /// which a reader finds it on the lock's queue.
    pub(crate) token: usize,
}

impl std::fmt::Debug for CondLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CondLock")
            .field("key", &self.key)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// One blocked thread's published wait.
#[derive(Clone, Copy)]
pub(crate) struct Record {
    /// threadkit's identifier of the waiting thread (a timer worker acting as its Timer reports
    /// the Timer's).
    pub(crate) ident: u64,
    /// The kernel's thread id.
    pub(crate) native_id: u64,
    pub(crate) kind: WaitKind,
    /// What it waits on ([`target`](Self::target)): the waiting call's own `Target`, on its
    /// stack for the whole wait (a parked wait's, in `park_for`'s frame), or the slot's copy
    /// for an announced wait. A pointer, so that a wait writes one word for it, not a dozen.
    target_at: *const Target,
    /// The call site of the blocking call (a binding's caller's, if it set one:
    /// [`crate::site::with_call_site`]).
    pub(crate) site: Site,
    /// When the wait began, on the [`clock`].
    pub(crate) since: Duration,
    /// When the wait began, precisely: only taken while the contention profile is on, which
    /// needs microseconds where the coarse clock ticks every few milliseconds.
    pub(crate) precise_since: Option<Instant>,
    pub(crate) deadline: Option<Instant>,
    /// Unique per wait of this thread: the same `(ident, seq)` in two snapshots means one
    /// uninterrupted wait.
    pub(crate) seq: u64,
    /// For a lock-like target: where the holder had acquired it when this wait began (the
    /// critical section charged by the contention profile).
    pub(crate) holder_site: Option<Site>,
    /// For a Condition's re-acquire of its lock after the wait: the Condition (null otherwise).
    pub(crate) after: *const Identity,
    /// What the thread is, for an internal wait of an unregistered thread (the timer service's;
    /// see [`labelled`]).
    pub(crate) label: Option<&'static str>,
}

// SAFETY: a record's raw pointers are followed only through its `unsafe` accessors, whose
// callers guarantee the referents are alive: a reader inside `for_each` (registered in the
// slot's `readers` while it sees `present` set, so the waiting thread cannot withdraw the
// record and return, module docs), or the waiting thread itself during its wait. Moving the
// pointers to another thread does not follow them.
unsafe impl Send for Record {}

/// One thread's published state.
///
/// Written only by its thread, read by any. The record is valid while `present` is set; a
/// reader registers in `readers` before looking at `present`, and the writer, after clearing
/// `present`, waits for `readers` to drop to zero before its blocking call returns (or before it
/// writes the next record). Both sides use `SeqCst` for the two flags (a Dekker pair): either the
/// reader sees `present` cleared, or the writer sees the reader registered and waits for it. So
/// a reader that sees `present` reads a complete record whose objects stay alive until it
/// unregisters. Costs the writer one `SeqCst` store and one load per wait, no lock.
pub(crate) struct Slot {
    readers: StdAtomicUsize,
    present: AtomicBool,
    record: UnsafeCell<MaybeUninit<Record>>,
    /// An announced wait's target (its record points here): an announcement's guard may be
    /// kept where the target would not live as long (`diagnostics::waiting_to_join`).
    /// Written like `record`.
    announced_target: UnsafeCell<MaybeUninit<Target>>,
}

// SAFETY: `record` is written only by the slot's own thread while `present` is clear and no
// reader is registered, and read by others only while registered with `present` set (see above).
unsafe impl Sync for Slot {}
// SAFETY: as for `Sync`; a `Record` is `Send`.
unsafe impl Send for Slot {}

impl Slot {
    /// The record published on this slot, read by the slot's own thread (the only writer).
    fn own(&self) -> Option<Record> {
        if self.present.load(Ordering::Relaxed) {
            // SAFETY: only the calling thread writes the record, and it is initialised while
            // `present` is set; other threads only read it, and `Record` is `Copy`.
            Some(unsafe { (*self.record.get()).assume_init_read() })
        } else {
            None
        }
    }

    /// Withdraws the record and waits until no reader can still be looking at it.
    #[inline]
    fn clear(&self) {
        self.present.store(false, Ordering::SeqCst);
        if self.readers.load(Ordering::SeqCst) != 0 {
            self.wait_for_readers();
        }
    }

    /// The rare end of [`clear`](Self::clear): a dump is reading the record.
    #[cold]
    #[inline(never)]
    fn wait_for_readers(&self) {
        let mut spins = 0u32;
        while self.readers.load(Ordering::SeqCst) != 0 {
            // A reader copies a few words and names; it is done within microseconds.
            spins += 1;
            if spins < 100 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Calls `f` with the record if one is published (any thread).
    fn read(&self, f: &mut impl FnMut(&Record)) {
        /// Unregisters the reader, also if `f` panics (else the writer would wait for ever).
        struct Registered<'a>(&'a StdAtomicUsize);
        impl Drop for Registered<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.readers.fetch_add(1, Ordering::SeqCst);
        let _registered = Registered(&self.readers);
        if self.present.load(Ordering::SeqCst) {
            // SAFETY: registered and `present` was set after the record was written: the writer
            // neither rewrites nor withdraws it (its blocking call does not return) until we
            // unregister.
            f(unsafe { (*self.record.get()).assume_init_ref() });
        }
    }
}

/// The calling thread's slot and per-thread counters; the slot leaves the list when the thread
/// exits.
struct Local {
    slot: Arc<Slot>,
    /// Whether an outer [`announce`] owns the record (nested parks leave it alone).
    announced: Cell<bool>,
    /// This thread's wait counter: `(ident, seq)` identifies a wait.
    seq: Cell<u64>,
    /// The kernel's thread id.
    native_id: u64,
    /// See [`as_one_wait`].
    one_wait: Cell<Option<OneWait>>,
}

impl Drop for Local {
    fn drop(&mut self) {
        // Cleared first: a wait still in progress during thread-local teardown can no longer
        // clear its record through the thread-local, and must not leave it to readers.
        self.slot.clear();
        let mut slots = lock(&SLOTS);
        if let Some(i) = slots.iter().position(|s| Arc::ptr_eq(s, &self.slot)) {
            slots.swap_remove(i);
        }
    }
}

thread_local! {
    /// The Condition whose lock this thread is taking back (see [`reacquiring`]). Apart from
    /// [`LOCAL`], and `const`: no lazy start or destructor to check at each mark.
    static AFTER: Cell<*const Identity> = const { Cell::new(std::ptr::null()) };
    /// See [`labelled`]; as [`AFTER`].
    static LABEL: Cell<Option<&'static str>> = const { Cell::new(None) };
    static LOCAL: Local = {
        let slot = Arc::new(Slot {
            readers: StdAtomicUsize::new(0),
            present: AtomicBool::new(false),
            record: UnsafeCell::new(MaybeUninit::uninit()),
            announced_target: UnsafeCell::new(MaybeUninit::uninit()),
        });
        lock(&SLOTS).push(Arc::clone(&slot));
        Local {
            slot,
            announced: Cell::new(false),
            seq: Cell::new(0),
            native_id: crate::thread::ident::native_id(),
            one_wait: Cell::new(None),
        }
    };
}

/// One wait made of several parks ([`as_one_wait`]): what every record published inside it
/// says instead of the park's own start, number and deadline.
#[derive(Clone, Copy)]
pub(crate) struct OneWait {
    since: Duration,
    precise_since: Option<Instant>,
    /// Taken by the first record published inside (`None` until then).
    seq: Option<u64>,
    /// What the first record published inside waits on: only waits on it are parts of the
    /// one wait; any other wait made in the scope (in the caller's work between the parks, or
    /// a different stall such as a re-acquire) is published as a wait of its own.
    waits_on: Option<(WaitKind, usize)>,
    /// Where the contention profile last charged a woken park of this wait (precise and coarse
    /// clocks): the next woken park is charged from there, so the parts never overlap.
    charged_to: Option<Instant>,
    charged_to_coarse: Duration,
    deadline: Option<Instant>,
}

/// What a wait waits on, to tell the parts of one sliced wait from other waits in its scope.
fn waits_on(kind: WaitKind, target: &Target) -> (WaitKind, usize) {
    let key = match *target {
        Target::Object { identity, .. } | Target::Signal { identity, .. } => identity as usize,
        Target::Join { ident } => ident as usize,
        Target::Deferred { object, .. } => object as usize,
    };
    (kind, key)
}

/// The start from which the profile charges the woken park `r` (the caller charges up to
/// `now`): the park's own start, or, for a part of an [`as_one_wait`] wait, the end of the part
/// charged last (if later than the wait's start), so that the parts' charges add up to at most
/// the time waited. Returns `(precise start, coarse start)`.
pub(crate) fn charge_start(
    r: &Record,
    now: Instant,
    coarse_now: Duration,
) -> (Option<Instant>, Duration) {
    let own = (r.precise_since, r.since);
    LOCAL
        .try_with(|l| match l.one_wait.get() {
            Some(mut one) if one.seq == Some(r.seq) => {
                let precise = match (r.precise_since, one.charged_to) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, _) => a,
                };
                let coarse = r.since.max(one.charged_to_coarse);
                one.charged_to = Some(now);
                one.charged_to_coarse = coarse_now;
                l.one_wait.set(Some(one));
                (precise, coarse)
            }
            _ => own,
        })
        .unwrap_or(own)
}

/// Runs `f`, publishing every wait it makes as one wait that began when `as_one_wait` was called
/// and ends at `deadline`, for a caller that waits in slices and does work between them.
///
/// A binding that must look for something between short parks (a Python extension runs the
/// interpreter's signal handlers, so that Ctrl-C interrupts a wait) would otherwise publish a
/// new wait per slice: a thread dump would say "blocked for 0.05s" of a thread blocked for an
/// hour, the slice's end would stand as the wait's timeout, and the stall watchdog (which
/// reports a wait once it is older than its threshold) would never see it. Inside `f`, each
/// park on what the first wait made in `f` waits on (same kind, same object) is a part of the
/// one wait: its record keeps the start, the number and the `deadline` of the whole wait;
/// between the parks the thread is not blocked and its dump says so. Any other wait made in
/// `f` (in the caller's work between the parks, such as a Python signal handler taking a lock,
/// or a Condition waiter re-acquiring its lock) is published as a wait of its own, with its own
/// start, number and timeout, so a dump shows its real age and the stall watchdog can report
/// it as a stall of its own. So `f` should make the sliced wait first: if its first wait is on
/// something else, that is what the scope's parts are matched against, and the slices are
/// published one by one. The contention profile charges each part that ends by a wake-up from
/// the end of the part charged before (or the start of the whole wait), so the charges add up
/// to at most the time waited. A call nested in another runs `f` as part of the outer wait.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use threadkit::diagnostics::as_one_wait;
///
/// let event = threadkit::Event::new();
/// let deadline = Instant::now() + Duration::from_millis(30);
/// // Three 10 ms slices, published as one 30 ms wait.
/// let set = as_one_wait(Some(deadline), || loop {
///     let slice = (Instant::now() + Duration::from_millis(10)).min(deadline);
///     if event.wait_deadline(slice) || slice == deadline {
///         break event.is_set();
///     }
///     // ... look for interrupts here ...
/// });
/// assert!(!set);
/// ```
#[cfg_attr(loom, allow(unreachable_pub))]
pub fn as_one_wait<R>(deadline: Option<Instant>, f: impl FnOnce() -> R) -> R {
    /// Ends the scope, also on unwinding.
    struct Scope(bool);
    impl Drop for Scope {
        fn drop(&mut self) {
            if self.0 {
                let _ = LOCAL.try_with(|l| l.one_wait.set(None));
            }
        }
    }
    let started = LOCAL
        .try_with(|l| {
            if l.one_wait.get().is_some() {
                return false;
            }
            l.one_wait.set(Some(OneWait {
                since: clock(),
                precise_since: tracking(TRACK_PROFILING).then(Instant::now),
                seq: None,
                waits_on: None,
                charged_to: None,
                charged_to_coarse: Duration::ZERO,
                deadline,
            }));
            true
        })
        .unwrap_or(false);
    let _scope = Scope(started);
    f()
}

/// Marks the calling thread's waits, while the guard lives, as a Condition's re-acquire of its
/// lock after the wait (woken, or timed out, and now taking the lock back). The mark points at
/// `condition`: a leaked guard would leave it there after `condition` is gone, for a dump to
/// read. The crate's callers drop the guard in the scope of the borrow, and the public form is
/// a closure (`diagnostics::reacquiring_after`), which cannot be leaked.
pub(crate) fn reacquiring(condition: &Identity) -> Reacquiring {
    AFTER.with(|a| a.set(condition));
    Reacquiring(())
}

/// Ends [`reacquiring`].
pub(crate) struct Reacquiring(());

impl Drop for Reacquiring {
    fn drop(&mut self) {
        AFTER.with(|a| a.set(std::ptr::null()));
    }
}

/// Names what the calling thread is, for the waits it publishes while the guard lives: the
/// timer service's internal waits (its threads are not registered, and their waits are idle by
/// design: dumps name them by this, and the watchdog never calls them stalls). A timer worker
/// running a Timer's function is that Timer, unlabelled.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn labelled(label: &'static str) -> Labelled {
    LABEL.with(|l| l.set(Some(label)));
    Labelled(())
}

/// Ends [`labelled`].
pub(crate) struct Labelled(());

impl Drop for Labelled {
    fn drop(&mut self) {
        LABEL.with(|l| l.set(None));
    }
}

/// Std mutexes here are never poisoned in practice (nothing panics while holding them); ignore
/// poisoning rather than propagate it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Clears the calling thread's record when dropped (also on unwinding).
///
/// It holds no copy of the record (which is some 20 words): a wait that needs it back (the
/// contention profile's charge) reads it from the thread's own slot. Copying it here cost ~35
/// instructions per wait (callgrind, `condition_pingpong`).
pub(crate) struct Published<'t> {
    announced: bool,
    /// Whether this guard published a record (not: thread-local teardown, or an outer
    /// announcement owns the slot).
    published: bool,
    /// The target the record points to (a published wait's) outlives the guard.
    target: PhantomData<&'t Target>,
}

impl Published<'_> {
    /// The record as published (`None` if nothing was: thread-local teardown, or an outer
    /// announcement owns the slot), read back from the calling thread's slot.
    pub(crate) fn record(&self) -> Option<Record> {
        if !self.published {
            return None;
        }
        LOCAL.try_with(|l| l.slot.own()).ok().flatten()
    }
}

impl Drop for Published<'_> {
    fn drop(&mut self) {
        if self.published {
            let announced = self.announced;
            let _ = LOCAL.try_with(|l| {
                l.slot.clear();
                if announced {
                    l.announced.set(false);
                }
            });
        }
    }
}

/// Publishes the calling thread's wait until the returned guard is dropped. A wait published
/// inside an [`announce`]d one (a join that parks on an event) leaves the outer record in place.
///
/// # Safety
///
/// The guard must be dropped, not leaked (`mem::forget`, a cycle): the published record points
/// at `target`, and only the guard's drop withdraws it (waiting for the readers) before the
/// borrow of `target` ends.
#[inline]
pub(crate) unsafe fn publish<'t>(
    kind: WaitKind,
    target: &'t Target,
    site: &'static Location<'static>,
    deadline: Option<Instant>,
) -> Published<'t> {
    enter(kind, TargetIn::Call(target), site, deadline)
}

/// As [`publish`], for a blocking call that does not go through [`super::park_for`] all the way
/// (an OS-level thread join), and that owns the record against nested parks.
pub(crate) fn announce(
    kind: WaitKind,
    target: Target,
    site: &'static Location<'static>,
    deadline: Option<Instant>,
) -> Published<'static> {
    enter(kind, TargetIn::Slot(target), site, deadline)
}

/// Where a published record's target lives while it is published.
enum TargetIn<'t> {
    /// The waiting call's own, borrowed for as long as the guard lives ([`publish`]).
    Call(&'t Target),
    /// A copy in the thread's slot ([`announce`]): the guard borrows nothing.
    Slot(Target),
}

/// Publishes a record whose target is the call's (the guard then borrows it) or the slot's copy.
fn enter<'t>(
    kind: WaitKind,
    target_in: TargetIn<'t>,
    site: &'static Location<'static>,
    deadline: Option<Instant>,
) -> Published<'t> {
    let (target, announce): (&Target, bool) = match &target_in {
        TargetIn::Call(target) => (target, false),
        TargetIn::Slot(target) => (target, true),
    };
    let published = LOCAL.try_with(|l| {
        if l.announced.get() {
            return false;
        }
        // A part of the scope's one wait (the first wait published in the scope, or a later
        // one on the same object) says the whole wait's start, number and deadline.
        let (since, precise_since, deadline, seq) = match l.one_wait.get() {
            Some(one) if one.waits_on.map_or(true, |w| w == waits_on(kind, target)) => {
                part_of_one_wait(l, one, kind, target)
            }
            _ => {
                let seq = l.seq.get() + 1;
                l.seq.set(seq);
                let precise_since = tracking(TRACK_PROFILING).then(Instant::now);
                (clock(), precise_since, deadline, seq)
            }
        };
        let slot = &l.slot;
        // A nested non-announced publish would overwrite a record a reader may be reading.
        debug_assert!(
            !slot.present.load(Ordering::Relaxed),
            "a wait record is already published on this thread"
        );
        // Written in place, field by field (building it first and copying it in cost ~40
        // instructions per wait: callgrind, `condition_pingpong`).
        let r: *mut Record = slot.record.get().cast();
        let target_at: *const Target = if announce {
            let copy: *mut Target = slot.announced_target.get().cast();
            // SAFETY: as for the record below: written only by this thread, with nothing
            // published, and every reader that saw the previous record (and so may have read
            // the previous copy) unregistered (`Slot::clear` waited for them).
            unsafe { copy.write(*target) };
            copy
        } else {
            target
        };
        // SAFETY: only this thread writes the record, `present` is clear, and every reader that
        // saw the previous record has unregistered (`Slot::clear` waited for that), so nobody
        // reads it until `present` is set below, after every field has been written.
        unsafe {
            addr_of_mut!((*r).ident).write(crate::thread::ident::current());
            addr_of_mut!((*r).native_id).write(l.native_id);
            addr_of_mut!((*r).kind).write(kind);
            addr_of_mut!((*r).holder_site).write(holder_site(target));
            addr_of_mut!((*r).target_at).write(target_at);
            addr_of_mut!((*r).site).write(crate::site::resolve(site));
            addr_of_mut!((*r).since).write(since);
            addr_of_mut!((*r).precise_since).write(precise_since);
            addr_of_mut!((*r).deadline).write(deadline);
            addr_of_mut!((*r).seq).write(seq);
            addr_of_mut!((*r).after).write(AFTER.with(Cell::get));
            addr_of_mut!((*r).label).write(LABEL.with(Cell::get));
        }
        slot.present.store(true, Ordering::SeqCst);
        if announce {
            l.announced.set(true);
        }
        true
    });
    Published {
        announced: announce,
        published: published.unwrap_or(false),
        target: PhantomData,
    }
}

/// The start, deadline and number of a wait published as a part of `one` (see [`enter`]),
/// which it takes up.
#[cold]
fn part_of_one_wait(
    l: &Local,
    mut one: OneWait,
    kind: WaitKind,
    target: &Target,
) -> (Duration, Option<Instant>, Option<Instant>, u64) {
    let seq = one.seq.unwrap_or_else(|| {
        let seq = l.seq.get() + 1;
        l.seq.set(seq);
        seq
    });
    one.seq = Some(seq);
    one.waits_on = Some(waits_on(kind, target));
    l.one_wait.set(Some(one));
    (one.since, one.precise_since, one.deadline, seq)
}

/// For a lock-like target: where the holder had acquired it as the wait begins.
#[inline]
fn holder_site(target: &Target) -> Option<Site> {
    match *target {
        Target::Object {
            holder: Some(h), ..
        } => {
            // SAFETY: `h` points into an object the calling thread borrows for this wait.
            let p = unsafe { (*h.acquired_at).load(Ordering::Relaxed) };
            // SAFETY: only `Site::as_ptr`s are ever stored there (or null).
            unsafe { Site::from_ptr(p) }
        }
        _ => None,
    }
}

/// The clock wait records are stamped with: Linux's `CLOCK_MONOTONIC_COARSE` (a few ns to read,
/// ticking every few milliseconds, plenty for "blocked for 2.31s"), elsewhere `Instant`.
pub(crate) fn clock() -> Duration {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC_COARSE exists on every
        // Linux threadkit supports (2.6.32+) and the call cannot fail with valid arguments.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }
    #[cfg(any(not(target_os = "linux"), miri))]
    {
        static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        ORIGIN.get_or_init(Instant::now).elapsed()
    }
}

/// Calls `f` with each published record, one slot at a time, registered as a reader of that
/// slot (see [`Slot`]) while `f` runs, so that `f` may follow the record's pointers (through
/// [`Record`]'s `unsafe` accessors). The record must not be used that way after `f` returns: a
/// copy kept past it may point to freed objects.
pub(crate) fn for_each(mut f: impl FnMut(&Record)) {
    let slots: Vec<Arc<Slot>> = lock(&SLOTS).clone();
    for slot in slots {
        slot.read(&mut f);
    }
}

/// How many threads have a slot (for tests and the dump's header).
#[allow(dead_code)]
pub(crate) fn slot_count() -> usize {
    lock(&SLOTS).len()
}

/// The thread registry's `pthread_atfork` handlers' part (`src/thread/fork.rs`): the slot list
/// is locked across the `fork` (so that the child does not inherit it locked by a thread it
/// does not have, which would hang its first wait and every dump), and in the child every
/// record of another thread is withdrawn and every reader count zeroed (those threads do not
/// exist there: a dump must not show them, and the forking thread must not wait for their
/// reads), with atomic stores only. The slots themselves stay in the list (nothing is freed in
/// the child handler); they hold no record.
#[cfg(all(unix, not(loom)))]
pub(crate) mod fork {
    use std::cell::RefCell;
    use std::sync::atomic::Ordering;
    use std::sync::{Arc, MutexGuard};

    use super::{lock, Slot, SLOTS};

    thread_local! {
        /// The slot list's guard, from the prepare handler to the parent or child handler (on
        /// the forking thread).
        static HELD: RefCell<Option<MutexGuard<'static, Vec<Arc<Slot>>>>> =
            const { RefCell::new(None) };
    }

    /// Prepare handler: locks the slot list.
    pub(crate) fn before() {
        let guard = lock(&SLOTS);
        // `try_with`: a fork from this thread's thread-local teardown keeps nothing (the guard is
        // dropped at once), rather than panicking in an `extern "C"` handler.
        let _ = HELD.try_with(|h| *h.borrow_mut() = Some(guard));
    }

    /// Parent handler: unlocks it.
    pub(crate) fn after_in_parent() {
        drop(HELD.try_with(|h| h.borrow_mut().take()));
    }

    /// Child handler: withdraws the records of every thread but `keep` (the forking thread's
    /// identifier), zeroes the reader counts, and unlocks the list (std's unlock is an atomic
    /// swap and at most a futex wake with nobody to wake: nothing waits in the child).
    pub(crate) fn after_in_child(keep: u64) {
        let guard = HELD.try_with(|h| h.borrow_mut().take()).ok().flatten();
        let Some(slots) = guard else { return };
        for slot in slots.iter() {
            slot.readers.store(0, Ordering::SeqCst);
            // SAFETY: the record is initialised while `present` is set, and the child has one
            // thread: nobody writes it meanwhile.
            let mine = slot.present.load(Ordering::SeqCst)
                && unsafe { (*slot.record.get()).assume_init_ref() }.ident == keep;
            if !mine {
                slot.present.store(false, Ordering::SeqCst);
            }
        }
        drop(slots);
    }
}

/// `(owner ident, where acquired, recursion count)` of a lock now, if locked.
///
/// # Safety
/// `h` must point into a live lock.
unsafe fn holder_of(h: &Holder) -> Option<HolderNow> {
    // SAFETY: the caller's contract.
    let (state, site, count) = unsafe {
        (
            (*h.state).load(Ordering::Relaxed),
            (*h.acquired_at).load(Ordering::Relaxed),
            h.count.as_ref().map_or(1, |c| c.load(Ordering::Relaxed)),
        )
    };
    let owner = crate::lock::owner_of(state)?;
    // SAFETY: only `Site::as_ptr`s are stored there (or null).
    Some((owner, unsafe { Site::from_ptr(site) }, count))
}

/// A lock's holder as [`Record::holder`] gives it.
pub(crate) type HolderNow = (u64, Option<Site>, usize);

impl Record {
    /// What the thread waits on, a [`Target::Deferred`] built.
    ///
    /// # Safety
    ///
    /// As for [`identity`](Self::identity).
    pub(crate) unsafe fn target(&self) -> Target {
        // SAFETY: the waiting call's target (or the slot's copy) lives as long as its wait,
        // like the object (this function's contract).
        match unsafe { *self.target_at } {
            // SAFETY: the object is alive (this function's contract), and `view` is its own.
            Target::Deferred { object, view } => unsafe { view(object, self.ident) },
            target => target,
        }
    }

    /// The target object's identity, if it has one.
    ///
    /// # Safety
    ///
    /// The record's object must be alive for the returned lifetime: call it only on the record
    /// [`for_each`] passes, inside its closure (the reader registration keeps the object
    /// alive), or from the waiting thread during the wait the record describes.
    pub(crate) unsafe fn identity(&self) -> Option<&Identity> {
        // SAFETY: this function's contract.
        match unsafe { self.target() } {
            Target::Object { identity, .. } | Target::Signal { identity, .. } => {
                // SAFETY: the object is alive (this function's contract).
                Some(unsafe { &*identity })
            }
            _ => None,
        }
    }

    /// For a lock-like target: `(owner ident, where acquired, recursion count)` now.
    ///
    /// # Safety
    ///
    /// As for [`identity`](Self::identity).
    pub(crate) unsafe fn holder(&self) -> Option<HolderNow> {
        // SAFETY: this function's contract.
        let Target::Object {
            holder: Some(h), ..
        } = (unsafe { self.target() })
        else {
            return None;
        };
        // SAFETY: as for `identity`.
        unsafe { holder_of(&h) }
    }

    /// For a Condition waiter that a notify has moved onto its lock's queue (it sleeps on, and
    /// now waits for the lock): the lock and its holder now. `None` for any other wait.
    ///
    /// Looks for the waiter's park token on the lock's queue, under the parking lot's lock for
    /// that queue (held for a walk of the queue, never while waiting for anybody). The waiter
    /// cannot leave this wait while the reader is registered, so a token found there is this
    /// wait's.
    ///
    /// # Safety
    ///
    /// As for [`identity`](Self::identity).
    pub(crate) unsafe fn requeued(&self) -> Option<(&Identity, Option<HolderNow>)> {
        // SAFETY: this function's contract.
        let Target::Signal {
            lock: Some(lock), ..
        } = (unsafe { self.target() })
        else {
            return None;
        };
        let mut found = false;
        super::unpark_filter(
            lock.key,
            |t| {
                // An interruptible waiter parks with the armed bit set (`interrupt`).
                if super::interrupt::without_armed_bit(t.0) == lock.token {
                    found = true;
                    super::FilterOp::Stop
                } else {
                    super::FilterOp::Skip
                }
            },
            |_| super::UnparkToken(0),
        );
        // SAFETY: as for `identity`: the condition, and so its lock, are alive.
        found.then(|| unsafe { (&*lock.identity, holder_of(&lock.holder)) })
    }

    /// For a Condition's re-acquire of its lock: the Condition.
    ///
    /// # Safety
    ///
    /// As for [`identity`](Self::identity).
    pub(crate) unsafe fn after(&self) -> Option<&Identity> {
        // SAFETY: the Condition's wait (which set it) is still on the waiting thread's stack.
        unsafe { self.after.as_ref() }
    }

    /// Who last woke waiters of the Event or Condition waited on.
    ///
    /// # Safety
    ///
    /// As for [`identity`](Self::identity).
    pub(crate) unsafe fn last_signal(&self) -> Option<Signal> {
        // SAFETY: this function's contract.
        match unsafe { self.target() } {
            // SAFETY: as for `identity`.
            Target::Signal { last, .. } => unsafe { (*last).get() },
            _ => None,
        }
    }

    /// The object's one-line status, if it has one.
    ///
    /// # Safety
    ///
    /// As for [`identity`](Self::identity).
    pub(crate) unsafe fn status(&self) -> Option<String> {
        // SAFETY: this function's contract.
        match unsafe { self.target() } {
            Target::Object {
                status: Some((data, f)),
                ..
            } => {
                // SAFETY: `data` points into the object (alive: this function's contract) and
                // `f` is the object's own reader for it.
                Some(unsafe { f(data) })
            }
            _ => None,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::identity::ObjectKind;
    use std::sync::atomic::AtomicBool;

    /// A reader finds a notified Condition waiter on its lock's queue (and the lock's holder),
    /// and reads who last notified, while the waiter sleeps there; once the waiter has
    /// returned, its record is gone. (Miri runs this: the reader follows the record's
    /// pointers into the Condition and its lock, and into the last-notifier cell.)
    #[test]
    fn reader_sees_a_requeued_condition_waiter_and_the_last_notifier() {
        use crate::{Condition, Lock};
        let cond = Arc::new(Condition::with_lock(Lock::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let c2 = Arc::clone(&cond);
        let waiter = std::thread::spawn(move || {
            tx.send(crate::thread::ident::current()).unwrap();
            let mut g = c2.acquire();
            c2.wait_timeout(&mut g, Duration::from_secs(60))
        });
        let waiter_id = rx.recv().unwrap();
        let me = crate::thread::ident::current();
        let find = |want_requeued: bool| {
            let mut hit = None;
            for_each(|r| {
                if r.ident == waiter_id {
                    // SAFETY: inside `for_each`'s closure.
                    let requeued = unsafe { r.requeued() }.map(|(_, h)| h.map(|h| h.0));
                    if requeued.is_some() == want_requeued {
                        // SAFETY: inside `for_each`'s closure.
                        let last = unsafe { r.last_signal() }.map(|s| s.ident);
                        hit = Some((requeued.flatten(), last));
                    }
                }
            });
            hit
        };
        // Parked on the Condition: not on the lock's queue, nobody has notified yet.
        while find(false).is_none() {
            std::thread::yield_now();
        }
        let g = cond.acquire();
        assert_eq!(cond.notify(&g, 1), 1);
        // Moved onto the lock's queue (this thread holds the lock): waiting for this thread.
        let (holder, last) = find(true).expect("the notified waiter is on the lock's queue");
        assert_eq!((holder, last), (Some(me), Some(me)));
        drop(g);
        assert!(waiter.join().unwrap(), "owed the one notify");
        assert!(find(true).is_none() && find(false).is_none());
    }

    /// A reader follows the record's pointers while the writer publishes waits on objects that
    /// die right after each wait: the writer must never free an object a reader still looks at
    /// (Miri runs this and would report the use after free).
    #[test]
    fn readers_never_see_a_withdrawn_record() {
        let rounds = if cfg!(miri) { 30 } else { 3_000 };
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        // Other tests' threads (the timer service's) publish too: look at the writer's only.
        let writer = crate::thread::ident::current();
        let seen = std::thread::spawn(move || {
            let mut seen = 0u64;
            while !stop2.load(Ordering::Relaxed) {
                for_each(|r| {
                    if r.ident != writer {
                        return;
                    }
                    // SAFETY: inside `for_each`'s closure.
                    if let Some(i) = unsafe { r.identity() } {
                        assert_eq!(i.name(), Some("probe"));
                        seen += 1;
                    }
                });
                std::thread::yield_now();
            }
            seen
        });
        for _ in 0..rounds {
            let identity = Box::new(Identity::named(
                ObjectKind::Event,
                "probe",
                Location::caller(),
            ));
            let target = Target::Object {
                identity: &*identity,
                holder: None,
                status: None,
            };
            // SAFETY: the guard is dropped in this scope, before `target`.
            let published = unsafe { publish(WaitKind::Event, &target, Location::caller(), None) };
            std::thread::yield_now();
            drop(published);
            drop(identity);
        }
        stop.store(true, Ordering::Relaxed);
        seen.join().unwrap();
        let me = crate::thread::ident::current();
        let mut mine = 0;
        for_each(|r| mine += usize::from(r.ident == me));
        assert_eq!(mine, 0, "no record left behind");
    }

    /// A second (non-announced) publish while a record is published would overwrite the record
    /// under a reader's feet: refused in debug builds.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "already published")]
    fn a_nested_publish_is_refused() {
        // Named as `readers_never_see_a_withdrawn_record`'s records, whose reader may see it.
        let identity = Identity::named(ObjectKind::Event, "probe", Location::caller());
        let target = Target::Object {
            identity: &identity,
            holder: None,
            status: None,
        };
        // SAFETY: both guards are dropped in this scope, before `target`.
        let _outer = unsafe { publish(WaitKind::Event, &target, Location::caller(), None) };
        // SAFETY: as above.
        let _inner = unsafe { publish(WaitKind::Event, &target, Location::caller(), None) };
    }

    /// Waits published inside [`as_one_wait`] are one wait: the same start, number and
    /// deadline in every slice, however far apart the slices are; outside it, each publish is a
    /// new wait. Witness: the records' `since`/`seq`/`deadline` (the second slice is published
    /// after the coarse clock has moved on, so a fresh record would have a later `since`).
    #[test]
    fn slices_inside_as_one_wait_are_one_wait() {
        let identity = Identity::named(ObjectKind::Event, "one-wait probe", Location::caller());
        let target = || Target::Object {
            identity: &identity,
            holder: None,
            status: None,
        };
        let slice = |deadline| {
            let target = target();
            // SAFETY: the guard is dropped in this scope, before `target`.
            let p = unsafe { publish(WaitKind::Event, &target, Location::caller(), deadline) };
            let r = p.record().expect("published");
            std::thread::sleep(Duration::from_millis(20));
            r
        };
        let whole = Instant::now() + Duration::from_secs(60);
        let (a, b) = as_one_wait(Some(whole), || {
            let slice_end = Some(Instant::now() + Duration::from_millis(50));
            (slice(slice_end), slice(slice_end))
        });
        assert_eq!((a.since, a.seq, a.deadline), (b.since, b.seq, Some(whole)));
        assert_eq!(b.deadline, Some(whole));
        let c = slice(None);
        let d = slice(None);
        assert!(c.seq > b.seq && d.seq > c.seq);
        assert!(d.since > c.since && c.since > b.since);
        assert_eq!(c.deadline, None);
    }

    /// Only waits on what the scope's first wait waits on are parts of the one wait: a wait on
    /// another object made in the scope (a Python signal handler taking a lock between two
    /// slices, a Condition waiter stuck re-acquiring its lock) is published as its own wait,
    /// with its own start, number and deadline, so a dump shows its real age and timeout and
    /// the stall watchdog (keyed by the number) can report it. Witness: the fields of the
    /// inner record, and the slices after it still being one wait.
    #[test]
    fn other_waits_inside_as_one_wait_are_their_own() {
        let sliced = Identity::named(ObjectKind::Barrier, "sliced", Location::caller());
        let other = Identity::named(ObjectKind::Lock, "handler's lock", Location::caller());
        let target = |identity: &Identity| Target::Object {
            identity,
            holder: None,
            status: None,
        };
        let slice = |identity: &Identity, kind, deadline| {
            let target = target(identity);
            // SAFETY: the guard is dropped in this scope, before `target`.
            let p = unsafe { publish(kind, &target, Location::caller(), deadline) };
            let r = p.record().expect("published");
            std::thread::sleep(Duration::from_millis(20));
            r
        };
        let whole = Instant::now() + Duration::from_secs(3600);
        let (a, inner, b) = as_one_wait(Some(whole), || {
            let slice_end = Some(Instant::now() + Duration::from_millis(50));
            let a = slice(&sliced, WaitKind::Barrier, slice_end);
            let inner = slice(&other, WaitKind::Lock, None);
            let b = slice(&sliced, WaitKind::Barrier, slice_end);
            (a, inner, b)
        });
        assert_eq!((a.since, a.seq, a.deadline), (b.since, b.seq, Some(whole)));
        assert_ne!(
            inner.seq, a.seq,
            "the inner wait shares the sliced wait's number"
        );
        assert_eq!(
            inner.deadline, None,
            "an untimed inner wait shows the outer deadline"
        );
        assert!(
            inner.since > a.since,
            "the inner wait shows the outer wait's age"
        );
    }

    /// A sliced wait whose parts are each ended by a wake-up (a futile wake-up and a park again,
    /// as a main-thread `Queue.get` beaten to the item) is charged at most the time it waited,
    /// not each part from the start of the whole. Witness: the profile's total for the event
    /// (two woken parks) against the wall time of the scope.
    #[test]
    fn woken_parts_of_one_wait_are_not_charged_twice() {
        use crate::diagnostics::{contention_profile, set_contention_profiling};
        set_contention_profiling(true);
        let event = Arc::new(crate::Event::named("one-wait charged twice"));
        let cleared = Arc::new(AtomicBool::new(false));
        let setter = {
            let (event, cleared) = (Arc::clone(&event), Arc::clone(&cleared));
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200)); // the first part waits a while
                event.set();
                while !cleared.load(Ordering::SeqCst) {
                    std::thread::yield_now();
                }
                std::thread::sleep(Duration::from_millis(200));
                event.set();
            })
        };
        let start = Instant::now();
        as_one_wait(None, || {
            event.wait();
            event.clear();
            cleared.store(true, Ordering::SeqCst);
            event.wait();
        });
        let wall = start.elapsed();
        setter.join().unwrap();
        let stats = contention_profile()
            .objects
            .into_iter()
            .find(|o| o.object.name.as_deref() == Some("one-wait charged twice"))
            .expect("the event's waits were charged")
            .stats;
        assert_eq!(stats.waits, 2);
        assert!(
            stats.total <= wall,
            "charged {:?} for {wall:?} of waiting",
            stats.total
        );
    }

    /// A dump follows a Condition waiter's deferred target (to the Condition's identity and
    /// lock) while the waiter times out and the Condition is freed right after each wait: the
    /// record's withdrawal waits for the reader, so the reader never touches a freed Condition
    /// (Miri reports a use after free on every seed when the withdrawal does not wait; from the
    /// wait record's review, stop 22). Witness under Miri: no undefined behaviour; everywhere:
    /// every target the reader saw was a Condition.
    #[test]
    fn a_reader_never_follows_a_freed_condition() {
        use crate::{Condition, Lock};
        use std::sync::atomic::AtomicBool;
        let rounds = if cfg!(miri) { 40 } else { 2_000 };
        let stop = Arc::new(AtomicBool::new(false));
        let writer = crate::thread::ident::current();
        let reader = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for_each(|r| {
                        if r.ident != writer {
                            return;
                        }
                        // SAFETY: inside `for_each`'s closure, as its contract asks.
                        unsafe {
                            if let Some(i) = r.identity() {
                                assert_eq!(i.kind(), crate::identity::ObjectKind::Condition);
                            }
                            let _ = r.requeued();
                            let _ = r.last_signal();
                        }
                    });
                    std::thread::yield_now();
                }
            })
        };
        for _ in 0..rounds {
            let cond = Box::new(Condition::with_lock(Lock::new()));
            let mut g = cond.acquire();
            assert!(!cond.wait_timeout(&mut g, Duration::from_micros(50)));
            drop(g);
            drop(cond);
        }
        stop.store(true, Ordering::Relaxed);
        reader.join().unwrap();
    }
}
