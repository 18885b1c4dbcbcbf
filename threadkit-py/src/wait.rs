//! Timeouts with CPython's rules, the standard library's exception types, and the one way every
//! binding blocks: GIL released, and in the main thread woken by signals (`signals.rs`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use threadkit::diagnostics::Site;

use crate::signals::{self, WakeupFd, SIGNAL_SLICE};

/// The `pthread_self()` of the thread Python runs signal handlers in (0 until `init`); after an
/// `os.fork()` in the child, the forking thread ([`after_fork_in_child`]).
static MAIN_THREAD: AtomicU64 = AtomicU64::new(0);
static TIMEOUT_MAX: OnceLock<f64> = OnceLock::new();

/// Test-only: a Python callable run in the main thread between two slices of a wait (so a test
/// can act exactly in the gap). Set through `_testing.set_slice_hook`.
static SLICE_HOOK_SET: AtomicBool = AtomicBool::new(false);
static SLICE_HOOK: Mutex<Option<Py<PyAny>>> = Mutex::new(None);

pub(crate) fn set_slice_hook(hook: Option<Py<PyAny>>) {
    let mut slot = crate::diag::locked(&SLICE_HOOK);
    SLICE_HOOK_SET.store(hook.is_some(), Ordering::SeqCst);
    *slot = hook;
}

fn run_slice_hook(py: Python<'_>) -> PyResult<()> {
    let hook = crate::diag::locked(&SLICE_HOOK)
        .as_ref()
        .map(|h| h.clone_ref(py));
    if let Some(hook) = hook {
        hook.call0(py)?;
    }
    Ok(())
}

struct Types {
    broken_barrier: Py<PyType>,
    empty: Py<PyType>,
    full: Py<PyType>,
    shutdown: Py<PyType>,
}

static TYPES: PyOnceLock<Types> = PyOnceLock::new();

/// Records the main thread and `_thread.TIMEOUT_MAX`, and looks up the exception types.
pub(crate) fn init(py: Python<'_>) -> PyResult<()> {
    let threading = py.import("threading")?;
    let main_ident: u64 = threading
        .call_method0("main_thread")?
        .getattr("ident")?
        .extract()?;
    // CPython's `get_ident()` is `pthread_self()` cast to an integer.
    MAIN_THREAD.store(main_ident, Ordering::Relaxed);
    let max: f64 = py.import("_thread")?.getattr("TIMEOUT_MAX")?.extract()?;
    let _ = TIMEOUT_MAX.set(max);
    let queue = py.import("queue")?;
    let ty = |m: &Bound<'_, PyModule>, name: &str| -> PyResult<Py<PyType>> {
        Ok(m.getattr(name)?.cast_into::<PyType>()?.unbind())
    };
    let shutdown = match queue.getattr("ShutDown") {
        Ok(t) => t.cast_into::<PyType>()?.unbind(),
        Err(_) => py.get_type::<crate::ShutDown>().unbind(),
    };
    let types = Types {
        broken_barrier: ty(&threading, "BrokenBarrierError")?,
        empty: ty(&queue, "Empty")?,
        full: ty(&queue, "Full")?,
        shutdown,
    };
    let _ = TYPES.set(py, types);
    Ok(())
}

fn types(py: Python<'_>) -> &Types {
    TYPES.get(py).expect("threadkit._native initialised")
}

pub(crate) fn shutdown_type(py: Python<'_>) -> &Py<PyType> {
    &types(py).shutdown
}

pub(crate) fn broken_barrier(py: Python<'_>) -> PyErr {
    PyErr::from_type(types(py).broken_barrier.bind(py).clone(), ())
}
pub(crate) fn empty(py: Python<'_>) -> PyErr {
    PyErr::from_type(types(py).empty.bind(py).clone(), ())
}
pub(crate) fn full(py: Python<'_>) -> PyErr {
    PyErr::from_type(types(py).full.bind(py).clone(), ())
}
pub(crate) fn shut_down(py: Python<'_>) -> PyErr {
    PyErr::from_type(types(py).shutdown.bind(py).clone(), ())
}

/// `threading.TIMEOUT_MAX` of this interpreter.
pub(crate) fn timeout_max() -> f64 {
    *TIMEOUT_MAX.get().unwrap_or(&9223372036.0)
}

/// Whether the caller is the thread Python runs signal handlers in.
pub(crate) fn is_main_thread() -> bool {
    MAIN_THREAD.load(Ordering::Relaxed) == get_ident()
}

