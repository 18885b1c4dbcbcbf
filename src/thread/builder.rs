//! [`Builder`], [`Run`] and [`JoinHandle`]: creating and starting threads.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::handle::{Body, StartError, Thread};
use super::registry;
use super::scope::{Scope, ScopedJoinHandle};
use crate::Lock;

/// What a thread runs: Python's "subclass `Thread` and override `run()`".
///
/// Every `FnOnce() -> T` closure or function is a `Run` already, so `Thread::new(worker)` works
/// as Python's `Thread(target=worker)`. Implement it for your own type to carry the thread's state
/// in fields and construct it however suits you, as the seed's `MyThreadWithArgs` does. Inside
/// `run`, [`current_thread`](crate::current_thread) is the thread running it (for its name).
///
/// # Differences from Python
///
/// - A type implements `Run` instead of subclassing `Thread`; the [`Thread`] itself stays a
///   separate handle (Rust has no inheritance), made with `Thread::new(obj)` or
///   [`Builder::create`]. `run` takes `self` by value: it runs once.
/// - `run`'s return value is not ignored: a [`JoinHandle`] hands it to the joiner.
/// - Threads running a `Run` type are named plain `Thread-N`, as CPython names a subclass that
///   passes no target; a named function target gets `Thread-N (name)`.
///
/// # Examples
///
/// ```
/// use threadkit::{current_thread, Run, Thread};
///
/// struct MyThreadWithArgs {
///     args: (i32,),
/// }
///
/// impl Run for MyThreadWithArgs {
///     type Output = String;
///     fn run(self) -> String {
///         format!("{} running with {:?}", current_thread().name(), self.args)
///     }
/// }
///
/// let h = threadkit::Builder::new()
///     .name("t")
///     .spawn(MyThreadWithArgs { args: (1,) })
///     .unwrap();
/// assert_eq!(h.join().unwrap(), "t running with (1,)");
/// ```
pub trait Run: Send + 'static {
    /// What `run` returns; a [`JoinHandle`] hands it to the joiner.
    type Output: Send + 'static;

    /// The thread's work.
    fn run(self) -> Self::Output;

    /// For the default name's `" (target)"` suffix: the target's name, if it is a named function.
    #[doc(hidden)]
    fn target_name() -> Option<&'static str> {
        None
    }
}

impl<F, T> Run for F
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    type Output = T;

    fn run(self) -> T {
        self()
    }

    fn target_name() -> Option<&'static str> {
        fn_item_name(std::any::type_name::<F>())
    }
}

