//! [`Thread`]: the handle Python calls a `Thread` object.

use std::fmt;
use std::sync::Arc;

use super::{excepthook, ident, registry};
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use crate::{Event, Lock};

mod error;
mod join;
mod os_name;
mod start;
#[cfg(test)]
pub(crate) mod test_hook;

pub use error::{DaemonError, JoinError, StartError};
use os_name::{set_os_name, set_other_os_name};

/// Created, not started.
const INITIAL: u8 = 0;
/// `start()` is creating the OS thread.
const STARTING: u8 = 1;
/// Running (`is_alive()`).
const STARTED: u8 = 2;
/// Finished, or failed to start.
const STOPPED: u8 = 3;

/// This process's fork generation: 0 in a process that no fork made (or made by a fork that ran
/// no threadkit handler), one more in each child than in its parent; bumped by the fork child
/// handler (`src/thread/fork.rs`) while the child has one thread, and constant otherwise.
///
/// Every started record carries the generation it was started in ([`Inner::generation`]); the
/// child handler moves the forking thread's record to the new one. A record started in an older
/// generation, other than the calling thread's, is *lost in the fork*: its thread ran (or was
/// starting, or exiting) in an ancestor when this process was forked, and does not exist here.
/// Stopped, as far as anybody can tell, whatever its state word says, but its `finished` event
/// was never set (setting it could wake through the parking lot, whose locks a thread of the
/// parent may hold), so every reader checks for this before it waits on the event or the OS
/// handle. Unlike a mark stored in each record by the child handler, this also covers threads
/// the registry's map did not list at the fork (between `start()`'s claim and their entry, or
/// between leaving it and their `STOPPED` store).
///
/// A `std` atomic, as every process-wide static (`src/loom.rs`); relaxed: it changes only in the
/// child handler, before the child has a second thread (whose creation orders it).
static FORK_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// This process's fork generation ([`FORK_GENERATION`]).
#[inline]
fn fork_generation() -> u64 {
    FORK_GENERATION.load(Ordering::Relaxed)
}

/// Starts a new fork generation and returns it: the fork child handler's first step (one atomic
/// add: no allocation, no lock).
#[cfg(unix)]
pub(in crate::thread) fn begin_fork_generation() -> u64 {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed) + 1
}

/// Which kind of thread a record describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Created through threadkit (`Thread::new`, `Builder`, `spawn`).
    Spawned,
    /// The process's main thread.
    Main,
    /// A thread threadkit did not start (CPython's `_DummyThread`).
    Dummy,
    /// A [`crate::Timer`]: a thread as far as users can see, but with no OS thread of its own
    /// (the timer service runs its function on a shared worker; see `src/timer`).
    Timer,
}

/// What `start()` does with a thread: run a [`Body`] on a new OS thread, or (for a Timer) hand the
/// started record to the timer service.
pub(crate) enum Start {
    Os(Body),
    Timer(Schedule),
}

/// Schedules a started Timer; an error means the timer service could not be started.
pub(crate) type Schedule = Box<dyn FnOnce(&Thread) -> std::io::Result<()> + Send>;

/// What a started thread runs: the target (which stores its result for a `JoinHandle`), and where
/// a panic's payload goes once the excepthook has seen it.
pub(crate) struct Body {
    pub(crate) run: Box<dyn FnOnce() + Send>,
    pub(crate) keep_panic: Box<dyn FnOnce(Box<dyn std::any::Any + Send>) + Send>,
}

