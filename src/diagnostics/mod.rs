//! Diagnostics: who waits on what, held by whom, for how long.
//!
//! When a threaded program hangs or crawls, threadkit says why, in names: a [thread dump](dump)
//! lists every thread with what it waits on, who holds it and where they acquired it; the
//! [deadlock finder](find_deadlocks) returns the cycles of threads blocked on each other; a
//! [`Watchdog`] reports deadlocks and stalls as they happen, or dumps after a timeout; and a
//! [contention profile](contention_profile) says whose critical sections kept others waiting.
//!
//! Everything here reads what the primitives publish when they block (`src/wait`: the kind of
//! wait, the object, the call site, since when, until when). The only cost on an uncontended
//! acquire is [`Lock`](crate::Lock)'s record of its holder's acquire site: one relaxed load of
//! a switch, and a store when [holder sites](set_holder_sites) are on (debug builds).
//!
//! # Debugging a hung program
//!
//! Name the objects and threads you will want to read about (`Lock::named("accounts")`,
//! `Builder::new().name("alpha")`); unnamed objects are shown by their creation site
//! (`Lock@src/bank.rs:42`). Then, when it hangs, get a dump: call [`dump`] from a thread that
//! is still alive, start a [`Watchdog`] early (it prints deadlocks and stalls to stderr, or
//! to your [hook](set_report_hook)), use [`dump_later`] as Python's
//! `faulthandler.dump_traceback_later`, or, with the `signal` feature, send `kill -QUIT <pid>`.
//!
//! A real ABBA deadlock (`examples/deadlock_dump.rs`: "alpha" holds `accounts` and wants
//! `ledger`, "beta" the other way round), as the watchdog prints it:
//!
//! ```text
//! threadkit: Deadlock (cycle of 2 threads):
//!   "alpha" #2 waits to acquire Lock "ledger" #1 at examples/deadlock_dump.rs:22 (for 0.07s, timeout in 2.93s)
//!       held by "beta" #3, acquired at examples/deadlock_dump.rs:36
//!   "beta" #3 waits to acquire Lock "accounts" #2 at examples/deadlock_dump.rs:39 (for 0.04s, timeout in 2.93s)
//!       held by "alpha" #2, acquired at examples/deadlock_dump.rs:19
//! threadkit thread dump (3 threads, 1 deadlock)
//!
//! "MainThread" #1 [tid 9888] WAITING for 0.07s
//!     waiting to join "alpha" #2 at examples/deadlock_dump.rs:78
//!
//! "alpha" #2 [tid 9891] BLOCKED for 0.07s (timeout in 2.93s)
//!     waiting to acquire Lock "ledger" #1 (created at examples/deadlock_dump.rs:61) at examples/deadlock_dump.rs:22
//!         held by "beta" #3, acquired at examples/deadlock_dump.rs:36
//!     holding Lock "accounts" #2, acquired at examples/deadlock_dump.rs:19; 1 waiting, the longest for 0.04s
//! ...
//! ```
//!
//! A queue whose `join` never returns (an item was put and no worker is left to take it and call
//! `task_done`), and a thread waiting on an Event nobody sets:
//!
//! ```text
//! "loader" #2 daemon [tid 10097] WAITING for 0.30s
//!     waiting on Event "config-loaded" #1 (created at src/main.rs:7) at src/main.rs:9
//!
//! "flusher" #3 daemon [tid 10098] WAITING for 0.30s
//!     waiting for task_done on Queue "uploads" #2 (created at src/main.rs:4) at src/main.rs:10 (1 items, 1 unfinished tasks)
//! ```
//!
//! # What threadkit cannot see
//!
//! Only threadkit's own primitives and joins publish: a thread blocked in a `std::sync::Mutex`,
//! a channel, I/O or `sleep` shows as `RUNNABLE`. Safe Rust cannot walk another thread's stack,
//! so a dump gives call sites (`#[track_caller]`: the line that called `acquire`, `wait`,
//! `join`), not backtraces. A thread is listed as *holding* a lock only when another thread
//! waits for it (a per-thread list of every held lock would cost every uncontended acquire; the
//! lock-order checker will keep one, under its own switch). A Condition waiter that was notified
//! and moved onto the lock's queue still shows as waiting on the Condition until it wakes; that
//! re-acquire edge is missing from the deadlock finder (the re-acquire after a plain wake-up is
//! there). The timer service's internal waits publish no object.
//!
//! # Costs
//!
//! Measured with `threadkit-bench` against parking_lot in the same run, alternating runs of the
//! code before diagnostics and after (3 to 8 runs each), on a shared, loaded 2-vCPU VM (median
//! ratio to the peer; spread across runs in brackets):
//!
//! | case | before | after |
//! |---|---|---|
//! | `Lock` acquire+release, uncontended, holder sites off (release default) | 1.04 [0.91–1.20] | 1.04 [0.85–1.29] |
//! | the same with a store of the holder's site (holder sites on) | 1.03 [1.02–1.03] | 1.31 [1.31–1.32] |
//! | `Condition` ping-pong, one CPU | 1.07 [1.05–1.08] | 1.09 [1.07–1.10] |
//! | `Event` ping-pong, one CPU | 0.97 [0.94–1.00] | 1.00 [0.99–1.00] |
//!
//! A wait that parks publishes a record: a thread-local lookup, a read of the coarse monotonic
//! clock, a few plain stores, and one `SeqCst` store and load to withdraw it. Sizes grew by the
//! identity (24 bytes: kind and id, creation site, name pointer) and, for `Lock`, the holder's
//! acquire site: `Lock<()>` 8 → 40 bytes, `RLock` 16 → 48, `Condition<Lock>` 16 → 72,
//! `Event` 1 → 32, `Semaphore` 8 → 32, `BoundedSemaphore` 16 → 40, `Barrier` 112 → 144 (its
//! internal lock carries its identity). A dump of 1,000 blocked threads (test `dump_of_1000_threads`,
//! release build, 5 runs) takes 1.0–2.1 ms to snapshot (including the deadlock check) and
//! 0.7–1.4 ms to format (213 kB of text); `find_deadlocks` alone 0.4 ms.
//!
//! # For the lock-order checker (a later addition)
//!
//! Every acquisition of a `Lock` (and so of an `RLock`, and of a `Condition`'s lock on its
//! re-acquire) passes through one place, `Lock::note_acquired`, with the call site, behind one
//! relaxed load of a switch: that is where a per-thread held-lock stack and the order graph
//! (keyed by [`ObjectInfo::id`], never by address) will hook in, under their own switch, and
//! `Lock::raw_release` is the one release. A potential deadlock will be reported through the
//! same [report hook](set_report_hook), as a new [`Report`] variant distinct from
//! [`Report::Deadlock`].

