//! The lock-order checker: reports a potential deadlock the first time two locks are taken in
//! an order that inverts one recorded before, whether or not anything hung.
//!
//! The primitives call the hooks here (they never import `diagnostics`); the report goes out
//! through the diagnostics [report hook](crate::diagnostics::set_report_hook). The public
//! switches are re-exported from [`crate::diagnostics`].
//!
//! - Each thread keeps a stack of the locks it holds ([`Held`]): pushed on every acquire while
//!   the checker is armed, popped on release.
//! - On a *blocking* (or timed) acquire while the stack is not empty, every held lock `h` gives
//!   an edge `h → new` in a global graph keyed by lock id (never by address). A new edge is
//!   checked for a path `new → … → h`: if there is one, the edge closes a cycle and is reported
//!   (once per cycle) instead of being added, so the graph stays acyclic.
//! - A per-thread cache of edges already in the graph lets a known nested acquire skip the
//!   global lock entirely.
//! - A lock released by a thread other than its acquirer (Python allows it) is queued for
//!   removal from the acquirer's stack, which the acquirer applies before its next check.
//! - A dropped lock leaves the graph (`Identity`'s `Drop`).

mod graph;
mod report;

use crate::site::Site;
use std::cell::RefCell;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;

use crate::identity::Identity;

pub use report::{OrderEdge, OrderedLock, PotentialDeadlock};

/// What the checker does when an acquisition inverts a recorded order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockOrderMode {
    /// No bookkeeping: one relaxed load per acquire and per release.
    Off,
    /// Send a [`Report::PotentialDeadlock`](crate::diagnostics::Report::PotentialDeadlock)
    /// through the report hook (default: stderr), once per cycle, and go on to acquire.
    Report,
    /// Panic in the inverted acquire *before* it blocks, with a message naming the locks: the
    /// lock is not taken, and the locks the thread holds are released as the panic unwinds
    /// their guards. For tests.
    Panic,
}

const OFF: u8 = 0;
const REPORT: u8 = 1;
const PANIC: u8 = 2;
/// Not decided yet: the first acquire reads `THREADKIT_LOCK_ORDER`.
const UNSET: u8 = 3;

/// The mode; any value but [`OFF`] sends the hooks to their slow paths.
static MODE: AtomicU8 = AtomicU8::new(if cfg!(feature = "lock-order") {
    UNSET
} else {
    OFF
});
/// Bumped whenever the checker is armed, so a thread drops a held stack from an earlier arming
/// (releases made while it was off were not seen).
static EPOCH: AtomicU64 = AtomicU64::new(1);
/// Bumped by [`reset_lock_order`]: the per-thread edge caches of an older generation are stale.
static GRAPH_GEN: AtomicU64 = AtomicU64::new(1);

/// Whether the hooks must run (one relaxed load: the whole cost of a disarmed checker).
#[inline(always)]
pub(crate) fn armed() -> bool {
    cfg!(all(feature = "lock-order", not(loom))) && MODE.load(Ordering::Relaxed) != OFF
}

/// Sets the lock-order checker's mode (see [`LockOrderMode`]).
///
/// Without the `lock-order` feature (on by default) the checker is not compiled in and the mode
/// stays [`LockOrderMode::Off`]. Without a call, the mode is taken from the environment variable
/// `THREADKIT_LOCK_ORDER` (`off`, `report` or `panic`) on the first acquire, and otherwise is
/// `Report` in debug builds and `Off` in release builds.
///
/// Arming the checker while threads hold locks is allowed: what they acquired before is not
/// known to it, so it is not part of the first orders recorded.
///
/// # Examples
///
/// ```
/// use threadkit::diagnostics::{self, LockOrderMode};
///
/// diagnostics::set_lock_order_mode(LockOrderMode::Off);
/// assert_eq!(diagnostics::lock_order_mode(), LockOrderMode::Off);
/// ```
pub fn set_lock_order_mode(mode: LockOrderMode) {
    if !cfg!(all(feature = "lock-order", not(loom))) {
        return;
    }
    let new = match mode {
        LockOrderMode::Off => OFF,
        LockOrderMode::Report => REPORT,
        LockOrderMode::Panic => PANIC,
    };
    let old = MODE.swap(new, Ordering::Relaxed);
    if new != OFF && (old == OFF || old == UNSET) {
        EPOCH.fetch_add(1, Ordering::Relaxed);
    }
}