pub(crate) struct Inner {
    pub(crate) kind: Kind,
    /// threadkit's identifier; 0 until `start()`.
    ident: AtomicU64,
    /// The kernel's thread ID; 0 until the thread runs.
    native_id: AtomicU64,
    /// The OS thread handle (`pthread_t`), while it is valid to name the thread through it.
    name: Lock<Arc<str>>,
    daemon: AtomicBool,
    state: AtomicU8,
    /// The fork generation ([`FORK_GENERATION`]) the thread was started in: stored by `start()`
    /// before its state leaves `INITIAL` (so a record found started carries it), at creation
    /// for a record that is running already (main, foreign), and moved to the child's by the
    /// fork child handler for the forking thread.
    generation: AtomicU64,
    /// Stack size for the OS thread (0: the process default from `stack_size()`).
    stack_size: AtomicUsize,
    /// The target, until `start()` takes it.
    body: Lock<Option<Start>>,
    /// The std handle, until a joiner reaps the OS thread.
    os_handle: Lock<Option<std::thread::JoinHandle<()>>>,
    /// Set once the new thread runs and has published its native ID (`start()` waits for it).
    started: Event,
    /// Set once the thread has left the registry (`join()` waits for it).
    finished: Event,
}

impl Drop for Inner {
    /// A thread lost in a fork keeps its std handle for ever: dropping it would detach a
    /// `pthread_t` that the child's C library may have given to one of the child's own threads
    /// since (glibc caches the lost threads' descriptors and reuses them), which would then be
    /// detached under that thread (its join fails, or reads freed memory). `get_mut`: the lock
    /// may be held by a thread of the parent. (No caller to except: a record is dropped only
    /// once no handle is left, and the forking thread's was moved to the child's generation.)
    fn drop(&mut self) {
        if *self.state.get_mut() != INITIAL && *self.generation.get_mut() < fork_generation() {
            if let Some(handle) = self.os_handle.get_mut().take() {
                std::mem::forget(handle);
            }
        }
    }
}

/// A thread of control, as Python's `threading.Thread` object: a cheap, cloneable handle.
///
/// A `Thread` is created with a target ([`Thread::new`], or [`Builder`](crate::Builder) for a
/// name, the daemon flag or a stack size), configured, then [`start`](Self::start)ed once. It can
/// be joined by any number of threads, with or without a timeout, and asked whether it
/// [`is_alive`](Self::is_alive). [`current_thread`](crate::current_thread),
/// [`main_thread`](crate::main_thread) and [`enumerate`](crate::enumerate) return handles to the
/// same records, so two handles compare equal when they name the same thread.
///
/// # Names
///
/// Every thread has a name: the one given, `"Thread-N"` (with `" (target)"` appended when the
/// target is a named function, as CPython 3.10+ does), `"MainThread"`, and for threads threadkit
/// did not start the name std gave them, or `"Dummy-N"` when they have none. Names can be changed
/// at any time; the OS-level name (seen by `top -H`, debuggers and panic messages) follows,
/// truncated to the OS limit (15 bytes on Linux).
///
/// [`name`](Self::name) returns an `Arc<str>` (a cheap clone, safe to keep while the thread is
/// renamed). `Arc<str>` does not compare with `&str` directly (the standard library has no such
/// impl, and a crate cannot add one); compare the `str` inside:
///
/// ```
/// let t = threadkit::Builder::new().name("worker").create(|| {});
/// assert_eq!(&*t.name(), "worker");
/// assert!(t.name().as_ref() == "worker");
/// assert_eq!(t.name().to_string(), "worker");
/// ```
///
/// # Differences from Python
///
/// - Arguments are captured by the target closure instead of `args`/`kwargs`; subclassing is the
///   [`Run`](crate::Run) trait.
/// - `join()` returns `Err(`[`JoinError`]`)` where Python raises `RuntimeError`, and
///   [`join_timeout`](Self::join_timeout) returns whether the thread finished instead of `None`.
///   The target's return value or panic is available through a [`JoinHandle`](crate::JoinHandle).
/// - [`start`](Self::start) returns `Err(`[`StartError`]`)` instead of raising.
/// - [`ident`](Self::ident) is threadkit's own identifier: never reused, the main thread's is 1.
/// - The process waits for non-daemon threads when `main` returns, panics, or calls
///   `std::process::exit`; see [the module docs](crate#daemon-threads-and-process-exit).
/// - After `fork` (as CPython's `_after_fork`, `src/thread/fork.rs`): in the child, the record
///   of every thread but the one that forked is stopped, whatever it was doing at the fork
///   (also starting or exiting): [`is_alive`](Self::is_alive) is false, [`join`](Self::join)
///   returns at once (a [`JoinHandle`](crate::JoinHandle)'s join returns `Err` unless the thread
///   had finished before the fork: it has no result there), and it is no longer listed by
///   [`enumerate`](crate::enumerate). The forking thread keeps its record, and becomes the
///   child's [`main_thread`](crate::main_thread) if it was not (CPython 3.13 does the same).
/// - `Thread` is [`UnwindSafe`](std::panic::UnwindSafe) and
///   [`RefUnwindSafe`](std::panic::RefUnwindSafe): `catch_unwind` accepts closures that use one.
///
/// # Examples
///
/// ```
/// use threadkit::Thread;
///
/// let t = Thread::new(|| println!("Worker"));
/// assert!(!t.is_alive());
/// t.start().unwrap();
/// t.join().unwrap();
/// assert!(!t.is_alive());
/// ```
#[derive(Clone)]
pub struct Thread {
    pub(crate) inner: Arc<Inner>,
}

