//! Each thread's held-lock stack, published so that a thread dump can list every lock a thread
//! holds, and the queues of releases made by other threads.
//!
//! The stack lives in a [`Shared`] that its thread alone writes and any thread may read, without
//! ever waiting for the writer: a sequence lock. The writer makes the sequence odd, writes, and
//! makes it even again (plain stores on x86: the checker's hot path pays no atomic
//! read-modify-write and no fence instruction); a reader copies the entries and keeps the copy
//! only if the sequence was even and unchanged around it, retrying a bounded number of times.
//! Every field is an atomic, so a torn read is a discarded copy, never undefined behaviour.
//!
//! Every live thread that ever held a lock while the checker was armed has its `Shared` in
//! [`REGISTRY`]; its thread-local's destructor removes it, and with it the queue of releases
//! aimed at the thread, so a release aimed at a thread that has exited is dropped, not kept.

use crate::site::Site;
use std::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How many locks one thread can hold at once and still have them checked (Abseil keeps 40);
/// a lock acquired while the stack is full is not part of any order.
pub(super) const MAX_HELD: usize = 32;

/// One lock on a thread's held stack, as the thread itself reads it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Held {
    pub(super) id: u64,
    pub(super) site: Site,
    /// When it was acquired, on the wait records' clock (`wait::record::clock`), in
    /// nanoseconds; 0 when not recorded (holder sites off).
    pub(super) since: u64,
}

/// One published entry (see [`Held`]); the site pointer is null only while never written.
struct Entry {
    id: AtomicU64,
    /// [`Site::as_ptr`].
    site: AtomicPtr<u8>,
    since: AtomicU64,
}

/// A thread's published stack and its queue of releases by other threads.
pub(super) struct Shared {
    /// threadkit's identifier of the thread (refreshed by the checker's slow path: a timer worker
    /// may act as another thread).
    pub(super) ident: AtomicU64,
    /// The `EPOCH` the stack belongs to (a stack from an earlier arming is stale).
    pub(super) epoch: AtomicU64,
    /// Odd while the owner rewrites entries below `len`.
    seq: AtomicU64,
    len: AtomicUsize,
    items: [Entry; MAX_HELD],
    /// How many releases by other threads wait in `foreign` (the owner's cheap check).
    pending: AtomicUsize,
    /// Locks this thread acquired and another thread released, oldest first: `(id, the EPOCH
    /// the release was made in)` (a release from an earlier arming concerns a stack since
    /// dropped, never the locks pushed since).
    foreign: Mutex<Vec<(u64, u64)>>,
    /// Whether the thread-local owning this is gone (a reader may still hold an `Arc`).
    gone: AtomicBool,
    /// Set by whoever changes what the owner must bring up to date (an arming, a reset of the
    /// graph, a release by another thread): the owner's hot path loads this one flag.
    stale: AtomicBool,
}

/// Every live thread's [`Shared`].
static REGISTRY: Mutex<Vec<Arc<Shared>>> = Mutex::new(Vec::new());

/// The checker's std mutexes guard its own bookkeeping only and no code under them panics;
/// poisoning is ignored rather than propagated.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The thread registry's `pthread_atfork` handlers' part (`src/thread/fork.rs`): the list is
/// locked across the `fork` (a child inheriting it locked by a thread it does not have would hang
/// in its threads' first armed acquire), and in the child every other thread's stack is marked
/// gone (those threads do not exist there: a dump must not list their locks), with atomic
/// stores only; the entries stay in the list.
#[cfg(unix)]
pub(crate) mod fork {
    use std::cell::RefCell;
    use std::sync::atomic::Ordering;
    use std::sync::{Arc, MutexGuard};

    use super::{lock, Shared, REGISTRY};

    thread_local! {
        /// The list's guard, from the prepare handler to the parent or child handler.
        static HELD: RefCell<Option<MutexGuard<'static, Vec<Arc<Shared>>>>> =
            const { RefCell::new(None) };
    }

