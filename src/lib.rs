//! Python's `threading` module, rebuilt as a Rust library.
//!
//! threadkit gives Rust the high-level toolkit Python programmers know: named threads and a
//! registry of them, join with a timeout, daemon threads the process does not wait for, and
//! locks, events and conditions with Python's semantics, built on a parking lot so that their
//! uncontended paths are one atomic operation.
//!
//! ```
//! use threadkit::{current_thread, Thread};
//!
//! fn worker() {
//!     println!("{} Starting", current_thread().name());
//! }
//!
//! let t = Thread::new(worker);
//! t.start().unwrap();
//! t.join().unwrap();
//! ```
//!
//! # From Python
//!
//! | Python `threading` | threadkit |
//! |---|---|
//! | `Thread(target=f, name=n, daemon=d)` | [`Builder::new().name(n).daemon(d).create(f)`](Builder::create), or [`Thread::new(f)`](Thread::new) |
//! | `t.start()` | [`t.start()?`](Thread::start) (or [`spawn`] / [`Builder::spawn`] to create and start) |
//! | `t.join()` / `t.join(timeout)` | [`t.join()?`](Thread::join) / [`t.join_timeout(d)?`](Thread::join_timeout) → `bool` |
//! | `t.is_alive()`, `t.name`, `t.daemon`, `t.ident`, `t.native_id` | [`is_alive`](Thread::is_alive), [`name`](Thread::name)/[`set_name`](Thread::set_name), [`is_daemon`](Thread::is_daemon)/[`set_daemon`](Thread::set_daemon), [`ident`](Thread::ident), [`native_id`](Thread::native_id) |
//! | subclass `Thread`, override `run()` | implement [`Run`] |
//! | threads that borrow local data (Rust's `std::thread::scope`) | [`scope(\|s\| s.spawn(f))`](scope), [`Builder::spawn_scoped`] |
//! | `current_thread()`, `main_thread()`, `enumerate()`, `active_count()` | [`current_thread`], [`main_thread`], [`enumerate`], [`active_count`] |
//! | `get_ident()`, `get_native_id()`, `stack_size(n)` | [`get_ident`], [`get_native_id`], [`stack_size`] / [`set_stack_size`] |
//! | `threading.excepthook = f` | [`set_excepthook`], [`reset_excepthook`], [`default_excepthook`] |
//! | `threading._register_atexit(f)`, `threading._shutdown()` | [`register_atexit`], [`shutdown`] |
//! | `os._exit(code)` | [`exit_now(code)`](exit_now); a bounded exit-time wait: [`set_exit_timeout`] |
//! | `Lock()`; `acquire()`, `acquire(False)`, `acquire(timeout=t)`, `release()`, `locked()`, `with lock:` | [`Lock::new`]; [`acquire`](Lock::acquire) → guard, [`try_acquire`](Lock::try_acquire), [`acquire_timeout`](Lock::acquire_timeout), [`release`](Lock::release), [`locked`](Lock::locked), the guard's scope |
//! | `RLock()`; `acquire()`, `acquire(False)`, `acquire(timeout=t)`, `release()`, `locked()`, `_is_owned()`, `_recursion_count()` | [`RLock::new`]; [`acquire`](RLock::acquire) → [`RLockGuard`], [`try_acquire`](RLock::try_acquire), [`acquire_timeout`](RLock::acquire_timeout), [`release`](RLock::release), [`locked`](RLock::locked), [`is_owned`](RLock::is_owned), [`recursion_count`](RLock::recursion_count) |
//! | a class whose methods re-enter `with self._lock:` around its fields | [`RLock::with_value(fields)`](RLock::with_value): guards give `&T`; put what changes in a `Cell`/`RefCell` |
//! | `Condition()`, `Condition(lock)`; `with cond:` | [`Condition::new`] (over an [`RLock`]), [`Condition::with_lock(l)`](Condition::with_lock) (a [`Lock`], an [`RLock`], or an `Arc`/`&` of one); [`cond.acquire()`](Condition::acquire) → the lock's guard |
//! | `cond.wait()`, `cond.wait(t)`, `cond.wait_for(pred)`, `cond.wait_for(pred, t)` | [`wait(&mut g)`](Condition::wait), [`wait_timeout(&mut g, d)`](Condition::wait_timeout) → `bool`, [`wait_for(&mut g, \|v\| ...)`](Condition::wait_for), [`wait_for_timeout(&mut g, \|v\| ..., d)`](Condition::wait_for_timeout) → `bool` (the predicate gets `&mut T`) |
//! | `cond.notify(n)`, `cond.notify_all()` | [`notify(&g, n)`](Condition::notify), [`notify_all(&g)`](Condition::notify_all) → number woken |
//! | `Event()`; `set()`, `clear()`, `is_set()`, `wait()`, `wait(t)` | [`Event::new`]; [`set`](Event::set), [`clear`](Event::clear), [`is_set`](Event::is_set), [`wait`](Event::wait), [`wait_timeout`](Event::wait_timeout) |
//! | `Semaphore(n)`, `BoundedSemaphore(n)`; `acquire()`, `acquire(False)`, `acquire(timeout=t)`, `with sem:` | [`Semaphore::new`], [`BoundedSemaphore::new`]; [`acquire`](Semaphore::acquire) → [`SemaphorePermit`], [`try_acquire`](Semaphore::try_acquire), [`acquire_timeout`](Semaphore::acquire_timeout), the permit's scope |
//! | `sem.release(n)`, `sem._value`; bounded over-release `ValueError` | [`release(n)`](Semaphore::release), [`value`](Semaphore::value); [`BoundedSemaphore::release`] → `Err(`[`OverReleaseError`]`)` |
//! | a permit kept by a pooled resource or handed to another thread | [`Arc::clone(&sem).acquire_owned()`](Semaphore::acquire_owned) → [`OwnedSemaphorePermit`] (`'static`) |
//! | `Barrier(parties, action=f, timeout=t)`; `wait()`, `wait(t)` → index | [`Barrier::new`], [`Barrier::with_action`], [`Barrier::with_timeout`], [`Barrier::builder`]; [`wait`](Barrier::wait), [`wait_timeout`](Barrier::wait_timeout) → `Result<`[`BarrierWaitResult`]`, `[`BrokenBarrierError`]`>` |
//! | `b.abort()`, `b.reset()`, `b.broken`, `b.n_waiting`, `b.parties` | [`abort`](Barrier::abort), [`reset`](Barrier::reset), [`is_broken`](Barrier::is_broken), [`n_waiting`](Barrier::n_waiting), [`parties`](Barrier::parties) |
//! | `queue.Queue(maxsize)`, `LifoQueue`, `PriorityQueue`, `SimpleQueue()` | [`queue::Queue::new`], [`queue::LifoQueue::new`], [`queue::PriorityQueue::new`], [`queue::SimpleQueue::new`] (see [`queue`] for the full table) |
//! | `q.put(x)`, `put_nowait(x)`, `put(x, timeout=t)`; `q.get()`, `get_nowait()`, `get(timeout=t)` | [`put`](queue::Queue::put), [`try_put`](queue::Queue::try_put), [`put_timeout`](queue::Queue::put_timeout); [`get`](queue::Queue::get), [`try_get`](queue::Queue::try_get), [`get_timeout`](queue::Queue::get_timeout) → `Result` |
//! | `q.task_done()`, `q.join()`, `q.shutdown()`, `q.shutdown(immediate=True)` | [`task_done`](queue::Queue::task_done), [`join`](queue::Queue::join), [`shutdown`](queue::Queue::shutdown), [`shutdown_immediate`](queue::Queue::shutdown_immediate) |
//! | `queue.Full`, `queue.Empty`, `queue.ShutDown` | [`queue::TryPutError::Full`], [`queue::TryGetError::Empty`], the errors' `ShutDown` variants |
//! | `Timer(interval, f)`; `t.start()`, `t.cancel()`, `t.join()`, `t.is_alive()`, `t.setName(n)` | [`Timer::new(d, f)`](Timer::new); [`start`](Timer::start), [`cancel`](Timer::cancel) → `bool`, [`join`](Timer::join), [`is_alive`](Timer::is_alive), [`set_name`](Timer::set_name) (no OS thread per timer: one service thread and a few workers) |
//! | a `Timer` whose function starts the next `Timer` | [`RepeatingTimer::new(d, f)`](RepeatingTimer::new): drift-free, cancellable, the same timer service |
//! | `local()`; `data.x = v`, `data.x`, `del data.x`, `hasattr(data, 'x')` | [`Local::new`] (also in a `static`); [`set`](Local::set), [`get`](Local::get) / [`with`](Local::with) / [`with_mut`](Local::with_mut), [`take`](Local::take), [`has_value`](Local::has_value) |
//! | subclass of `local` with `__init__` | [`Local::with_init(\|\| ...)`](Local::with_init): runs once per thread, on first access |
//! | `logging.basicConfig(format='(%(threadName)-10s) %(message)s')` | `threadkit::logging::basic_config(LevelFilter::Debug, "(%(threadName)-10s) %(message)s")?` (feature `logging`, on by default) |
//!
//! # From std, parking_lot and crossbeam
//!
//! | std / parking_lot / crossbeam | threadkit |
//! |---|---|
//! | `Mutex::new(v)`; `m.lock().unwrap()`; `try_lock()`; parking_lot `try_lock_for(d)` | [`Lock::with_value(v)`](Lock::with_value) (or `v.into()`; [`Lock::new()`](Lock::new) is the plain `Lock<()>`); [`acquire()`](Lock::acquire) (no poisoning, no `Result`); [`try_acquire()`](Lock::try_acquire); [`acquire_timeout(d)`](Lock::acquire_timeout) |
//! | `#[derive(Default)]` over `Mutex<T>` fields | the same over [`Lock<T>`](Lock) fields ([`Lock<T>: Default`](Lock::default)) |
//! | parking_lot `ReentrantMutex<T>` | [`RLock<T>`](RLock): guards give `&T`, re-entry on the owning thread |
//! | `Condvar`: `cv.wait(g)`, `cv.wait_while(g, \|v\| cond)`, `cv.wait_timeout(g, d)` | a [`Condition`] owns its lock: [`cond.wait(&mut g)`](Condition::wait), [`cond.wait_for(&mut g, \|v\| !cond)`](Condition::wait_for) (the predicate says when to *stop* waiting and gets `&mut T`), [`cond.wait_timeout(&mut g, d)`](Condition::wait_timeout) → `bool` |
//! | `cv.notify_one()`, `cv.notify_all()` | [`cond.notify(&g, 1)`](Condition::notify), [`cond.notify_all(&g)`](Condition::notify_all): the guard proves the lock is held |
//! | `std::sync::Barrier::wait()` → `BarrierWaitResult::is_leader()` | [`Barrier::wait()`](Barrier::wait) → `Result<`[`BarrierWaitResult`]`, _>` ([`index`](BarrierWaitResult::index), [`is_leader`](BarrierWaitResult::is_leader)); a barrier can break |
//! | tokio `Semaphore::acquire_owned`, `add_permits(n)`, `available_permits()` | [`Semaphore::acquire_owned`] (blocking), [`release(n)`](Semaphore::release), [`value()`](Semaphore::value) |
//! | crossbeam `bounded(n)` / `unbounded()`: `send`, `recv`, `try_recv`, `recv_timeout` | [`queue::Queue::new(n)`](queue::Queue::new) (`0`: unbounded) shared by `Arc`: [`put`](queue::Queue::put), [`get`](queue::Queue::get), [`try_get`](queue::Queue::try_get), [`get_timeout`](queue::Queue::get_timeout); closing is [`shutdown`](queue::Queue::shutdown) |
//! | `std::thread::spawn(f).join()` → `Result<T, panic>` | [`spawn(f)`](spawn) → [`JoinHandle`], [`join()`](JoinHandle::join) → the same `Result`; the thread is named and registered, and a panic also goes to the excepthook |
//! | `std::thread::Builder::new().name(n).stack_size(s)` | [`Builder::new().name(n).daemon(d)`](Builder::new) ([`set_stack_size`] for all new threads) |
//! | `thread_local!` / `thread_local::ThreadLocal<T>` | [`Local<T>`](Local) (per object, also in a `static`; [`Local::with_init`] for a default) |
//! | `catch_unwind(\|\| ...)` over code using a `Mutex` | works with [`Lock`] (plain), [`RLock`], [`Condition`], [`Semaphore`], [`Barrier`], [`Event`]; a `Lock<T>` with data needs `AssertUnwindSafe` (see [`Lock`]) |
//!
//! # Daemon threads and process exit
//!
//! A Python program ends only when its non-daemon threads have finished; daemon threads are
//! abandoned. threadkit does the same with no extra line in `main`: the first time it starts a
//! thread it registers an exit handler that joins every non-daemon thread when `main` returns,
//! when `main` panics, or when any thread calls `std::process::exit` (see [`shutdown`] for the
//! order and the edge cases). `std::process::abort` and fatal signals skip it, as `os._exit` does.
//!
//! So a non-daemon thread that never finishes (a worker blocked in `q.get()`) keeps the process
//! alive, also after `std::process::exit(code)` or a panic in `main`. Three ways out: make it a
//! daemon thread; bound the wait with [`set_exit_timeout`] (threads still running then are named
//! on standard error and abandoned); or end the process at once, running nothing, with
//! [`exit_now`] (Python's `os._exit`).
//!
//! # Debugging a hung program
//!
//! When a threaded program hangs, threadkit says why, in names: [`diagnostics::dump`] lists every
//! thread with what it waits on (which Lock, Event, Condition, join...), who holds it and where
//! they acquired it; [`diagnostics::find_deadlocks`] returns the cycles of threads blocked on each
//! other; a [`diagnostics::Watchdog`] reports deadlocks and stalls as they happen. Name the
//! objects you care about ([`Lock::named`], [`Event::named`], ...); unnamed ones are shown by their
//! creation site. An ABBA deadlock, as the watchdog prints it:
//!
//! ```text
//! threadkit: Deadlock (cycle of 2 threads):
//!   "alpha" #2 waits to acquire Lock "ledger" #1 at examples/deadlock_dump.rs:22 (for 0.07s, timeout in 2.93s)
//!       held by "beta" #3, acquired at examples/deadlock_dump.rs:36
//!   "beta" #3 waits to acquire Lock "accounts" #2 at examples/deadlock_dump.rs:39 (for 0.04s, timeout in 2.93s)
//!       held by "alpha" #2, acquired at examples/deadlock_dump.rs:19
//! ```
//!
//! The [`diagnostics`] module has the whole chapter: the ways to get a dump (on demand, after a
//! timeout, on `kill -QUIT`), the contention profile, what threadkit cannot see, and the costs.
//!
//! # Differences from Python, in general
//!
//! - What Python raises, threadkit returns as a `Result` (`RuntimeError` on a second `start()`
//!   is [`StartError::AlreadyStarted`], and so on); each type lists its own differences.
//! - `with` blocks are RAII guards; a panic releases what the guard held. Nothing is poisoned.
//! - Timeouts are [`std::time::Duration`]s (`_timeout` methods) or [`std::time::Instant`]s
//!   (`_deadline` methods); `try_` methods never block.
//! - A panic escaping a thread's target goes to the excepthook (as an exception does in Python)
//!   and is also handed to whoever joins the thread's [`JoinHandle`].
//!
//! # Features
//!
//! - `logging` (on by default): [`logging`], a `log` backend with Python's format strings.
//!   It adds one package (`log`) to a dependent's lockfile and installs nothing unless
//!   `basic_config` is called; libraries that only want the primitives can turn it off with
//!   `default-features = false`.
//! - `lock-order` (on by default): the [lock-order checker](diagnostics#lock-order-checking-a-deadlock-reported-before-it-happens),
//!   which reports a potential deadlock the first time two locks are taken in inverted orders;
//!   armed by default in debug builds only (one relaxed load per acquire and release when not).
//!   No dependencies.
//! - `signal` (Unix): `diagnostics::dump_on_signal`, a thread dump on `kill -QUIT <pid>`
//!   (the plumbing from `signal-hook`).
//! - `loom`: the model checker's, used only with `RUSTFLAGS="--cfg loom"` (`.ci/loom.sh`).
//!
//! # Minimum Rust version
//!
//! The library builds with Rust 1.71 (`rust-version`; CI builds it with that toolchain). The
//! tests and examples need 1.85 or newer (a dev-dependency uses edition 2024). Raising the
//! MSRV is a minor-version change.

