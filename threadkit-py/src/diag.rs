//! threadkit's diagnostics for Python: `threadkit.dump()`, `find_deadlocks()`, the watchdog,
//! the report hook, lock-order checking and the contention profile, in a Python program's own
//! terms: objects by their Python creation site (`Lock@app.py:12`), waits and acquires by the
//! Python line that called them, threads by their `threading` names.
//!
//! How: every object created from Python gets its creation site replaced by the calling Python
//! frame's file and line ([`created`]); every blocking call, and every acquire while holder
//! sites or the lock-order checker are on, runs inside `threadkit::diagnostics::with_call_site`
//! with the calling Python line ([`enter`]), which is what threadkit records as the wait's call
//! site, the holder's acquire site and the lock-order checker's site; and a Python thread is
//! registered with threadkit under its `threading` name the first time it is seen there.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use pyo3::exceptions::{PyOSError, PyOverflowError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use threadkit::diagnostics::{self, LockOrderMode, Report, ThreadDump, WatchdogHandle};

mod join;
mod views;

pub(crate) use views::{object_dict, site_str};
use views::{PyDeadlock, PyReport, PyThreadDump};

pub(crate) use crate::pysite::{
    checked, created, enter, lock_order_armed, python_site, tracking, with_site,
};
use crate::pysite::{name_thread, quiet_lock_order_panics, PACKAGE_DIR};

pyo3::create_exception!(
    threadkit,
    PotentialDeadlockError,
    PyRuntimeError,
    "Raised by an acquire that inverts a recorded lock order while lock-order checking is in \
     'panic' mode (threadkit.set_lock_order_mode('panic')), before the acquire blocks: the lock \
     is not taken. The message is the lock-order report."
);

/// The Python exception for a lock-order panic's message.
pub(crate) fn potential_deadlock(text: String) -> PyErr {
    PotentialDeadlockError::new_err(text)
}

/// Each live `threading.Thread` with its native id (threads not started yet have none).
fn python_threads(py: Python<'_>) -> PyResult<Vec<(u64, Bound<'_, PyAny>)>> {
    let mut out = Vec::new();
    for t in py
        .import("threading")?
        .call_method0("enumerate")?
        .try_iter()?
    {
        let t = t?;
        if let Ok(Some(native)) = t.getattr("native_id")?.extract::<Option<u64>>() {
            out.push((native, t));
        }
    }
    Ok(out)
}

/// `threading`'s daemon flag of each Python thread, by native id (threadkit counts threads it did
/// not start as daemon threads).
fn python_daemon_flags(py: Python<'_>, dump: &mut ThreadDump) -> PyResult<()> {
    for (native, t) in python_threads(py)? {
        let daemon: bool = t.getattr("daemon")?.extract()?;
        for s in dump
            .threads
            .iter_mut()
            .filter(|s| s.native_id == Some(native))
        {
            s.daemon = Some(daemon);
        }
    }
    Ok(())
}

/// Brings threadkit's names of Python threads up to date (`t.name = ...` after the thread first
/// used threadkit), matching them by native thread id.
fn refresh_names(py: Python<'_>) -> PyResult<()> {
    let known = threadkit::enumerate();
    for (native, t) in python_threads(py)? {
        let name: String = t.getattr("name")?.extract()?;
        if let Some(k) = known.iter().find(|k| k.native_id() == Some(native)) {
            if *k.name() != *name {
                k.set_name(name);
            }
        }
    }
    Ok(())
}

/// A std mutex of this module's, poisoning ignored (nothing panics while holding one).
pub(crate) fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `threadkit.dump()`: every thread threadkit knows, what each waits on and who holds it.
#[pyfunction]
fn dump(py: Python<'_>) -> PyResult<PyThreadDump> {
    name_thread(py);
    refresh_names(py)?;
    let mut inner = py.detach(diagnostics::dump);
    python_daemon_flags(py, &mut inner)?;
    Ok(PyThreadDump { inner })
}

/// `threadkit.find_deadlocks()`: the cycles of threads blocked on each other now.
#[pyfunction]
fn find_deadlocks(py: Python<'_>) -> PyResult<Vec<PyDeadlock>> {
    refresh_names(py)?;
    Ok(py
        .detach(diagnostics::find_deadlocks)
        .into_iter()
        .map(|d| PyDeadlock { inner: d })
        .collect())
}

/// The Python report hook, if one is set; reports go to it with the GIL taken.
static PY_HOOK: Mutex<Option<Py<PyAny>>> = Mutex::new(None);

