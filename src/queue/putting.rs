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
//!
//! Limits, known and accepted: a scan waits for *every* raised flag naming the queue, also that
//! of a put that will be refused, so a thread retrying `try_put` on a shut-down queue in a tight
//! loop makes a scan take several tries (it ends at the first scan that finds the flag down).
//! In a child process after `fork`, the slot of a thread that was in the middle of a put stays
//! raised, so a `get` that finds that queue shut down and empty (or its immediate shutdown)
//! would wait for ever; with the `settled` count this replaced it was the same, and CPython's
//! queue can likewise be left with its mutex held by a thread that does not exist in the child.

use std::cell::{Cell, OnceCell};
use std::sync::Arc;

use super::store::CachePadded;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};

/// One thread's flag: the address of the queue it is putting into, or 0. On a cache line of its
/// own: every put of its thread writes it twice, and no other thread's put may share the line
/// (an allocator is free to place two threads' small allocations side by side).
pub(crate) struct Slot {
    queue: CachePadded<AtomicUsize>,
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
            queue: CachePadded(AtomicUsize::new(0)),
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
    #[cfg(loom)]
    if SLOTLESS.with(Cell::get) {
        return f(None);
    }
    let slot = FLAG.with(Cell::get);
    let slot = if slot.is_null() { register() } else { slot };
    // SAFETY: `slot` is null or what `register` stored in `FLAG`: the address of the slot in
    // the `Arc` held by this thread's `REGISTERED` (and by the registry until deregistered).
    // `REGISTERED`'s drop nulls `FLAG` before it lets its `Arc` go, and only this thread's exit
    // drops it, which cannot happen while `f` runs on this thread. A `Slot` is only ever
    // shared (`&`), its one field atomic.
    f(unsafe { slot.as_ref() })
}

#[cfg(loom)]
loom::thread_local! {
    /// Set by [`as_if_exiting`].
    static SLOTLESS: Cell<bool> = Cell::new(false);
}

/// Loom models only: runs `f` with the calling thread's puts made as if its slot were gone, the
/// path of a put from a thread-local destructor at thread exit (counted in the queue's
/// `unslotted` word), which loom cannot reach otherwise.
#[cfg(loom)]
pub fn as_if_exiting<R>(f: impl FnOnce() -> R) -> R {
    SLOTLESS.with(|s| s.set(true));
    let result = f();
    SLOTLESS.with(|s| s.set(false));
    result
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

/// The calling thread's slot, if it has one (tests: whether it is released at thread exit, where
/// it lies).
#[cfg(all(test, not(loom)))]
fn current_slot() -> Option<std::sync::Weak<Slot>> {
    REGISTERED
        .try_with(|r| r.get().map(|r| Arc::downgrade(&r.0)))
        .ok()
        .flatten()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::queue::{Queue, TryGetError};
    use std::sync::Barrier;

    /// A thread that put and exited leaves nothing behind: its slot is out of the registry and
    /// freed (the registry's `Arc` would keep it alive).
    #[test]
    fn exited_threads_are_deregistered() {
        let q = Arc::new(Queue::new(0));
        let slots: Vec<_> = (0..4)
            .map(|i| {
                let q = Arc::clone(&q);
                std::thread::spawn(move || {
                    q.put(i).unwrap();
                    q.put(i).unwrap(); // the second put finds the slot registered
                    current_slot().expect("a put registers the thread's slot")
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        for slot in slots {
            assert!(
                slot.upgrade().is_none(),
                "an exited thread's slot is still registered"
            );
        }
        assert_eq!(q.len(), 8);
    }

    /// Each putting thread's slot lies on a cache line of its own: two producers storing their
    /// flags on every put must not write the same line.
    #[test]
    fn slots_do_not_share_a_cache_line() {
        let threads = if cfg!(miri) { 4 } else { 32 };
        let q = Arc::new(Queue::new(0));
        let all_registered = Arc::new(Barrier::new(threads));
        let mut lines: Vec<usize> = (0..threads)
            .map(|i| {
                let (q, all_registered) = (Arc::clone(&q), Arc::clone(&all_registered));
                std::thread::spawn(move || {
                    q.put(i).unwrap();
                    let slot = current_slot().unwrap().upgrade().unwrap();
                    // Every slot alive at once, so that none reuses a freed one's memory.
                    all_registered.wait();
                    &*slot.queue as *const AtomicUsize as usize / 128
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        lines.sort_unstable();
        lines.dedup();
        assert_eq!(
            lines.len(),
            threads,
            "two threads' slots share a cache line"
        );
    }

    /// Puts into `q` when dropped (a thread-local destructor at thread exit); records whether the
    /// thread's slot was still there to flag the put.
    struct PutOnExit(Arc<Queue<usize>>, Arc<AtomicUsize>);

    impl Drop for PutOnExit {
        fn drop(&mut self) {
            let slotted = REGISTERED.try_with(|r| r.get().is_some()).unwrap_or(false);
            let _ = self.0.put(usize::from(slotted));
            if !slotted {
                self.1.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    std::thread_local! {
        static PUT_ON_EXIT: std::cell::RefCell<Option<PutOnExit>> = const { std::cell::RefCell::new(None) };
    }

    /// A put from a thread-local destructor, before and after the thread's slot is gone (the
    /// destructors run in reverse order of first use on Linux), racing a shutdown and a get:
    /// the put is refused, or its item is got (a get never answers "shut down" while such a put
    /// is in flight), and no put is left counted as in flight.
    #[test]
    fn puts_from_thread_local_destructors_are_delivered_or_refused() {
        let rounds = if cfg!(miri) { 4 } else { 200 };
        let unslotted = Arc::new(AtomicUsize::new(0));
        for round in 0..rounds {
            let q = Arc::new(Queue::new(0));
            let slot_first = round % 2 == 0;
            let putter = {
                let (q, unslotted) = (Arc::clone(&q), Arc::clone(&unslotted));
                std::thread::spawn(move || {
                    let other = Queue::new(0);
                    if slot_first {
                        other.put(0).unwrap(); // registers the slot before the destructor below
                    }
                    PUT_ON_EXIT.with(|p| *p.borrow_mut() = Some(PutOnExit(q, unslotted)));
                    if !slot_first {
                        other.put(0).unwrap(); // registered after it: destroyed before it
                    }
                })
            };
            q.shutdown();
            let got = q.get();
            putter.join().unwrap();
            let delivered = q.unfinished_tasks() == 1;
            match got {
                Ok(_) => assert!(delivered, "round {round}: an item got with no task counted"),
                Err(_) => assert!(
                    !delivered,
                    "round {round}: a put succeeded, its item never got"
                ),
            }
            // Returns only if no put is counted in flight any more (else it waits for ever).
            assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
        }
        if cfg!(target_os = "linux") {
            assert!(
                unslotted.load(Ordering::SeqCst) > 0,
                "no put ran after its thread's slot was gone: the test missed its path"
            );
        }
    }
}
