//! Per-thread identifiers: threadkit's `get_ident()`.
//!
//! Every OS thread that touches threadkit gets a `u64` identifier, read from a `const`
//! thread-local in well under a nanosecond. Identifiers come from one process-wide counter and are
//! never reused (CPython's may be recycled after a thread exits). The main thread is always `1`.
//! Threads started by threadkit have theirs assigned before the OS thread exists, so `start()` can
//! report it; other threads get one the first time they ask.

use std::cell::Cell;
// A process-wide counter: a std atomic in every build (loom's are not `const` and must not outlive
// a model execution). Identifiers only need to be unique, which a `Relaxed` increment gives.
use std::sync::atomic::{AtomicU64, Ordering};

/// The identifier of the main thread.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) const MAIN_IDENT: u64 = 1;

/// The next identifier to hand out (1 is reserved for the main thread).
static NEXT_IDENT: AtomicU64 = AtomicU64::new(2);

/// `IDENT` before the thread has an identifier. Not 0: a `Lock` handed off to a woken waiter is
/// briefly locked with acquirer bits 0, and an RLock's ownership test with the unassigned value
/// (see [`current_or_unassigned`]) must never match a lock state (identifiers never get near
/// `u64::MAX`).
pub(crate) const UNASSIGNED: u64 = u64::MAX;

crate::loom::thread_local_shim! {
    /// This thread's identifier; [`UNASSIGNED`] until assigned (per model thread under loom).
    static IDENT: Cell<u64> = const { Cell::new(UNASSIGNED) };
}

/// Reserves a fresh identifier for a thread about to be started.
pub(crate) fn allocate() -> u64 {
    NEXT_IDENT.fetch_add(1, Ordering::Relaxed)
}

/// The calling thread's identifier, assigning one on first use.
#[inline]
pub(crate) fn current() -> u64 {
    let id = IDENT.with(Cell::get);
    if id != UNASSIGNED {
        id
    } else {
        assign_current()
    }
}

/// The calling thread's identifier, or a value no thread has (`u64::MAX`) if it has none yet:
/// an ownership test with it fails, and the caller's slow path assigns one. One thread-local load.
#[inline]
pub(crate) fn current_or_unassigned() -> u64 {
    IDENT.with(Cell::get)
}

/// Installs `id` as the calling thread's identifier (threads started by threadkit, on entry).
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn set_current(id: u64) {
    IDENT.with(|c| c.set(id));
}

#[cold]
#[cfg(loom)]
fn assign_current() -> u64 {
    // Under loom every model thread runs on the one OS thread (maybe the main one): each gets a
    // fresh identifier so that ownership checks (Lock's acquirer, RLock's owner) tell them apart.
    let id = allocate();
    IDENT.with(|c| c.set(id));
    id
}

#[cold]
#[cfg(not(loom))]
fn assign_current() -> u64 {
    // The fork handlers first (`fork.rs`), once per process: a thread with an identifier may
    // hold locks by it, so a child it forks must make it that child's main thread under the
    // same identifier (without the handlers, the child's first `current_thread()` would take
    // it for the process's first thread and give it the main identifier, and every lock it
    // holds would look held by another thread).
    #[cfg(unix)]
    super::fork::ensure_registered();
    let id = if is_main_os_thread() {
        MAIN_IDENT
    } else {
        allocate()
    };
    IDENT.with(|c| c.set(id));
    id
}

/// Whether the calling OS thread is the process's initial thread (the one that runs `main`).
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn is_main_os_thread() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and getpid have no preconditions and cannot fail.
        unsafe { libc::gettid() == libc::getpid() }
    }
    #[cfg(not(target_os = "linux"))]
    {
        std::thread::current().name() == Some("main")
    }
}

/// The kernel's identifier for the calling thread (`get_native_id()`): the Linux TID; elsewhere
/// threadkit's own identifier stands in for it.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn native_id() -> u64 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions and cannot fail.
        let tid = unsafe { libc::gettid() };
        tid as u64
    }
    #[cfg(not(target_os = "linux"))]
    {
        current()
    }
}
