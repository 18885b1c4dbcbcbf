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
//! A put into a resized queue (`resize.rs`) switches its flag to the queue's address `| 1`
//! once its step on `begun` has seen the resized bit, so that the wait for puts into the old
//! store ([`wait_until_no_slot_holds`]) can tell them apart; [`someone_putting_into`] counts both.
//!
//! A put made while the thread's slot is gone (from a thread-local destructor at thread exit)
//! falls back to counting itself in the queue's `unslotted` word (two read-modify-writes).
//!
//! The slots live in an append-only, lock-free list ([`HEAD`]): a thread claims a free slot with
//! a compare-and-swap on its `owned` word (or pushes a new one with a compare-and-swap on the
//! head) and releases it at exit with a store; a scan walks the list with no lock at all. Slots
//! are reused, never freed: the list's memory is one 128-byte slot per thread that was
//! registered at the same time as the others, at its peak (a registration that races other
//! threads' exits may push a slot where it could have reused one, at most one per registering
//! thread), kept until the process exits, as `std`'s own thread-local keys are.
//!
//! Why lock-free, and not a mutex with `pthread_atfork` handlers: a process-wide lock taken by
//! every thread's first put and by every thread's exit is held, now and then, by some thread at
//! the moment another forks; the child (Python's `multiprocessing` forks by default on Linux up
//! to 3.13) inherits it locked with no owner, and its first put into any queue, or any scan,
//! waits for ever (review 3, Q1: 1-8 of 2000 forked children hung). `pthread_atfork` handlers
//! would fix that too, but need `unsafe` FFI, a lock releasable without its guard, and work
//! on every fork of the process; with no lock there is nothing to inherit. A scan is as cheap
//! (a walk over the same number of slots) and the put's path is unchanged (one load of
//! [`FLAG`], two stores into the slot).
//!
//! A scan sees every slot that a put it must see could be using: a put's slot is in the list
//! before its `enter` (pushed by a `Release` compare-and-swap on [`HEAD`], or already there), so
//! that push happens-before the shutdown step that the scan saw, and the scan's `Acquire` load
//! of [`HEAD`] reads it or a later head, whose `next` chain includes it. A reused slot's `leave`
//! by its former owner happens-before its new owner's claim (`Release` store of `owned`,
//! `Acquire` compare-and-swap), so every value the slot holds is in the order of the puts made
//! with it.
//!
//! # After `fork`
//!
//! A child process has only the thread that called `fork`, but inherits every slot: the slot
//! of a thread that was in the middle of a put stays raised, and every wait for puts in flight
//! (a `get` finding the queue shut down and empty, an immediate shutdown, the retire of a
//! resized queue's old store, which the child's first `set_maxsize` does) would wait for it for
//! ever (review of issue 15, H1: 3 to 30 of 40 forked children hung in `set_maxsize`). So the
//! first claim of a slot in the process registers a `pthread_atfork` child handler
//! ([`release_others_after_fork`]) that lowers and releases every slot but the calling
//! thread's: the threads that held them do not exist in the child, and the calling thread is
//! not in a put (`fork` is not called from inside one). The handler only loads and stores
//! atomics and reads a `const` thread-local with no destructor (no allocation, no lock), as a
//! child handler of a multi-threaded process must (async-signal-safe).
//!
//! Limits, known and accepted: a scan waits for *every* raised flag naming the queue, also that
//! of a put that will be refused, so a thread retrying `try_put` on a shut-down queue in a tight
//! loop makes a scan take several tries (it ends at the first scan that finds the flag down).
//! After `fork`, a flagless put in flight (from a thread-local destructor, counted in the
//! queue's `unslotted` words, which no handler can find) still counts as in flight in the child,
//! and a resized queue's second store is behind a lock that a parent thread may have held at the
//! fork (as CPython's queue can be left with its mutex held by a thread that does not exist in
//! the child). A fork that races the very first registration (the handler not yet registered)
//! makes a child without it.

use std::cell::{Cell, OnceCell};

use super::store::CachePadded;
#[cfg(not(loom))]
use std::sync::atomic::AtomicPtr;

#[cfg(loom)]
use loom::sync::atomic::AtomicPtr;

