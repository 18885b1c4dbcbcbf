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

pub(crate) mod graph;
pub(crate) mod held;
mod report;
#[cfg(test)]
mod tests;

use crate::site::Site;
use std::cell::Cell;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use crate::identity::Identity;
use held::{Held, Shared};

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
    /// their guards. For tests. An inverted acquire made while the thread is already unwinding
    /// (by a `Drop`) is reported as in `Report` mode instead: a second panic would abort the
    /// process.
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

/// Serializes the changes of [`MODE`] with the armed bit of the instrumentation word, so that
/// the bit always ends up saying whether the last mode stored is not [`OFF`].
static MODE_CHANGE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Whether the hooks must run (one relaxed load: the whole cost of a disarmed checker). The
/// bit lives in the instrumentation word ([`TRACKING`](crate::wait::record::TRACKING)), which
/// Lock's acquire reads once for this and the holder-site and profile switches together.
#[inline(always)]
pub(crate) fn armed() -> bool {
    cfg!(all(feature = "lock-order", not(loom)))
        && crate::wait::record::tracking(crate::wait::record::TRACK_LOCK_ORDER)
}

/// [`armed`] for an instrumentation word already read (`tracking`).
#[inline(always)]
pub(crate) fn armed_in(tracking: u8) -> bool {
    cfg!(all(feature = "lock-order", not(loom)))
        && tracking & crate::wait::record::TRACK_LOCK_ORDER != 0
}