/// `threadkit.set_report_hook(hook)`: `hook(report)` receives every report (from the watchdog's
/// thread, or from the acquiring thread for lock-order reports); `None` restores the default,
/// which prints to stderr. An exception in the hook goes to `sys.unraisablehook`.
#[pyfunction]
#[pyo3(signature = (hook))]
fn set_report_hook(hook: Option<Py<PyAny>>) {
    let set = hook.is_some();
    // The old hook is dropped after the mutex is released: its `__del__` may set a hook.
    let old = std::mem::replace(&mut *locked(&PY_HOOK), hook);
    drop(old);
    if set {
        diagnostics::set_report_hook(|report: &Report| {
            let hook = Python::attach(|py| locked(&PY_HOOK).as_ref().map(|h| h.clone_ref(py)));
            match hook {
                Some(h) => Python::attach(|py| {
                    let r = PyReport {
                        inner: report.clone(),
                    };
                    if let Err(e) = h.call1(py, (r,)) {
                        e.write_unraisable(py, Some(h.bind(py)));
                    }
                }),
                None => diagnostics::default_report_hook(report),
            }
        });
    } else {
        diagnostics::reset_report_hook();
    }
}

fn parse_mode(mode: &str) -> PyResult<LockOrderMode> {
    match mode {
        "off" => Ok(LockOrderMode::Off),
        "report" => Ok(LockOrderMode::Report),
        "panic" | "raise" => Ok(LockOrderMode::Panic),
        _ => Err(PyValueError::new_err(format!(
            "lock-order mode must be 'off', 'report' or 'panic', not {mode:?}"
        ))),
    }
}

/// `threadkit.set_lock_order_mode("off" | "report" | "panic")`: 'panic' raises
/// `PotentialDeadlockError` in the inverted acquire, before it blocks.
#[pyfunction]
fn set_lock_order_mode(mode: &str) -> PyResult<()> {
    diagnostics::set_lock_order_mode(parse_mode(mode)?);
    Ok(())
}

/// `threadkit.lock_order_mode()`: "off", "report" or "panic".
#[pyfunction]
fn lock_order_mode() -> &'static str {
    match diagnostics::lock_order_mode() {
        LockOrderMode::Report => "report",
        LockOrderMode::Panic => "panic",
        _ => "off",
    }
}

/// `threadkit.reset_lock_order()`: forgets every recorded order and reported cycle.
#[pyfunction]
fn reset_lock_order() {
    diagnostics::reset_lock_order();
}

/// `threadkit.set_holder_sites(on)`: whether Lock/RLock record where their holder acquired
/// them (the Python line; costs every acquire a look at the calling frame).
#[pyfunction]
fn set_holder_sites(on: bool) {
    diagnostics::set_holder_sites(on);
}

/// `threadkit.holder_sites()`.
#[pyfunction]
fn holder_sites() -> bool {
    diagnostics::holder_sites()
}

/// `threadkit.set_contention_profiling(on)`.
#[pyfunction]
fn set_contention_profiling(on: bool) {
    diagnostics::set_contention_profiling(on);
}

/// `threadkit.contention_profiling()`.
#[pyfunction]
fn contention_profiling() -> bool {
    diagnostics::contention_profiling()
}

/// `threadkit.reset_contention_profile()`.
#[pyfunction]
fn reset_contention_profile() {
    diagnostics::reset_contention_profile();
}

/// The contention profile: `str()` is the table, `folded()` the flame-graph input.
#[pyclass(module = "threadkit", name = "ContentionProfile", frozen)]
pub(crate) struct PyProfile {
    inner: diagnostics::ContentionProfile,
}

#[pymethods]
impl PyProfile {
    /// The folded-stack text flame-graph tools take (`flamegraph.pl`, inferno).
    fn folded(&self) -> String {
        self.inner.folded()
    }

    /// One dict per object: object, dropped, acquisitions, waits, total, max (seconds),
    /// holder_sites, waiter_sites. An entry with `dropped` > 0 sums that many objects created
    /// at `object["created_at"]` and since dropped (its `object["id"]` is 0): the profile keeps
    /// their totals, not an entry per object.
    #[getter]
    fn objects<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for o in &self.inner.objects {
            let d = PyDict::new(py);
            d.set_item("object", object_dict(py, &o.object)?)?;
            d.set_item("dropped", o.dropped)?;
            d.set_item("acquisitions", o.acquisitions)?;
            d.set_item("waits", o.stats.waits)?;
            d.set_item("total", o.stats.total.as_secs_f64())?;
            d.set_item("max", o.stats.max.as_secs_f64())?;
            let sites = |v: &[diagnostics::SiteStats]| -> Vec<(Option<String>, u64, f64)> {
                v.iter()
                    .map(|s| (site_str(s.site), s.stats.waits, s.stats.total.as_secs_f64()))
                    .collect()
            };
            d.set_item("holder_sites", sites(&o.holder_sites))?;
            d.set_item("waiter_sites", sites(&o.waiter_sites))?;
            list.append(d)?;
        }
        Ok(list)
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }
}