#![cfg_attr(docsrs, feature(doc_cfg))]

// Why each lint level: see Cargo.toml [lints]; unsafe is allowed only where speed needs it, each
// block with a `// SAFETY:` comment (clippy::undocumented_unsafe_blocks is denied).

mod barrier;
mod condition;
#[cfg(not(loom))]
pub mod diagnostics;
mod event;
// Under loom the diagnostics that read identities are compiled out.
#[cfg_attr(loom, allow(unreachable_pub, dead_code))]
mod identity;
pub mod interrupt {
    //! Interrupting another thread's timed waits: [`Interrupter`] and [`take`].
    //!
    //! A thread blocked in a threadkit wait sleeps until the primitive wakes it or its deadline
    //! passes. An [`Interrupter`] made for that thread lets any other thread end its timed wait
    //! early, as a timeout: the thread then sees that it was interrupted ([`take`]) and decides
    //! what to do (run signal handlers, check a cancellation flag) before it waits again. The
    //! waiting layer does this for every primitive alike, with no periodic wake-up: an
    //! interrupted thread leaves its wait exactly as a timed-out one does.
    //!
    //! threadkit's Python binding uses it so that a signal (Ctrl-C) wakes a blocked main
    //! thread at once, as CPython's own locks are woken by the signal, instead of polling.
    //!
    //! # Examples
    //!
    //! ```
    //! use std::time::Duration;
    //! use threadkit::interrupt::{self, Interrupter};
    //! use threadkit::queue::Queue;
    //!
    //! let jobs: Queue<u32> = Queue::new(0);
    //! let cancelled = std::sync::atomic::AtomicBool::new(false);
    //! std::thread::scope(|s| {
    //!     let (tx, rx) = std::sync::mpsc::channel();
    //!     let (jobs, cancelled) = (&jobs, &cancelled);
    //!     let worker = s.spawn(move || {
    //!         tx.send(Interrupter::current()).unwrap();
    //!         loop {
    //!             if let Ok(job) = jobs.get_timeout(Duration::from_secs(60)) {
    //!                 return Some(job);
    //!             }
    //!             if interrupt::take() && cancelled.load(std::sync::atomic::Ordering::SeqCst) {
    //!                 return None;
    //!             }
    //!         }
    //!     });
    //!     let worker_handle = rx.recv().unwrap();
    //!     cancelled.store(true, std::sync::atomic::Ordering::SeqCst);
    //!     worker_handle.interrupt();
    //!     assert_eq!(worker.join().unwrap(), None);
    //! });
    //! ```
    pub use crate::wait::interrupt::{take, Interrupter};
}
mod local;
mod lock;
#[cfg(not(loom))]
mod lock_order;
#[cfg(loom)]
#[path = "lock_order/loom_stub.rs"]
mod lock_order;
#[cfg(all(feature = "logging", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "logging")))]
pub mod logging;
mod loom;
mod owned_permit;
pub mod queue;
mod rlock;
mod semaphore;
mod site;
#[cfg(not(loom))]
pub mod thread;
// Under `--cfg loom` only the per-thread identifiers remain of `thread`: the registry, `atexit`
// and the excepthook hold process-wide state in `static`s, which loom cannot model (see
// src/loom.rs and VERIFICATION.md). Timer is built on the registry, so it goes too.
#[cfg(loom)]
pub(crate) mod thread {
    pub(crate) mod ident;
}
#[cfg(not(loom))]
mod timer;
// Under `--cfg loom` only the Timer's lifecycle word remains, for its loom models.
#[cfg(loom)]
#[allow(dead_code)] // used by its models only
mod timer {
    mod state;
}
mod wait;