/// Stores `mode` (under [`MODE_CHANGE`]) and sets the armed bit to match; returns the mode
/// it replaced.
fn store_mode(mode: u8) -> u8 {
    let _serial = MODE_CHANGE.lock().unwrap_or_else(|e| e.into_inner());
    let old = MODE.swap(mode, Ordering::Relaxed);
    crate::wait::record::set_tracking(crate::wait::record::TRACK_LOCK_ORDER, mode != OFF);
    old
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
    let old = store_mode(new);
    if new != OFF && (old == OFF || old == UNSET) {
        EPOCH.fetch_add(1, Ordering::Relaxed);
        held::mark_all_stale();
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
    let _serial = MODE_CHANGE.lock().unwrap_or_else(|e| e.into_inner());
    match MODE.compare_exchange(UNSET, chosen, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => {
            // UNSET counted as armed; the bit is already set unless the choice is OFF.
            if chosen == OFF {
                crate::wait::record::set_tracking(crate::wait::record::TRACK_LOCK_ORDER, false);
            }
            chosen
        }
        Err(now) => now,
    }
}

/// Whether a new edge captures a backtrace: [`UNSET`] until decided from the environment.
static BACKTRACES: AtomicU8 = AtomicU8::new(UNSET);

/// Sets whether the lock-order checker captures a backtrace of each order it records for the
/// first time, and prints it in the report under that order.
///
/// Off by default; without a call, `THREADKIT_LOCK_ORDER_BACKTRACE=1` (read on the first new
/// order) turns it on. The capture ([`std::backtrace::Backtrace::force_capture`], resolved only
/// when a report is printed) costs some microseconds, only when on and only on an order seen
/// for the first time: an acquire in an order already recorded pays nothing for it. Orders
/// recorded while it was off have no backtrace.
///
/// # Examples
///
/// ```
/// use threadkit::diagnostics::{self, LockOrderMode, Report};
/// use threadkit::Lock;
/// use std::sync::{Arc, Mutex};
///
/// let text = Arc::new(Mutex::new(String::new()));
/// let sink = Arc::clone(&text);
/// diagnostics::set_report_hook(move |r: &Report| {
///     if let Report::PotentialDeadlock(p) = r {
///         assert!(p.chain[0].backtrace.is_some());
///         *sink.lock().unwrap() = p.to_string();
///     }
/// });
/// diagnostics::set_lock_order_mode(LockOrderMode::Report);
/// diagnostics::set_lock_order_backtraces(true);
/// let (a, b) = (Lock::named("a"), Lock::named("b"));
/// drop((a.acquire(), b.acquire())); // records a -> b, with a backtrace
/// drop((b.acquire(), a.acquire())); // inverts it: reported
/// diagnostics::set_lock_order_backtraces(false);
/// diagnostics::reset_report_hook();
/// assert!(text.lock().unwrap().contains("order first recorded at:"));
/// ```
pub fn set_lock_order_backtraces(on: bool) {
    BACKTRACES.store(u8::from(on), Ordering::Relaxed);
}

/// Whether the lock-order checker captures a backtrace per new order (see
/// [`set_lock_order_backtraces`]).
///
/// # Examples
///
/// ```
/// threadkit::diagnostics::set_lock_order_backtraces(false);
/// assert!(!threadkit::diagnostics::lock_order_backtraces());
/// ```
pub fn lock_order_backtraces() -> bool {
    backtraces()
}

fn backtraces() -> bool {
    match BACKTRACES.load(Ordering::Relaxed) {
        UNSET => {
            let on = matches!(
                std::env::var("THREADKIT_LOCK_ORDER_BACKTRACE").as_deref(),
                Ok("1") | Ok("on") | Ok("true") | Ok("full")
            );
            let _ = BACKTRACES.compare_exchange(
                UNSET,
                u8::from(on),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            BACKTRACES.load(Ordering::Relaxed) == 1
        }
        v => v == 1,
    }
}

/// Edges a thread keeps in its cache (direct-mapped by a hash of the pair).
const CACHE_SLOTS: usize = 128;

/// The per-thread state. No `RefCell`: every field is a `Cell` or the published stack's atomics,
/// so the hot path pays no borrow flag, and a report hook that takes locks on the same thread
/// (inside the checker's slow path) finds the state usable.
struct Local {
    /// The held stack, published for dumps (see [`held`]).
    shared: Arc<Shared>,
    /// The [`GRAPH_GEN`] the cache belongs to.
    cache_gen: Cell<u64>,
    /// Edges this thread knows to be in the graph.
    cache: [Cell<(u64, u64)>; CACHE_SLOTS],
    /// Inside the checker's slow path or the report hook: acquires are not pushed (the thread's
    /// name is itself behind a threadkit Lock, and the hook may take locks).
    busy: Cell<bool>,
}

impl Drop for Local {
    fn drop(&mut self) {
        self.shared.unregister();
    }
}

thread_local! {
    static LOCAL: Local = {
        Local {
            shared: Shared::register(),
            cache_gen: Cell::new(0),
            cache: std::array::from_fn(|_| Cell::new((0, 0))),
            busy: Cell::new(false),
        }
    };
}

#[inline(always)]
fn slot(from: u64, to: u64) -> usize {
    let h = (from.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ to).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    (h >> 57) as usize % CACHE_SLOTS
}

impl Local {
    /// Whether the edge `from → to` is known to be in the graph.
    #[inline(always)]
    fn knows(&self, from: u64, to: u64) -> bool {
        from == to || self.cache[slot(from, to)].get() == (from, to)
    }

    /// The stack, caches and mode are current: nothing to bring up to date first.
    #[inline(always)]
    fn in_sync(&self) -> bool {
        !self.shared.is_stale()
    }

    /// Brings the thread's state up to date: drops a stack from an earlier arming (releases
    /// made while the checker was off were not seen), an edge cache from before a
    /// [`reset_lock_order`], and applies releases made by other threads. Returns whether the
    /// checker is armed.
    #[cold]
    #[inline(never)]
    fn sync(&self) -> bool {
        if !self.sync_state() {
            return false;
        }
        self.apply_releases();
        true
    }

    /// [`sync`](Self::sync) but for the releases made by other threads, which a push applies
    /// after pushing: a release made between the acquire and its push is aimed at that entry.
    #[cold]
    #[inline(never)]
    fn sync_state(&self) -> bool {
        if current_mode() == OFF {
            return false;
        }
        self.shared.clear_stale();
        let epoch = EPOCH.load(Ordering::Relaxed);
        if self.shared.epoch.load(Ordering::Relaxed) != epoch {
            self.shared.clear();
            self.shared.epoch.store(epoch, Ordering::Relaxed);
        }
        self.sync_cache();
        true
    }

    /// Applies the releases other threads made of locks on this thread's stack, if any.
    #[inline(always)]
    fn apply_releases(&self) {
        if self.shared.has_pending() {
            self.shared.apply_foreign();
        }
    }

    fn sync_cache(&self) {
        let gen = GRAPH_GEN.load(Ordering::Relaxed);
        if self.cache_gen.get() != gen {
            self.cache_gen.set(gen);
            for c in &self.cache {
                c.set((0, 0));
            }
        }
    }
}

/// A thread's own held stack, set aside by [`enter_scope`] while the thread runs as another (a
/// timer worker running a Timer's function as the Timer's thread).
pub(crate) struct Scope {
    held: Vec<Held>,
    ident: u64,
    epoch: u64,
}

/// Starts a scope with an empty held stack, published under `acting_as`: called by a timer
/// worker just before it acts as the Timer's thread `acting_as`. The Timer has a stack of its
/// own, as a thread does: what it acquires is not held by the next Timer the worker runs, a
/// dump lists its locks under the Timer's ident, and a release by another thread of a lock it
/// holds is queued on its stack. Releases queued for the worker's own stack are applied first.
pub(crate) fn enter_scope(acting_as: u64) -> Scope {
    let own = crate::thread::ident::current();
    LOCAL
        .try_with(|l| {
            let saved = Scope {
                held: l.shared.take_stack(),
                ident: own,
                epoch: l.shared.epoch.load(Ordering::Relaxed),
            };
            l.shared.ident.store(acting_as, Ordering::Relaxed);
            // The scope's first check or push brings it up to date (the epoch, the cache).
            l.shared.mark_stale();
            saved
        })
        .unwrap_or(Scope {
            held: Vec::new(),
            ident: own,
            epoch: 0,
        })
}

/// Ends a scope from [`enter_scope`], before the Timer's thread is marked stopped: applies the
/// releases queued for the Timer's stack and drops what it left on it (a lock it returned
/// holding), as for a thread that exits holding a lock: with the stack published under the
/// worker's ident again, a later release aimed at the Timer finds no stack and is dropped, not
/// queued for an ident nobody runs as again. Gives the worker its own stack back.
pub(crate) fn exit_scope(saved: Scope) {
    let _ = LOCAL.try_with(|l| {
        drop(l.shared.take_stack());
        l.shared.put_stack(&saved.held);
        l.shared.ident.store(saved.ident, Ordering::Relaxed);
        l.shared.epoch.store(saved.epoch, Ordering::Relaxed);
        // Releases aimed at the worker during the scope, an arming, a reset: looked at again.
        l.shared.mark_stale();
    });
}

/// Registers the lock's node (once per lock) and returns its id.
#[inline(always)]
fn node(identity: &Identity) -> u64 {
    let (id, registered) = identity.order_id();
    if !registered {
        register(identity);
    }
    id
}

#[cold]
#[inline(never)]
fn register(identity: &Identity) {
    graph::register(identity.order_id().0, identity.describe());
    identity.set_in_order_graph();
}

/// Hook: a blocking or timed acquire of the lock with `identity` at `site`: `fast` tries once
/// without blocking, `slow` blocks (both return whether they got the lock). First records the
/// order held → this lock and reports (or panics, before blocking) if it closes a cycle (nothing
/// to do when the thread holds no lock); then, if acquired, pushes the lock on the thread's
/// stack.
///
/// Out of line (as are the other hooks), so that the disarmed acquire stays small enough to be
/// inlined into its caller. The common case (no lock held, lock free, nothing to bring up to
/// date) calls nothing, so that it saves no registers; anything else goes to
/// [`ordered_acquire_full`].
#[inline(never)]
pub(crate) fn ordered_acquire(
    identity: &Identity,
    site: &'static Location<'static>,
    timed: bool,
    fast: impl Fn() -> bool,
    slow: impl Fn() -> bool,
) -> bool {
    // A binding's caller's site, if it set one (crate::site::with_call_site).
    let site = crate::site::resolve(site);
    /// What is left to do after the fast path.
    enum Next {
        Done,
        Push,
        Full,
    }
    let next = LOCAL.try_with(|l| {
        if l.shared.len() != 0 || !fast() {
            return Next::Full;
        }
        match identity.registered_order_id() {
            Some(id)
                if !l.busy.get()
                    && !l.shared.is_stale()
                    && !crate::wait::record::tracking(crate::wait::record::TRACK_HOLDER_SITES) =>
            {
                l.shared.push(Held { id, site, since: 0 });
                Next::Done
            }
            _ => Next::Push,
        }
    });
    // Only tail calls from here: nothing returns into this frame.
    match next {
        Ok(Next::Done) => true,
        Ok(Next::Push) => push_acquired(identity, site),
        _ => ordered_acquire_full(identity, site, timed, fast, slow),
    }
}

/// The rest of [`ordered_acquire`]'s fast path when the push needs more than a push.
#[inline(never)]
fn push_acquired(identity: &Identity, site: Site) -> bool {
    let _ = LOCAL.try_with(|l| push_slow(l, identity, site));
    true
}

/// [`ordered_acquire`] in full: the check (when the thread holds locks), the acquire, the push.
#[inline(never)]
fn ordered_acquire_full(
    identity: &Identity,
    site: Site,
    timed: bool,
    fast: impl Fn() -> bool,
    slow: impl Fn() -> bool,
) -> bool {
    // One thread-local access for the check, the acquire and the push. `try_with`: during
    // thread-local teardown the checker steps aside and the lock is simply acquired.
    let done = LOCAL.try_with(|l| {
        if l.shared.len() != 0 {
            check(l, identity, site, timed);
        }
        let got = fast() || slow();
        if got {
            push_slow(l, identity, site);
        }
        got
    });
    match done {
        Ok(got) => got,
        Err(_) => fast() || slow(),
    }
}

/// Hook: the check of [`ordered_acquire`] alone, for a primitive that acquires through its own
/// `#[track_caller]` path (an opted-in semaphore), followed by [`acquired`] when it gets it.
#[inline]
pub(crate) fn check_before(identity: &Identity, site: &'static Location<'static>, timed: bool) {
    let site = crate::site::resolve(site);
    let _ = LOCAL.try_with(|l| {
        if l.shared.len() != 0 {
            check(l, identity, site, timed);
        }
    });
}

/// The nested acquire's check: when every held lock's order with the new one is in the
/// thread's cache, that is all (no global lock); otherwise [`check_slow`].
#[inline]
fn check(l: &Local, identity: &Identity, site: Site, timed: bool) {
    if l.busy.get() || !l.in_sync() && !l.sync() {
        return;
    }
    let new = identity.order_id().0;
    let n = l.shared.len();
    if (0..n).all(|i| l.knows(l.shared.get(i).id, new)) {
        return;
    }
    check_slow(l, identity, site, timed);
}

#[cold]
#[inline(never)]
fn check_slow(l: &Local, identity: &Identity, site: Site, timed: bool) {
    let mode = current_mode();
    if mode == OFF {
        return;
    }
    l.sync_cache();
    l.shared
        .ident
        .store(crate::thread::ident::current(), Ordering::Relaxed);
    let held = l.shared.entries();
    let new = node(identity);
    let missing: Vec<Held> = held
        .iter()
        .filter(|h| !l.knows(h.id, new))
        .copied()
        .collect();
    if missing.is_empty() {
        return;
    }
    l.busy.set(true);
    // Cleared however this returns: a panic in Panic mode, or anything else unwinding (a
    // report hook's panic is caught by `emit`, but the checker must not rely on it), or the
    // checker would stay off for this thread for ever.
    let _not_busy = NotBusy(&l.busy);
    let thread = current_thread();
    let capture = backtraces();
    let mut reports = Vec::new();
    for h in &missing {
        let known = match graph::add_edge(h.id, new, &thread, h.site, site, mode == PANIC, capture)
        {
            graph::Added::Known => true,
            graph::Added::Cycle(chain, fresh) => {
                if fresh {
                    reports.push((h.id, chain));
                }
                // Reported (or a duplicate of a reported cycle): not checked again, except in
                // panic mode, where each inverted acquire panics.
                mode != PANIC
            }
        };
        if known {
            l.cache[slot(h.id, new)].set((h.id, new));
        }
    }
    let report = reports.into_iter().next().map(|(closing, chain)| {
        report::build(&thread, identity, site, &held, closing, chain, timed)
    });
    if let Some(report) = report {
        #[cfg(test)]
        let quiet = tests::witness(&report);
        #[cfg(not(test))]
        let quiet = false;
        // Not while unwinding: a panic then aborts the process (a `Drop` that takes locks in
        // the inverted order, run by another panic): reported instead.
        if mode == PANIC && !std::thread::panicking() {
            panic!("{}", report);
        }
        if !quiet {
            crate::diagnostics::report::emit(&crate::diagnostics::Report::PotentialDeadlock(
                report,
            ));
        }
    }
}

/// Clears the thread's `busy` flag when dropped.
struct NotBusy<'a>(&'a Cell<bool>);

impl Drop for NotBusy<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
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
    let _ = LOCAL.try_with(|l| push_slow(l, identity, site));
}

