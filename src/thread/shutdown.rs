//! Process exit: waiting for non-daemon threads, as CPython's `threading._shutdown`.
//!
//! The first time threadkit starts a thread it registers the exit sequence with the C library's
//! `atexit`. `exit()` runs it on every ordinary way out of a Rust program: returning from
//! `main`, `std::process::exit` from any thread, and a panic in `main` (std catches it, prints it
//! and then exits with status 101). So a seed program ported line by line keeps its Python
//! behaviour with no extra line in `main`.
//!
//! [`shutdown`] follows CPython's order: it runs the callbacks registered with
//! [`register_atexit`] (last registered first), marks the main thread done (waking threads that
//! joined it), then joins every non-daemon thread threadkit started, again and again until none
//! is left (threads started meanwhile are joined too). Daemon threads are not waited for; they
//! stop when the process does.
//!
//! The exiting thread's thread-locals and the edge cases are documented on [`shutdown`].

use std::sync::Once;
use std::time::{Duration, Instant};

use super::exit_guard::{self, ExitWait};
use super::handle::Thread;
use super::{excepthook, ident, registry};
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::Lock;

/// A callback registered with [`register_atexit`].
type Callback = Box<dyn FnOnce() + Send>;

static INSTALL: Once = Once::new();
/// Whether the exit handler is registered with `atexit` (never under Miri).
static HANDLER: AtomicBool = AtomicBool::new(false);
static STARTED: AtomicBool = AtomicBool::new(false);
static CALLBACKS: Lock<Vec<Callback>> = Lock::with_value(Vec::new());
/// How long the exit sequence waits for non-daemon threads; `None`: until they finish.
static EXIT_TIMEOUT: Lock<Option<Duration>> = Lock::with_value(None);

/// Registers the exit handler (once).
pub(crate) fn ensure_installed() {
    INSTALL.call_once(|| {
        // Miri does not implement `atexit`; under it, non-daemon threads are not joined at exit.
        #[cfg(all(unix, not(miri)))]
        {
            // SAFETY: `at_exit` is an `extern "C" fn()` that never unwinds (it catches panics).
            let rc = unsafe { libc::atexit(at_exit) };
            debug_assert_eq!(rc, 0, "atexit registration failed");
            HANDLER.store(rc == 0, Ordering::Release);
        }
    });
}

#[cfg(all(unix, not(miri)))]
extern "C" fn at_exit() {
    exit_sequence();
}

/// The exit sequence as part of the process's exit (from the `atexit` handler, or earlier from
/// [`before_thread_teardown`]).
fn exit_sequence() {
    // Unwinding out of an `extern "C"` function or a thread-local destructor aborts; a panicking
    // callback must not. Outside any target, so std's panic hook prints such a panic.
    let _ = excepthook::with_in_target(false, || std::panic::catch_unwind(|| run(true)));
}

/// Called first by threadkit's thread-local destructors (`Local` values, the current-thread
/// slot). When they run because this thread is exiting the process (the C library destroys the
/// exiting thread's thread-locals before it runs `atexit` handlers), this runs the exit sequence
/// now, while they are intact: in the main thread (whose thread-locals are only destroyed by
/// `exit`), and in a thread inside a threadkit target (which only reaches its thread-local
/// teardown from inside the target by calling `exit`; otherwise its target returns first).
pub(crate) fn before_thread_teardown() {
    if !HANDLER.load(Ordering::Acquire) || STARTED.load(Ordering::Acquire) {
        return;
    }
    if ident::is_main_os_thread() || excepthook::in_target() {
        exit_sequence();
    }
}

