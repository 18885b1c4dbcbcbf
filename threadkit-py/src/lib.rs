//! `threadkit._native`: Python's `threading` and `queue` primitives backed by threadkit.
//!
//! The pure-Python package `threadkit` (python/threadkit/__init__.py) re-exports everything here.
//! Every blocking call releases the GIL; in the main thread it waits in slices and runs Python's
//! signal handlers between them, so Ctrl-C raises `KeyboardInterrupt` (see `wait.rs`).

use pyo3::prelude::*;

mod barrier;
mod condition;
mod diag;
mod event;
mod lock;
mod pysite;
mod queue;
mod semaphore;
mod testing;
mod timer;
mod wait;

pyo3::create_exception!(
    threadkit,
    ShutDown,
    pyo3::exceptions::PyException,
    "Raised when put/get is called on a queue that has been shut down (queue.ShutDown where \
     the interpreter has it, 3.13+)."
);

/// Runs threadkit's exit sequence (non-daemon Timers finish) with the GIL released; installed
/// with `threading._register_atexit` so it runs before Python finalizes.
#[pyfunction]
fn _shutdown(py: Python<'_>) {
    py.detach(threadkit::shutdown);
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    wait::init(py)?;
    m.add("TIMEOUT_MAX", wait::timeout_max())?;
    m.add_class::<lock::Lock>()?;
    m.add_class::<lock::RLock>()?;
    m.add_class::<condition::Condition>()?;
    m.add_class::<semaphore::Semaphore>()?;
    m.add_class::<semaphore::BoundedSemaphore>()?;
    m.add_class::<event::Event>()?;
    m.add_class::<barrier::Barrier>()?;
    m.add_class::<timer::Timer>()?;
    m.add_class::<queue::Queue>()?;
    m.add_class::<queue::LifoQueue>()?;
    m.add_class::<queue::PriorityQueue>()?;
    m.add_class::<queue::SimpleQueue>()?;
    m.add("ShutDown", wait::shutdown_type(py).clone_ref(py))?;
    m.add("_OwnShutDown", py.get_type::<ShutDown>())?;
    m.add_function(wrap_pyfunction!(_shutdown, m)?)?;
    diag::register(m)?;
    testing::register(m)?;
    Ok(())
}
