//! The process-wide registry of live threads, and the current-thread slot.
//!
//! CPython keeps `_active` (running threads by ident) and `_limbo` (started, not yet running);
//! threadkit keeps one map from identifier to [`Thread`], in start order, guarded by a threadkit
//! [`Lock`]. A thread enters it when `start()` is called (so `enumerate()` lists it as soon as
//! `start()` returns, and while it is in CPython's "limbo") and leaves it just before its joiners
//! are woken, so a joined thread is never listed. The main thread is always listed; foreign
//! threads are listed from their first `current_thread()` until they exit.

use std::cell::OnceCell;
use std::collections::BTreeMap;
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
struct CurrentSlot(OnceCell<Thread>);

impl Drop for CurrentSlot {
    fn drop(&mut self) {
        if let Some(thread) = self.0.get() {
            if thread.inner.kind == Kind::Dummy {
                thread.mark_stopped();
            }
        }
    }
}

thread_local! {
    static CURRENT: CurrentSlot = const { CurrentSlot(OnceCell::new()) };
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
        let _ = slot.0.set(thread.clone());
    });
}

/// The calling thread's record; a foreign thread is registered as "Dummy-N" on first call.
#[inline]
pub(crate) fn current() -> Thread {
    CURRENT
        .try_with(|slot| slot.0.get_or_init(adopt_current).clone())
        .unwrap_or_else(|_| current_during_teardown())
}

/// Runs `f` with the calling thread's record without cloning the handle.
#[inline]
pub(crate) fn with_current<R, F: FnOnce(&Thread) -> R>(f: F) -> R {
    let mut f = Some(f);
    let run = |f: &mut Option<F>, t: &Thread| (f.take().expect("called once"))(t);
    match CURRENT.try_with(|slot| run(&mut f, slot.0.get_or_init(adopt_current))) {
        Ok(r) => r,
        Err(_) => run(&mut f, &current_during_teardown()),
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
    let dummy = Thread::new_running(Kind::Dummy, next_name("Dummy"), true, id);
    dummy.set_native_id(ident::native_id());
    insert(&dummy);
    dummy
}

/// `current_thread()` called from a thread-local destructor after the slot is gone: answer with a
/// record that is not registered (the thread is exiting).
#[cold]
fn current_during_teardown() -> Thread {
    if ident::is_main_os_thread() {
        return main_thread();
    }
    let dummy = Thread::new_running(Kind::Dummy, next_name("Dummy"), true, ident::current());
    dummy.set_native_id(ident::native_id());
    dummy
}