/// `"crate::module::worker"` → `Some("worker")`; closures, function pointers and generic
/// instantiations have no usable name (CPython likewise names only targets with a `__name__`).
fn fn_item_name(type_name: &'static str) -> Option<&'static str> {
    if type_name.contains('{') || type_name.contains('<') || type_name.contains('(') {
        return None;
    }
    type_name.rsplit("::").next()
}

/// Configures a thread before it is created: its name, daemon flag and stack size.
///
/// [`create`](Self::create) makes a [`Thread`] to [`start`](Thread::start) later (Python's
/// `Thread(name=..., daemon=..., target=...)`); [`spawn`](Self::spawn) creates and starts it and
/// returns a [`JoinHandle`] that also gives back the target's return value.
///
/// # Differences from Python
///
/// - Python passes everything to `Thread(group, target, name, args, kwargs, daemon=)`; here the
///   target's arguments are captured by the closure, and the rest are builder calls. `group`
///   does not exist.
/// - An empty name means "choose one", as a falsy `name` does in Python.
/// - [`spawn`](Self::spawn) (create and start in one call, returning the result-carrying
///   [`JoinHandle`]) has no Python equivalent; [`create`](Self::create) is `Thread(...)`.
///
/// # Examples
///
/// ```
/// use threadkit::Builder;
///
/// let h = Builder::new()
///     .name("my_service")
///     .daemon(false)
///     .spawn(|| 6 * 7)
///     .unwrap();
/// assert_eq!(&*h.thread().name(), "my_service");
/// assert_eq!(h.join().unwrap(), 42);
/// ```
#[derive(Debug, Default, Clone)]
#[must_use = "a Builder does nothing until `create` or `spawn` is called"]
pub struct Builder {
    name: Option<String>,
    daemon: Option<bool>,
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder with every setting at its default: an automatic name, the creating thread's
    /// daemon flag, the process's default stack size.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = threadkit::Builder::new().create(|| {});
    /// assert!(t.name().starts_with("Thread-"));
    /// ```
    pub fn new() -> Self {
        Builder::default()
    }

    /// Names the thread. An empty name means "choose one" (`Thread-N`), as in Python.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = threadkit::Builder::new().name("worker").create(|| {});
    /// assert_eq!(&*t.name(), "worker");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Makes the thread a daemon thread (or not): the process does not wait for daemon threads
    /// when it exits. The default is the creating thread's flag (the main thread is not a daemon).
    ///
    /// # Examples
    ///
    /// ```
    /// let t = threadkit::Builder::new().daemon(true).create(|| {});
    /// assert!(t.is_daemon());
    /// ```
    pub fn daemon(mut self, daemonic: bool) -> Self {
        self.daemon = Some(daemonic);
        self
    }

    /// The stack size of the new thread, in bytes (default: [`stack_size`](crate::stack_size), or
    /// the platform's default if that is 0).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = threadkit::Builder::new().stack_size(256 * 1024).spawn(|| 1).unwrap();
    /// assert_eq!(h.join().unwrap(), 1);
    /// ```
    pub fn stack_size(mut self, size: usize) -> Self {
        self.stack_size = Some(size);
        self
    }

    /// Creates the thread without starting it.
    ///
    /// The automatic name is chosen now (the counter advances at creation, as in CPython).
    ///
    /// # Examples
    ///
    /// ```
    /// let t = threadkit::Builder::new().name("later").create(|| {});
    /// assert!(!t.is_alive());
    /// t.start().unwrap();
    /// t.join().unwrap();
    /// ```
    pub fn create<R: Run>(self, target: R) -> Thread {
        self.create_with(target, |_| {}, |_| {})
    }

    /// Creates and starts the thread; the returned handle joins it and returns the target's
    /// result.
    ///
    /// # Errors
    ///
    /// [`StartError::Os`] if the OS could not create the thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = threadkit::Builder::new().spawn(|| "done").unwrap();
    /// assert_eq!(h.join().unwrap(), "done");
    /// ```
    pub fn spawn<R: Run>(self, target: R) -> Result<JoinHandle<R::Output>, StartError> {
        let packet: Packet<R::Output> = Arc::new(Lock::with_value(None));
        let (on_ok, on_panic) = (Arc::clone(&packet), Arc::clone(&packet));
        let thread = self.create_with(
            target,
            move |value| *on_ok.acquire() = Some(Ok(value)),
            move |payload| *on_panic.acquire() = Some(Err(payload)),
        );
        thread.start()?;
        Ok(JoinHandle { thread, packet })
    }

    /// Creates and starts a thread in `scope` (see [`scope`](crate::scope)): it may borrow
    /// what outlives the scope, and the scope waits for it. Named, registered and reported to
    /// the excepthook as any threadkit thread.
    ///
    /// # Errors
    ///
    /// [`StartError::Os`] if the OS could not create the thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let total = std::sync::atomic::AtomicU32::new(0);
    /// threadkit::scope(|s| {
    ///     for i in 1..=3 {
    ///         let total = &total;
    ///         threadkit::Builder::new()
    ///             .name(format!("adder-{i}"))
    ///             .spawn_scoped(s, move || total.fetch_add(i, std::sync::atomic::Ordering::Relaxed))
    ///             .unwrap();
    ///     }
    /// });
    /// assert_eq!(total.into_inner(), 6);
    /// ```
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> Result<ScopedJoinHandle<'scope, T>, StartError>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let (name, daemon, stack_size) = self.settings(fn_item_name(std::any::type_name::<F>()));
        let thread = Thread::new_scoped(name, daemon, stack_size);
        let inner = thread.start_scoped(scope.std(), f)?;
        Ok(ScopedJoinHandle::new(thread, inner))
    }

    /// The name (chosen now if none was given), daemon flag and stack size of a new thread.
    fn settings(self, target_name: Option<&str>) -> (String, bool, usize) {
        let name = match self.name {
            Some(name) if !name.is_empty() => name,
            _ => {
                let base = registry::next_name("Thread");
                match target_name {
                    Some(target) => format!("{base} ({target})"),
                    None => base,
                }
            }
        };
        let daemon = self
            .daemon
            .unwrap_or_else(|| registry::with_current(Thread::is_daemon));
        (name, daemon, self.stack_size.unwrap_or(0))
    }

    fn create_with<R: Run>(
        self,
        target: R,
        keep: impl FnOnce(R::Output) + Send + 'static,
        keep_panic: impl FnOnce(Box<dyn Any + Send>) + Send + 'static,
    ) -> Thread {
        let (name, daemon, stack_size) = self.settings(R::target_name());
        let body = Body {
            run: Box::new(move || keep(target.run())),
            keep_panic: Box::new(keep_panic),
        };
        Thread::new_unstarted(name, daemon, stack_size, body)
    }
}

/// Where a spawned thread leaves its result for its [`JoinHandle`].
type Packet<T> = Arc<Lock<Option<std::thread::Result<T>>>>;

/// An owned permission to join a thread started by [`Builder::spawn`] or [`spawn`](crate::spawn),
/// and to take its result.
///
/// Unlike [`Thread::join`], which any number of threads may call, `join` here consumes the
/// handle and returns what the target returned, or the payload of the panic that ended it, as
/// `std::thread::JoinHandle::join` does. Dropping the handle detaches nothing: the thread goes on,
/// and the process still waits for it at exit unless it is a daemon.
///
/// # Differences from Python
///
/// Python has no such handle: `Thread.join()` returns `None` and an exception in the thread is
/// only reported, never handed to the joiner. `JoinHandle` adds both (as `std::thread` does);
/// [`Thread::join`] remains the Python-shaped join that any number of threads may call.
///
/// # Examples
///
/// ```
/// let h = threadkit::spawn(|| 1 + 1);
/// assert!(h.thread().ident().is_some());
/// assert_eq!(h.join().unwrap(), 2);
/// ```
pub struct JoinHandle<T> {
    thread: Thread,
    packet: Packet<T>,
}