/// The lock-order checker's mode (see [`set_lock_order_mode`]).
///
/// # Examples
///
/// ```
/// use threadkit::diagnostics::{self, LockOrderMode};
///
/// if cfg!(all(debug_assertions, feature = "lock-order"))
///     && std::env::var_os("THREADKIT_LOCK_ORDER").is_none()
/// {
///     assert_eq!(diagnostics::lock_order_mode(), LockOrderMode::Report);
/// }
/// ```
pub fn lock_order_mode() -> LockOrderMode {
    match current_mode() {
        REPORT => LockOrderMode::Report,
        PANIC => LockOrderMode::Panic,
        _ => LockOrderMode::Off,
    }
}

/// The mode, deciding it from the environment on first use.
fn current_mode() -> u8 {
    let mode = MODE.load(Ordering::Relaxed);
    if mode != UNSET {
        return mode;
    }
    let chosen = match std::env::var("THREADKIT_LOCK_ORDER").as_deref() {
        Ok("off") | Ok("0") => OFF,
        Ok("report") | Ok("1") => REPORT,
        Ok("panic") => PANIC,
        _ if cfg!(debug_assertions) => REPORT,
        _ => OFF,
    };
    match MODE.compare_exchange(UNSET, chosen, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => chosen,
        Err(now) => now,
    }
}

/// One lock on a thread's held stack.
#[derive(Clone, Copy)]
struct Held {
    id: u64,
    site: Site,
}

/// How many locks one thread can hold at once and still have them checked (Abseil keeps 40);
/// a lock acquired while the stack is full is not part of any order.
const MAX_HELD: usize = 32;
const CACHE_SLOTS: usize = 128;

/// A fixed-size stack, so that the thread-local needs no destructor (the cheapest access).
#[derive(Clone, Copy)]
struct Stack {
    len: usize,
    /// `Some` below `len` (an `Option` only for the `const` initializer).
    items: [Option<Held>; MAX_HELD],
}

impl Stack {
    /// The held locks, oldest first.
    fn iter(&self) -> impl DoubleEndedIterator<Item = &Held> + '_ {
        self.items[..self.len].iter().flatten()
    }

    fn is(&self, i: usize, id: u64) -> bool {
        matches!(self.items[i], Some(h) if h.id == id)
    }

    fn push(&mut self, h: Held) {
        if self.len < MAX_HELD {
            self.items[self.len] = Some(h);
            self.len += 1;
        }
    }

    #[inline]
    fn remove_at(&mut self, i: usize) {
        if i + 1 < self.len {
            self.items.copy_within(i + 1..self.len, i);
        }
        self.len -= 1;
    }

    /// Removes the newest entry of `id` (the calling thread's own release).
    #[inline]
    fn remove_newest(&mut self, id: u64) {
        // Releases are usually in reverse order of acquisition.
        if self.len != 0 && self.is(self.len - 1, id) {
            self.len -= 1;
            return;
        }
        if let Some(i) = (0..self.len).rev().find(|&i| self.is(i, id)) {
            self.remove_at(i);
        }
    }

    /// Removes the oldest entry of `id` (a release by another thread: a later re-acquire by
    /// this thread is the newer one).
    fn remove_oldest(&mut self, id: u64) {
        if let Some(i) = (0..self.len).find(|&i| self.is(i, id)) {
            self.remove_at(i);
        }
    }
}

