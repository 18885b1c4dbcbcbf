//! `threading.Condition` over any lock: threadkit's `Lock`/`RLock` (handled in Rust) or any
//! Python lock object (through its methods, as CPython's `threading.Condition` does).
//!
//! Each waiter parks on a threadkit `Event` of its own, queued FIFO; `notify(n)` sets the
//! first `n`. (An Event, not a Lock the waiter holds and waits to take again: a dump would show
//! that as the thread waiting for a lock it holds itself, and the deadlock finder as a cycle.)
//! The Event is named `Condition@file.py:line` after the Condition's Python creation site, so
//! a dump says which Condition a thread waits on. threadkit's own `Condition` needs the lock's RAII guard, which a Python caller
//! that acquired with `acquire()` does not have, so the waiting is built here from threadkit
//! locks instead.

use std::collections::VecDeque;
use std::sync::Arc;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyTuple};

use threadkit::diagnostics::{Diagnosable, Site};

use crate::diag;
use crate::lock::{Acquire, Lock, RLock};
use crate::wait::{self, Mode};

enum Kind {
    Lock(Py<Lock>),
    RLock(Py<RLock>),
    /// Any other lock-like Python object.
    Other,
}

/// What `release_save` took off the lock, for `acquire_restore`.
enum Saved {
    Lock,
    RLock(usize),
    /// The result of the lock's `_release_save()`, or `None` if it has none.
    Other(Option<Py<PyAny>>),
}

type Waiter = Arc<threadkit::Event>;

/// `threading.Condition(lock=None)`.
///
/// Differences from Python: a `wait()` that times out while a `notify()` picks it returns
/// `True` (it was notified) instead of losing the notification; a `wait()` interrupted by an
/// exception (`KeyboardInterrupt`) after it was notified passes the notification on to the next
/// waiter.
#[pyclass(module = "threadkit", frozen, weakref, subclass)]
pub(crate) struct Condition {
    lock: Py<PyAny>,
    kind: Kind,
    waiters: threadkit::Lock<VecDeque<Waiter>>,
    /// `Condition@file.py:line` (the Python creation site), the name of each waiter's Event.
    label: String,
    site: Option<Site>,
}

impl Condition {
    fn is_owned(&self, py: Python<'_>) -> PyResult<bool> {
        match &self.kind {
            // CPython's rule for a lock without `_is_owned`: held by anyone counts.
            Kind::Lock(l) => Ok(l.get().inner.locked()),
            Kind::RLock(l) => Ok(l.get().inner.is_owned()),
            Kind::Other => {
                let lock = self.lock.bind(py);
                if let Ok(f) = lock.getattr("_is_owned") {
                    return f.call0()?.is_truthy();
                }
                if lock.call_method1("acquire", (false,))?.is_truthy()? {
                    lock.call_method0("release")?;
                    Ok(false)
                } else {
                    Ok(true)
                }
            }
        }
    }

    fn release_save(&self, py: Python<'_>) -> PyResult<Saved> {
        match &self.kind {
            Kind::Lock(l) => l.get().release_impl().map(|()| Saved::Lock),
            Kind::RLock(l) => l.get().release_all().map(Saved::RLock),
            Kind::Other => {
                let lock = self.lock.bind(py);
                if let Ok(f) = lock.getattr("_release_save") {
                    Ok(Saved::Other(Some(f.call0()?.unbind())))
                } else {
                    lock.call_method0("release")?;
                    Ok(Saved::Other(None))
                }
            }
        }
    }

    fn acquire_restore(&self, py: Python<'_>, saved: Saved) -> PyResult<()> {
        match (&self.kind, saved) {
            (Kind::Lock(l), _) => l.get().acquire_uninterruptibly(py),
            (Kind::RLock(l), Saved::RLock(n)) => l.get().acquire_levels(py, n),
            (_, Saved::Other(Some(state))) => {
                self.lock
                    .bind(py)
                    .call_method1("_acquire_restore", (state,))?;
            }
            _ => {
                self.lock.bind(py).call_method0("acquire")?;
            }
        }
        Ok(())
    }

    /// Removes `waiter` from the queue; false if a notify took it first.
    fn withdraw(&self, waiter: &Waiter) -> bool {
        let mut waiters = self.waiters.acquire();
        match waiters.iter().position(|w| Arc::ptr_eq(w, waiter)) {
            Some(i) => {
                waiters.remove(i);
                true
            }
            None => false,
        }
    }

    fn wait_impl(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        if !self.is_owned(py)? {
            return Err(PyRuntimeError::new_err("cannot wait on un-acquired lock"));
        }
        let mode = wait::optional_timeout(timeout)?;
        let waiter: Waiter = Arc::new(threadkit::Event::named(self.label.clone()));
        if let Some(site) = self.site {
            waiter.set_created_at(site);
        }
        self.waiters.acquire().push_back(Arc::clone(&waiter));
        let saved = match self.release_save(py) {
            Ok(s) => s,
            Err(e) => {
                self.withdraw(&waiter);
                return Err(e);
            }
        };
        let outcome = match mode {
            Mode::Try => Ok(waiter.is_set()),
            Mode::Until(deadline) => wait::block(py, deadline, |d| match d {
                None => {
                    waiter.wait();
                    Some(())
                }
                Some(d) => waiter.wait_deadline(d).then_some(()),
            })
            .map(|o| o.is_some()),
        };
        // A waiter no longer queued was notified, whatever its own wait saw.
        let notified = match outcome {
            Ok(true) => true,
            _ => !self.withdraw(&waiter),
        };
        // Published as the Condition's re-acquire (what it waited on), as a Rust Condition's
        // waiter is: a dump shows `reacquiring_after`.
        let restored =
            threadkit::diagnostics::reacquiring_after(&*waiter, || self.acquire_restore(py, saved));
        match outcome {
            Err(e) => {
                if notified {
                    // Do not swallow the notification this waiter will not act on.
                    self.notify_n(1);
                }
                Err(e)
            }
            Ok(_) => restored.map(|()| notified),
        }
    }

