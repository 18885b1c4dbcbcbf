//! The published wait record: what each blocked thread waits on, readable from other threads.
//!
//! Every thread that ever blocks in threadkit gets a [`Slot`], registered in a process-wide list
//! on its first wait and removed when the thread exits. While a thread is blocked (parked by
//! [`super::park`], or in an OS-level join announced with [`announce`]), its slot holds a
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
use std::mem::MaybeUninit;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize as StdAtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::WaitKind;
use crate::identity::Identity;
use crate::loom::sync::atomic::{AtomicU64 as StateWord, AtomicUsize};
use crate::site::Site;

/// Every slot of a live thread.
static SLOTS: Mutex<Vec<Arc<Slot>>> = Mutex::new(Vec::new());

/// Whether Lock and RLock record where their holder acquired them (one relaxed store per
/// acquire when on; one relaxed load of this flag when off). On by default in debug builds.
pub(crate) static HOLDER_SITES: AtomicBool = AtomicBool::new(cfg!(debug_assertions));

/// Whether waits are charged to the contention profile (see `src/diagnostics/profile.rs`).
pub(crate) static PROFILING: AtomicBool = AtomicBool::new(false);

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
    /// The end of the thread with this identifier.
    Join { ident: u64 },
    /// Nothing with an identity (the timer service's idle wait).
    Internal,
}

impl Target {
    /// A target for an object with no owner and no status line.
    pub(crate) fn object(identity: &Identity) -> Self {
        Target::Object {
            identity,
            holder: None,
            status: None,
        }
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
    pub(crate) target: Target,
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
}

// SAFETY: `record` is written only by the slot's own thread while `present` is clear and no
// reader is registered, and read by others only while registered with `present` set (see above).
unsafe impl Sync for Slot {}
// SAFETY: as for `Sync`; a `Record` is `Send`.
unsafe impl Send for Slot {}

impl Slot {
    /// Publishes `record` (the slot's own thread, with nothing published).
    fn set(&self, record: Record) {
        // A nested non-announced publish would overwrite a record a reader may be reading.
        debug_assert!(
            !self.present.load(Ordering::Relaxed),
            "a wait record is already published on this thread"
        );
        // SAFETY: only this thread writes, `present` is clear, and every reader that saw the
        // previous record has unregistered (`clear` waited for that).
        unsafe { (*self.record.get()).write(record) };
        self.present.store(true, Ordering::SeqCst);
    }

    /// Withdraws the record and waits until no reader can still be looking at it.
    fn clear(&self) {
        self.present.store(false, Ordering::SeqCst);
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
    static LOCAL: Local = {
        let slot = Arc::new(Slot {
            readers: StdAtomicUsize::new(0),
            present: AtomicBool::new(false),
            record: UnsafeCell::new(MaybeUninit::uninit()),
        });
        lock(&SLOTS).push(Arc::clone(&slot));
        Local {
            slot,
            announced: Cell::new(false),
            seq: Cell::new(0),
            native_id: crate::thread::ident::native_id(),
        }
    };
}

/// Std mutexes here are never poisoned in practice (nothing panics while holding them); ignore
/// poisoning rather than propagate it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Clears the calling thread's record when dropped (also on unwinding).
pub(crate) struct Published {
    announced: bool,
    record: Option<Record>,
}

impl Published {
    /// The record as published (`None` if nothing was: thread-local teardown, or an outer
    /// announcement owns the slot).
    pub(crate) fn record(&self) -> Option<&Record> {
        self.record.as_ref()
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        if self.record.is_some() {
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
#[inline]
pub(crate) fn publish(
    kind: WaitKind,
    target: Target,
    site: &'static Location<'static>,
    deadline: Option<Instant>,
) -> Published {
    enter(kind, target, site, deadline, false)
}

/// As [`publish`], for a blocking call that does not go through [`super::park`] all the way
/// (an OS-level thread join), and that owns the record against nested parks.
pub(crate) fn announce(
    kind: WaitKind,
    target: Target,
    site: &'static Location<'static>,
    deadline: Option<Instant>,
) -> Published {
    enter(kind, target, site, deadline, true)
}

fn enter(
    kind: WaitKind,
    target: Target,
    site: &'static Location<'static>,
    deadline: Option<Instant>,
    announce: bool,
) -> Published {
    let record = LOCAL.try_with(|l| {
        if l.announced.get() {
            return None;
        }
        let holder_site = match target {
            Target::Object {
                holder: Some(h), ..
            } => {
                // SAFETY: `h` points into an object the calling thread borrows for this wait.
                let p = unsafe { (*h.acquired_at).load(Ordering::Relaxed) };
                // SAFETY: only `Site::as_ptr`s are ever stored there (or null).
                unsafe { Site::from_ptr(p) }
            }
            _ => None,
        };
        let seq = l.seq.get() + 1;
        l.seq.set(seq);
        let record = Record {
            ident: crate::thread::ident::current(),
            native_id: l.native_id,
            kind,
            target,
            site: crate::site::resolve(site),
            since: clock(),
            precise_since: PROFILING.load(Ordering::Relaxed).then(Instant::now),
            deadline,
            seq,
            holder_site,
        };
        l.slot.set(record);
        if announce {
            l.announced.set(true);
        }
        Some(record)
    });
    Published {
        announced: announce,
        record: record.ok().flatten(),
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

impl Record {
    /// The target object's identity, if it has one.
    ///
    /// # Safety
    ///
    /// The record's object must be alive for the returned lifetime: call it only on the record
    /// [`for_each`] passes, inside its closure (the reader registration keeps the object
    /// alive), or from the waiting thread during the wait the record describes.
    pub(crate) unsafe fn identity(&self) -> Option<&Identity> {
        match self.target {
            // SAFETY: the object is alive (this function's contract).
            Target::Object { identity, .. } => Some(unsafe { &*identity }),
            _ => None,
        }
    }

    /// For a lock-like target: `(owner ident, where acquired, recursion count)` now.
    ///
    /// # Safety
    ///
    /// As for [`identity`](Self::identity).
    pub(crate) unsafe fn holder(&self) -> Option<(u64, Option<Site>, usize)> {
        let Target::Object {
            holder: Some(h), ..
        } = self.target
        else {
            return None;
        };
        // SAFETY: the object is alive (this function's contract); these point into it.
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

    /// The object's one-line status, if it has one.
    ///
    /// # Safety
    ///
    /// As for [`identity`](Self::identity).
    pub(crate) unsafe fn status(&self) -> Option<String> {
        match self.target {
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

    /// A reader follows the record's pointers while the writer publishes waits on objects that
    /// die right after each wait: the writer must never free an object a reader still looks at
    /// (Miri runs this and would report the use after free).
    #[test]
    fn readers_never_see_a_withdrawn_record() {
        let rounds = if cfg!(miri) { 30 } else { 3_000 };
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let seen = std::thread::spawn(move || {
            let mut seen = 0u64;
            while !stop2.load(Ordering::Relaxed) {
                for_each(|r| {
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
            let published = publish(
                WaitKind::Event,
                Target::object(&identity),
                Location::caller(),
                None,
            );
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
        let _outer = publish(
            WaitKind::Event,
            Target::object(&identity),
            Location::caller(),
            None,
        );
        let _inner = publish(
            WaitKind::Event,
            Target::object(&identity),
            Location::caller(),
            None,
        );
    }
}
