//! `threading.Lock` and `threading.RLock` over threadkit's [`Lock`](threadkit::Lock) and
//! [`RLock`](threadkit::RLock): acquire forgets the guard, release calls `release()`.

use std::time::Instant;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::diag;
use crate::wait::{self, truthy, Mode};

/// Blocking and non-blocking acquisition of a threadkit lock whose guard is forgotten.
pub(crate) trait Acquire: Sync {
    fn try_take(&self) -> bool;
    /// Waits until acquired (`None`) or until the deadline; `None` back: timed out.
    fn take_until(&self, deadline: Option<Instant>) -> Option<()>;

    /// Acquires, blocking as `mode` says. Ok(false): timed out.
    ///
    /// While holder sites or the lock-order checker are on (`diag::tracking`), the acquire runs
    /// with the calling Python line as its site; with the checker armed, a blocking acquire
    /// skips the non-blocking try (which the checker does not check) and goes straight to the
    /// blocking one, which checks the order before it blocks.
    fn acquire_mode(&self, py: Python<'_>, mode: Mode) -> PyResult<bool> {
        if !diag::tracking() {
            if self.try_take() {
                return Ok(true);
            }
            let Mode::Until(deadline) = mode else {
                return Ok(false);
            };
            return Ok(wait::block(py, deadline, |d| self.take_until(d))?.is_some());
        }
        let site = diag::enter(py);
        match mode {
            Mode::Until(deadline)
                if diag::lock_order_armed()
                    && !cfg!(threadkit_py_mutant = "try_under_lock_order") =>
            {
                Ok(wait::block_at(py, site, deadline, |d| self.take_until(d))?.is_some())
            }
            _ if diag::with_site(site, || self.try_take()) => Ok(true),
            Mode::Try => Ok(false),
            Mode::Until(deadline) => {
                Ok(wait::block_at(py, site, deadline, |d| self.take_until(d))?.is_some())
            }
        }
    }

    /// Acquires without giving up and without running signal handlers (Condition's restore).
    fn acquire_uninterruptibly(&self, py: Python<'_>) {
        let site = diag::tracking().then(|| diag::enter(py)).flatten();
        if !diag::with_site(site, || self.try_take()) {
            let site = site.or_else(|| diag::enter(py));
            py.detach(|| diag::with_site(site, || self.take_until(None)));
        }
    }
}

macro_rules! impl_acquire {
    ($T:ty) => {
        impl Acquire for $T {
            #[inline]
            fn try_take(&self) -> bool {
                self.inner.try_acquire().map(|g| g.forget()).is_some()
            }

            fn take_until(&self, deadline: Option<Instant>) -> Option<()> {
                match deadline {
                    None => {
                        self.inner.acquire().forget();
                        Some(())
                    }
                    Some(d) => self.inner.acquire_deadline(d).map(|g| g.forget()),
                }
            }
        }
    };
}

/// The `#[pymethods]` both lock classes share (acquire, release, the context manager, locked),
/// followed by each class's own.
macro_rules! lock_pymethods {
    ($T:ident { $($own:tt)* }) => {
        #[pymethods]
        impl $T {
            #[pyo3(signature = (blocking=None, timeout=-1.0))]
            fn acquire(
                &self,
                py: Python<'_>,
                blocking: Option<&Bound<'_, PyAny>>,
                timeout: f64,
            ) -> PyResult<bool> {
                if blocking.is_none() && timeout == -1.0 && !diag::tracking() && self.try_take() {
                    return Ok(true);
                }
                let mode = wait::lock_mode(truthy(blocking)?, timeout)?;
                self.acquire_mode(py, mode)
            }

            fn __enter__(&self, py: Python<'_>) -> PyResult<bool> {
                self.acquire_mode(py, Mode::Until(None))
            }

            fn __exit__(
                &self,
                _ty: &Bound<'_, PyAny>,
                _value: &Bound<'_, PyAny>,
                _tb: &Bound<'_, PyAny>,
            ) -> PyResult<()> {
                self.release_impl()
            }

            fn release(&self) -> PyResult<()> {
                self.release_impl()
            }

            fn locked(&self) -> bool {
                self.inner.locked()
            }

            $($own)*
        }
    };
}