use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// One thread's flag: the address of the queue it is putting into, or 0. On a cache line of its
/// own: every put of its thread writes it twice, and no other thread's put may share the line.
pub(crate) struct Slot {
    queue: AtomicUsize,
    /// Whether a live thread holds this slot (claimed at its first put, released at its exit).
    owned: AtomicBool,
    /// The slot pushed before this one; never changes once the slot is in the list.
    next: Option<&'static CachePadded<Slot>>,
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

/// The head of the list of every slot ever pushed (most recent first); null while empty. Slots
/// are leaked (`Box::leak`), so a pointer read from the list is valid for the rest of the process.
#[cfg(not(loom))]
static HEAD: AtomicPtr<CachePadded<Slot>> = AtomicPtr::new(std::ptr::null_mut());

#[cfg(loom)]
loom::lazy_static! {
    // Recreated by loom for every execution (the slots of an old one are unreachable).
    static ref HEAD: AtomicPtr<CachePadded<Slot>> = AtomicPtr::new(std::ptr::null_mut());
}

/// The slot that `head` (a value of [`HEAD`]) points to, if any.
fn slot_at(head: *const CachePadded<Slot>) -> Option<&'static CachePadded<Slot>> {
    // SAFETY: every non-null value of `HEAD` is a slot leaked by `claim` (never freed or moved,
    // so valid for the rest of the process) and written in full before `claim`'s `Release`
    // compare-and-swap stored it there. Every caller passes a value it read from `HEAD` with
    // `Acquire` (so those writes are visible to it), or the slot it just pushed itself. A slot
    // is only ever shared (`&`): `queue` and `owned` are atomics, `next` is not written after
    // the push.
    unsafe { head.as_ref() }
}

/// The slots in the list, most recent first.
fn slots() -> impl Iterator<Item = &'static Slot> {
    let mut next = slot_at(HEAD.load(Ordering::Acquire));
    std::iter::from_fn(move || {
        let slot = next?;
        next = slot.next;
        Some(&slot.0)
    })
}

/// Whether the process registered [`release_others_after_fork`] (a flag, not a `Once`: a child
/// forked while another thread ran a `Once` would inherit it running, and wait for ever).
#[cfg(all(unix, not(loom)))]
static AT_FORK: AtomicBool = AtomicBool::new(false);

/// Registers [`release_others_after_fork`] as a `pthread_atfork` child handler, once.
#[cfg(all(unix, not(loom)))]
fn register_at_fork() {
    if AT_FORK.load(Ordering::Relaxed) || AT_FORK.swap(true, Ordering::AcqRel) {
        return;
    }
    // SAFETY: registers a handler with no prepare and no parent part; the child part is an
    // `extern "C"` function that cannot unwind (it only loads and stores atomics) and stays valid
    // for the life of the process.
    // It fails only for want of memory: the children of this process then keep the old
    // behaviour (see the limits in the module docs).
    let _ = unsafe { libc::pthread_atfork(None, None, Some(release_others_after_fork)) };
}

/// The `pthread_atfork` child handler (see the module docs): lowers and releases every slot but
/// the calling thread's. Atomics and a `const` thread-local only (async-signal-safe).
#[cfg(all(unix, not(loom)))]
extern "C" fn release_others_after_fork() {
    // `try_with`: no panic even while the calling thread's thread-locals are being destroyed
    // (then it has no slot to keep).
    let mine = FLAG.try_with(Cell::get).unwrap_or(std::ptr::null());
    for slot in slots() {
        if !std::ptr::eq(slot, mine) {
            slot.queue.store(0, Ordering::Release);
            slot.owned.store(false, Ordering::Release);
        }
    }
}

/// Claims a free slot for the calling thread, or pushes a new one, owned.
fn claim() -> &'static Slot {
    #[cfg(all(unix, not(loom)))]
    register_at_fork();
    for slot in slots() {
        if !slot.owned.load(Ordering::Relaxed)
            && slot
                .owned
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            return slot;
        }
    }
    // Leaked: never freed, so valid for the rest of the process (see `slot_at`).
    let slot: *mut CachePadded<Slot> = Box::into_raw(Box::new(CachePadded(Slot {
        queue: AtomicUsize::new(0),
        owned: AtomicBool::new(true),
        next: None,
    })));
    let mut head = HEAD.load(Ordering::Acquire);
    loop {
        // SAFETY: `slot` is the allocation just made, not yet published (the compare-and-swap
        // below has failed, or not run): no other thread can reach it, nor any reference of
        // this one.
        unsafe { (*slot).0.next = slot_at(head) };
        match HEAD.compare_exchange_weak(head, slot, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return &slot_at(slot).expect("not null").0,
            Err(now) => head = now,
        }
    }
}

/// A thread's registration: when the thread exits, clears [`FLAG`]'s pointer, then releases
/// the slot for another thread to claim.
struct Registered(&'static Slot);

impl Drop for Registered {
    fn drop(&mut self) {
        let _ = FLAG.try_with(|flag| flag.set(std::ptr::null()));
        // Under loom the list is recreated for every execution, and the main thread's
        // thread-locals may be dropped after its execution is over: leave its atomics alone.
        #[cfg(not(loom))]
        self.0.owned.store(false, Ordering::Release);
    }
}

crate::loom::thread_local_shim! {
    /// The calling thread's slot, or null before its first put and once it exits. No
    /// destructor, so that reading it is one load.
    static FLAG: Cell<*const Slot> = const { Cell::new(std::ptr::null()) };
}

crate::loom::thread_local_shim! {
    /// What releases the calling thread's slot when the thread exits.
    static REGISTERED: OnceCell<Registered> = const { OnceCell::new() };
}

/// The calling thread's slot (registering it on first use), or `None` once the thread's
/// thread-locals are being destroyed. Returned, not passed to a closure: a put's path then has
/// no closure call in it (callgrind: the closure was a function of its own, a call, a prologue
/// and an epilogue per put).
#[inline(always)]
pub(crate) fn current() -> Option<&'static Slot> {
    #[cfg(loom)]
    if SLOTLESS.with(Cell::get) {
        return None;
    }
    let slot = FLAG.with(Cell::get);
    let slot = if slot.is_null() { register() } else { slot };
    // SAFETY: `slot` is null or what `register` stored in `FLAG`: a slot of the list, leaked,
    // so valid for the rest of the process, and only ever shared (`&`). It is this thread's
    // (owned) until `REGISTERED`'s drop, which nulls `FLAG` first; the caller uses it for the
    // put it is making, before that.
    unsafe { slot.as_ref() }
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
            let slot: *const Slot = r.get_or_init(|| Registered(claim())).0;
            FLAG.with(|flag| flag.set(slot));
            slot
        })
        .unwrap_or(std::ptr::null())
}

