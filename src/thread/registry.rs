//! The process-wide registry of live threads, and the current-thread slot.
//!
//! CPython keeps `_active` (running threads by ident) and `_limbo` (started, not yet running);
//! threadkit keeps one map from identifier to [`Thread`], in start order, guarded by a threadkit
//! [`Lock`]. A thread enters it when `start()` is called (so `enumerate()` lists it as soon as
//! `start()` returns, and while it is in CPython's "limbo") and leaves it just before its joiners
//! are woken, so a joined thread is never listed. The main thread is always listed; foreign
//! threads are listed from their first `current_thread()` until they exit.
//!
//! # After `fork`
//!
//! A forked child has only the thread that called `fork`. `pthread_atfork` handlers
//! (`fork.rs`, registered with the process's first thread identifier or registry entry) hold the registry's lock across the
//! `fork` (so the child never inherits the map half-updated, or the lock held by a thread it does
//! not have), and in the child start a new fork generation (every other thread's record, listed
//! or not, is then lost in the fork: stopped), make the forking thread the main thread if it was
//! not, and unlock it. The lost records leave the map at the child's next registry call
//! ([`Registry::take_lost`]): the handler only stores atomics and plain fields.

use std::cell::{Cell, UnsafeCell};
use std::collections::BTreeMap;
use std::ptr;

use std::ops::{Deref, DerefMut};
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::handle::{Kind, Thread};
use super::ident;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};

/// The registry: live threads and the main thread's record.
pub(super) struct Registry {
    /// Live threads by identifier (identifiers grow with start order, so this is start order).
    pub(super) threads: BTreeMap<u64, Thread>,
    /// The main thread's record, made on first need from whichever thread asks (under the lock,
    /// not in a `OnceLock`: a child forked while another thread ran a `Once` would inherit it
    /// running, and wait for ever).
    pub(super) main: Option<Thread>,
    /// The main thread's identifier: [`ident::MAIN_IDENT`], or in a child forked from another
    /// thread, the forking thread's.
    pub(super) main_ident: u64,
    /// Set by the fork child handler: records lost in the fork are still in `threads`.
    pub(super) prune: bool,
}

impl Registry {
    /// Takes out the records lost in the fork (the child handler only stores atomics: freeing is
    /// left to the child's first registry call, which drops them after unlocking).
    #[cold]
    fn take_lost(&mut self) -> Vec<Thread> {
        let (lost, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.threads)
            .into_iter()
            .partition(|(_, t)| t.is_lost_in_fork());
        self.threads = kept.into_iter().collect();
        self.prune = false;
        lost.into_iter().map(|(_, t)| t).collect()
    }
}

/// The registry (see [`Registry`]). A std `Mutex`, not a threadkit [`Lock`](crate::Lock): a
/// futex word with no queue of waiters kept in user space. In a child forked while threads of
/// the parent waited for the registry (the prepare handler holds it for the whole `fork`), a
/// threadkit `Lock` would keep those threads in the parking lot's queue for its key, and the
/// child's first contended release would hand the registry to a thread that does not exist
/// (locked for ever) or write into its freed thread data (review of stop 23). The kernel's futex
/// queue holds only the child's own threads.
pub(super) static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    threads: BTreeMap::new(),
    main: None,
    main_ident: ident::MAIN_IDENT,
    prune: false,
});

/// The identifier of the thread that holds [`REGISTRY`] (0: nobody), for the fork prepare
/// handler: a thread that forks from a signal handler while it holds the registry must not wait
/// for itself.
pub(super) static HOLDER: AtomicU64 = AtomicU64::new(0);