/// `threading.Lock`: a lock any thread may release.
///
/// Differences from Python: none in behaviour that CPython's `LockTests` check. A blocking
/// `acquire()` in the main thread is woken by a signal as CPython's is, through Python's wakeup
/// fd, which it installs for the duration of the wait (`signal.set_wakeup_fd`; the fd it
/// replaces gets every byte and is put back: see `signals.rs`).
#[pyclass(module = "threadkit", frozen, weakref)]
pub(crate) struct Lock {
    pub(crate) inner: threadkit::Lock,
}

impl_acquire!(Lock);

impl Lock {
    pub(crate) fn release_impl(&self) -> PyResult<()> {
        self.inner
            .release()
            .map_err(|_| PyRuntimeError::new_err("release unlocked lock"))
    }
}

lock_pymethods!(Lock {
    #[new]
    fn new(py: Python<'_>) -> Self {
        let inner = threadkit::Lock::new();
        diag::created(py, &inner);
        Lock { inner }
    }

    #[pyo3(signature = (blocking=None, timeout=-1.0))]
    fn acquire_lock(
        &self,
        py: Python<'_>,
        blocking: Option<&Bound<'_, PyAny>>,
        timeout: f64,
    ) -> PyResult<bool> {
        self.acquire(py, blocking, timeout)
    }

    fn release_lock(&self) -> PyResult<()> {
        self.release_impl()
    }

    fn locked_lock(&self) -> bool {
        self.inner.locked()
    }

    /// After `fork()`: unlocked again.
    fn _at_fork_reinit(&self) {
        let _ = self.inner.release();
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let state = if slf.get().inner.locked() {
            "locked"
        } else {
            "unlocked"
        };
        Ok(format!(
            "<{state} {} object at {}>",
            wait::type_name(slf.as_any())?,
            wait::addr(slf)
        ))
    }
});

/// `threading.RLock`: a reentrant lock owned by the thread that acquired it.
///
/// Differences from Python: `repr()` shows the owner only to the owning thread (threadkit's
/// `RLock` tells whether the caller owns it, not who does); `_at_fork_reinit` is absent.
#[pyclass(module = "threadkit", frozen, weakref, subclass)]
pub(crate) struct RLock {
    pub(crate) inner: threadkit::RLock,
}

impl_acquire!(RLock);

impl RLock {
    pub(crate) fn release_impl(&self) -> PyResult<()> {
        self.inner
            .release()
            .map_err(|_| PyRuntimeError::new_err("cannot release un-acquired lock"))
    }

    /// Releases every level the caller holds; returns how many.
    pub(crate) fn release_all(&self) -> PyResult<usize> {
        let count = self.inner.recursion_count();
        if count == 0 {
            return Err(PyRuntimeError::new_err("cannot release un-acquired lock"));
        }
        for _ in 0..count {
            self.release_impl()?;
        }
        Ok(count)
    }

    /// Acquires `count` levels, waiting without giving up or running signal handlers.
    pub(crate) fn acquire_levels(&self, py: Python<'_>, count: usize) {
        self.acquire_uninterruptibly(py);
        for _ in 1..count {
            // Reentrant: the caller owns it now, so this cannot wait.
            self.inner.acquire().forget();
        }
    }
}

lock_pymethods!(RLock {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(py: Python<'_>, _args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyAny>>) -> Self {
        let inner = threadkit::RLock::new();
        diag::created(py, &inner);
        RLock { inner }
    }

    fn _is_owned(&self) -> bool {
        self.inner.is_owned()
    }

    fn _recursion_count(&self) -> usize {
        self.inner.recursion_count()
    }

    /// Releases completely; returns `(count, owner)` for `_acquire_restore`.
    fn _release_save(&self) -> PyResult<(usize, u64)> {
        let count = self.release_all()?;
        Ok((count, wait::get_ident()))
    }

    fn _acquire_restore(&self, py: Python<'_>, state: (usize, u64)) {
        self.acquire_levels(py, state.0.max(1));
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let inner = &slf.get().inner;
        let state = if inner.locked() { "locked" } else { "unlocked" };
        let count = inner.recursion_count();
        let owner = if count > 0 { wait::get_ident() } else { 0 };
        Ok(format!(
            "<{state} {} object owner={owner} count={count} at {}>",
            wait::type_name(slf.as_any())?,
            wait::addr(slf)
        ))
    }
});