/// The per-thread state.
struct Local {
    /// The [`EPOCH`] the stack belongs to.
    epoch: u64,
    /// The [`GRAPH_GEN`] the cache belongs to.
    cache_gen: u64,
    /// The [`FOREIGN_GEN`] last applied.
    foreign_seen: u64,
    held: Stack,
    /// Edges this thread knows to be in the graph, direct-mapped by a hash of the pair.
    cache: [(u64, u64); CACHE_SLOTS],
    /// Inside the checker's slow path or the report hook: the hooks do nothing (the thread's
    /// name is itself behind a threadkit Lock, and the hook may take locks).
    busy: bool,
}

thread_local! {
    static LOCAL: RefCell<Local> = const {
        RefCell::new(Local {
            epoch: 0,
            cache_gen: 0,
            foreign_seen: 0,
            held: Stack { len: 0, items: [None; MAX_HELD] },
            cache: [(0, 0); CACHE_SLOTS],
            busy: false,
        })
    };
}

fn slot(from: u64, to: u64) -> usize {
    let h = (from.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ to).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    (h >> 57) as usize % CACHE_SLOTS
}

impl Local {
    /// Drops a stack from an earlier arming.
    #[inline]
    fn sync_epoch(&mut self) {
        let epoch = EPOCH.load(Ordering::Relaxed);
        if self.epoch != epoch {
            self.epoch = epoch;
            self.held.len = 0;
        }
    }

    /// Drops an edge cache from before a [`reset_lock_order`].
    fn sync_cache(&mut self) {
        let gen = GRAPH_GEN.load(Ordering::Relaxed);
        if self.cache_gen != gen {
            self.cache_gen = gen;
            self.cache = [(0, 0); CACHE_SLOTS];
        }
    }
}

/// Releases of locks made by threads other than their acquirers: `(acquirer ident, lock id)`.
static FOREIGN: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());
/// Locks that a Timer's run left held, `(Timer ident, lock id)` (see [`exit_scope`]): their
/// release by another thread removes the entry instead of queueing it. Locked inside FOREIGN.
static ENDED: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());
/// Bumped by each foreign release: a thread looks at [`FOREIGN`] only when it changed since its
/// last look, so a known nested acquire still takes no global lock.
static FOREIGN_GEN: AtomicU64 = AtomicU64::new(0);

/// Applies the foreign releases aimed at this thread: each removes the *oldest* entry of its
/// lock (a later re-acquire by this thread is the newer one).
fn apply_foreign(local: &mut Local) {
    let gen = FOREIGN_GEN.load(Ordering::Acquire);
    if gen == local.foreign_seen {
        return;
    }
    local.foreign_seen = gen;
    let me = crate::thread::ident::current();
    let mine: Vec<u64> = {
        let mut q = FOREIGN.lock().unwrap_or_else(|e| e.into_inner());
        let mut mine = Vec::new();
        q.retain(|&(t, id)| {
            if t == me {
                mine.push(id);
                false
            } else {
                true
            }
        });
        mine
    };
    for id in mine {
        local.held.remove_oldest(id);
    }
}

/// A thread's held stack, set aside by [`enter_scope`] while the thread runs as another
/// (a timer worker running a Timer's function as the Timer's thread).
pub(crate) struct Scope {
    held: Stack,
    foreign_seen: u64,
}

/// Starts a scope with an empty held stack: called by a timer worker once it acts as the
/// Timer's thread, before the Timer's function runs. The stack, like the releases queued for
/// it, belongs to the thread's ident, and a Timer has its own.
pub(crate) fn enter_scope() -> Scope {
    let empty = Stack {
        len: 0,
        items: [None; MAX_HELD],
    };
    LOCAL
        .try_with(|l| {
            let mut l = l.try_borrow_mut().ok()?;
            let held = std::mem::replace(&mut l.held, empty);
            Some(Scope {
                held,
                foreign_seen: l.foreign_seen,
            })
        })
        .ok()
        .flatten()
        .unwrap_or(Scope {
            held: empty,
            foreign_seen: 0,
        })
}

