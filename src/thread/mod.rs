//! Threads: the [`Thread`] object, its [`Builder`], the registry and the module functions of
//! Python's `threading` (`current_thread`, `enumerate`, ...), process exit, and the excepthook.
//!
//! Layout: `handle.rs` is the [`Thread`] record; `builder.rs` creates and starts threads;
//! `registry.rs` holds the live threads and the current-thread slot (`fork.rs`: its
//! `pthread_atfork` handlers); `ident.rs` the per-thread identifiers; `shutdown.rs` the exit-time
//! join of non-daemon threads (`exit_guard.rs`: noticing a thread std parked in
//! `std::process::exit`); `excepthook.rs` what happens to a panic that escapes a target.

mod builder;
mod excepthook;
mod exit_guard;
#[cfg(unix)]
mod fork;
mod handle;
pub(crate) mod ident;
pub(crate) mod registry;
mod scope;
mod shutdown;

use crate::loom::sync::atomic::{AtomicUsize, Ordering};

pub use builder::{Builder, JoinHandle, Run};
pub use excepthook::{
    default_excepthook, install_panic_hook, reset_excepthook, set_excepthook, ExceptHookArgs,
};
pub use handle::{DaemonError, JoinError, StartError, Thread};
pub use scope::{scope, Scope, ScopedJoinHandle};
pub use shutdown::{exit_now, register_atexit, set_exit_timeout, shutdown, AtexitError};

/// The process-wide default stack size for new threads (0: the platform's default).
static STACK_SIZE: AtomicUsize = AtomicUsize::new(0);

/// The smallest stack size [`set_stack_size`] accepts (CPython's limit).
pub const MIN_STACK_SIZE: usize = 32 * 1024;

/// Creates and starts a thread running `target`, with the default name and the creating thread's
/// daemon flag; the handle joins it and returns the target's result.
///
/// # Panics
///
/// If the OS cannot create a thread (use [`Builder::spawn`] to handle that as an error).
///
/// # Examples
///
/// ```
/// let h = threadkit::spawn(|| threadkit::current_thread().name().to_string());
/// assert!(h.join().unwrap().starts_with("Thread-"));
/// ```
#[track_caller]
pub fn spawn<R: Run>(target: R) -> JoinHandle<R::Output> {
    Builder::new()
        .spawn(target)
        .unwrap_or_else(|e| panic!("threadkit::spawn: {e}"))
}

/// The [`Thread`] of the caller (Python's `current_thread()`).
///
/// Works in every thread: threads threadkit started, the main thread, and threads it did not
/// start (`std::thread::spawn`, rayon's or tokio's pools), which are registered on their first
/// call as daemon threads and leave the registry when they exit. Such a thread keeps the name
/// std gave it (`std::thread::Builder::name`, as rayon and tokio name their workers); one
/// without a name is `"Dummy-N"`, as CPython names them.
///
/// # Examples
///
/// ```
/// let me = threadkit::current_thread();
/// assert_eq!(me, threadkit::main_thread());
/// assert_eq!(&*me.name(), "MainThread");
///
/// std::thread::spawn(|| {
///     let foreign = threadkit::current_thread();
///     assert!(foreign.name().starts_with("Dummy-"));
///     assert!(foreign.is_daemon());
/// })
/// .join()
/// .unwrap();
///
/// std::thread::Builder::new()
///     .name("pool-worker-1".into())
///     .spawn(|| assert_eq!(threadkit::current_thread().name().as_ref(), "pool-worker-1"))
///     .unwrap()
///     .join()
///     .unwrap();
/// ```
#[inline]
#[doc(alias = "currentThread")]
pub fn current_thread() -> Thread {
    registry::current()
}

/// The main thread: the one that runs `main` (Python's `main_thread()`). In a child process
/// forked by another thread, the thread that forked, as in CPython 3.13 (see [`Thread`]'s
/// differences from Python).
///
/// # Examples
///
/// ```
/// let main = threadkit::main_thread();
/// assert_eq!(&*main.name(), "MainThread");
/// assert!(!main.is_daemon());
/// ```
pub fn main_thread() -> Thread {
    registry::main_thread()
}