mod deadlock;
mod format;
mod profile;
mod report;
#[cfg(all(feature = "signal", unix))]
mod signal;
mod snapshot;
mod watchdog;

pub use crate::identity::{ObjectInfo, ObjectKind};
pub use crate::wait::WaitKind;
pub use deadlock::{Deadlock, DeadlockLink};
pub use profile::{
    contention_profile, contention_profiling, reset_contention_profile, set_contention_profiling,
    ContentionProfile, ObjectContention, SiteStats, WaitStats,
};
pub use report::{default_report_hook, reset_report_hook, set_report_hook, Report, Stall};
#[cfg(all(feature = "signal", unix))]
pub use signal::{dump_on_signal, SignalDump};
pub use snapshot::{
    HeldInfo, HolderInfo, ThreadDump, ThreadRef, ThreadSnapshot, ThreadState, WaitInfo,
};
pub use watchdog::{dump_later, Watchdog, WatchdogHandle};

/// Whether [`Lock`](crate::Lock) and [`RLock`](crate::RLock) record where their holder acquired
/// them, so that dumps and deadlock reports say "held by alpha, acquired at src/bank.rs:40".
///
/// On by default in debug builds, off in release builds, where it would cost an uncontended
/// acquire one store (measured +25–30% on an empty critical section: the store must drain before
/// the release's atomic instruction); off, the cost is one relaxed load of this switch. Turn it
/// on at the start of a release program you want to diagnose. Locks acquired while it was off
/// show no acquire site.
///
/// # Examples
///
/// ```
/// use threadkit::diagnostics;
///
/// diagnostics::set_holder_sites(true);
/// assert!(diagnostics::holder_sites());
/// ```
pub fn set_holder_sites(on: bool) {
    crate::wait::record::HOLDER_SITES.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Whether holder sites are recorded (see [`set_holder_sites`]).
///
/// # Examples
///
/// ```
/// assert_eq!(threadkit::diagnostics::holder_sites(), cfg!(debug_assertions));
/// ```
pub fn holder_sites() -> bool {
    crate::wait::record::HOLDER_SITES.load(std::sync::atomic::Ordering::Relaxed)
}

/// A thread dump: every thread threadkit knows, what each waits on and who holds it, and the
/// deadlocks among them.
///
/// Never blocks on a lock a user thread holds: it reads each blocked thread's published record
/// under a per-thread mutex that the thread itself holds only to set or clear the record, and
/// the thread registry's lock, which threadkit holds only briefly. Works while every other
/// thread is blocked.
///
/// # Examples
///
/// ```
/// let dump = threadkit::diagnostics::dump();
/// assert!(dump.threads.iter().any(|t| &*t.thread.name == "MainThread"));
/// println!("{dump}");
/// ```
pub fn dump() -> ThreadDump {
    snapshot::take()
}

/// The threads deadlocked right now: each cycle in the wait-for graph (Lock and RLock holders,
/// joins, a Condition waiter taking its lock back once woken), checked against a second snapshot so that a cycle
/// that has already broken is never reported.
///
/// # Examples
///
/// ```
/// assert!(threadkit::diagnostics::find_deadlocks().is_empty());
/// ```
pub fn find_deadlocks() -> Vec<Deadlock> {
    deadlock::find()
}