#[cfg(all(loom, not(feature = "loom")))]
compile_error!(
    "`--cfg loom` builds need `--features loom` (the model checker is an optional dependency, \
     kept out of dependents' lockfiles): run .ci/loom.sh"
);

/// Hooks for the loom models (`--cfg loom` builds only; not part of the API).
#[cfg(loom)]
#[doc(hidden)]
pub use wait::loom_hooks as __loom;

pub use barrier::{Barrier, BarrierBuilder, BarrierWaitResult, BrokenBarrierError};
pub use condition::{Condition, ConditionLock};
pub use event::Event;
pub use local::Local;
pub use lock::{Lock, LockGuard, ReleaseError};
pub use owned_permit::OwnedSemaphorePermit;
pub use rlock::{RLock, RLockGuard, RLockReleaseError};
pub use semaphore::{BoundedSemaphore, OverReleaseError, Semaphore, SemaphorePermit};
#[cfg(not(loom))]
pub use thread::{
    active_count, current_thread, default_excepthook, enumerate, exit_now, get_ident,
    get_native_id, install_panic_hook, main_thread, register_atexit, reset_excepthook, scope,
    set_excepthook, set_exit_timeout, set_stack_size, shutdown, spawn, stack_size, AtexitError,
    Builder, DaemonError, ExceptHookArgs, JoinError, JoinHandle, Run, Scope, ScopedJoinHandle,
    StackSizeError, StartError, Thread,
};
#[cfg(not(loom))]
pub use timer::{RepeatingTimer, Timer};

/// The README's code blocks are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