/// The payload a [`JoinHandle`] returns as `Err` in a child process forked while its thread ran
/// (by another thread), was starting or was exiting: the thread does not exist in the child, so
/// it has no result there.
const LOST_IN_FORK: &str =
    "the thread does not exist in this process: it ran in the parent when the process forked";

impl<T> JoinHandle<T> {
    /// The thread this handle joins.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = threadkit::Builder::new().name("w").spawn(|| {}).unwrap();
    /// assert_eq!(&*h.thread().name(), "w");
    /// h.join().unwrap();
    /// ```
    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// Waits for the thread to finish and returns its result: `Ok` with the target's return
    /// value, or `Err` with the panic payload.
    ///
    /// # Errors
    ///
    /// The panic payload if the target panicked (the excepthook has already reported it). In
    /// a child process forked (by another thread) before the thread finished, the thread does
    /// not exist and never returns: `Err` at once, with a `&'static str` payload saying so.
    ///
    /// # Panics
    ///
    /// If called from the thread itself (it would wait forever).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = threadkit::spawn(|| -> u32 { panic!("boom") });
    /// # threadkit::set_excepthook(|_| {});
    /// let err = h.join().unwrap_err();
    /// assert_eq!(err.downcast_ref::<&str>(), Some(&"boom"));
    /// # threadkit::reset_excepthook();
    /// ```
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        if let Err(e) = self.thread.join() {
            panic!("JoinHandle::join: {e}");
        }
        self.take()
    }

    /// Waits at most `timeout` for the thread to finish. Returns its result as
    /// [`join`](Self::join) does, or gives the handle back if the thread is still running.
    ///
    /// # Errors
    ///
    /// `Err(self)` on timeout, so the caller can try again.
    ///
    /// # Panics
    ///
    /// If called from the thread itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let h = threadkit::spawn(|| 5);
    /// let result = h.join_timeout(Duration::from_secs(60)).ok().expect("finished");
    /// assert_eq!(result.unwrap(), 5);
    /// ```
    #[track_caller]
    pub fn join_timeout(self, timeout: Duration) -> Result<std::thread::Result<T>, Self> {
        self.join_until(crate::wait::deadline_after(timeout))
    }

    /// Waits until `deadline` at the latest; as [`join_timeout`](Self::join_timeout).
    ///
    /// # Errors
    ///
    /// `Err(self)` if the thread is still running at the deadline.
    ///
    /// # Panics
    ///
    /// If called from the thread itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let h = threadkit::spawn(|| 5);
    /// let r = h.join_deadline(Instant::now() + Duration::from_secs(60));
    /// assert_eq!(r.ok().unwrap().unwrap(), 5);
    /// ```
    #[track_caller]
    pub fn join_deadline(self, deadline: Instant) -> Result<std::thread::Result<T>, Self> {
        self.join_until(Some(deadline))
    }

    #[track_caller]
    fn join_until(self, deadline: Option<Instant>) -> Result<std::thread::Result<T>, Self> {
        let finished = match deadline {
            None => self.thread.join().map(|()| true),
            Some(d) => self.thread.join_deadline(d),
        };
        match finished {
            Ok(true) => Ok(self.take()),
            Ok(false) => Err(self),
            Err(e) => panic!("JoinHandle::join: {e}"),
        }
    }

    /// Whether the thread has finished: its result is ready and its [`Local`](crate::Local)
    /// values are dropped, so [`join`](Self::join) returns at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = threadkit::spawn(|| {});
    /// h.thread().join().unwrap();
    /// assert!(h.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    fn take(self) -> std::thread::Result<T> {
        if self.thread.is_lost_in_fork() && !self.thread.is_marked_finished() {
            // A thread of the parent of this forked child that had not finished at the fork: it
            // has no result here (and the packet's lock may be held by a thread that does not
            // exist). One that had finished left its result, and nobody holds the packet's lock
            // after the finished mark (this handle is its only reader).
            return Err(Box::new(LOST_IN_FORK));
        }
        self.packet
            .acquire()
            .take()
            .expect("a finished thread leaves its result")
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JoinHandle").field(&self.thread).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::fn_item_name;

    #[test]
    fn target_names() {
        assert_eq!(fn_item_name("demo::worker"), Some("worker"));
        assert_eq!(fn_item_name("worker"), Some("worker"));
        assert_eq!(fn_item_name("demo::main::{{closure}}"), None);
        assert_eq!(fn_item_name("fn()"), None);
        assert_eq!(fn_item_name("demo::work<u8>"), None);
    }
}