    /// Prepare handler: locks the list.
    pub(crate) fn before() {
        let guard = lock(&REGISTRY);
        // `try_with`: a fork from this thread's thread-local teardown keeps nothing (the guard is
        // dropped at once), rather than panicking in an `extern "C"` handler.
        let _ = HELD.try_with(|h| *h.borrow_mut() = Some(guard));
    }

    /// Parent handler: unlocks it.
    pub(crate) fn after_in_parent() {
        drop(HELD.try_with(|h| h.borrow_mut().take()));
    }

    /// Child handler: marks every stack but `keep`'s (the forking thread's identifier) gone,
    /// and unlocks the list.
    pub(crate) fn after_in_child(keep: u64) {
        let Some(list) = HELD.try_with(|h| h.borrow_mut().take()).ok().flatten() else {
            return;
        };
        for shared in list.iter() {
            if shared.ident.load(Ordering::Relaxed) != keep {
                shared.gone.store(true, Ordering::Relaxed);
            }
        }
        drop(list);
    }
}

impl Shared {
    /// A fresh, empty stack, registered.
    pub(super) fn register() -> Arc<Shared> {
        let shared = Arc::new(Shared {
            ident: AtomicU64::new(crate::thread::ident::current()),
            epoch: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            len: AtomicUsize::new(0),
            items: std::array::from_fn(|_| Entry {
                id: AtomicU64::new(0),
                site: AtomicPtr::new(std::ptr::null_mut()),
                since: AtomicU64::new(0),
            }),
            pending: AtomicUsize::new(0),
            foreign: Mutex::new(Vec::new()),
            gone: AtomicBool::new(false),
            stale: AtomicBool::new(true),
        });
        lock(&REGISTRY).push(Arc::clone(&shared));
        shared
    }

    /// Leaves the registry (the owning thread-local's destructor): releases aimed at the thread
    /// from now on are dropped, and the queued ones go with this `Shared`.
    pub(super) fn unregister(self: &Arc<Self>) {
        self.gone.store(true, Ordering::Relaxed);
        let mut reg = lock(&REGISTRY);
        if let Some(i) = reg.iter().position(|s| Arc::ptr_eq(s, self)) {
            reg.swap_remove(i);
        }
    }

