//! `threading.Barrier` over threadkit's [`Barrier`](threadkit::Barrier); the action is a Python
//! callable run by the last thread to arrive.

use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::signals::{self, WakeupFd};
use crate::wait;

/// An exception raised by the action, carried through threadkit's barrier as a panic payload
/// (resumed without the panic hook, so nothing is printed).
struct ActionError(PyErr);

/// `threading.Barrier(parties, action=None, timeout=None)`.
///
/// In the main thread, `wait()` is interrupted by Ctrl-C as CPython's is: `KeyboardInterrupt`
/// (or whatever a signal handler raises) ends the wait and the thread takes its arrival back;
/// the barrier is not broken and the other parties go on waiting (CPython's `finally:
/// self._count -= 1`).
#[pyclass(module = "threadkit", frozen, weakref, subclass)]
pub(crate) struct Barrier {
    inner: threadkit::Barrier,
    /// The default timeout given to the constructor (for the published deadline).
    timeout: Option<Duration>,
}

fn duration(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(Duration::MAX)
}

#[pymethods]
impl Barrier {
    #[new]
    #[pyo3(signature = (parties, action=None, timeout=None))]
    fn new(
        py: Python<'_>,
        parties: i64,
        action: Option<Py<PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Self> {
        if parties < 1 {
            return Err(PyValueError::new_err("parties must be > 0"));
        }
        let mut builder = threadkit::Barrier::builder(parties as usize);
        if let Some(action) = action {
            builder = builder.action(move || {
                let result = Python::attach(|py| action.call0(py).map(drop));
                if let Err(e) = result {
                    panic::resume_unwind(Box::new(ActionError(e)));
                }
            });
        }
        let timeout = timeout.map(duration);
        if let Some(t) = timeout {
            builder = builder.timeout(t);
        }
        let inner = builder.build();
        crate::diag::created(py, &inner);
        Ok(Barrier { inner, timeout })
    }

    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<usize> {
        let inner = &self.inner;
        let site = crate::diag::enter(py);
        let timeout = timeout.map(duration);
        // In the main thread, a signal interrupts the wait (signals.rs) and Python's handlers
        // run; on the fallback path they run every SIGNAL_SLICE. An exception from one
        // (KeyboardInterrupt) ends the wait and this party leaves the cycle, as CPython's
        // Barrier.wait does (the barrier does not break). A handler that returns lets the wait
        // go on.
        let main = wait::is_main_thread() && !cfg!(threadkit_py_mutant = "no_signal_check");
        let fd = if main { WakeupFd::install(py)? } else { None };
        let every = signals::park_span(fd.is_some());
        let woken = fd.is_some();
        // Only the main thread touches it (in the check); a Mutex for `py.detach`'s `Send`.
        let fd = std::sync::Mutex::new(fd);
        let outcome = py.detach(|| {
            panic::catch_unwind(AssertUnwindSafe(|| {
                crate::diag::with_site(site, || {
                    if main {
                        let deadline = timeout
                            .or(self.timeout)
                            .and_then(|t| Instant::now().checked_add(t));
                        threadkit::diagnostics::as_one_wait(deadline, || {
                            inner.wait_interruptible(timeout, every, || {
                                if woken && !threadkit::interrupt::take() {
                                    // Woken only by `every` passing: nothing to run.
                                    return Ok(());
                                }
                                Python::attach(|py| {
                                    wait::after_slice(py)?;
                                    let mut fd = crate::diag::locked(&fd);
                                    // A handler that called `signal.set_wakeup_fd` would
                                    // leave the wait deaf (see `WakeupFd::reclaim`).
                                    while fd.as_ref().map_or(Ok(false), |f| f.reclaim(py))? {
                                        wait::after_slice(py)?;
                                    }
                                    if fd.as_ref().is_some_and(|f| !f.is_current()) {
                                        // Forked from a handler during this wait: the child
                                        // watches anew (as `wait::block_at` does).
                                        *fd = None;
                                        *fd = WakeupFd::install(py)?;
                                    }
                                    Ok(())
                                })
                            })
                        })
                    } else {
                        Ok(match timeout {
                            None => inner.wait(),
                            Some(t) => inner.wait_timeout(t),
                        })
                    }
                })
            }))
        });
        drop(fd);
        match outcome {
            Ok(Ok(Ok(r))) => Ok(r.index()),
            Ok(Ok(Err(_))) => Err(wait::broken_barrier(py)),
            Ok(Err(e)) => Err(e),
            Err(payload) => match payload.downcast::<ActionError>() {
                Ok(e) => Err(e.0),
                Err(other) => panic::resume_unwind(other),
            },
        }
    }

    // With the GIL released: both take the barrier's lock, which the action (a Python callable,
    // so it needs the GIL) holds while it runs.
    fn reset(&self, py: Python<'_>) {
        py.detach(|| self.inner.reset());
    }

    fn abort(&self, py: Python<'_>) {
        py.detach(|| self.inner.abort());
    }

    #[getter]
    fn parties(&self) -> usize {
        self.inner.parties()
    }

    #[getter]
    fn n_waiting(&self) -> usize {
        self.inner.n_waiting()
    }

    #[getter]
    fn broken(&self) -> bool {
        self.inner.is_broken()
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let b = &slf.get().inner;
        let state = if b.is_broken() {
            "broken".to_string()
        } else {
            format!("waiters={}/{}", b.n_waiting(), b.parties())
        };
        Ok(format!(
            "<{} at {}: {state}>",
            wait::type_name(slf.as_any())?,
            wait::addr(slf)
        ))
    }
}
