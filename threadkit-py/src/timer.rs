//! `threading.Timer` on threadkit's timer service: no OS thread per pending timer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PySystemExit};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple, PyWeakrefReference};

use crate::wait::{self, Mode};

/// `threading.Timer(interval, function, args=None, kwargs=None)`.
///
/// Differences from Python: not a `threading.Thread` subclass and not listed by
/// `threading.enumerate()` (it has no thread of its own); the function runs on one of
/// threadkit's timer workers; `function`, `args`, `kwargs`, `finished` and `run()` are absent.
/// An exception in the function goes to `threading.excepthook`, with this Timer as the thread.
#[pyclass(module = "threadkit", frozen, weakref, subclass)]
pub(crate) struct Timer {
    inner: threadkit::Timer,
    interval: f64,
    me: Arc<OnceLock<Py<PyWeakrefReference>>>,
}

fn run(
    py: Python<'_>,
    f: &Py<PyAny>,
    args: &Py<PyTuple>,
    kwargs: &Option<Py<PyDict>>,
    me: &OnceLock<Py<PyWeakrefReference>>,
) {
    let Err(err) = f.call(py, args.bind(py), kwargs.as_ref().map(|k| k.bind(py))) else {
        return;
    };
    if err.is_instance_of::<PySystemExit>(py) {
        return;
    }
    let report = || -> PyResult<()> {
        let threading = py.import("threading")?;
        let thread = match me.get() {
            Some(w) => w
                .bind(py)
                .upgrade()
                .map_or_else(|| py.None(), |t| t.unbind()),
            None => py.None(),
        };
        let value = err.value(py);
        let hook_args = threading.getattr("ExceptHookArgs")?.call1(((
            value.get_type(),
            value,
            err.traceback(py),
            thread,
        ),))?;
        threading.getattr("excepthook")?.call1((hook_args,))?;
        Ok(())
    };
    if let Err(e) = report() {
        e.print(py);
    }
}

/// Set when threadkit's exit step has begun (at the start of `threading._shutdown`): from then on
/// threadkit no longer waits for Timers started later, so the binding does (see [`join_late`]).
static EXITING: AtomicBool = AtomicBool::new(false);
/// The non-daemon Timers started since [`EXITING`] was set.
static LATE: Mutex<Vec<threadkit::Timer>> = Mutex::new(Vec::new());

/// Called as threadkit's exit step begins.
pub(crate) fn exit_started() {
    EXITING.store(true, Ordering::SeqCst);
}

/// Joins the non-daemon Timers started since the exit step began (by a Python thread that
/// `threading._shutdown` was still joining, or by such a Timer's function), until none is left,
/// with the GIL released. Run from Python's `atexit`, after `threading._shutdown`, as CPython's
/// exit joins threads started while it waits.
pub(crate) fn join_late(py: Python<'_>) {
    loop {
        let late = std::mem::take(&mut *crate::diag::locked(&LATE));
        if late.is_empty() {
            return;
        }
        py.detach(|| {
            for t in &late {
                let _ = t.join();
            }
        });
    }
}

#[pymethods]
impl Timer {
    #[new]
    #[pyo3(signature = (interval, function, args=None, kwargs=None))]
    fn new(
        py: Python<'_>,
        interval: f64,
        function: Py<PyAny>,
        args: Option<&Bound<'_, PyAny>>,
        kwargs: Option<Py<PyDict>>,
    ) -> PyResult<Self> {
        let args: Py<PyTuple> = match args {
            None => PyTuple::empty(py).unbind(),
            Some(a) => PyTuple::new(py, a.try_iter()?.collect::<PyResult<Vec<_>>>()?)?.unbind(),
        };
        let me: Arc<OnceLock<Py<PyWeakrefReference>>> = Arc::new(OnceLock::new());
        let me2 = Arc::clone(&me);
        let d = Duration::try_from_secs_f64(interval.max(0.0)).unwrap_or(Duration::MAX);
        let inner = threadkit::Timer::new(d, move || {
            // Nothing to run once the interpreter is gone.
            let _ = Python::try_attach(|py| run(py, &function, &args, &kwargs, &me2));
        });
        // CPython's Timer inherits `threading.current_thread().daemon`. threadkit takes its own
        // current thread's flag, which is right in a thread Python does not know (a Timer's
        // function, a threadkit thread: a `_DummyThread` to Python) but not in a thread Python
        // started, which is foreign (so a daemon) to threadkit.
        let threading = py.import("threading")?;
        let current = threading.call_method0("current_thread")?;
        if !current.is_instance(&threading.getattr("_DummyThread")?)? {
            let daemon: bool = current.getattr("daemon")?.extract()?;
            inner
                .set_daemon(daemon)
                .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        }
        Ok(Timer {
            inner,
            interval,
            me,
        })
    }

    fn start(slf: &Bound<'_, Self>) -> PyResult<()> {
        let me = slf.get();
        if me.me.get().is_none() {
            let weak = PyWeakrefReference::new(slf)?.unbind();
            let _ = me.me.set(weak);
        }
        me.inner
            .start()
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        if EXITING.load(Ordering::SeqCst) && !me.inner.is_daemon() {
            let mut late = crate::diag::locked(&LATE);
            late.push(me.inner.clone());
        }
        Ok(())
    }

    fn cancel(&self) {
        self.inner.cancel();
    }

    #[pyo3(signature = (timeout=None))]
    fn join(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        // Errors (not started, joining itself) first, as CPython checks them before waiting.
        if let Err(e) = self.inner.join_timeout(Duration::ZERO) {
            return Err(PyRuntimeError::new_err(e.to_string()));
        }
        let deadline = match wait::optional_timeout(timeout.map(|t| t.max(0.0)))? {
            Mode::Try => return Ok(()),
            Mode::Until(d) => d,
        };
        wait::block(py, deadline, |d| match d {
            None => self.inner.join().ok(),
            Some(d) => match self.inner.join_deadline(d) {
                Ok(true) | Err(_) => Some(()),
                Ok(false) => None,
            },
        })?;
        Ok(())
    }

    fn is_alive(&self) -> bool {
        self.inner.is_alive()
    }

    #[getter]
    fn interval(&self) -> f64 {
        self.interval
    }

    #[getter]
    fn get_name(&self) -> String {
        self.inner.name().to_string()
    }

    #[setter]
    fn set_name(&self, name: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.set_name(name.str()?.to_string());
        Ok(())
    }

    #[getter]
    fn get_daemon(&self) -> bool {
        self.inner.is_daemon()
    }

    #[setter]
    fn set_daemon(&self, daemonic: bool) -> PyResult<()> {
        self.inner
            .set_daemon(daemonic)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    #[getter]
    fn ident(&self) -> Option<u64> {
        self.inner.thread().ident()
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let t = &slf.get().inner;
        let status = if t.is_alive() {
            "started"
        } else if t.thread().ident().is_some() {
            "stopped"
        } else {
            "initial"
        };
        let daemon = if t.is_daemon() { " daemon" } else { "" };
        Ok(format!(
            "<{}({}, {status}{daemon})>",
            slf.get_type().qualname()?,
            t.name()
        ))
    }
}