    /// How many locks the stack holds (the owner's view).
    #[inline(always)]
    pub(super) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether other threads released locks of this thread's stack.
    pub(super) fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Relaxed) != 0
    }

    /// Whether the owner must bring its state up to date first (one relaxed load).
    #[inline(always)]
    pub(super) fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Relaxed)
    }

    /// The owner is bringing its state up to date: changes made from now on set the flag again.
    /// A swap, acquiring: whatever the setters wrote before setting it is visible afterwards.
    pub(super) fn clear_stale(&self) {
        self.stale.swap(false, Ordering::AcqRel);
    }

    #[inline(always)]
    fn read_entry(&self, i: usize) -> Held {
        let e = &self.items[i];
        let site = e.site.load(Ordering::Relaxed);
        Held {
            id: e.id.load(Ordering::Relaxed),
            // SAFETY: only `Site::as_ptr` words (never null) are stored in `site`, and an entry
            // below `len` (all the owner reads) has been written.
            site: unsafe { Site::from_ptr(site).unwrap_unchecked() },
            since: e.since.load(Ordering::Relaxed),
        }
    }

    /// The entry at `i < len` (owner only).
    #[inline(always)]
    pub(super) fn get(&self, i: usize) -> Held {
        self.read_entry(i)
    }

    /// The held locks, oldest first (owner only).
    pub(super) fn entries(&self) -> Vec<Held> {
        (0..self.len()).map(|i| self.get(i)).collect()
    }

    #[inline(always)]
    fn write_entry(&self, i: usize, h: Held) {
        let e = &self.items[i];
        e.id.store(h.id, Ordering::Relaxed);
        e.site.store(h.site.as_ptr(), Ordering::Relaxed);
        e.since.store(h.since, Ordering::Relaxed);
    }

    /// Opens a write of entries below `len` (the owner: readers will discard what they copy).
    #[inline(always)]
    fn begin_write(&self) -> u64 {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        s
    }

    #[inline(always)]
    fn end_write(&self, s: u64) {
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }

    /// Pushes `h` (owner only); a full stack drops it.
    #[inline(always)]
    pub(super) fn push(&self, h: Held) {
        let n = self.len();
        if n < MAX_HELD {
            let s = self.begin_write();
            self.write_entry(n, h);
            self.len.store(n + 1, Ordering::Relaxed);
            self.end_write(s);
        }
    }

    /// Empties the stack (owner only).
    pub(super) fn clear(&self) {
        self.len.store(0, Ordering::Relaxed);
    }

    /// Sets the stack aside (owner only): applies the releases queued for it, then returns its
    /// entries, oldest first, and empties it.
    pub(super) fn take_stack(&self) -> Vec<Held> {
        if self.has_pending() {
            self.apply_foreign();
        }
        let held = self.entries();
        self.clear();
        held
    }

    /// Replaces the stack with `held`, oldest first (owner only; see [`take_stack`](Self::take_stack)).
    pub(super) fn put_stack(&self, held: &[Held]) {
        self.clear();
        for h in held {
            self.push(*h);
        }
    }

    /// The owner must bring its state up to date before its next check or push.
    pub(super) fn mark_stale(&self) {
        self.stale.store(true, Ordering::SeqCst);
    }

    /// Removes the entry at `i` (owner only).
    fn remove_at(&self, i: usize) {
        let n = self.len();
        let s = self.begin_write();
        for j in i..n - 1 {
            let next = self.get(j + 1);
            self.write_entry(j, next);
        }
        self.len.store(n - 1, Ordering::Relaxed);
        self.end_write(s);
    }

    /// Removes the newest entry of `id`: the calling thread's own release (owner only).
    /// Returns whether there was one. Popping the top needs no sequence bump: a reader that
    /// copied it saw it held.
    #[inline(always)]
    pub(super) fn remove_newest(&self, id: u64) -> bool {
        let n = self.len();
        // `n - 1` wraps for an empty stack: out of range, like an index past the top.
        if let Some(top) = self.items.get(n.wrapping_sub(1)) {
            if top.id.load(Ordering::Relaxed) == id {
                self.len.store(n - 1, Ordering::Relaxed);
                return true;
            }
        }
        self.remove_newest_slow(id)
    }

    #[cold]
    #[inline(never)]
    fn remove_newest_slow(&self, id: u64) -> bool {
        match (0..self.len()).rev().find(|&i| self.get(i).id == id) {
            Some(i) => {
                self.remove_at(i);
                true
            }
            None => false,
        }
    }

    /// Applies the releases other threads made of locks on this stack: each removes the
    /// *oldest* entry of its lock (a later re-acquire by this thread is the newer one). Owner
    /// only; called after the push of a lock just acquired, so that a release made between the
    /// acquire and its push finds the entry. Releases made in an earlier arming are dropped.
    #[cold]
    #[inline(never)]
    pub(super) fn apply_foreign(&self) {
        let ids = std::mem::take(&mut *lock(&self.foreign));
        self.pending.store(0, Ordering::Relaxed);
        let epoch = self.epoch.load(Ordering::Relaxed);
        for (id, _) in ids.into_iter().filter(|&(_, e)| e == epoch) {
            if let Some(i) = (0..self.len()).find(|&i| self.get(i).id == id) {
                self.remove_at(i);
            }
        }
    }

    /// A consistent copy of the stack, read by any thread; `None` if the owner kept rewriting
    /// it (a reader never waits for the owner).
    pub(super) fn snapshot(&self) -> Option<Vec<Held>> {
        for _ in 0..64 {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 & 1 == 0 {
                let n = self.len.load(Ordering::Relaxed).min(MAX_HELD);
                let mut out = Vec::with_capacity(n);
                let mut torn = false;
                for e in &self.items[..n] {
                    let site = e.site.load(Ordering::Relaxed);
                    if site.is_null() {
                        torn = true;
                        break;
                    }
                    out.push((
                        e.id.load(Ordering::Relaxed),
                        site,
                        e.since.load(Ordering::Relaxed),
                    ));
                }
                fence(Ordering::Acquire);
                if !torn && self.seq.load(Ordering::Relaxed) == s1 {
                    let mut held: Vec<Held> = out
                        .into_iter()
                        .filter_map(|(id, site, since)| {
                            // SAFETY: only `Site::as_ptr` words (or null, excluded above) are
                            // stored in `site`.
                            let site = unsafe { Site::from_ptr(site) }?;
                            Some(Held { id, site, since })
                        })
                        .collect();
                    // Locks released by other threads and not yet applied are not held.
                    let epoch = self.epoch.load(Ordering::Relaxed);
                    for (id, _) in lock(&self.foreign).iter().filter(|(_, e)| *e == epoch) {
                        if let Some(i) = held.iter().position(|h| h.id == *id) {
                            held.remove(i);
                        }
                    }
                    return Some(held);
                }
            }
            std::thread::yield_now();
        }
        None
    }

    fn holds(&self, id: u64) -> bool {
        self.snapshot()
            .is_some_and(|held| held.iter().any(|h| h.id == id))
    }

    fn queue(&self, id: u64) {
        let epoch = super::EPOCH.load(Ordering::Relaxed);
        lock(&self.foreign).push((id, epoch));
        self.pending.fetch_add(1, Ordering::Relaxed);
        self.stale.store(true, Ordering::SeqCst);
    }
}

