//! `threading.Barrier` over threadkit's [`Barrier`](threadkit::Barrier); the action is a Python
//! callable run by the last thread to arrive.

use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::wait;

/// An exception raised by the action, carried through threadkit's barrier as a panic payload
/// (resumed without the panic hook, so nothing is printed).
struct ActionError(PyErr);

/// `threading.Barrier(parties, action=None, timeout=None)`.
///
/// Differences from Python: `wait()` in the main thread is not interrupted by Ctrl-C (a
/// threadkit barrier wait cannot be cut into slices: giving up would break the barrier).
#[pyclass(module = "threadkit", frozen, weakref, subclass)]
pub(crate) struct Barrier {
    inner: threadkit::Barrier,
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
        if let Some(t) = timeout {
            builder = builder.timeout(duration(t));
        }
        let inner = builder.build();
        crate::diag::created(py, &inner);
        Ok(Barrier { inner })
    }

    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<usize> {
        let inner = &self.inner;
        let site = crate::diag::enter(py);
        let outcome = py.detach(|| {
            panic::catch_unwind(AssertUnwindSafe(|| {
                crate::diag::with_site(site, || match timeout {
                    None => inner.wait(),
                    Some(t) => inner.wait_timeout(duration(t)),
                })
            }))
        });
        match outcome {
            Ok(Ok(r)) => Ok(r.index()),
            Ok(Err(_)) => Err(wait::broken_barrier(py)),
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
