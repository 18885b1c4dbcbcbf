//! `threading.Event` over threadkit's [`Event`](threadkit::Event).

use pyo3::prelude::*;

use crate::wait::{self, Mode};

/// `threading.Event()`.
///
/// Differences from Python: a `wait()` in the main thread runs in 50 ms slices (to see Ctrl-C);
/// a `set()` followed at once by `clear()` that falls between two slices is not seen by it.
/// Waits in other threads have no such gap.
#[pyclass(module = "threadkit", frozen, weakref, subclass)]
pub(crate) struct Event {
    pub(crate) inner: threadkit::Event,
}

#[pymethods]
impl Event {
    #[new]
    fn new() -> Self {
        Event {
            inner: threadkit::Event::new(),
        }
    }

    fn is_set(&self) -> bool {
        self.inner.is_set()
    }

    #[pyo3(name = "isSet")]
    fn is_set_deprecated(&self, py: Python<'_>) -> PyResult<bool> {
        py.import("warnings")?.call_method1(
            "warn",
            (
                "isSet() is deprecated, use is_set() instead",
                py.get_type::<pyo3::exceptions::PyDeprecationWarning>(),
                2,
            ),
        )?;
        Ok(self.inner.is_set())
    }

    fn set(&self) {
        self.inner.set();
    }

    fn clear(&self) {
        self.inner.clear();
    }

    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        if self.inner.is_set() {
            return Ok(true);
        }
        let Mode::Until(deadline) = wait::optional_timeout(timeout)? else {
            return Ok(self.inner.is_set());
        };
        let got = wait::block(py, deadline, |d| match d {
            None => {
                self.inner.wait();
                Some(())
            }
            Some(d) => self.inner.wait_deadline(d).then_some(()),
        })?;
        Ok(got.is_some())
    }

    fn _at_fork_reinit(&self) {
        self.inner.clear();
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let state = if slf.get().inner.is_set() {
            "set"
        } else {
            "unset"
        };
        Ok(format!(
            "<{} at {}: {state}>",
            wait::type_name(slf.as_any())?,
            wait::addr(slf)
        ))
    }
}