/// Runs the exit-time sequence now: `register_atexit` callbacks (last first), then waits for
/// every non-daemon thread. Python's `threading._shutdown()`.
///
/// It runs by itself when the process exits; call it to wait earlier. Only the first call does
/// anything; later calls (including the one at exit) return at once. The calling thread never
/// waits for itself.
///
/// # The exiting thread's thread-locals
///
/// The C library's `exit()` destroys the exiting thread's thread-locals *before* it runs the
/// `atexit` handlers. So that the exit sequence runs as in CPython, with the exiting thread's
/// state intact, threadkit's own thread-local destructors start the exit sequence themselves
/// (before they drop anything) when they run because the process is exiting: in the main thread,
/// and in a thread that is inside a threadkit target (a thread's function or a Timer's) when it
/// calls `exit`. Guaranteed, for those two cases:
/// - the exiting thread's [`Local`](crate::Local) values are intact while the callbacks run and
///   while the non-daemon threads are waited for, and are dropped after;
/// - [`current_thread`](crate::current_thread) in a callback is the exiting thread.
///
/// Not guaranteed: the state of *other* thread-locals (std's `thread_local!`, other crates') of
/// the exiting thread, whose destructors may run before or after threadkit's (std does not
/// specify the order); and for a thread threadkit did not start that calls `exit`, its `Local`
/// values are dropped before the callbacks run and `current_thread()` there is a fresh
/// `Dummy-N`.
///
/// # Edge cases
///
/// - `std::process::abort`, a fatal signal, or `libc::_exit` skip everything, as Python's
///   `os._exit` does.
/// - `std::process::exit` called by a non-daemon thread: that thread runs the handlers and waits
///   for the *other* non-daemon threads (never for itself), then the process ends.
/// - A thread that calls `std::process::exit` while the main thread is waiting in an explicit
///   `shutdown` call ends the process at once, with its status (the sequence runs only once).
/// - A thread that calls `std::process::exit` while another thread is already *exiting* the
///   process (`main` has returned, or another thread called `exit`): std lets only the first
///   caller exit (rust-lang/rust#126600) and parks this one until the process ends, and the
///   status it passed is lost. On Linux threadkit notices such a parked thread (one it started,
///   or that called [`current_thread`](crate::current_thread)), stops waiting for threads, writes
///   a line about it to standard error, and lets the process end at once, with the first exit's
///   status (for `main` returning normally, 0). To let such a thread choose the status, call
///   `shutdown` at the end of `main`: `main` then waits there, not inside `exit`. (The main
///   thread returning from `main` while another thread exits is parked the same way; that asks
///   for nothing more, so the exiting thread's exit sequence goes on waiting for threads.)
/// - Threads started after `shutdown` finished are not waited for.
/// - With an [exit timeout](set_exit_timeout), the wait for threads ends at the timeout, with a
///   line on standard error naming the threads still running; [`exit_now`] ends the process
///   without any of this.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// let done = Arc::new(AtomicBool::new(false));
/// let d = Arc::clone(&done);
/// threadkit::spawn(move || d.store(true, Ordering::SeqCst));
/// threadkit::shutdown();
/// assert!(done.load(Ordering::SeqCst));
/// ```
pub fn shutdown() {
    run(false);
}

/// The exit sequence; `exiting`: the calling thread is inside the process's `exit`.
fn run(exiting: bool) {
    if STARTED.swap(true, Ordering::AcqRel) {
        return;
    }
    // Not interruptible (`crate::interrupt`): a pending interrupt of the exiting thread (a
    // binding's main thread) would end its timed joins at once, as timeouts, and the sequence
    // would stop waiting for the non-daemon threads (or poll them without sleeping).
    crate::wait::interrupt::unarmed(|| run_sequence(exiting));
}

/// [`run`]'s body: the callbacks, then the joins.
fn run_sequence(exiting: bool) {
    loop {
        let callback = CALLBACKS.acquire().pop();
        match callback {
            Some(cb) => cb(),
            None => break,
        }
    }
    registry::main_thread().mark_main_done();
    let timeout = *EXIT_TIMEOUT.acquire();
    let deadline = timeout.and_then(crate::wait::deadline_after);
    loop {
        let pending = pending_threads();
        if pending.is_empty() {
            break;
        }
        for thread in pending {
            let outcome = if exiting {
                exit_guard::join_unless_exit_requested(&thread, deadline)
            } else {
                join_before(&thread, deadline)
            };
            match outcome {
                ExitWait::Finished => {}
                ExitWait::TimedOut => {
                    report_not_waited_for(timeout.unwrap_or_default());
                    return;
                }
                ExitWait::ExitRequested(parked) => {
                    exit_guard::report_lost_exit(&parked);
                    return;
                }
            }
        }
    }
}

/// The non-daemon threads the exit sequence waits for (never the caller).
fn pending_threads() -> Vec<Thread> {
    registry::snapshot()
        .into_iter()
        .filter(|t| t.must_join_at_exit() && !t.is_current())
        .collect()
}

/// Joins `thread`, giving up at `deadline` (if any).
fn join_before(thread: &Thread, deadline: Option<Instant>) -> ExitWait {
    let finished = match deadline {
        None => {
            let _ = thread.join();
            true
        }
        Some(d) => thread.join_deadline(d) != Ok(false),
    };
    if finished {
        ExitWait::Finished
    } else {
        ExitWait::TimedOut
    }
}

