//! The published wait record: what each blocked thread waits on, readable from other threads.
//!
//! Every thread that ever blocks in threadkit gets a [`Slot`], registered in a process-wide list
//! on its first wait and removed when the thread exits. While a thread is blocked (parked by
//! [`super::park`], or in an OS-level join announced with [`announce`]), its slot holds a
//! [`Record`]: the kind of wait, the object (as raw pointers into the primitive), the call site
//! of the blocking call, when it began and its deadline.
//!
//! Readers (`src/diagnostics`, the only one) go through [`for_each`], which calls them with the
//! slot's mutex held. That mutex is what makes the raw pointers safe to follow: the waiting thread
//! clears its record, under the same mutex, before its blocking call returns, and the object it
//! waits on is borrowed for the whole call. So while a reader holds the mutex and sees a record,
//! the object is alive. The mutex is held by the waiting thread only for the few instructions
//! that set or clear the record, never while it sleeps, so a reader never waits on a user
//! thread's progress.
//!
//! Cost: only blocking calls publish; the uncontended paths of the primitives never come here.
//! One record costs a thread-local lookup, one `Instant::now()` and two uncontended std mutex
//! lock/unlock pairs, next to a park of several microseconds.

use std::cell::Cell;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::WaitKind;
use crate::identity::Identity;
use crate::loom::sync::atomic::{AtomicU64 as StateWord, AtomicUsize};

/// Counter that tells apart successive waits (revalidation of deadlock cycles).
static NEXT_SEQ: AtomicU64 = AtomicU64::new(1);

/// Every slot of a live thread.
static SLOTS: Mutex<Vec<Arc<Slot>>> = Mutex::new(Vec::new());

/// Whether waits are charged to the contention profile (see `src/diagnostics/profile.rs`).
pub(crate) static PROFILING: AtomicBool = AtomicBool::new(false);

/// A lock-like object's ownership words: who acquired it, where, and how deep (RLock).
#[derive(Clone, Copy)]
pub(crate) struct Holder {
    /// The Lock's state word (see [`crate::lock::owner_of`]).
    pub(crate) state: *const StateWord,
    /// Where the current holder acquired it (`Location` pointer; may be stale when unlocked).
    pub(crate) acquired_at: *const AtomicPtr<Location<'static>>,
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
        /// For a Condition: its lock's identity.
        lock: Option<*const Identity>,
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
            lock: None,
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
    /// The call site of the blocking call.
    pub(crate) site: &'static Location<'static>,
    pub(crate) since: Instant,
    pub(crate) deadline: Option<Instant>,
    /// Unique per wait: the same `seq` in two snapshots means one uninterrupted wait.
    pub(crate) seq: u64,
    /// For a lock-like target: where the holder had acquired it when this wait began (the
    /// critical section charged by the contention profile).
    pub(crate) holder_site: Option<&'static Location<'static>>,
}

// SAFETY: the raw pointers in a record are only followed by `for_each`'s readers with the slot's
// mutex held, while the record is published, which (module docs) keeps their referents alive.
unsafe impl Send for Record {}

/// One thread's published state.
pub(crate) struct Slot {
    record: Mutex<Option<Record>>,
}

/// The calling thread's slot; it leaves the list when the thread exits.
struct SlotHandle(Arc<Slot>);

impl Drop for SlotHandle {
    fn drop(&mut self) {
        let mut slots = lock(&SLOTS);
        if let Some(i) = slots.iter().position(|s| Arc::ptr_eq(s, &self.0)) {
            slots.swap_remove(i);
        }
    }
}

thread_local! {
    static SLOT: SlotHandle = {
        let slot = Arc::new(Slot { record: Mutex::new(None) });
        lock(&SLOTS).push(Arc::clone(&slot));
        SlotHandle(slot)
    };
    /// Whether an outer [`announce`] owns the record (nested parks leave it alone).
    static ANNOUNCED: Cell<bool> = const { Cell::new(false) };
}

