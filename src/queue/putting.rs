//! Per-thread "putting" flags: which queue each thread is putting into right now, so that the
//! rare paths that must know that no put is in flight (a `get` about to answer "shut down", the
//! drain of an immediate shutdown) can find out by scanning the flags, instead of every put
//! paying a shared read-modify-write when it is over (the `settled` count this replaced: a
//! `lock`ed add right after the slot's store, which waited for that store to reach the
//! consumer's cache line).
//!
//! Each thread that puts into a task-counting queue registers one [`Slot`] (once, on its first
//! put) in a process-wide list, and deregisters it when it exits. A put stores the queue's
//! address into its slot *before* the read-modify-write on the queue's `begun` word that checks
//! the shut-down flag, and stores 0 once its item is stored or refused; every store is
//! `Release`. A scanner that has seen the shut-down flag (set by a read-modify-write on `begun`)
//! reads every slot with `Acquire` ([`someone_putting_into`]).
//!
//! Why that is enough: a put whose `begun` step did not see the flag came before the shutdown's
//! step in `begun`'s modification order, so (release sequence) its slot store happens-before
//! the shutdown's step and so before any scan that saw the flag: the scan reads the queue's
//! address, or a later value of the slot. A later value (0, or another queue's address) is a
//! `Release` store made after that put was over, so the put's item is visible to the scanner.
//!
//! A put made while the thread's slot is gone (from a thread-local destructor at thread exit)
//! falls back to counting itself in the queue's `unslotted` word (two read-modify-writes).

use std::cell::{Cell, OnceCell};
use std::sync::Arc;

use crate::loom::sync::atomic::{AtomicUsize, Ordering};

/// One thread's flag: the address of the queue it is putting into, or 0.
pub(crate) struct Slot {
    queue: AtomicUsize,
}

impl Slot {
    /// Marks a put into `queue` as begun. Must come before the put's step on `begun`.
    #[inline]
    pub(crate) fn enter(&self, queue: usize) {
        self.queue.store(queue, Ordering::Release);
    }

    /// Marks the put as over (its item stored or refused).
    #[inline]
    pub(crate) fn leave(&self) {
        self.queue.store(0, Ordering::Release);
    }
}

/// The registered slots of the live threads that have put into a task-counting queue.
#[cfg(not(loom))]
type Registry = std::sync::Mutex<Vec<Arc<Slot>>>;
#[cfg(loom)]
type Registry = loom::sync::Mutex<Vec<Arc<Slot>>>;

#[cfg(not(loom))]
fn registry() -> &'static Registry {
    static REGISTRY: Registry = Registry::new(Vec::new());
    &REGISTRY
}

#[cfg(loom)]
loom::lazy_static! {
    // Recreated by loom for every execution.
    static ref REGISTRY: Registry = Registry::new(Vec::new());
}

#[cfg(loom)]
fn registry() -> &'static Registry {
    &REGISTRY
}

/// A thread's registration: when the thread exits, clears [`FLAG`]'s pointer, then
/// deregisters the slot.
struct Registered(Arc<Slot>);

impl Registered {
    fn new() -> Self {
        let slot = Arc::new(Slot {
            queue: AtomicUsize::new(0),
        });
        lock(registry()).push(Arc::clone(&slot));
        Registered(slot)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let _ = FLAG.try_with(|flag| flag.set(std::ptr::null()));
        // Under loom the registry is recreated for every execution, and may already be gone
        // when the main thread's thread-locals are dropped: leave it alone.
        #[cfg(not(loom))]
        lock(registry()).retain(|s| !Arc::ptr_eq(s, &self.0));
    }
}

/// The registry's lock: nothing panics while holding it, so a poisoned lock is still sound.
fn lock(registry: &Registry) -> impl std::ops::DerefMut<Target = Vec<Arc<Slot>>> + '_ {
    #[cfg(not(loom))]
    return registry
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    #[cfg(loom)]
    return registry.lock().unwrap();
}

crate::loom::thread_local_shim! {
    /// The calling thread's slot, or null before its first put and once it exits. No
    /// destructor, so that reading it is one load.
    static FLAG: Cell<*const Slot> = const { Cell::new(std::ptr::null()) };
}

crate::loom::thread_local_shim! {
    /// What keeps the calling thread's slot alive and registered.
    static REGISTERED: OnceCell<Registered> = const { OnceCell::new() };
}

/// Runs `f` with the calling thread's slot (registering it on first use), or with `None` once
/// the thread's thread-locals are being destroyed.
#[inline(always)]
pub(crate) fn with_slot<R>(f: impl FnOnce(Option<&Slot>) -> R) -> R {
    let slot = FLAG.with(Cell::get);
    let slot = if slot.is_null() { register() } else { slot };
    // SAFETY: a non-null pointer in `FLAG` points to the slot kept alive by this thread's
    // `REGISTERED`, which nulls `FLAG` before it lets the slot go; `f` runs on this thread,
    // which cannot exit (and so drop `REGISTERED`) while it runs.
    f(unsafe { slot.as_ref() })
}

/// Registers the calling thread's slot; null if its thread-locals are being destroyed.
#[cold]
#[inline(never)]
fn register() -> *const Slot {
    REGISTERED
        .try_with(|r| {
            let slot = Arc::as_ptr(&r.get_or_init(Registered::new).0);
            FLAG.with(|flag| flag.set(slot));
            slot
        })
        .unwrap_or(std::ptr::null())
}

/// Whether some thread is putting into `queue` now (see the module docs for when a `false` is
/// final: only once `queue` refuses new puts).
pub(crate) fn someone_putting_into(queue: usize) -> bool {
    lock(registry())
        .iter()
        .any(|s| s.queue.load(Ordering::Acquire) == queue)
}