/// [`REGISTRY`] held: clears [`HOLDER`] when dropped, before the unlock.
pub(super) struct Locked(MutexGuard<'static, Registry>);

impl Deref for Locked {
    type Target = Registry;
    fn deref(&self) -> &Registry {
        &self.0
    }
}

impl DerefMut for Locked {
    fn deref_mut(&mut self) -> &mut Registry {
        &mut self.0
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        HOLDER.store(0, Ordering::Relaxed);
    }
}

/// Takes [`REGISTRY`] (never poisoned in practice: no registry section panics).
pub(super) fn lock_registry() -> Locked {
    let guard = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    HOLDER.store(ident::current(), Ordering::Relaxed);
    Locked(guard)
}

/// The counter behind "Thread-N" and "Dummy-N" (shared, as in CPython).
static NAME_COUNTER: AtomicUsize = AtomicUsize::new(1);

/// The registry, locked; pruned first if a fork left lost records in it (dropped with the
/// registry unlocked: a record's drop may run other code).
fn locked() -> Locked {
    #[cfg(unix)]
    super::fork::ensure_registered();
    let mut registry = lock_registry();
    if registry.prune {
        let lost = registry.take_lost();
        drop(registry);
        drop(lost);
        registry = lock_registry();
    }
    registry
}

/// The calling thread's [`Thread`]; a foreign thread's record leaves the registry when the slot is
/// destroyed at thread exit.
///
/// Swappable because a timer worker swaps the record in and out (see [`act_as`]). No borrow flag
/// (issue 15: `current_thread()` was 2 instructions behind `std::thread::current()`): the record
/// is only reached through [`CurrentSlot::get`] (a clone, which runs no other code) and
/// [`CurrentSlot::replace`], so no reference into the slot outlives a call of either.
struct CurrentSlot(UnsafeCell<Option<Thread>>);

impl CurrentSlot {
    /// A clone of the record.
    #[inline]
    fn get(&self) -> Option<Thread> {
        // SAFETY: the slot is this thread's, and the only other access, `replace`, is not running
        // (cloning a `Thread` is an `Arc` increment: it calls no code that could reach the slot).
        unsafe { (*self.0.get()).clone() }
    }

    /// Whether the slot holds a record.
    #[inline]
    fn is_set(&self) -> bool {
        // SAFETY: as in `get`; nothing is called while the reference lives.
        unsafe { (*self.0.get()).is_some() }
    }

    /// Puts `thread` in the slot and returns what was there; the caller drops it after the call.
    fn replace(&self, thread: Option<Thread>) -> Option<Thread> {
        // SAFETY: as in `get`: no reference into the slot is live (the old record is moved out, and
        // dropped by the caller once this returns).
        unsafe { std::mem::replace(&mut *self.0.get(), thread) }
    }
}

impl Drop for CurrentSlot {
    fn drop(&mut self) {
        // If this thread is exiting the process, the exit sequence runs first, and
        // `current_thread()` must still answer with this thread, although `CURRENT` is no longer
        // reachable (it is being destroyed): `TEARDOWN` points at the record meanwhile.
        let record: *const Option<Thread> = self.0.get();
        TEARDOWN.with(|t| t.set(record));
        super::before_thread_teardown();
        TEARDOWN.with(|t| t.set(ptr::null()));
        if let Some(thread) = self.0.get_mut() {
            if thread.inner.kind == Kind::Dummy {
                thread.mark_stopped();
            }
        }
    }
}

thread_local! {
    static CURRENT: CurrentSlot = const { CurrentSlot(UnsafeCell::new(None)) };
    /// While `CURRENT` is being destroyed and the exit sequence may run: its record. No
    /// destructor, so it is reachable throughout thread teardown.
    static TEARDOWN: Cell<*const Option<Thread>> = const { Cell::new(ptr::null()) };
}

/// The next automatic name: `"{prefix}-{N}"`.
pub(crate) fn next_name(prefix: &str) -> String {
    let n = NAME_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{n}")
}

pub(crate) fn insert(thread: &Thread) {
    locked().threads.insert(thread.ident_raw(), thread.clone());
}

pub(crate) fn remove(ident: u64) {
    // Dropped after the lock is released.
    let removed = locked().threads.remove(&ident);
    drop(removed);
}

/// A snapshot of the live threads, the main thread first.
pub(crate) fn snapshot() -> Vec<Thread> {
    let mut registry = locked();
    with_main(&mut registry);
    registry.threads.values().cloned().collect()
}

pub(crate) fn count() -> usize {
    let mut registry = locked();
    with_main(&mut registry);
    registry.threads.len()
}

/// The main thread's record.
pub(crate) fn main_thread() -> Thread {
    with_main(&mut locked())
}

/// The main thread's record, made and registered first if need be.
fn with_main(registry: &mut Registry) -> Thread {
    if let Some(main) = &registry.main {
        return main.clone();
    }
    // The first call in the process, or in a child forked from a thread that had no record
    // (CPython makes a `_MainThread` for it): a record named "MainThread".
    let id = registry.main_ident;
    let main = Thread::new_running(Kind::Main, "MainThread".into(), false, id);
    #[cfg(target_os = "linux")]
    {
        // The main thread's TID is the process ID (also the forking thread's, in a child).
        // SAFETY: getpid has no preconditions and cannot fail.
        let pid = unsafe { libc::getpid() };
        main.set_native_id(pid as u64);
    }
    registry.threads.insert(id, main.clone());
    registry.main = Some(main.clone());
    main
}

/// Installs `thread` as the calling thread's record (threads started by threadkit, on entry).
pub(crate) fn set_current(thread: &Thread) {
    CURRENT.with(|slot| {
        if !slot.is_set() {
            slot.replace(Some(thread.clone()));
        }
    });
}

/// The calling thread's record; a foreign thread is registered as "Dummy-N" on first call.
#[inline]
pub(crate) fn current() -> Thread {
    CURRENT
        .try_with(|slot| match slot.get() {
            Some(thread) => thread,
            None => adopt_into(slot),
        })
        .unwrap_or_else(|_| current_during_teardown())
}

/// The calling thread's record if it has one already (never registers it: for the lock-order
/// checker, which may run while the registry itself is being set up).
pub(crate) fn current_if_known() -> Option<Thread> {
    CURRENT.try_with(CurrentSlot::get).ok().flatten()
}

/// Runs `f` with the calling thread's record without cloning the handle.
#[inline]
pub(crate) fn with_current<R, F: FnOnce(&Thread) -> R>(f: F) -> R {
    // On a clone (one `Arc` increment): `f` runs outside the slot, so nothing it does can meet a
    // reference into it.
    f(&current())
}

/// Fills an empty slot with the calling thread's record (main or a new "Dummy-N").
#[cold]
fn adopt_into(slot: &CurrentSlot) -> Thread {
    let thread = adopt_current();
    drop(slot.replace(Some(thread.clone())));
    thread
}

/// While the returned guard lives, the calling OS thread *is* `thread` as far as threadkit can
/// tell: `current_thread()`, `get_ident()`, logging's `threadName`, `Lock` ownership and
/// `Local` storage all answer with `thread`'s record. Dropping the guard restores what was there.
///
/// This is how a timer worker runs a Timer's function "in" the Timer's thread.
pub(crate) fn act_as(thread: &Thread) -> ActAs {
    let prev_ident = ident::current();
    ident::set_current(thread.ident_raw());
    let prev = CURRENT.with(|slot| slot.replace(Some(thread.clone())));
    ActAs { prev, prev_ident }
}

/// Restores the calling thread's own record when dropped; see [`act_as`].
pub(crate) struct ActAs {
    prev: Option<Thread>,
    prev_ident: u64,
}

impl Drop for ActAs {
    fn drop(&mut self) {
        let prev = self.prev.take();
        // `try_with`: harmless if the slot is already gone (never, for a timer worker).
        let old = CURRENT.try_with(|slot| slot.replace(prev));
        drop(old);
        ident::set_current(self.prev_ident);
    }
}

#[cold]
fn adopt_current() -> Thread {
    if ident::is_main_os_thread() {
        // (Also the thread that forked a child, in the child.)
        let main = main_thread();
        ident::set_current(main.ident_raw());
        return main;
    }
    let id = ident::current();
    // The name std gave the thread (`std::thread::Builder::name`, which rayon's and tokio's
    // pools set), else CPython's "Dummy-N". `std::thread::current()` panics only once std's own
    // thread-local handle is destroyed, which std does after every `thread_local!` destructor
    // (this slot is alive here, and its destructor never adopts).
    let name = match std::thread::current().name() {
        Some(name) => name.to_owned(),
        None => next_name("Dummy"),
    };
    let dummy = Thread::new_running(Kind::Dummy, name, true, id);
    dummy.set_native_id(ident::native_id());
    insert(&dummy);
    dummy
}

/// `current_thread()` called from a thread-local destructor after the slot is gone: answer with a
/// record that is not registered (the thread is exiting).
#[cold]
fn current_during_teardown() -> Thread {
    let record = TEARDOWN.with(Cell::get);
    if !record.is_null() {
        // SAFETY: `TEARDOWN` is only non-null inside `CurrentSlot::drop` on this thread, where it
        // points at the slot's record, which stays in place and unchanged until that `drop` ends
        // (nothing else can reach the slot while it is being destroyed).
        if let Some(thread) = unsafe { &*record } {
            return thread.clone();
        }
    }
    if ident::is_main_os_thread() {
        return main_thread();
    }
    let dummy = Thread::new_running(Kind::Dummy, next_name("Dummy"), true, ident::current());
    dummy.set_native_id(ident::native_id());
    dummy
}