/// Std mutexes here are never poisoned in practice (nothing panics while holding them); ignore
/// poisoning rather than propagate it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Clears the calling thread's record when dropped (also on unwinding).
pub(crate) struct Published {
    slot: Option<Arc<Slot>>,
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
        if let Some(slot) = &self.slot {
            *lock(&slot.record) = None;
            if self.announced {
                let _ = ANNOUNCED.try_with(|a| a.set(false));
            }
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
    let nothing = Published {
        slot: None,
        announced: false,
        record: None,
    };
    if ANNOUNCED.try_with(Cell::get).unwrap_or(true) {
        return nothing;
    }
    let Ok(slot) = SLOT.try_with(|s| Arc::clone(&s.0)) else {
        return nothing;
    };
    let holder_site = match target {
        Target::Object {
            holder: Some(h), ..
        } => {
            // SAFETY: `h` points into an object the calling thread borrows for this wait.
            let p = unsafe { (*h.acquired_at).load(Ordering::Relaxed) };
            // SAFETY: only `&'static Location`s are ever stored there (or null).
            unsafe { p.as_ref() }
        }
        _ => None,
    };
    let record = Record {
        ident: crate::thread::ident::current(),
        native_id: native_id(),
        kind,
        target,
        site,
        since: Instant::now(),
        deadline,
        seq: NEXT_SEQ.fetch_add(1, Ordering::Relaxed),
        holder_site,
    };
    *lock(&slot.record) = Some(record);
    if announce {
        ANNOUNCED.with(|a| a.set(true));
    }
    Published {
        slot: Some(slot),
        announced: announce,
        record: Some(record),
    }
}

/// The kernel's thread id of the caller (cached per thread).
fn native_id() -> u64 {
    thread_local!(static NATIVE: Cell<u64> = const { Cell::new(0) });
    NATIVE
        .try_with(|n| {
            if n.get() == 0 {
                n.set(crate::thread::ident::native_id());
            }
            n.get()
        })
        .unwrap_or(0)
}

/// Calls `f` with each published record, one slot at a time, with that slot's mutex held so
/// that `f` may follow the record's pointers (through [`Record`]'s accessors).
pub(crate) fn for_each(mut f: impl FnMut(&Record)) {
    let slots: Vec<Arc<Slot>> = lock(&SLOTS).clone();
    for slot in slots {
        let guard = lock(&slot.record);
        if let Some(record) = &*guard {
            f(record);
        }
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
    /// Only valid inside [`for_each`] (or by the waiting thread itself).
    pub(crate) fn identity(&self) -> Option<&Identity> {
        match self.target {
            // SAFETY: see the module docs: the caller holds the slot's mutex.
            Target::Object { identity, .. } => Some(unsafe { &*identity }),
            _ => None,
        }
    }

    /// For a Condition: its lock's identity.
    pub(crate) fn condition_lock(&self) -> Option<&Identity> {
        match self.target {
            Target::Object {
                lock: Some(lock), ..
            } => {
                // SAFETY: as for `identity`.
                Some(unsafe { &*lock })
            }
            _ => None,
        }
    }

    /// For a lock-like target: `(owner ident, where acquired, recursion count)` now.
    pub(crate) fn holder(&self) -> Option<(u64, Option<&'static Location<'static>>, usize)> {
        let Target::Object {
            holder: Some(h), ..
        } = self.target
        else {
            return None;
        };
        // SAFETY: as for `identity`.
        let (state, site, count) = unsafe {
            (
                (*h.state).load(Ordering::Relaxed),
                (*h.acquired_at).load(Ordering::Relaxed),
                h.count.as_ref().map_or(1, |c| c.load(Ordering::Relaxed)),
            )
        };
        let owner = crate::lock::owner_of(state)?;
        // SAFETY: only `&'static Location`s are stored there (or null).
        Some((owner, unsafe { site.as_ref() }, count))
    }

    /// The object's one-line status, if it has one.
    pub(crate) fn status(&self) -> Option<String> {
        match self.target {
            Target::Object {
                status: Some((data, f)),
                ..
            } => {
                // SAFETY: `data` points into the object (alive, module docs) and `f` is the
                // object's own reader for it.
                Some(unsafe { f(data) })
            }
            _ => None,
        }
    }
}