/// Ends a scope from [`enter_scope`], still acting as the Timer's thread: applies (and so
/// removes) the releases queued for the Timer's ident, records what the Timer left on its stack
/// (a lock it returned holding) in [`ENDED`] so that its later release by another thread is not
/// queued for an ident nobody runs as again, and gives the thread its own stack back.
pub(crate) fn exit_scope(saved: Scope) {
    let _ = LOCAL.try_with(|l| {
        let Ok(mut l) = l.try_borrow_mut() else {
            return;
        };
        let current = l.epoch == EPOCH.load(Ordering::Relaxed);
        if current && (l.held.len != 0 || FOREIGN_GEN.load(Ordering::Acquire) != l.foreign_seen) {
            let me = crate::thread::ident::current();
            // Under FOREIGN's lock, as `releasing` looks at ENDED: a release either was queued
            // (and is applied here) or finds the lock in ENDED.
            let mut q = FOREIGN.lock().unwrap_or_else(|e| e.into_inner());
            q.retain(|&(t, id)| {
                if t == me {
                    l.held.remove_oldest(id);
                }
                t != me
            });
            if l.held.len != 0 {
                let mut ended = ENDED.lock().unwrap_or_else(|e| e.into_inner());
                ended.extend(l.held.iter().map(|h| (me, h.id)));
            }
        }
        l.held = saved.held;
        // The thread's own queued releases (if any) are looked for again.
        l.foreign_seen = saved.foreign_seen;
    });
}

/// Registers the lock's node (once per lock) and returns its id.
#[inline]
fn node(identity: &Identity) -> u64 {
    let (id, registered) = identity.order_id();
    if !registered {
        graph::register(id, identity.describe());
        identity.set_in_order_graph();
    }
    id
}

/// Hook: a blocking or timed acquire of the lock with `identity` at `site`, done by `acquire`
/// (which returns whether it got the lock). First records the order held → this lock and
/// reports (or panics, before blocking) if it closes a cycle (nothing to do when the thread
/// holds no lock); then, if acquired, pushes the lock on the thread's stack.
#[inline(never)]
pub(crate) fn ordered_acquire(
    identity: &Identity,
    site: &'static Location<'static>,
    timed: bool,
    acquire: impl FnOnce() -> bool,
) -> bool {
    // A binding's caller's site, if it set one (crate::site::with_call_site).
    let site = crate::site::resolve(site);
    // `LOCAL` has no destructor, so it is accessible until the thread is gone.
    LOCAL.with(|cell| {
        if cell.try_borrow().is_ok_and(|l| l.held.len != 0) {
            check(identity, site, timed);
        }
        let got = acquire();
        if got {
            push(cell, identity, site);
        }
        got
    })
}

#[cold]
#[inline(never)]
fn check(identity: &Identity, site: Site, timed: bool) {
    let mode = current_mode();
    if mode == OFF {
        return;
    }
    let Some((new, missing, held)) = LOCAL
        .try_with(|l| {
            let mut l = l.try_borrow_mut().ok()?;
            if l.busy {
                return None;
            }
            l.sync_epoch();
            l.sync_cache();
            apply_foreign(&mut l);
            if l.held.len == 0 {
                return None;
            }
            let (new, _) = identity.order_id();
            let missing: Vec<Held> = l
                .held
                .iter()
                .filter(|h| h.id != new && l.cache[slot(h.id, new)] != (h.id, new))
                .copied()
                .collect();
            if missing.is_empty() {
                return None;
            }
            l.busy = true;
            Some((new, missing, l.held.iter().copied().collect::<Vec<_>>()))
        })
        .ok()
        .flatten()
    else {
        return;
    };
    // `busy` is set: clear it however this returns (a panic in Panic mode, or anything else
    // unwinding), or the checker would stay off for this thread for ever.
    let _not_busy = NotBusy;
    debug_assert_eq!(new, identity.order_id().0);
    let new = node(identity);
    let thread = current_thread();
    let mut reports = Vec::new();
    let mut known = Vec::new();
    for h in &missing {
        match graph::add_edge(h.id, new, &thread, h.site, site, mode == PANIC) {
            graph::Added::Known => known.push((h.id, new)),
            graph::Added::Cycle(chain, fresh) => {
                if mode != PANIC {
                    // Reported (or a duplicate of a reported cycle): do not check it again.
                    known.push((h.id, new));
                }
                if fresh {
                    reports.push((h.id, chain));
                }
            }
        }
    }
    let report = reports.into_iter().next().map(|(closing, chain)| {
        report::build(&thread, identity, site, &held, closing, chain, timed)
    });
    let _ = LOCAL.try_with(|l| {
        let Ok(mut l) = l.try_borrow_mut() else {
            return;
        };
        for (from, to) in known {
            l.cache[slot(from, to)] = (from, to);
        }
    });
    if let Some(report) = report {
        if mode == PANIC {
            set_busy(false);
            panic!("{}", report);
        }
        crate::diagnostics::report::emit(&crate::diagnostics::Report::PotentialDeadlock(report));
    }
}

