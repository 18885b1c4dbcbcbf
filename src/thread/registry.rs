//! The process-wide registry of live threads, and the current-thread slot.
//!
//! CPython keeps `_active` (running threads by ident) and `_limbo` (started, not yet running);
//! threadkit keeps one map from identifier to [`Thread`], in start order, guarded by a threadkit
//! [`Lock`]. A thread enters it when `start()` is called (so `enumerate()` lists it as soon as
//! `start()` returns, and while it is in CPython's "limbo") and leaves it just before its joiners
//! are woken, so a joined thread is never listed. The main thread is always listed; foreign
//! threads are listed from their first `current_thread()` until they exit.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ptr;
use std::sync::OnceLock;

use super::handle::{Kind, Thread};
use super::ident;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::Lock;

/// Live threads by identifier (identifiers grow with start order, so this is start order).
static REGISTRY: Lock<BTreeMap<u64, Thread>> = Lock::with_value(BTreeMap::new());

/// The counter behind "Thread-N" and "Dummy-N" (shared, as in CPython).
static NAME_COUNTER: AtomicUsize = AtomicUsize::new(1);

/// The main thread's record, made on first need from whichever thread asks.
static MAIN: OnceLock<Thread> = OnceLock::new();

/// The calling thread's [`Thread`]; a foreign thread's record leaves the registry when the slot is
/// destroyed at thread exit.
///
/// A `RefCell` rather than a `OnceCell` because a timer worker swaps the record in and out (see
/// [`act_as`]); reading it costs one non-atomic borrow-flag check more than a `OnceCell`.
struct CurrentSlot(RefCell<Option<Thread>>);

impl Drop for CurrentSlot {
    fn drop(&mut self) {
        // If this thread is exiting the process, the exit sequence runs first, and
        // `current_thread()` must still answer with this thread, although `CURRENT` is no longer
        // reachable (it is being destroyed): `TEARDOWN` points at the record meanwhile.
        let record: *const Option<Thread> = self.0.get_mut();
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
    static CURRENT: CurrentSlot = const { CurrentSlot(RefCell::new(None)) };
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
    REGISTRY
        .acquire()
        .insert(thread.ident_raw(), thread.clone());
}

pub(crate) fn remove(ident: u64) {
    REGISTRY.acquire().remove(&ident);
}

/// A snapshot of the live threads, the main thread first.
pub(crate) fn snapshot() -> Vec<Thread> {
    main_thread();
    REGISTRY.acquire().values().cloned().collect()
}

pub(crate) fn count() -> usize {
    main_thread();
    REGISTRY.acquire().len()
}

/// The main thread's record.
pub(crate) fn main_thread() -> Thread {
    MAIN.get_or_init(|| {
        let main = Thread::new_running(Kind::Main, "MainThread".into(), false, ident::MAIN_IDENT);
        #[cfg(target_os = "linux")]
        {
            // The main thread's TID is the process ID.
            // SAFETY: getpid has no preconditions and cannot fail.
            let pid = unsafe { libc::getpid() };
            main.set_native_id(pid as u64);
        }
        REGISTRY.acquire().insert(ident::MAIN_IDENT, main.clone());
        main
    })
    .clone()
}

/// Installs `thread` as the calling thread's record (threads started by threadkit, on entry).
pub(crate) fn set_current(thread: &Thread) {
    CURRENT.with(|slot| {
        let mut cell = slot.0.borrow_mut();
        if cell.is_none() {
            *cell = Some(thread.clone());
        }
    });
}

/// The calling thread's record; a foreign thread is registered as "Dummy-N" on first call.
#[inline]
pub(crate) fn current() -> Thread {
    CURRENT
        .try_with(|slot| {
            if let Some(thread) = &*slot.0.borrow() {
                return thread.clone();
            }
            adopt_into(slot)
        })
        .unwrap_or_else(|_| current_during_teardown())
}

/// The calling thread's record if it has one already (never registers it: for the lock-order
/// checker, which may run while the registry itself is being set up).
pub(crate) fn current_if_known() -> Option<Thread> {
    CURRENT
        .try_with(|slot| slot.0.try_borrow().ok().and_then(|t| t.clone()))
        .ok()
        .flatten()
}

/// Runs `f` with the calling thread's record without cloning the handle.
#[inline]
pub(crate) fn with_current<R, F: FnOnce(&Thread) -> R>(f: F) -> R {
    let mut f = Some(f);
    let run = |f: &mut Option<F>, t: &Thread| (f.take().expect("called once"))(t);
    let outcome = CURRENT.try_with(|slot| {
        if slot.0.borrow().is_none() {
            adopt_into(slot);
        }
        // `f` never swaps the slot (only `act_as` does, and never from inside `with_current`).
        let cell = slot.0.borrow();
        run(&mut f, cell.as_ref().expect("just adopted"))
    });
    match outcome {
        Ok(r) => r,
        Err(_) => run(&mut f, &current_during_teardown()),
    }
}

/// Fills an empty slot with the calling thread's record (main or a new "Dummy-N").
#[cold]
fn adopt_into(slot: &CurrentSlot) -> Thread {
    let thread = adopt_current();
    *slot.0.borrow_mut() = Some(thread.clone());
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
    let prev = CURRENT.with(|slot| slot.0.replace(Some(thread.clone())));
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
        let _ = CURRENT.try_with(|slot| *slot.0.borrow_mut() = prev);
        ident::set_current(self.prev_ident);
    }
}

#[cold]
fn adopt_current() -> Thread {
    if ident::is_main_os_thread() {
        let main = main_thread();
        ident::set_current(ident::MAIN_IDENT);
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
