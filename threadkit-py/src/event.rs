//! `threading.Event` over threadkit's [`Event`](threadkit::Event).

use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::prelude::*;

use crate::wait::{self, Mode};

/// `threading.Event()`.
///
/// Differences from Python: none in behaviour that CPython's `EventTests` check (its private
/// `_cond` does not exist).
///
/// A `wait()` in the main thread may be several parks: a signal interrupts one, the handlers run
/// (with the GIL), then it parks again. A `set()` undone by `clear()` in between would be
/// invisible to threadkit's `Event`, so every `set()` also
/// counts itself in `sets`, and a wait that sees the count move returns `True` (CPython: a wait
/// returns `True` if the event was set during it, even if cleared before the waiter woke).
#[pyclass(module = "threadkit", frozen, weakref, subclass)]
pub(crate) struct Event {
    pub(crate) inner: threadkit::Event,
    sets: AtomicU64,
}

impl Event {
    /// `set()`: counted first, so a waiter that saw the old count is owed this set.
    pub(crate) fn set_impl(&self) {
        self.sets.fetch_add(1, Ordering::SeqCst);
        self.inner.set();
    }
}

#[pymethods]
impl Event {
    #[new]
    fn new(py: Python<'_>) -> Self {
        let inner = threadkit::Event::new();
        crate::diag::created(py, &inner);
        Event {
            inner,
            sets: AtomicU64::new(0),
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

    fn set(&self, py: Python<'_>) {
        // Under the caller's Python line: a dump's `last_signal` names it, not this file.
        let site = crate::diag::enter(py);
        crate::diag::with_site(site, || self.set_impl());
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
        let sets_before = self.sets.load(Ordering::SeqCst);
        let set_since = || self.sets.load(Ordering::SeqCst) != sets_before;
        let got = wait::block(py, deadline, |d| {
            if set_since() {
                return Some(());
            }
            match d {
                None => {
                    self.inner.wait();
                    Some(())
                }
                Some(d) => self.inner.wait_deadline(d).then_some(()),
            }
        })?;
        Ok(got.is_some() || set_since())
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