/// Writes one line to standard error naming the non-daemon threads the exit sequence stopped
/// waiting for when the [exit timeout](set_exit_timeout) ran out.
fn report_not_waited_for(timeout: Duration) {
    use std::io::Write;
    let names: Vec<String> = pending_threads().iter().map(|t| format!("{t:?}")).collect();
    let line = format!(
        "threadkit: exit waited {timeout:?} for non-daemon threads; not waiting for {} still \
         running: {}\n",
        names.len(),
        names.join(", "),
    );
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Bounds how long the process waits for non-daemon threads when it exits (`main` returns or
/// panics, or a thread calls `std::process::exit`) or in an explicit [`shutdown`]; returns the
/// previous setting.
///
/// `None`, the default, waits until they have finished, as Python does. `Some(t)` waits at most
/// `t` in all (the [`register_atexit`] callbacks run first and are not timed); if non-daemon
/// threads are still running then, threadkit writes one line to standard error naming them
/// (`threadkit: exit waited 2s for non-daemon threads; not waiting for 1 still running:
/// Thread(worker, started 3)`) and lets the process end, abandoning them as daemon threads are.
/// `Some(Duration::ZERO)` does not wait at all (the line is still written if any were running).
///
/// Call it early in `main` (the setting is read when the exit sequence starts). To end the
/// process at once from any one place instead, use [`exit_now`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// // A worker blocked for good in `q.get()` must not keep the process alive for more than 2 s.
/// let previous = threadkit::set_exit_timeout(Some(Duration::from_secs(2)));
/// assert_eq!(previous, None);
/// # threadkit::set_exit_timeout(None);
/// ```
pub fn set_exit_timeout(timeout: Option<Duration>) -> Option<Duration> {
    std::mem::replace(&mut *EXIT_TIMEOUT.acquire(), timeout)
}

/// Ends the process now with status `code`, running nothing: no [`register_atexit`] callbacks,
/// no wait for non-daemon threads, no `atexit` handlers, no destructors (Python's `os._exit`).
///
/// Use it where `std::process::exit` would wait for a non-daemon thread that may never finish
/// (a worker blocked in `q.get()`), for example on a fatal error in any thread. It also ends
/// the process when another thread is already exiting it (std would park a second
/// `std::process::exit` for good and drop its status; see [`shutdown`]).
///
/// Standard output is line-buffered: complete lines are already written, but text printed with
/// `print!` and no newline since is lost, as are buffered writers that were not flushed. Flush
/// what must get out first (`std::io::stdout().flush()`).
///
/// # Examples
///
/// ```no_run
/// use std::io::Write;
///
/// threadkit::spawn(|| loop { std::thread::park() }); // never finishes, not a daemon
/// println!("fatal error, exiting");
/// std::io::stdout().flush().unwrap();
/// threadkit::exit_now(2); // the process ends here, with status 2
/// ```
pub fn exit_now(code: i32) -> ! {
    #[cfg(unix)]
    {
        // SAFETY: `_exit` has no preconditions; it ends the process and never returns.
        unsafe { libc::_exit(code) }
    }
    #[cfg(not(unix))]
    {
        // The exit handler is only registered on Unix (see `ensure_installed`), so nothing of
        // threadkit's runs here; the C runtime's own `atexit` handlers still do.
        std::process::exit(code)
    }
}

/// Registers `callback` to run at exit before the non-daemon threads are joined (CPython's
/// `threading._register_atexit`, which `concurrent.futures` uses to stop its workers).
///
/// Callbacks run last-registered first, in the thread that exits, while that thread's
/// [`Local`](crate::Local) values are intact and [`current_thread`](crate::current_thread) is that
/// thread (for the main thread and threads threadkit started; see [`shutdown`]).
///
/// # Errors
///
/// [`AtexitError`] once the exit sequence has begun (Python: `RuntimeError: can't register
/// atexit after shutdown`).
///
/// # Examples
///
/// ```
/// threadkit::register_atexit(|| eprintln!("stopping workers")).unwrap();
/// ```
pub fn register_atexit(callback: impl FnOnce() + Send + 'static) -> Result<(), AtexitError> {
    let mut callbacks = CALLBACKS.acquire();
    if STARTED.load(Ordering::Acquire) {
        return Err(AtexitError(()));
    }
    ensure_installed();
    callbacks.push(Box::new(callback));
    Ok(())
}

/// The error returned by [`register_atexit`] once the process has begun to exit.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AtexitError(());

impl std::fmt::Debug for AtexitError {
    /// The type and its message, so that `main() -> Result` prints what CPython would.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AtexitError")
            .field(&self.to_string())
            .finish()
    }
}

impl std::fmt::Display for AtexitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("can't register atexit after shutdown")
    }
}

impl std::error::Error for AtexitError {}