/// A lock with `id`, acquired by thread `acquirer` (if known), was released by another thread:
/// queue the release for the thread whose stack holds it (the acquirer's first), or, if no stack
/// shows it yet (the acquirer has taken the lock but not pushed it), for the acquirer. A release
/// aimed at a thread that has exited is dropped.
#[cold]
#[inline(never)]
pub(super) fn release_elsewhere(id: u64, acquirer: Option<u64>) {
    let reg: Vec<Arc<Shared>> = lock(&REGISTRY).clone();
    let is_acquirer = |s: &Shared| acquirer == Some(s.ident.load(Ordering::Relaxed));
    let target = reg
        .iter()
        .find(|s| is_acquirer(s) && s.holds(id))
        .or_else(|| reg.iter().find(|s| s.holds(id)))
        .or_else(|| reg.iter().find(|s| is_acquirer(s)));
    if let Some(s) = target {
        s.queue(id);
    }
}

/// Every thread must bring its state up to date before its next check or push (an arming, a
/// reset of the graph).
pub(super) fn mark_all_stale() {
    for s in lock(&REGISTRY).iter() {
        s.stale.store(true, Ordering::SeqCst);
    }
}

/// How many releases by other threads are queued for the thread `ident` (0 once it exited).
#[cfg_attr(not(test), allow(dead_code))]
pub(super) fn queued_for(ident: u64) -> usize {
    lock(&REGISTRY)
        .iter()
        .filter(|s| s.ident.load(Ordering::Relaxed) == ident)
        .map(|s| lock(&s.foreign).len())
        .sum()
}

/// One lock a thread holds, as a dump reads it.
pub(crate) struct HeldLock {
    pub(crate) id: u64,
    pub(crate) site: Site,
    /// How long it has been held; `None` when not recorded (holder sites off).
    pub(crate) held_for: Option<Duration>,
}

/// Every live thread's held locks, from the published stacks of the current arming: `(ident,
/// locks oldest first)`. Threads whose stack kept changing during the read are left out.
pub(super) fn all_held(epoch: u64) -> Vec<(u64, Vec<HeldLock>)> {
    let reg: Vec<Arc<Shared>> = lock(&REGISTRY).clone();
    let now = crate::wait::record::clock().as_nanos() as u64;
    reg.iter()
        .filter(|s| !s.gone.load(Ordering::Relaxed) && s.epoch.load(Ordering::Relaxed) == epoch)
        .filter_map(|s| {
            let held = s.snapshot()?;
            let locks = held
                .into_iter()
                .map(|h| HeldLock {
                    id: h.id,
                    site: h.site,
                    held_for: (h.since != 0)
                        .then(|| Duration::from_nanos(now.saturating_sub(h.since))),
                })
                .collect::<Vec<_>>();
            (!locks.is_empty()).then(|| (s.ident.load(Ordering::Relaxed), locks))
        })
        .collect()
}