/// Clears the thread's `busy` flag when dropped.
struct NotBusy;

impl Drop for NotBusy {
    fn drop(&mut self) {
        set_busy(false);
    }
}

fn set_busy(on: bool) {
    let _ = LOCAL.try_with(|l| {
        if let Ok(mut l) = l.try_borrow_mut() {
            l.busy = on;
        }
    });
}

/// The calling thread, as reports name it. Never registers the thread (the checker may run
/// inside the registry's own set-up): a thread threadkit has not met yet is `"<ident N>"`, as
/// in dumps.
fn current_thread() -> crate::diagnostics::ThreadRef {
    let ident = crate::thread::ident::current();
    let name = match crate::thread::registry::current_if_known() {
        Some(t) => t.name(),
        None => format!("<ident {ident}>").into(),
    };
    crate::diagnostics::ThreadRef { ident, name }
}

/// Hook: the calling thread has acquired the lock with `identity` at `site` without a check
/// (a try, a Condition's re-acquire).
#[inline(never)]
pub(crate) fn acquired(identity: &Identity, site: &'static Location<'static>) {
    let site = crate::site::resolve(site);
    let _ = LOCAL.try_with(|cell| push(cell, identity, site));
}

#[inline]
fn push(cell: &RefCell<Local>, identity: &Identity, site: Site) {
    if MODE.load(Ordering::Relaxed) == UNSET && current_mode() == OFF {
        return;
    }
    let Ok(mut l) = cell.try_borrow_mut() else {
        return;
    };
    if l.busy {
        return;
    }
    l.sync_epoch();
    let id = node(identity);
    l.held.push(Held { id, site });
}

/// Hook: the lock with `identity`, acquired by the thread `acquirer` (`None` or 0: unknown), is
/// being released by the calling thread, `me`.
#[inline(never)]
pub(crate) fn releasing(identity: &Identity, acquirer: Option<u64>, me: u64) {
    let (id, registered) = identity.order_id();
    if !registered {
        return; // never pushed anywhere
    }
    match acquirer {
        Some(t) if t != 0 && t != me => {
            let mut q = FOREIGN.lock().unwrap_or_else(|e| e.into_inner());
            let mut ended = ENDED.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = ended.iter().position(|&e| e == (t, id)) {
                ended.swap_remove(i);
                return;
            }
            drop(ended);
            q.push((t, id));
            FOREIGN_GEN.fetch_add(1, Ordering::Release);
        }
        _ => {
            let _ = LOCAL.try_with(|l| {
                let Ok(mut l) = l.try_borrow_mut() else {
                    return;
                };
                l.held.remove_newest(id);
            });
        }
    }
}

/// A lock was dropped: its node and edges leave the graph.
#[cfg_attr(not(feature = "lock-order"), allow(dead_code))] // called by `Identity`'s `Drop`
pub(crate) fn forget(id: u64) {
    graph::forget(id);
}

/// Forgets every recorded order and every reported cycle (for tests that reuse locks across
/// scenarios). Locks currently held stay held.
///
/// # Examples
///
/// ```
/// threadkit::diagnostics::reset_lock_order();
/// ```
pub fn reset_lock_order() {
    graph::reset();
    GRAPH_GEN.fetch_add(1, Ordering::Relaxed);
}
