//! Diagnostics: who waits on what, held by whom, for how long.
//!
//! When a threaded program hangs or crawls, threadkit says why, in names: a [thread dump](dump)
//! lists every thread with what it waits on, who holds it and where they acquired it; the
//! [deadlock finder](find_deadlocks) returns the cycles of threads blocked on each other; a
//! [`Watchdog`] reports deadlocks and stalls as they happen, or dumps after a timeout; and a
//! [contention profile](contention_profile) says whose critical sections kept others waiting.
//!
//! Everything here reads what the primitives publish when they block (`src/wait`: the kind of
//! wait, the object, the call site, since when, until when); none of it touches an uncontended
//! acquire beyond one relaxed store of the acquire site in [`Lock`](crate::Lock).
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
//! `ledger`, "beta" the other way round) prints:
//!
//! ```text
//! threadkit: Deadlock (cycle of 2 threads):
//!   "alpha" #2 waits to acquire Lock "ledger" #2 at examples/deadlock_dump.rs:31 (for 1.00s, timeout in 2.00s)
//!       held by "beta" #3, acquired at examples/deadlock_dump.rs:40
//!   "beta" #3 waits to acquire Lock "accounts" #1 at examples/deadlock_dump.rs:43 (for 1.00s, timeout in 2.00s)
//!       held by "alpha" #2, acquired at examples/deadlock_dump.rs:28
//! ```
//!
//! A queue join that never returns because a worker died without calling `task_done` shows the
//! joiner, and the worker is simply gone from the list:
//!
//! ```text
//! "MainThread" #1 [tid 4242] WAITING for 12.00s
//!     waiting in a queue join at src/main.rs:30
//! ```
//!
//! A thread waiting on an Event nobody sets:
//!
//! ```text
//! "loader" #4 [tid 4250] WAITING for 30.02s
//!     waiting to wait on Event "config-loaded" #7 (created at src/main.rs:12) at src/loader.rs:20
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
//! there). Queue and timer waits publish their kind and call site but not their object yet.
//!
//! # Costs
//!
//! Measured side by side with parking_lot in one run (see BENCHMARKS.md): an uncontended
//! `Lock` acquire+release stays within the issue's 1.05× of `parking_lot::Mutex<()>`. A wait
//! that parks publishes a record (a thread-local lookup, `Instant::now()`, two uncontended std
//! mutex lock/unlock pairs), small next to the park itself. Sizes: see each type's docs
//! (`Lock<()>` 8 → 48 bytes: state, holder's acquire site, identity of 32 bytes).

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
/// joins, a Condition waiter's re-acquire), checked against a second snapshot so that a cycle
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