/// `threadkit.contention_profile()`.
#[pyfunction]
fn contention_profile() -> PyProfile {
    PyProfile {
        inner: diagnostics::contention_profile(),
    }
}

/// Every watchdog started from Python, stopped at exit (before the interpreter finalizes, so
/// no report hook tries to take the GIL after that).
static RUNNING: Mutex<Vec<WatchdogHandle>> = Mutex::new(Vec::new());

/// Seconds as a Duration: negative or NaN is a ValueError, too large (or infinite) an
/// OverflowError, as CPython's timeouts are.
fn secs(name: &str, t: f64) -> PyResult<Duration> {
    if t.is_nan() || t < 0.0 {
        return Err(PyValueError::new_err(format!(
            "{name} must be a non-negative number"
        )));
    }
    Duration::try_from_secs_f64(t)
        .map_err(|_| PyOverflowError::new_err(format!("{name} value is too large")))
}

/// `threadkit.Watchdog(interval=1.0, stall=None, dump_after=None, repeat=False,
/// deadlocks=True, dump_with_reports=True)`: a background thread that reports deadlocks (each
/// once), threads blocked longer than `stall` seconds, and a full dump after `dump_after`
/// seconds, through the report hook. `start()` / `stop()`, or use it as a context manager.
#[pyclass(module = "threadkit", name = "Watchdog", frozen)]
pub(crate) struct PyWatchdog {
    config: diagnostics::Watchdog,
    handle: Mutex<Option<WatchdogHandle>>,
}

#[pymethods]
impl PyWatchdog {
    #[new]
    #[pyo3(signature = (interval=1.0, stall=None, dump_after=None, repeat=false, deadlocks=true, dump_with_reports=true))]
    fn new(
        interval: f64,
        stall: Option<f64>,
        dump_after: Option<f64>,
        repeat: bool,
        deadlocks: bool,
        dump_with_reports: bool,
    ) -> PyResult<Self> {
        let mut w = diagnostics::Watchdog::new()
            .interval(secs("interval", interval)?)
            .deadlocks(deadlocks)
            .repeat(repeat)
            .dump_with_reports(dump_with_reports);
        if let Some(s) = stall {
            w = w.stall_threshold(secs("stall", s)?);
        }
        if let Some(d) = dump_after {
            w = w.dump_after(secs("dump_after", d)?);
        }
        Ok(PyWatchdog {
            config: w,
            handle: Mutex::new(None),
        })
    }

    /// Starts the watchdog thread (again after `stop()`).
    fn start(&self) -> PyResult<()> {
        let mut h = locked(&self.handle);
        if h.is_none() {
            *h = Some(
                self.config
                    .clone()
                    .start()
                    .map_err(|e| PyRuntimeError::new_err(e.to_string()))?,
            );
        }
        Ok(())
    }

    /// Stops it and waits for its thread (the GIL released meanwhile: a report may be going to
    /// a Python hook).
    fn stop(&self, py: Python<'_>) {
        let h = locked(&self.handle).take();
        if let Some(h) = h {
            py.detach(|| h.stop());
        }
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().start()?;
        Ok(slf)
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _ty: &Bound<'_, PyAny>,
        _value: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) {
        self.stop(py);
    }
}

impl Drop for PyWatchdog {
    fn drop(&mut self) {
        // Not joined here (the GIL may be held and a report may be waiting for it): handed to
        // the exit-time list, stopped by `_stop_watchdogs`.
        if let Some(h) = locked(&self.handle).take() {
            locked(&RUNNING).push(h);
        }
    }
}

/// `threadkit.dump_later(timeout, repeat=False)`: a watchdog that only prints a full dump
/// after `timeout` seconds (faulthandler.dump_traceback_later); returns it (call `stop()`).
#[pyfunction]
#[pyo3(signature = (timeout, repeat=false))]
fn dump_later(timeout: f64, repeat: bool) -> PyResult<PyWatchdog> {
    let t = secs("timeout", timeout)?;
    let w = PyWatchdog {
        config: diagnostics::Watchdog::new()
            .deadlocks(false)
            .interval(t)
            .dump_after(t)
            .repeat(repeat),
        handle: Mutex::new(None),
    };
    w.start()?;
    Ok(w)
}

