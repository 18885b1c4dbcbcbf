//! `threading.Semaphore` and `threading.BoundedSemaphore` over threadkit's.

use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::wait::{self, Mode};

enum Inner {
    Plain(threadkit::Semaphore),
    Bounded(threadkit::BoundedSemaphore),
}

/// `threading.Semaphore(value=1)`.
///
/// Differences from Python: the value is at most `threadkit::Semaphore::MAX_PERMITS`
/// (`OverflowError` beyond).
#[pyclass(module = "threadkit", frozen, weakref, subclass)]
pub(crate) struct Semaphore {
    inner: Inner,
}

fn check_value(value: i128) -> PyResult<usize> {
    if value < 0 {
        return Err(PyValueError::new_err(
            "semaphore initial value must be >= 0",
        ));
    }
    if value > threadkit::Semaphore::MAX_PERMITS as i128 {
        return Err(PyOverflowError::new_err("semaphore value too large"));
    }
    Ok(value as usize)
}

impl Semaphore {
    fn try_take(&self) -> bool {
        match &self.inner {
            Inner::Plain(s) => s.try_acquire().map(|p| p.forget()).is_some(),
            Inner::Bounded(s) => s.try_acquire().map(|p| p.forget()).is_some(),
        }
    }

    fn take_until(&self, deadline: Option<std::time::Instant>) -> Option<()> {
        match (&self.inner, deadline) {
            (Inner::Plain(s), None) => {
                s.acquire().forget();
                Some(())
            }
            (Inner::Plain(s), Some(d)) => s.acquire_deadline(d).map(|p| p.forget()),
            (Inner::Bounded(s), None) => {
                s.acquire().forget();
                Some(())
            }
            (Inner::Bounded(s), Some(d)) => s.acquire_deadline(d).map(|p| p.forget()),
        }
    }

    fn acquire_mode(&self, py: Python<'_>, mode: Mode) -> PyResult<bool> {
        if self.try_take() {
            return Ok(true);
        }
        let Mode::Until(deadline) = mode else {
            return Ok(false);
        };
        Ok(wait::block(py, deadline, |d| self.take_until(d))?.is_some())
    }

    fn value(&self) -> usize {
        match &self.inner {
            Inner::Plain(s) => s.value(),
            Inner::Bounded(s) => s.value(),
        }
    }

    fn release_n(&self, n: usize) -> PyResult<()> {
        if n < 1 {
            return Err(PyValueError::new_err("n must be one or more"));
        }
        match &self.inner {
            Inner::Plain(s) => {
                if n > threadkit::Semaphore::MAX_PERMITS - s.value() {
                    return Err(PyOverflowError::new_err("semaphore value too large"));
                }
                s.release(n);
                Ok(())
            }
            Inner::Bounded(s) => s
                .release(n)
                .map_err(|_| PyValueError::new_err("Semaphore released too many times")),
        }
    }
}

#[pymethods]
impl Semaphore {
    #[new]
    #[pyo3(signature = (value=1))]
    fn new(py: Python<'_>, value: i128) -> PyResult<Self> {
        let sem = threadkit::Semaphore::new(check_value(value)?);
        crate::diag::created(py, &sem);
        Ok(Semaphore {
            inner: Inner::Plain(sem),
        })
    }

    #[pyo3(signature = (blocking=None, timeout=None))]
    fn acquire(
        &self,
        py: Python<'_>,
        blocking: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        let blocking = wait::truthy(blocking)?;
        if !blocking && timeout.is_some() {
            return Err(PyValueError::new_err(
                "can't specify timeout for non-blocking acquire",
            ));
        }
        let mode = match (blocking, timeout) {
            (false, _) => Mode::Try,
            (true, None) => Mode::Until(None),
            (true, Some(t)) if t.is_nan() => {
                return Err(PyValueError::new_err("Invalid value NaN (not a number)"))
            }
            (true, Some(t)) if t > wait::timeout_max() => {
                return Err(PyOverflowError::new_err("timeout value is too large"))
            }
            (true, Some(t)) if t <= 0.0 => Mode::Try,
            (true, Some(t)) => Mode::Until(wait::deadline_after(t)),
        };
        self.acquire_mode(py, mode)
    }

    fn __enter__(&self, py: Python<'_>) -> PyResult<bool> {
        self.acquire_mode(py, Mode::Until(None))
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.release_n(1)
    }

    #[pyo3(signature = (n=1))]
    fn release(&self, n: usize) -> PyResult<()> {
        self.release_n(n)
    }

    #[getter]
    fn _value(&self) -> usize {
        self.value()
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let me = slf.get();
        let value = match &me.inner {
            Inner::Plain(s) => s.value().to_string(),
            Inner::Bounded(s) => format!("{}/{}", s.value(), s.initial_value()),
        };
        Ok(format!(
            "<{} at {}: value={value}>",
            wait::type_name(slf.as_any())?,
            wait::addr(slf)
        ))
    }
}

/// `threading.BoundedSemaphore(value=1)`: releasing above the initial value is a `ValueError`.
///
/// A subclass of `Semaphore`, as in CPython; differences from Python as for `Semaphore`.
#[pyclass(module = "threadkit", frozen, extends = Semaphore, subclass)]
pub(crate) struct BoundedSemaphore;

#[pymethods]
impl BoundedSemaphore {
    #[new]
    #[pyo3(signature = (value=1))]
    fn new(py: Python<'_>, value: i128) -> PyResult<PyClassInitializer<Self>> {
        let sem = threadkit::BoundedSemaphore::new(check_value(value)?);
        crate::diag::created(py, &sem);
        let base = Semaphore {
            inner: Inner::Bounded(sem),
        };
        Ok(PyClassInitializer::from(base).add_subclass(BoundedSemaphore))
    }
}