/// Pushes an acquired lock on the thread's stack, bringing the thread's state up to date
/// first, registering the lock's node and stamping the time as needed.
#[inline(never)]
fn push_slow(l: &Local, identity: &Identity, site: Site) {
    if l.busy.get() || !l.in_sync() && !l.sync_state() {
        return;
    }
    let id = node(identity);
    let since = if crate::wait::record::tracking(crate::wait::record::TRACK_HOLDER_SITES) {
        now_nanos()
    } else {
        0
    };
    l.shared.push(Held { id, site, since });
    // After the push: another thread may have released this very lock since this thread took
    // it (Python allows it), and queued the release for this thread.
    l.apply_releases();
}

/// The acquire time stamped on held-lock entries (nonzero).
fn now_nanos() -> u64 {
    (crate::wait::record::clock().as_nanos() as u64).max(1)
}

/// Hook: the lock with `identity`, acquired by the thread `acquirer` (`None` or 0: unknown), is
/// being released by the calling thread, `me`.
#[inline(never)]
pub(crate) fn releasing(identity: &Identity, acquirer: Option<u64>, me: u64) {
    let (id, registered) = identity.order_id();
    match acquirer {
        // Registered here if need be: the acquirer may have taken the lock for the first time
        // and not pushed it yet (it registers the lock as it pushes), and the release is then
        // queued for it.
        Some(t) if t != 0 && t != me => held::release_elsewhere(node(identity), acquirer),
        _ if !registered => {} // never pushed anywhere
        _ => {
            let _ = LOCAL.try_with(|l| l.shared.remove_newest(id));
        }
    }
}