/// Every live thread: the main thread first, then threads in the order they were started,
/// including daemon threads and foreign threads that called [`current_thread`]. A thread is
/// listed from the moment its `start()` is called until just before its joiners wake, so a
/// joined thread is never listed.
///
/// # Examples
///
/// ```
/// let all = threadkit::enumerate();
/// assert!(all.contains(&threadkit::main_thread()));
/// ```
pub fn enumerate() -> Vec<Thread> {
    registry::snapshot()
}

/// The number of live threads, `enumerate().len()` (Python's `active_count()`).
///
/// # Examples
///
/// ```
/// assert!(threadkit::active_count() >= 1);
/// ```
#[doc(alias = "activeCount")]
pub fn active_count() -> usize {
    registry::count()
}

/// threadkit's identifier for the calling thread (Python's `get_ident()`): unique in the process
/// and never reused; the main thread's is 1. Equals `current_thread().ident()`.
///
/// # Examples
///
/// ```
/// assert_eq!(Some(threadkit::get_ident()), threadkit::current_thread().ident());
/// ```
#[inline]
pub fn get_ident() -> u64 {
    ident::current()
}

/// The kernel's identifier for the calling thread (Python's `get_native_id()`): the TID on Linux;
/// elsewhere threadkit's own identifier stands in.
///
/// # Examples
///
/// ```
/// assert!(threadkit::get_native_id() > 0);
/// ```
pub fn get_native_id() -> u64 {
    ident::native_id()
}

/// The stack size new threads get (0: the platform's default); Python's `stack_size()`.
///
/// # Examples
///
/// ```
/// assert_eq!(threadkit::stack_size(), 0);
/// ```
pub fn stack_size() -> usize {
    STACK_SIZE.load(Ordering::Relaxed)
}

/// Sets the stack size for threads created from now on and returns the previous setting;
/// Python's `stack_size(size)`. A [`Builder::stack_size`] overrides it for one thread.
///
/// # Errors
///
/// [`StackSizeError`] unless `size` is 0 (the platform default) or at least [`MIN_STACK_SIZE`]
/// (Python: `ValueError: size not valid`); the setting is unchanged.
///
/// # Examples
///
/// ```
/// assert!(threadkit::set_stack_size(1000).is_err());
/// let old = threadkit::set_stack_size(256 * 1024).unwrap();
/// threadkit::set_stack_size(old).unwrap();
/// ```
pub fn set_stack_size(size: usize) -> Result<usize, StackSizeError> {
    if size != 0 && size < MIN_STACK_SIZE {
        return Err(StackSizeError(size));
    }
    Ok(STACK_SIZE.swap(size, Ordering::Relaxed))
}

/// The error returned by [`set_stack_size`] for a size below [`MIN_STACK_SIZE`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StackSizeError(usize);

impl std::fmt::Debug for StackSizeError {
    /// The type and its message, so that `main() -> Result` prints what CPython would.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StackSizeError")
            .field(&self.to_string())
            .finish()
    }
}

impl std::fmt::Display for StackSizeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "size not valid: {} bytes", self.0)
    }
}

impl std::error::Error for StackSizeError {}

pub(crate) use excepthook::with_in_target;
pub(crate) use shutdown::before_thread_teardown;

/// Reports a panic caught while a thread's values are dropped in its thread-local teardown, with
/// the calling thread, as a panicking target is reported.
pub(crate) fn report_teardown_panic(payload: &(dyn std::any::Any + Send)) {
    excepthook::report(&registry::current(), payload);
}

/// Runs `f` with the calling thread's name, without allocating (for log formatters).
#[cfg_attr(not(feature = "logging"), allow(dead_code))]
pub(crate) fn with_current_name<R>(f: impl FnOnce(&str) -> R) -> R {
    registry::with_current(|t| t.with_name(f))
}