/// In the child of an `os.fork()` (from `os.register_at_fork`): the forking thread, the only
/// one in the child, is its main thread now (CPython runs signal handlers there).
pub(crate) fn after_fork_in_child() {
    MAIN_THREAD.store(get_ident(), Ordering::Relaxed);
}

/// The calling thread's `threading.get_ident()`.
pub(crate) fn get_ident() -> u64 {
    // SAFETY: pthread_self has no preconditions and cannot fail.
    unsafe { libc::pthread_self() as u64 }
}

/// Python truthiness of an optional `block`/`blocking` argument (absent: true), as the
/// standard library reads it (`q.put(x, block=0)`).
pub(crate) fn truthy(flag: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
    flag.map_or(Ok(true), |b| b.is_truthy())
}

/// A deadline `secs` from now; `None` (wait forever) past what `Duration` or `Instant` can hold
/// (infinity included: never a panic).
pub(crate) fn deadline_after(secs: f64) -> Option<Instant> {
    let d = Duration::try_from_secs_f64(secs.max(0.0)).ok()?;
    Instant::now().checked_add(d)
}

/// What a lock's `acquire(blocking, timeout)` asks for.
pub(crate) enum Mode {
    /// Do not wait.
    Try,
    /// Wait until the deadline (`None`: forever).
    Until(Option<Instant>),
}

/// CPython's `lock_acquire_parse_args`: `Lock.acquire` / `RLock.acquire`.
pub(crate) fn lock_mode(blocking: bool, timeout: f64) -> PyResult<Mode> {
    if timeout.is_nan() {
        return Err(PyValueError::new_err("Invalid value NaN (not a number)"));
    }
    if timeout > timeout_max() {
        return Err(PyOverflowError::new_err("timeout value is too large"));
    }
    if !blocking && timeout != -1.0 {
        return Err(PyValueError::new_err(
            "can't specify a timeout for a non-blocking call",
        ));
    }
    if timeout < 0.0 && timeout != -1.0 {
        return Err(PyValueError::new_err(
            "timeout value must be a non-negative number",
        ));
    }
    Ok(if !blocking || timeout == 0.0 {
        Mode::Try
    } else if timeout == -1.0 {
        Mode::Until(None)
    } else {
        Mode::Until(deadline_after(timeout))
    })
}

/// `timeout=None|float` as `Event.wait`, `Condition.wait`, `Thread.join` take it: `None` waits
/// forever, zero or less only checks. NaN is a `ValueError`, more than `TIMEOUT_MAX` an
/// `OverflowError` (as the C lock under CPython's `Condition.wait` raises).
pub(crate) fn optional_timeout(timeout: Option<f64>) -> PyResult<Mode> {
    match timeout {
        None => Ok(Mode::Until(None)),
        Some(t) if t.is_nan() => Err(PyValueError::new_err("Invalid value NaN (not a number)")),
        Some(t) if t > timeout_max() => Err(PyOverflowError::new_err("timeout value is too large")),
        Some(t) if t <= 0.0 => Ok(Mode::Try),
        Some(t) => Ok(Mode::Until(deadline_after(t))),
    }
}

/// `queue`'s `timeout`: negative is a `ValueError`.
pub(crate) fn queue_timeout(timeout: Option<f64>) -> PyResult<Mode> {
    match timeout {
        Some(t) if t < 0.0 => Err(PyValueError::new_err(
            "'timeout' must be a non-negative number",
        )),
        other => optional_timeout(other),
    }
}

/// Blocks in `attempt` with the GIL released until it succeeds (`Some`) or `deadline` passes
/// (`Ok(None)`).
///
/// `attempt(None)` must wait until it succeeds; `attempt(Some(d))` gives up at `d`. In the main
/// thread, Python's signal handlers must run while it waits: the wait installs the extension's
/// pipe as Python's wakeup fd for its duration (`signals::WakeupFd`) and parks until its
/// deadline (a day at a time when it has none); a signal with a Python handler makes the
/// watcher thread interrupt the park (`threadkit::interrupt`), the handlers run (with the GIL),
/// an exception they raise (`KeyboardInterrupt`) is returned, and a handler that returns lets
/// the wait go on with the rest of its timeout. No periodic wake-up: a blocked main thread
/// sleeps in the kernel until the signal, as CPython's locks do. Where the wakeup fd cannot be
/// used (`signals` says when), the wait falls back to [`SIGNAL_SLICE`]s with the handlers run
/// between them. Either way it is published as one wait
/// (`threadkit::diagnostics::as_one_wait`): a dump shows how long the main thread has really
/// waited and its real timeout, and the stall watchdog reports it.
///
/// Every blocking call of the extension goes through here, and runs with the calling Python
/// line as threadkit's call site (`diag::enter`): dumps, deadlock and stall reports say "this
/// Python thread waits on that object, called from this Python line". A lock-order panic
/// (mode 'panic') becomes `PotentialDeadlockError`.
pub(crate) fn block<T: Send>(
    py: Python<'_>,
    deadline: Option<Instant>,
    attempt: impl FnMut(Option<Instant>) -> Option<T> + Send,
) -> PyResult<Option<T>> {
    let site = crate::diag::enter(py);
    block_at(py, site, deadline, attempt)
}

