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
//! acquire is one relaxed load of a word of switches, and with one of them on, a store of the
//! holder's acquire site ([holder sites](set_holder_sites): debug builds) and a count of the
//! acquisition ([contention profile](set_contention_profiling)).
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
//!         no set() has woken a waiter yet
//!
//! "flusher" #3 daemon [tid 10098] WAITING for 0.30s
//!     waiting for task_done on Queue "uploads" #2 (created at src/main.rs:4) at src/main.rs:10 (1 items, 1 unfinished tasks)
//! ```
//!
//! A Condition waiter notified while the notifier still holds the lock sleeps on, now waiting
//! for the lock, and the dump says so (a deadlock through this phase, the notifier blocking on
//! a lock the waiter holds, is found like any other); a waiter on an Event shows who last woke
//! its waiters; the timer service names the next Timer due (`consumer` and `producer` share a
//! `Condition::with_lock_named("ready", Lock::named("queue"))`; `flush-cache` is a pending
//! Timer):
//!
//! ```text
//! "consumer" #2 [tid 18793] BLOCKED for 0.46s
//!     waiting to re-acquire Lock "queue" #5 (created at src/main.rs:6) after waiting on Condition "ready" #23 at src/main.rs:10
//!         held by "producer" #3, acquired at src/main.rs:15
//!
//! "producer" #3 [tid 18794] RUNNABLE
//!     holding Lock "queue" #5, acquired at src/main.rs:15; 1 waiting, the longest for 0.46s
//!
//! "loader-2" #6 daemon [tid 18797] TIMED_WAITING for 0.30s (timeout in 4.70s)
//!     waiting on Event "config-loaded" #24 (created at src/main.rs:20) at src/main.rs:29
//!         last set by "config" #5 at src/main.rs:25, 0.30s ago
//!
//! "flush-cache" #7 RUNNABLE
//!
//! "threadkit timer service" #8 [tid 18798] TIMED_WAITING for 0.30s (timeout in 29.70s)
//!     waiting on Timer "threadkit timer service" #25 (created at src/timer/service.rs:193) at src/timer/service.rs:419 (1 Timers scheduled, next "flush-cache")
//! ```
//!
//! # What threadkit cannot see
//!
//! Only threadkit's own primitives and joins publish: a thread blocked in a `std::sync::Mutex`,
//! a channel, I/O or `sleep` shows as `RUNNABLE`. Safe Rust cannot walk another thread's stack,
//! so a dump gives call sites (`#[track_caller]`: the line that called `acquire`, `wait`,
//! `join`), not backtraces. With the lock-order checker disarmed (release builds' default), a
//! thread is listed as *holding* a lock only when another thread waits for it (a per-thread list
//! of every held lock would cost every uncontended acquire); armed, the checker's per-thread
//! list of held `Lock`s and `RLock`s is published, and the dump lists every one of them (but
//! for locks acquired beyond the list's 32 entries or inside a report hook). An RLock's
//! recursion count is shown for an RLock someone waits for (its waiter's record carries it);
//! one nobody waits for shows without it (publishing every re-entry would cost the re-entrant
//! acquire and release a load and a branch each). A language binding's joins and Condition re-acquires that wait
//! outside threadkit are shown when the binding publishes them ([`waiting_to_join`],
//! [`reacquiring_after`]; the Python extension's `threadkit.trace_joins()` does for
//! `Thread.join`).
//!
//! Who last set an Event or notified a Condition is recorded only by a call that woke
//! somebody (with nobody waiting, `set()` and `notify()` stay one atomic operation), so "no
//! set() has woken a waiter yet" does not mean the Event was never set. For a Semaphore a dump
//! gives its value (on each waiter's line), not its holders: permits are not owned (any thread
//! may release one, in Python too), so a list of "holders" would be a guess, and keeping one
//! would cost every uncontended acquire and release a per-thread record. A pending [`Timer`](crate::Timer) has no
//! thread of its own and is listed `RUNNABLE`; the timer service's line names the next one due.
//! The timer service's own threads are never reported as stalls: they wait idle by design.
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
//! clock, a few plain stores, and one `SeqCst` store and load to withdraw it. A `set()` or
//! `notify()` that wakes somebody also records its caller (a thread-local read, a reference
//! count, a coarse clock read, an uncontended mutex); one with nobody waiting is unchanged. The
//! contention profile's count of every acquisition costs nothing while it is off: its switch
//! shares one word with the holder-site switch, which every acquire loads anyway (callgrind: 30
//! instructions, 7 reads, 3 writes per uncontended acquire+release, before and after it was
//! added). Sizes grew by the identity (24 bytes: kind and id, creation site, name pointer), for
//! `Lock` the holder's acquire site, and for `Event` and `Condition` a pointer to who last woke
//! their waiters: `Lock<()>` 8 → 40 bytes, `RLock` 16 → 48, `Condition<Lock>` 16 → 80,
//! `Event` 1 → 40, `Semaphore` 8 → 32, `BoundedSemaphore` 16 → 40, `Barrier` 112 → 144 (its
//! internal lock carries its identity). A dump of 1,000 blocked threads (test
//! `dump_of_1000_threads`, release build, 5 runs, when it landed) took 1.0–2.1 ms to snapshot
//! (including the deadlock check) and 0.7–1.4 ms to format (213 kB of text); `find_deadlocks`
//! alone 0.4 ms. BENCHMARKS.md ("Diagnostics") has the latest figures and how they were taken.
//!
//! # Lock-order checking: a deadlock reported before it happens
//!
//! A deadlock that needs an unlucky interleaving passes every test and hangs in production. The
//! lock-order checker (Cargo feature `lock-order`, on by default) finds it from one observed
//! inversion, as Linux's lockdep and Abseil's `absl::Mutex` do: each thread keeps a stack of the
//! [`Lock`](crate::Lock)s and [`RLock`](crate::RLock)s it holds; on every blocking or timed
//! acquire while it holds others, the orders held → new go into a global graph keyed by
//! [`ObjectInfo::id`] (never by address), and an order that closes a cycle is reported, once
//! per cycle, *before* the acquire blocks, whether or not anything would hang this time.
//! `examples/lock_order.rs`: "alpha" takes `accounts` then `ledger` and finishes; only then
//! does "beta" take `ledger` then `accounts`:
//!
//! ```text
//! threadkit: PotentialDeadlock (lock-order inversion; no thread is blocked now):
//!   "beta" #3 is acquiring Lock "accounts" #4 at examples/lock_order.rs:28
//!   while holding:
//!     Lock "ledger" #5, acquired at examples/lock_order.rs:27
//!   but the recorded order is:
//!     Lock "accounts" -> Lock "ledger": first by "alpha" #2, holding the first (acquired at examples/lock_order.rs:20), acquiring at examples/lock_order.rs:21
//!   cycle: Lock "accounts" -> Lock "ledger" -> Lock "accounts"
//!   possible interleaving:
//!     "beta" #3                                          | "alpha" #2
//!     ----                                               | ----
//!     lock(Lock "ledger") at examples/lock_order.rs:27   |
//!                                                        | lock(Lock "accounts") at examples/lock_order.rs:20
//!                                                        | lock(Lock "ledger") at examples/lock_order.rs:21
//!     lock(Lock "accounts") at examples/lock_order.rs:28 |
//!   *** POTENTIAL DEADLOCK (not currently blocked) ***
//! ```
//!
//! It is a [`Report::PotentialDeadlock`], a different type from the deadlock finder's
//! [`Report::Deadlock`] (threads blocked now), sent through the same [hook](set_report_hook) on
//! the acquiring thread. For a longer cycle the chain lists every recorded order with its first
//! thread and both call sites; the two-column scenario shows this thread against the thread of
//! the last order in the chain.
//!
//! **Modes** ([`set_lock_order_mode`], or `THREADKIT_LOCK_ORDER=off|report|panic` read at the
//! first acquire): [`LockOrderMode::Off`]; [`LockOrderMode::Report`] (the default in debug
//! builds); [`LockOrderMode::Panic`] for tests: the inverted acquire panics before it blocks,
//! so the lock is not taken and the guards the thread holds release theirs as the panic
//! unwinds. Release builds default to `Off`.
//!
//! **What counts.**
//! - Only blocking and timed acquires are checked; a `try_acquire` (which cannot block) records
//!   the lock as held, so later acquires get orders from it, but checks nothing.
//! - RLock re-entry by its owner adds nothing; the lock leaves the stack when its count is zero.
//! - A [`Condition`](crate::Condition) wait releases its lock for the wait and re-acquires it
//!   without recording orders from the other locks held (a naive checker reports the pattern
//!   "take the condition's lock, then another, then wait" against itself).
//! - Semaphores, Events, Barriers and queues are not locks and take no part.
//! - A `Lock` released by another thread (Python allows it) leaves its acquirer's stack (the
//!   acquirer applies it before its next check).
//! - A dropped lock leaves the graph; ids are never reused, so a new lock at the same address
//!   inherits nothing.
//! - The graph is per lock *instance*, not per class as lockdep's: many same-kind locks, such as
//!   per-account locks, taken in one documented order (by account number, say) are never
//!   reported, however many there are; the same locks taken in two orders are. Locks whose order
//!   legitimately changes between phases of a program can start afresh with
//!   [`reset_lock_order`] (or be dropped and re-created).
//! - A thread's stack holds 32 locks; locks acquired beyond that are not checked.
//! - The report hook runs with the checker off for its thread: locks it takes are not recorded.
//!
//! **Costs** (`threadkit-bench --features lock-order-peers`, 8 to 11 quick runs on a loaded 2-vCPU
//! VM, median ratio to the peer, spread across runs in brackets): compiled in but disarmed, an
//! uncontended `Lock` acquire+release pays one relaxed load more on acquire and on release:
//! 1.02 [0.90–1.17] × parking_lot's `Mutex<()>` (the high ones are the bimodal 13.7 / 15.8 ns
//! that `lock_uncontended` shows in the same runs, checker or not). Armed, one lock:
//! 1.18 [1.06–1.22] × tracing-mutex (1.5–4 ns more: the stack push and pop; *slower*, the
//! issue's goal is not met for this case), about the same against parking_lot with
//! `deadlock_detection`; A then B: 0.73 [0.61–0.83] × tracing-mutex (a known order is a
//! per-thread cache hit, no global lock), 1.2–1.4 × parking_lot with `deadlock_detection`
//! (which records holders but checks nothing until asked). Sizes are unchanged: the checker's
//! mark lives in the identity's id word.

