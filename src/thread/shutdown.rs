//! Process exit: waiting for non-daemon threads, as CPython's `threading._shutdown`.
//!
//! The first time threadkit starts a thread it registers [`shutdown`] with the C library's
//! `atexit`. `exit()` runs those handlers on every ordinary way out of a Rust program:
//! returning from `main`, `std::process::exit` from any thread, and a panic in `main` (std
//! catches it, prints it and then exits with status 101). So a seed program ported line by line
//! keeps its Python behaviour with no extra line in `main`.
//!
//! [`shutdown`] follows CPython's order: it runs the callbacks registered with
//! [`register_atexit`] (last registered first), marks the main thread done (waking threads that
//! joined it), then joins every non-daemon thread threadkit started, again and again until none
//! is left (threads started meanwhile are joined too). Daemon threads are not waited for; they
//! stop when the process does.
//!
//! Edge cases:
//! - `std::process::abort`, a fatal signal, or `libc::_exit` skip everything, as Python's
//!   `os._exit` does.
//! - `std::process::exit` called by a non-daemon thread: that thread runs the handlers and waits
//!   for the *other* non-daemon threads (never for itself), then the process ends.
//! - A thread that calls `exit` while the main thread is already waiting in `shutdown` ends the
//!   process at once (the handler runs only once).
//! - Threads started after `shutdown` finished are not waited for.

use std::sync::Once;

use super::registry;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::Lock;

/// A callback registered with [`register_atexit`].
type Callback = Box<dyn FnOnce() + Send>;

static INSTALL: Once = Once::new();
static STARTED: AtomicBool = AtomicBool::new(false);
static CALLBACKS: Lock<Vec<Callback>> = Lock::with_value(Vec::new());

/// Registers the exit handler (once).
pub(crate) fn ensure_installed() {
    INSTALL.call_once(|| {
        // Miri does not implement `atexit`; under it, non-daemon threads are not joined at exit.
        #[cfg(all(unix, not(miri)))]
        {
            // SAFETY: `at_exit` is an `extern "C" fn()` that never unwinds (it catches panics).
            let rc = unsafe { libc::atexit(at_exit) };
            debug_assert_eq!(rc, 0, "atexit registration failed");
        }
    });
}

#[cfg(all(unix, not(miri)))]
extern "C" fn at_exit() {
    // Unwinding out of an `extern "C"` function aborts; a panicking callback must not.
    let _ = std::panic::catch_unwind(shutdown);
}

/// Runs the exit-time sequence now: `register_atexit` callbacks (last first), then waits for
/// every non-daemon thread. Python's `threading._shutdown()`.
///
/// It runs by itself when the process exits; call it to wait earlier. Only the first call does
/// anything; later calls (including the one at exit) return at once. The calling thread never
/// waits for itself.
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
    if STARTED.swap(true, Ordering::AcqRel) {
        return;
    }
    loop {
        let callback = CALLBACKS.acquire().pop();
        match callback {
            Some(cb) => cb(),
            None => break,
        }
    }
    registry::main_thread().mark_main_done();
    loop {
        let pending: Vec<_> = registry::snapshot()
            .into_iter()
            .filter(|t| t.must_join_at_exit() && !t.is_current())
            .collect();
        if pending.is_empty() {
            break;
        }
        for thread in pending {
            let _ = thread.join();
        }
    }
}

/// Registers `callback` to run at exit before the non-daemon threads are joined (CPython's
/// `threading._register_atexit`, which `concurrent.futures` uses to stop its workers).
///
/// Callbacks run last-registered first, in the thread that exits.
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