    fn notify_n(&self, n: usize) {
        let mut waiters = self.waiters.acquire();
        for _ in 0..n {
            match waiters.pop_front() {
                Some(w) => w.set(),
                None => break,
            }
        }
    }
}

#[pymethods]
impl Condition {
    #[new]
    #[pyo3(signature = (lock=None))]
    fn new(py: Python<'_>, lock: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let (lock, kind) = match lock {
            None => {
                let inner = threadkit::RLock::new();
                diag::created(py, &inner);
                let l = Py::new(py, RLock { inner })?;
                (l.clone_ref(py).into_any(), Kind::RLock(l))
            }
            Some(l) if l.is_exact_instance_of::<Lock>() => (
                l.clone().unbind(),
                Kind::Lock(l.cast::<Lock>()?.clone().unbind()),
            ),
            Some(l) if l.is_exact_instance_of::<RLock>() => (
                l.clone().unbind(),
                Kind::RLock(l.cast::<RLock>()?.clone().unbind()),
            ),
            Some(l) => (l.clone().unbind(), Kind::Other),
        };
        let waiters = threadkit::Lock::with_value(VecDeque::new());
        let site = diag::created(py, &waiters);
        let label = match site {
            Some(s) => format!("Condition@{s}"),
            None => "Condition".to_owned(),
        };
        Ok(Condition {
            lock,
            kind,
            waiters,
            label,
            site,
        })
    }

    #[getter]
    fn _lock(&self, py: Python<'_>) -> Py<PyAny> {
        self.lock.clone_ref(py)
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn acquire(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        Ok(self
            .lock
            .bind(py)
            .call_method("acquire", args, kwargs)?
            .unbind())
    }

    fn release(&self, py: Python<'_>) -> PyResult<()> {
        match &self.kind {
            Kind::Lock(l) => l.get().release_impl(),
            Kind::RLock(l) => l.get().release_impl(),
            Kind::Other => self.lock.bind(py).call_method0("release").map(drop),
        }
    }

    fn locked(&self, py: Python<'_>) -> PyResult<bool> {
        self.lock.bind(py).call_method0("locked")?.is_truthy()
    }

    fn __enter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let got = match &self.kind {
            Kind::Lock(l) => l.get().acquire_mode(py, Mode::Until(None))?,
            Kind::RLock(l) => l.get().acquire_mode(py, Mode::Until(None))?,
            Kind::Other => return Ok(self.lock.bind(py).call_method0("__enter__")?.unbind()),
        };
        Ok(PyBool::new(py, got).to_owned().into_any().unbind())
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        ty: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        tb: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        match &self.kind {
            Kind::Lock(l) => l.get().release_impl().map(|()| py.None()),
            Kind::RLock(l) => l.get().release_impl().map(|()| py.None()),
            Kind::Other => Ok(self
                .lock
                .bind(py)
                .call_method1("__exit__", (ty, value, tb))?
                .unbind()),
        }
    }

    fn _is_owned(&self, py: Python<'_>) -> PyResult<bool> {
        self.is_owned(py)
    }

    /// The lock's `_release_save` (CPython's Condition exports the lock's methods).
    fn _release_save(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(self.lock.bind(py).call_method0("_release_save")?.unbind())
    }

    fn _acquire_restore(&self, py: Python<'_>, state: &Bound<'_, PyAny>) -> PyResult<()> {
        self.lock
            .bind(py)
            .call_method1("_acquire_restore", (state,))
            .map(drop)
    }

    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        self.wait_impl(py, timeout)
    }

    /// CPython's `wait_for`: the deadline is fixed at the first wait.
    #[pyo3(signature = (predicate, timeout=None))]
    fn wait_for(
        &self,
        py: Python<'_>,
        predicate: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Py<PyAny>> {
        let mut end: Option<std::time::Instant> = None;
        let mut waittime = timeout;
        let mut result = predicate.call0()?;
        while !result.is_truthy()? {
            if let Some(t) = timeout {
                match end {
                    None => end = wait::deadline_after(t),
                    Some(e) => {
                        let left = e.saturating_duration_since(std::time::Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        waittime = Some(left.as_secs_f64());
                    }
                }
            }
            self.wait_impl(py, waittime)?;
            result = predicate.call0()?;
        }
        Ok(result.unbind())
    }

    #[pyo3(signature = (n=1))]
    fn notify(&self, py: Python<'_>, n: usize) -> PyResult<()> {
        if !self.is_owned(py)? {
            return Err(PyRuntimeError::new_err("cannot notify on un-acquired lock"));
        }
        self.notify_n(n);
        Ok(())
    }

    fn notify_all(&self, py: Python<'_>) -> PyResult<()> {
        self.notify(py, usize::MAX)
    }

    #[pyo3(name = "notifyAll")]
    fn notify_all_deprecated(&self, py: Python<'_>) -> PyResult<()> {
        let warnings = py.import("warnings")?;
        warnings.call_method1(
            "warn",
            (
                "notifyAll() is deprecated, use notify_all() instead",
                py.get_type::<pyo3::exceptions::PyDeprecationWarning>(),
                2,
            ),
        )?;
        self.notify(py, usize::MAX)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let n = self.waiters.acquire().len();
        Ok(format!("<Condition({}, {n})>", self.lock.bind(py).repr()?))
    }
}