mod bindings;
mod deadlock;
mod format;
mod profile;
pub(crate) mod report;
#[cfg(all(feature = "signal", unix))]
mod signal;
mod snapshot;
mod watchdog;

pub use crate::identity::{Diagnosable, ObjectInfo, ObjectKind};
pub use crate::lock_order::{
    lock_order_backtraces, lock_order_mode, reset_lock_order, set_lock_order_backtraces,
    set_lock_order_mode, LockOrderMode, OrderEdge, OrderedLock, PotentialDeadlock,
};
pub use crate::site::{with_call_site, Site};
pub use crate::wait::record::as_one_wait;
pub use crate::wait::WaitKind;
pub use bindings::{reacquiring_after, waiting_to_join, JoinWait};
pub use deadlock::{Deadlock, DeadlockLink};
pub use profile::{
    contention_profile, contention_profiling, reset_contention_profile, set_contention_profiling,
    ContentionProfile, ObjectContention, SiteStats, WaitStats,
};
pub use report::{default_report_hook, reset_report_hook, set_report_hook, Report, Stall};
#[cfg(all(feature = "signal", unix))]
pub use signal::{dump_on_signal, SignalDump};
pub use snapshot::{
    HeldInfo, HolderInfo, LastSignal, ThreadDump, ThreadRef, ThreadSnapshot, ThreadState, WaitInfo,
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
    crate::wait::record::set_tracking(crate::wait::record::TRACK_HOLDER_SITES, on);
}

/// Whether holder sites are recorded (see [`set_holder_sites`]).
///
/// # Examples
///
/// ```
/// assert_eq!(threadkit::diagnostics::holder_sites(), cfg!(debug_assertions));
/// ```
pub fn holder_sites() -> bool {
    crate::wait::record::tracking(crate::wait::record::TRACK_HOLDER_SITES)
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