/// At exit: stops the watchdogs whose Python objects are gone and drops the Python hook.
#[pyfunction]
fn _stop_watchdogs(py: Python<'_>) {
    let handles = std::mem::take(&mut *locked(&RUNNING));
    py.detach(|| drop(handles));
    // Dropped after the mutex is released (a `__del__` may set a hook).
    let old = locked(&PY_HOOK).take();
    if old.is_some() {
        diagnostics::reset_report_hook();
    }
    drop(old);
}

/// A running signal dump ([`dump_on_signal`]); `stop()` uninstalls it.
#[pyclass(module = "threadkit", name = "SignalDump", frozen)]
pub(crate) struct PySignalDump {
    inner: Mutex<Option<diagnostics::SignalDump>>,
}

#[pymethods]
impl PySignalDump {
    /// Stops printing dumps on the signal (the signal's earlier handler is not restored).
    fn stop(&self, py: Python<'_>) {
        let h = locked(&self.inner).take();
        py.detach(|| drop(h));
    }
}

/// `threadkit.dump_on_signal(signum=signal.SIGQUIT)`: prints a thread dump (through the report
/// hook) each time the process receives `signum`, as the JVM does on `kill -QUIT`. The dump is
/// made by a thread of threadkit's, not by a Python signal handler: it works while every Python
/// thread is blocked, or while one holds the GIL. Unix only. Dropping the returned object leaves
/// the dump installed; its `stop()` removes it.
#[pyfunction]
#[pyo3(signature = (signum=None))]
fn dump_on_signal(signum: Option<i32>) -> PyResult<PySignalDump> {
    let signum = signum.unwrap_or(libc::SIGQUIT);
    // CPython's signal.signal: a number that is no signal is a ValueError, a signal that cannot
    // be caught (SIGKILL, SIGSTOP) an OSError.
    if !(1..65).contains(&signum) {
        return Err(PyValueError::new_err("signal number out of range"));
    }
    let handle = diagnostics::dump_on_signal(signum).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidInput => {
            PyOSError::new_err((libc::EINVAL, format!("Invalid argument: {e}")))
        }
        _ => PyRuntimeError::new_err(e.to_string()),
    })?;
    Ok(PySignalDump {
        inner: Mutex::new(Some(handle)),
    })
}

impl Drop for PySignalDump {
    fn drop(&mut self) {
        // Left installed (its thread runs to the end of the process): dropping the Python object
        // must not join a thread that may be printing.
        if let Some(h) = locked(&self.inner).take() {
            std::mem::forget(h);
        }
    }
}

/// Tells the extension where the `threadkit` package lives (its frames are skipped when
/// looking for the user's line).
#[pyfunction]
fn _set_package_dir(dir: String) {
    let _ = PACKAGE_DIR.set(dir);
}

/// `threadkit._site()`: the site the extension would record for its caller now (for tests).
#[pyfunction]
fn _site(py: Python<'_>) -> Option<String> {
    python_site(py).map(|s| s.to_string())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    quiet_lock_order_panics();
    m.add(
        "PotentialDeadlockError",
        py.get_type::<PotentialDeadlockError>(),
    )?;
    views::register(m)?;
    join::register(m)?;
    m.add_class::<PyProfile>()?;
    m.add_class::<PyWatchdog>()?;
    m.add_function(wrap_pyfunction!(dump, m)?)?;
    m.add_function(wrap_pyfunction!(find_deadlocks, m)?)?;
    m.add_function(wrap_pyfunction!(set_report_hook, m)?)?;
    m.add_function(wrap_pyfunction!(set_lock_order_mode, m)?)?;
    m.add_function(wrap_pyfunction!(lock_order_mode, m)?)?;
    m.add_function(wrap_pyfunction!(reset_lock_order, m)?)?;
    m.add_function(wrap_pyfunction!(set_holder_sites, m)?)?;
    m.add_function(wrap_pyfunction!(holder_sites, m)?)?;
    m.add_function(wrap_pyfunction!(set_contention_profiling, m)?)?;
    m.add_function(wrap_pyfunction!(contention_profiling, m)?)?;
    m.add_function(wrap_pyfunction!(contention_profile, m)?)?;
    m.add_function(wrap_pyfunction!(reset_contention_profile, m)?)?;
    m.add_function(wrap_pyfunction!(dump_later, m)?)?;
    m.add_class::<PySignalDump>()?;
    m.add_function(wrap_pyfunction!(dump_on_signal, m)?)?;
    m.add_function(wrap_pyfunction!(_stop_watchdogs, m)?)?;
    m.add_function(wrap_pyfunction!(_set_package_dir, m)?)?;
    m.add_function(wrap_pyfunction!(_site, m)?)?;
    Ok(())
}