impl Thread {
    /// Creates a thread that will run `target` once started; the same as
    /// `Builder::new().create(target)`.
    ///
    /// The name is `"Thread-N"` (plus `" (name)"` for a named function), and the daemon flag is
    /// the creating thread's, as in Python.
    ///
    /// # Examples
    ///
    /// ```
    /// fn worker() {}
    ///
    /// let t = threadkit::Thread::new(worker);
    /// assert!(t.name().ends_with(" (worker)"));
    /// t.start().unwrap();
    /// t.join().unwrap();
    /// ```
    pub fn new<R: super::Run>(target: R) -> Thread {
        crate::Builder::new().create(target)
    }

    pub(crate) fn new_unstarted(name: String, daemon: bool, stack_size: usize, body: Body) -> Self {
        let start = Some(Start::Os(body));
        Thread::from_parts(Kind::Spawned, name, daemon, 0, INITIAL, stack_size, start)
    }

    /// An unstarted Timer record (for `crate::timer`): named plain `"Thread-N"` as CPython names
    /// Timers, with the creating thread's daemon flag. `start()` registers it and calls
    /// `schedule` instead of creating an OS thread.
    pub(crate) fn new_timer(schedule: Schedule) -> Self {
        let name = registry::next_name("Thread");
        let daemon = registry::with_current(Thread::is_daemon);
        let start = Some(Start::Timer(schedule));
        Thread::from_parts(Kind::Timer, name, daemon, 0, INITIAL, 0, start)
    }

    /// Makes the calling OS thread act as this (Timer) thread until the guard is dropped; see
    /// `registry::act_as`.
    pub(crate) fn act_as(&self) -> registry::ActAs {
        registry::act_as(self)
    }

    /// Runs `f` as this thread's target: a panic that escapes it goes to the excepthook with this
    /// thread, and is then dropped (used by timer workers, which go on to the next timer).
    pub(crate) fn run_as_target(&self, f: Box<dyn FnOnce() + Send>) {
        if let Err(payload) = excepthook::run_target(f) {
            excepthook::report(self, &*payload);
        }
    }

    pub(crate) fn new_running(kind: Kind, name: String, daemon: bool, ident: u64) -> Self {
        let t = Thread::from_parts(kind, name, daemon, ident, STARTED, 0, None);
        t.inner.started.set();
        t
    }

    fn from_parts(
        kind: Kind,
        name: String,
        daemon: bool,
        ident: u64,
        state: u8,
        stack_size: usize,
        body: Option<Start>,
    ) -> Self {
        Thread {
            inner: Arc::new(Inner {
                kind,
                ident: AtomicU64::new(ident),
                native_id: AtomicU64::new(0),
                name: Lock::with_value(Arc::from(name)),
                daemon: AtomicBool::new(daemon),
                state: AtomicU8::new(state),
                generation: AtomicU64::new(fork_generation()),
                stack_size: AtomicUsize::new(stack_size),
                body: Lock::with_value(body),
                os_handle: Lock::with_value(None),
                started: Event::new(),
                finished: Event::new(),
            }),
        }
    }