/// Whether some thread is putting into `queue` now (see the module docs for when a `false` is
/// final: only once `queue` refuses new puts). A flag holds `queue`, or `queue | 1` for a put
/// into the store a resized queue moved to (`resize.rs`); `queue` is even (cache-aligned).
pub(crate) fn someone_putting_into(queue: usize) -> bool {
    // Mutant (loom): puts into a resized queue's second store (`queue | 1`) not seen.
    let mask = if cfg!(threadkit_mutant = "queue_scan_exact") {
        !0
    } else {
        !1
    };
    slots().any(|s| s.queue.load(Ordering::Acquire) & mask == queue)
}

/// Waits, slot by slot, until each slot has been seen not holding `value` (calling `back_off`
/// while it does). Once puts holding `value` can no longer begin (a resized queue's ring: see
/// `resize.rs`), a slot seen without it once never holds one of those puts again, so one pass
/// is enough: every such put that was in flight when the call began is over when it returns
/// (its `leave`, a `Release` store, read with `Acquire`).
pub(crate) fn wait_until_no_slot_holds(value: usize, mut back_off: impl FnMut()) {
    for slot in slots() {
        while slot.queue.load(Ordering::Acquire) == value {
            back_off();
        }
    }
}

/// The calling thread's slot, if it has one (tests: whether it is released at thread exit, where
/// it lies).
#[cfg(all(test, not(loom)))]
fn current_slot() -> Option<&'static Slot> {
    REGISTERED.try_with(|r| r.get().map(|r| r.0)).ok().flatten()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::queue::fifo::RING_LIMIT;
    use crate::queue::{Queue, TryGetError};
    use std::sync::{Arc, Barrier};

    // Queues of more than `RING_LIMIT` items: the only store (besides a resized queue's
    // second one) whose puts raise a putting flag; the ring and the chain count puts in their
    // tail word instead.

    /// A thread that put and exited releases its slot for the next one: threads that put one
    /// after another do not grow the list by a slot each (other tests running at the same time
    /// may add slots, but not one per thread of this test).
    #[test]
    fn exited_threads_release_their_slots() {
        let threads = if cfg!(miri) { 8 } else { 200 };
        let q = Arc::new(Queue::new(RING_LIMIT + 1));
        let before = slots().count();
        for i in 0..threads {
            let q = Arc::clone(&q);
            std::thread::spawn(move || {
                q.put(i).unwrap();
                q.put(i).unwrap(); // the second put finds the slot registered
                let slot = current_slot().expect("a put registers the thread's slot");
                assert!(slot.owned.load(Ordering::Relaxed));
            })
            .join()
            .unwrap();
        }
        let grown = slots().count() - before;
        assert!(
            grown < threads,
            "{threads} threads that put one after another pushed {grown} slots: none was reused"
        );
        assert_eq!(q.len(), 2 * threads);
    }

    /// Each putting thread's slot lies on a cache line of its own: two producers storing their
    /// flags on every put must not write the same line.
    #[test]
    fn slots_do_not_share_a_cache_line() {
        let threads = if cfg!(miri) { 4 } else { 32 };
        let q = Arc::new(Queue::new(RING_LIMIT + 1));
        let all_registered = Arc::new(Barrier::new(threads));
        let mut lines: Vec<usize> = (0..threads)
            .map(|i| {
                let (q, all_registered) = (Arc::clone(&q), Arc::clone(&all_registered));
                std::thread::spawn(move || {
                    q.put(i).unwrap();
                    let slot = current_slot().unwrap();
                    // Every slot owned at once, so that none is released and claimed again.
                    all_registered.wait();
                    &slot.queue as *const AtomicUsize as usize / 128
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
            let q = Arc::new(Queue::new(RING_LIMIT + 1));
            let slot_first = round % 2 == 0;
            let putter = {
                let (q, unslotted) = (Arc::clone(&q), Arc::clone(&unslotted));
                std::thread::spawn(move || {
                    let other = Queue::new(RING_LIMIT + 1);
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
