//! [`Thread`]: the handle Python calls a `Thread` object.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{excepthook, ident, registry, shutdown};
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use crate::{Event, Lock};

/// Created, not started.
const INITIAL: u8 = 0;
/// `start()` is creating the OS thread.
const STARTING: u8 = 1;
/// Running (`is_alive()`).
const STARTED: u8 = 2;
/// Finished, or failed to start.
const STOPPED: u8 = 3;

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
                stack_size: AtomicUsize::new(stack_size),
                body: Lock::with_value(body),
                os_handle: Lock::with_value(None),
                started: Event::new(),
                finished: Event::new(),
            }),
        }
    }

    /// Starts the thread, returning once it is running, as CPython's `start()`: its
    /// [`ident`](Self::ident) and [`native_id`](Self::native_id) are known and it is listed by
    /// [`enumerate`](crate::enumerate).
    ///
    /// # Errors
    ///
    /// - [`StartError::AlreadyStarted`] if `start` was called before (also for the main thread and
    ///   threads threadkit did not start), as Python's `RuntimeError: threads can only be started
    ///   once`;
    /// - [`StartError::Os`] if the OS refused to create a thread (Python: `can't start new
    ///   thread`); the thread is then stopped and cannot be started again.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::{StartError, Thread};
    ///
    /// let t = Thread::new(|| {});
    /// t.start().unwrap();
    /// assert!(matches!(t.start(), Err(StartError::AlreadyStarted)));
    /// t.join().unwrap();
    /// ```
    pub fn start(&self) -> Result<(), StartError> {
        self.claim_start()?;
        let inner = &self.inner;
        let body = inner
            .body
            .acquire()
            .take()
            .expect("an unstarted thread has its body");
        let body = match body {
            Start::Os(body) => body,
            Start::Timer(schedule) => {
                // A Timer is alive from `start()` on (pending, then running its function on a
                // timer worker). Mark it started *before* scheduling: a zero-interval timer may
                // fire, finish and be marked stopped before `schedule` returns.
                inner.state.store(STARTED, Ordering::Release);
                inner.started.set();
                return schedule(self).map_err(|err| {
                    self.mark_stopped();
                    StartError::Os(err)
                });
            }
        };
        let (builder, spawn_name) = self.os_builder();
        let me = self.clone();
        match builder.spawn(move || me.run_body(body.run, body.keep_panic, spawn_name)) {
            Ok(handle) => {
                *inner.os_handle.acquire() = Some(handle);
                self.wait_running();
                Ok(())
            }
            Err(err) => {
                self.mark_stopped();
                Err(StartError::Os(err))
            }
        }
    }

    /// An unstarted record for a scoped thread, which [`start_scoped`](Self::start_scoped)
    /// starts at once.
    pub(crate) fn new_scoped(name: String, daemon: bool, stack_size: usize) -> Self {
        Thread::from_parts(Kind::Spawned, name, daemon, 0, INITIAL, stack_size, None)
    }

    /// Starts a record made by [`new_scoped`](Self::new_scoped) on an OS thread of `scope`,
    /// running `f` as any threadkit thread runs its target (registered, named, its panic
    /// reported to the excepthook, its `Local` values dropped before joiners wake). A panic is
    /// then passed on to std's scope, so that its handle's `join` returns it, and the scope
    /// panics if nobody joined it, as `std::thread::scope` does.
    pub(crate) fn start_scoped<'scope, T: Send + 'scope>(
        &self,
        scope: &'scope std::thread::Scope<'scope, '_>,
        f: impl FnOnce() -> T + Send + 'scope,
    ) -> Result<std::thread::ScopedJoinHandle<'scope, T>, StartError> {
        self.claim_start()?;
        let (builder, spawn_name) = self.os_builder();
        let me = self.clone();
        let spawned = builder.spawn_scoped(scope, move || {
            let mut value = None;
            let mut panic = None;
            me.run_body(|| value = Some(f()), |p| panic = Some(p), spawn_name);
            match panic {
                Some(payload) => std::panic::resume_unwind(payload),
                None => value.expect("the target returned"),
            }
        });
        match spawned {
            Ok(handle) => {
                self.wait_running();
                Ok(handle)
            }
            Err(err) => {
                self.mark_stopped();
                Err(StartError::Os(err))
            }
        }
    }

    /// The first step of every start: `INITIAL` → `STARTING` (so a second start fails), an
    /// identifier, the exit handler and the panic hook, and a place in the registry.
    fn claim_start(&self) -> Result<(), StartError> {
        let inner = &self.inner;
        if inner
            .state
            .compare_exchange(INITIAL, STARTING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(StartError::AlreadyStarted);
        }
        let id = ident::allocate();
        inner.ident.store(id, Ordering::Release);
        shutdown::ensure_installed();
        excepthook::ensure_installed();
        registry::insert(self);
        Ok(())
    }

    /// A std builder with this thread's name and stack size, and the name it was given.
    fn os_builder(&self) -> (std::thread::Builder, Arc<str>) {
        let spawn_name = self.name();
        let mut builder = std::thread::Builder::new().name(spawn_name.to_string());
        let stack = match self.inner.stack_size.load(Ordering::Relaxed) {
            0 => super::stack_size(),
            n => n,
        };
        if stack != 0 {
            builder = builder.stack_size(stack);
        }
        (builder, spawn_name)
    }

    /// Returns once the new OS thread runs and has published its native ID, as CPython's
    /// `start()` does.
    fn wait_running(&self) {
        let started = &self.inner.started;
        // Spinning and yielding first lets the new thread run (on this core, too) and report
        // without a futex wait and wake-up pair, the dearer part of a start.
        let mut spin = crate::wait::SpinWait::new();
        while !started.is_set() && spin.spin() {}
        // Re-checked after every wake-up (the flag is never unset).
        while !started.is_set() {
            started.wait();
        }
    }

    /// What the new OS thread runs: `run` as the target, then `keep_panic` with the payload of
    /// a panic that escaped it, once the excepthook has seen it.
    fn run_body(
        self,
        run: impl FnOnce(),
        keep_panic: impl FnOnce(Box<dyn std::any::Any + Send>),
        spawn_name: Arc<str>,
    ) {
        let inner = &self.inner;
        ident::set_current(self.ident_raw());
        registry::set_current(&self);
        inner.native_id.store(ident::native_id(), Ordering::Release);
        // std named the OS thread at creation; rename only if the name changed since.
        if !Arc::ptr_eq(&self.name(), &spawn_name) {
            set_os_name(&self.name());
        }
        let _ =
            inner
                .state
                .compare_exchange(STARTING, STARTED, Ordering::AcqRel, Ordering::Acquire);
        inner.started.set();

        if let Err(payload) = excepthook::run_target(run) {
            excepthook::report(&self, &*payload);
            keep_panic(payload);
        }
        // The thread exits, as far as threadkit can tell: its `Local` values are dropped *before*
        // it is marked stopped, so that every joiner (not only the one that reaps the OS thread)
        // finds them gone. A panicking `Drop` is reported to the excepthook with this thread, as
        // CPython reports an exception in `__del__` and goes on; the other values are still
        // dropped. (Left to the OS thread's exit: values that other thread-locals' destructors
        // create afterwards.)
        excepthook::with_in_target(true, || {
            crate::local::drop_thread_values(|payload| excepthook::report(&self, &*payload));
        });
        self.mark_stopped();
    }

    /// Leaves the registry, then wakes the joiners (so no joined thread is ever listed).
    pub(crate) fn mark_stopped(&self) {
        registry::remove(self.ident_raw());
        self.inner.state.store(STOPPED, Ordering::Release);
        self.inner.started.set();
        self.inner.finished.set();
    }

    /// Whether the thread has finished: its target returned and its `Local` values are dropped
    /// (what a returning join waits for).
    pub(crate) fn is_finished(&self) -> bool {
        self.inner.finished.is_set()
    }

    /// Marks the main thread as done, waking threads that join it (at process exit).
    pub(crate) fn mark_main_done(&self) {
        self.inner.finished.set();
    }

    /// Waits until the thread has finished.
    ///
    /// Finished means its target has returned (or panicked) and its [`Local`](crate::Local)
    /// values are dropped: when any join returns, timed or not, the thread's values are gone.
    /// Any number of threads may join the same thread at once; joining a finished thread returns
    /// at once. Joining the main thread waits until the process starts to exit.
    ///
    /// # Errors
    ///
    /// [`JoinError::NotStarted`], [`JoinError::CurrentThread`] or [`JoinError::Dummy`], as
    /// Python's `RuntimeError`s; nothing is waited for.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::{current_thread, JoinError, Thread};
    ///
    /// let t = Thread::new(|| {});
    /// assert_eq!(t.join(), Err(JoinError::NotStarted));
    /// t.start().unwrap();
    /// t.join().unwrap();
    /// assert_eq!(current_thread().join(), Err(JoinError::CurrentThread));
    /// ```
    #[track_caller]
    pub fn join(&self) -> Result<(), JoinError> {
        self.join_until(None).map(|_| ())
    }

    /// Waits at most `timeout` for the thread to finish; returns whether it did.
    ///
    /// Python's `join(timeout)` followed by `not is_alive()`.
    ///
    /// # Errors
    ///
    /// As [`join`](Self::join).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadkit::{Event, Thread};
    /// use std::sync::Arc;
    ///
    /// let go = Arc::new(Event::new());
    /// let t = Thread::new({
    ///     let go = Arc::clone(&go);
    ///     move || go.wait()
    /// });
    /// t.start().unwrap();
    /// assert_eq!(t.join_timeout(Duration::from_millis(10)), Ok(false));
    /// assert!(t.is_alive());
    /// go.set();
    /// assert_eq!(t.join_timeout(Duration::from_secs(60)), Ok(true));
    /// ```
    #[track_caller]
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool, JoinError> {
        self.join_until(crate::wait::deadline_after(timeout))
    }

    /// Waits until `deadline` at the latest for the thread to finish; returns whether it did.
    ///
    /// # Errors
    ///
    /// As [`join`](Self::join).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let t = threadkit::Thread::new(|| {});
    /// t.start().unwrap();
    /// assert_eq!(t.join_deadline(Instant::now() + Duration::from_secs(60)), Ok(true));
    /// ```
    #[track_caller]
    pub fn join_deadline(&self, deadline: Instant) -> Result<bool, JoinError> {
        self.join_until(Some(deadline))
    }

    #[track_caller]
    fn join_until(&self, deadline: Option<Instant>) -> Result<bool, JoinError> {
        let inner = &self.inner;
        if inner.kind == Kind::Dummy {
            return Err(JoinError::Dummy);
        }
        if inner.state.load(Ordering::Acquire) == INITIAL {
            return Err(JoinError::NotStarted);
        }
        if self.is_current() {
            return Err(JoinError::CurrentThread);
        }
        // Published for diagnostics as a join of this thread (a wait-for edge), also while the
        // joiner sits in the OS join, which does not go through the waiting layer.
        let _published = crate::wait::announce(
            crate::wait::WaitKind::Join,
            crate::wait::Target::Join {
                ident: self.ident_raw(),
            },
            std::panic::Location::caller(),
            deadline,
        );
        let Some(deadline) = deadline else {
            // Untimed: the joiner that gets the OS handle waits in the OS join itself (one wait,
            // as std's join); the others wait for the finished event.
            let handle = inner.os_handle.acquire().take();
            if let Some(handle) = handle {
                let _ = handle.join();
            }
            // Whether or not this joiner reaped the OS thread, it returns only once the thread
            // is marked finished, re-checked after every wake-up (it is never unset).
            while !inner.finished.is_set() {
                inner.finished.wait();
            }
            return Ok(true);
        };
        // A wake-up is not trusted: the answer is the flag's state (which is never unset).
        let done = inner.finished.wait_deadline(deadline) && inner.finished.is_set();
        if done {
            // Reap the OS thread (its thread-local destructors have run once this returns). Only
            // one joiner gets the handle; the others return as soon as the thread has finished.
            let handle = inner.os_handle.acquire().take();
            if let Some(handle) = handle {
                let _ = handle.join();
            }
        }
        Ok(done)
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
        } else if self.inner.state.load(Ordering::Acquire) == STARTED {
            // Holding the handle keeps the pthread_t valid while we use it.
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

    fn status(&self) -> &'static str {
        match self.inner.state.load(Ordering::Acquire) {
            INITIAL => "initial",
            STOPPED => "stopped",
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

/// Sets the calling thread's OS-level name.
fn set_os_name(name: &str) {
    #[cfg(target_os = "linux")]
    {
        let c = os_name(name);
        // SAFETY: pthread_self() is the calling thread; `c` is NUL-terminated and at most 16
        // bytes, the Linux limit.
        unsafe {
            libc::pthread_setname_np(libc::pthread_self(), c.as_ptr());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = name;
}

/// Sets another (running, unjoined) thread's OS-level name.
fn set_other_os_name(handle: &std::thread::JoinHandle<()>, name: &str) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::thread::JoinHandleExt;
        let c = os_name(name);
        // SAFETY: the caller holds the unjoined JoinHandle, so the pthread_t is valid; `c` is
        // NUL-terminated and at most 16 bytes.
        unsafe {
            libc::pthread_setname_np(handle.as_pthread_t(), c.as_ptr());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (handle, name);
}

/// The name cut at an embedded NUL and truncated to 15 bytes without splitting a character.
#[cfg(target_os = "linux")]
fn os_name(name: &str) -> std::ffi::CString {
    let name = name.split('\0').next().unwrap_or("");
    let mut end = name.len().min(15);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    std::ffi::CString::new(&name[..end]).expect("NUL bytes were cut off")
}

/// The error returned by [`Thread::start`].
#[non_exhaustive]
pub enum StartError {
    /// The thread was started before (Python: `RuntimeError: threads can only be started once`).
    AlreadyStarted,
    /// The OS could not create the thread (Python: `RuntimeError: can't start new thread`).
    Os(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::AlreadyStarted => f.write_str("threads can only be started once"),
            StartError::Os(e) => write!(f, "can't start new thread: {e}"),
        }
    }
}

impl fmt::Debug for StartError {
    /// The variant and CPython's message, so that `main() -> Result` prints the message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::AlreadyStarted => f
                .debug_tuple("AlreadyStarted")
                .field(&self.to_string())
                .finish(),
            StartError::Os(e) => f.debug_tuple("Os").field(e).finish(),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Os(e) => Some(e),
            StartError::AlreadyStarted => None,
        }
    }
}

/// The error returned by [`Thread::join`] and its timed variants.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinError {
    /// The thread was never started.
    NotStarted,
    /// A thread cannot join itself: it would wait forever.
    CurrentThread,
    /// The thread was not started by threadkit, so there is nothing to wait for.
    Dummy,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JoinError::NotStarted => "cannot join thread before it is started",
            JoinError::CurrentThread => "cannot join current thread",
            JoinError::Dummy => "cannot join a dummy thread",
        })
    }
}

impl fmt::Debug for JoinError {
    /// The variant and CPython's message, so that `main() -> Result` prints the message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let variant = match self {
            JoinError::NotStarted => "NotStarted",
            JoinError::CurrentThread => "CurrentThread",
            JoinError::Dummy => "Dummy",
        };
        f.debug_tuple(variant).field(&self.to_string()).finish()
    }
}

impl std::error::Error for JoinError {}

/// The error returned by [`Thread::set_daemon`] once the thread has started.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DaemonError(());

impl fmt::Debug for DaemonError {
    /// The type and its message, so that `main() -> Result` prints what CPython would.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DaemonError")
            .field(&self.to_string())
            .finish()
    }
}

impl fmt::Display for DaemonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot set daemon status of active thread")
    }
}

impl std::error::Error for DaemonError {}