    /// Whether the thread is running: started and not yet finished.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(threadkit::current_thread().is_alive());
    /// ```
    #[doc(alias = "isAlive")]
    pub fn is_alive(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) == STARTED
            && !(self.inner.kind == Kind::Main && self.inner.finished.is_set())
            && !self.is_lost_in_fork()
    }

    /// The thread's name.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = threadkit::Builder::new().name("worker").create(|| {});
    /// assert_eq!(&*t.name(), "worker");
    /// ```
    #[doc(alias = "getName")]
    pub fn name(&self) -> Arc<str> {
        Arc::clone(&self.inner.name.acquire())
    }

    /// The name, if its lock is free now (never waits: for a waker noting its name, which
    /// must not hang in a forked child whose parent had a thread holding that lock).
    #[cfg(not(loom))]
    pub(crate) fn try_name(&self) -> Option<Arc<str>> {
        self.inner.name.try_acquire().map(|name| Arc::clone(&name))
    }

    /// Runs `f` with the name, without cloning it.
    #[cfg_attr(not(feature = "logging"), allow(dead_code))]
    pub(crate) fn with_name<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        f(&self.inner.name.acquire())
    }

    /// Renames the thread, before or after it started (Python's `t.name = ...`).
    ///
    /// If the thread is running, its OS-level name follows where the OS allows: always when a
    /// thread renames itself, and for threads threadkit started while they have not been joined.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = threadkit::current_thread();
    /// let old = t.name();
    /// t.set_name("renamed");
    /// assert_eq!(&*threadkit::current_thread().name(), "renamed");
    /// t.set_name(&*old);
    /// ```
    #[doc(alias = "setName")]
    pub fn set_name(&self, name: impl Into<String>) {
        let name: Arc<str> = Arc::from(name.into());
        *self.inner.name.acquire() = Arc::clone(&name);
        if self.inner.kind == Kind::Timer {
            // A Timer runs on a shared worker thread: leave that OS thread's name alone.
        } else if self.is_current() {
            set_os_name(&name);
        } else if self.inner.state.load(Ordering::Acquire) == STARTED && !self.is_lost_in_fork() {
            // Holding the handle keeps the pthread_t valid while we use it. (Not a lost thread's:
            // the lock may be held by a thread of the parent, and the thread is not here.)
            let handle = self.inner.os_handle.acquire();
            if let Some(handle) = handle.as_ref() {
                set_other_os_name(handle, &name);
            }
        }
    }

    /// Whether the thread is a daemon thread: one the process does not wait for at exit.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!threadkit::main_thread().is_daemon());
    /// ```
    #[doc(alias = "isDaemon")]
    pub fn is_daemon(&self) -> bool {
        self.inner.daemon.load(Ordering::Relaxed)
    }

    /// Sets the daemon flag; only before [`start`](Self::start).
    ///
    /// # Errors
    ///
    /// [`DaemonError`] once the thread has started (Python: `RuntimeError: cannot set daemon
    /// status of active thread`).
    ///
    /// # Examples
    ///
    /// ```
    /// let t = threadkit::Thread::new(|| {});
    /// t.set_daemon(true).unwrap();
    /// t.start().unwrap();
    /// assert!(t.set_daemon(false).is_err());
    /// t.join().unwrap();
    /// ```
    #[doc(alias = "setDaemon")]
    pub fn set_daemon(&self, daemonic: bool) -> Result<(), DaemonError> {
        if self.inner.state.load(Ordering::Acquire) != INITIAL {
            return Err(DaemonError(()));
        }
        self.inner.daemon.store(daemonic, Ordering::Relaxed);
        Ok(())
    }

    /// threadkit's identifier for the thread ([`get_ident`](crate::get_ident) in that thread), or
    /// `None` before it is started. Unique in the process and never reused.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(threadkit::main_thread().ident(), Some(1));
    /// assert_eq!(threadkit::Thread::new(|| {}).ident(), None);
    /// ```
    pub fn ident(&self) -> Option<u64> {
        match self.ident_raw() {
            0 => None,
            id => Some(id),
        }
    }

    pub(crate) fn ident_raw(&self) -> u64 {
        self.inner.ident.load(Ordering::Acquire)
    }

    /// The kernel's thread ID (Linux TID), or `None` before the thread runs. Unique among running
    /// threads of the system; it may be reused after the thread exits.
    ///
    /// # Examples
    ///
    /// ```
    /// let me = threadkit::current_thread();
    /// assert_eq!(me.native_id(), Some(threadkit::get_native_id()));
    /// ```
    pub fn native_id(&self) -> Option<u64> {
        match self.inner.native_id.load(Ordering::Acquire) {
            0 => None,
            id => Some(id),
        }
    }

    pub(crate) fn set_native_id(&self, id: u64) {
        self.inner.native_id.store(id, Ordering::Relaxed);
    }

    /// Whether this handle is the calling thread's.
    pub(crate) fn is_current(&self) -> bool {
        let id = self.ident_raw();
        id != 0 && id == ident::current()
    }

    /// Whether this is a non-daemon thread the process must wait for at exit.
    pub(crate) fn must_join_at_exit(&self) -> bool {
        matches!(self.inner.kind, Kind::Spawned | Kind::Timer) && !self.is_daemon()
    }

    /// Moves the record to fork generation `generation`: the fork child handler's part for the
    /// forking thread (one atomic store; see `src/thread/fork.rs`).
    #[cfg(unix)]
    pub(in crate::thread) fn move_to_generation(&self, generation: u64) {
        self.inner.generation.store(generation, Ordering::Relaxed);
    }

    /// Whether the thread was lost in a fork (see [`FORK_GENERATION`]): started in an older
    /// fork generation than this process's, and not the calling thread. One relaxed load in a
    /// process no fork made.
    #[inline]
    pub(crate) fn is_lost_in_fork(&self) -> bool {
        let now = fork_generation();
        now != 0 && self.started_before(now) && !self.is_current()
    }

    /// Whether the thread was started (`start()` claimed it, or it ran already) in a fork
    /// generation older than `now`. Acquire on the state: a started record's generation was
    /// stored before its state left `INITIAL`.
    fn started_before(&self, now: u64) -> bool {
        self.inner.state.load(Ordering::Acquire) != INITIAL
            && self.inner.generation.load(Ordering::Relaxed) < now
    }

    fn status(&self) -> &'static str {
        match self.inner.state.load(Ordering::Acquire) {
            INITIAL => "initial",
            STOPPED => "stopped",
            _ if self.is_lost_in_fork() => "stopped",
            _ if self.inner.kind == Kind::Main && self.inner.finished.is_set() => "stopped",
            _ => "started",
        }
    }
}

// A `Thread` gives access to no data that a panic could leave half-updated: its state is atomics
// and locks that are consistent at every point a panic can be observed, and the target it holds
// until `start` is never reachable through it. So, as std's `Thread`, it may cross
// `catch_unwind` (the `Lock`s and the boxed target inside are what make the compiler refuse it).
impl std::panic::UnwindSafe for Thread {}
impl std::panic::RefUnwindSafe for Thread {}

impl PartialEq for Thread {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Thread {}

impl std::hash::Hash for Thread {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.inner) as usize).hash(state);
    }
}

impl fmt::Debug for Thread {
    /// As CPython's repr: `Thread(Thread-1 (worker), started daemon 3)`; the main thread shows as
    /// `MainThread(...)` and foreign threads as `DummyThread(...)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.inner.kind {
            Kind::Spawned => "Thread",
            Kind::Main => "MainThread",
            Kind::Dummy => "DummyThread",
            Kind::Timer => "Timer",
        };
        write!(f, "{kind}({}, {}", self.name(), self.status())?;
        if self.is_daemon() {
            f.write_str(" daemon")?;
        }
        if let Some(id) = self.ident() {
            write!(f, " {id}")?;
        }
        f.write_str(")")
    }
}