/// Hook: a lock with no owner (a [`Semaphore`](crate::Semaphore) opted in with
/// `with_lock_order`) is released by the calling thread: off its own stack if there, otherwise
/// off the stack of the thread that holds it.
#[inline]
pub(crate) fn releasing_unowned(identity: &Identity) {
    let (id, registered) = identity.order_id();
    if !registered {
        return;
    }
    let mine = LOCAL.try_with(|l| l.shared.remove_newest(id));
    if mine == Ok(false) {
        held::release_elsewhere(id, None);
    }
}

/// Every live thread's held locks, as a thread dump lists them: `(thread ident, [(lock, where
/// acquired, held for)])`, oldest first. `None` while the checker is disarmed (nothing is
/// tracked then).
pub(crate) fn held_locks() -> Option<Vec<(u64, Vec<HeldLockInfo>)>> {
    if current_mode() == OFF {
        return None;
    }
    let epoch = EPOCH.load(Ordering::Relaxed);
    Some(
        held::all_held(epoch)
            .into_iter()
            .map(|(ident, locks)| {
                let locks = locks
                    .into_iter()
                    .filter_map(|h| {
                        Some(HeldLockInfo {
                            object: graph::info(h.id)?,
                            acquired_at: h.site,
                            held_for: h.held_for,
                        })
                    })
                    .collect();
                (ident, locks)
            })
            .collect(),
    )
}

/// One lock a thread holds, for the thread dump (see [`held_locks`]).
pub(crate) struct HeldLockInfo {
    pub(crate) object: crate::diagnostics::ObjectInfo,
    pub(crate) acquired_at: Site,
    pub(crate) held_for: Option<std::time::Duration>,
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
    held::mark_all_stale();
}