/// [`block`] with the call site already looked up.
pub(crate) fn block_at<T: Send>(
    py: Python<'_>,
    site: Option<Site>,
    deadline: Option<Instant>,
    mut attempt: impl FnMut(Option<Instant>) -> Option<T> + Send,
) -> PyResult<Option<T>> {
    let mut attempt = |d| {
        crate::diag::checked(|| crate::diag::with_site(site, || attempt(d)))
            .map_err(crate::diag::potential_deadlock)
    };
    // Mutants that prove the tests can see the bugs they are written for (tests/mutants.sh).
    if cfg!(threadkit_py_mutant = "hold_gil") {
        return attempt(deadline);
    }
    if !is_main_thread() || cfg!(threadkit_py_mutant = "no_signal_check") {
        return py.detach(|| attempt(deadline));
    }
    // One look before the wakeup fd is installed: a wait that need not block pays nothing for
    // it (the fd, two Python calls). Without the GIL, as every attempt (the primitive's state
    // lock may be held by a thread that waits for the GIL).
    if let Some(v) = py.detach(|| attempt(Some(Instant::now())))? {
        return Ok(Some(v));
    }
    // With the wakeup fd installed, the wait parks until its deadline and a signal interrupts
    // it; without (fallback), it parks in slices and runs the handlers after each.
    let mut fd = WakeupFd::install(py)?;
    let mut deadline = deadline;
    let span = deadline.map_or(Duration::ZERO, |d| {
        d.saturating_duration_since(Instant::now())
    });
    // Published as one wait: a dump says how long the main thread has really waited, shows its
    // real timeout, and the stall watchdog sees it (a wait re-published per park would be new
    // after every signal).
    threadkit::diagnostics::as_one_wait(deadline, || loop {
        let span_end = Instant::now().checked_add(signals::park_span(fd.is_some()));
        let end = match (deadline, span_end) {
            (Some(d), Some(s)) => d.min(s),
            (Some(d), None) => d,
            (None, s) => s.unwrap_or_else(|| Instant::now() + SIGNAL_SLICE),
        };
        if let Some(v) = py.detach(|| attempt(Some(end)))? {
            return Ok(Some(v));
        }
        if fd.is_none() || threadkit::interrupt::take() {
            after_slice(py)?;
            // A handler that called `signal.set_wakeup_fd` would leave the wait deaf.
            while fd.as_ref().map_or(Ok(false), |f| f.reclaim(py))? {
                after_slice(py)?;
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(None);
        }
        if cfg!(threadkit_py_mutant = "fresh_timeout") {
            if let Some(d) = deadline.as_mut() {
                *d = Instant::now() + span;
            }
        }
        // Our pipe was closed under the watcher (slices from here on: `install` says no), or
        // a signal handler forked during this wait (the child watches anew).
        if fd.as_ref().is_some_and(|f| f.is_dead() || !f.is_current()) {
            fd = None;
            fd = WakeupFd::install(py)?;
        }
    })
}

/// What the main thread does when a signal interrupted its wait (or between two slices, on the
/// fallback path): runs Python's signal handlers (an exception they raise, `KeyboardInterrupt`,
/// ends the wait) and the test hook.
pub(crate) fn after_slice(py: Python<'_>) -> PyResult<()> {
    py.check_signals()?;
    if SLICE_HOOK_SET.load(Ordering::Relaxed) {
        run_slice_hook(py)?;
    }
    Ok(())
}

/// The address Python shows in reprs (`at 0x...`).
pub(crate) fn addr<T>(obj: &Bound<'_, T>) -> String {
    format!("{:#x}", obj.as_ptr() as usize)
}

/// `module.qualname` of the object's type, as CPython's reprs print it.
pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let ty = obj.get_type();
    Ok(format!("{}.{}", ty.module()?, ty.qualname()?))
}
