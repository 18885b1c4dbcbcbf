//! `threadkit._native`: Python's `threading` and `queue` primitives backed by threadkit.
//!
//! The pure-Python package `threadkit` (python/threadkit/__init__.py) re-exports everything here.
//! Every blocking call releases the GIL; in the main thread a signal wakes it and Python's
//! signal handlers run, so Ctrl-C raises `KeyboardInterrupt` (see `wait.rs`, `signals.rs`).

use pyo3::prelude::*;

mod barrier;
mod condition;
mod diag;
mod event;
mod lock;
mod pysite;
mod queue;
mod semaphore;
mod signals;
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

// Python allocates objects 16-byte aligned, and pyo3 places a class's Rust value at its
// alignment after the object header: a value aligned more strictly (threadkit's queues pad their
// counters to cache lines) would be misaligned, which is undefined behaviour. Such values are
// boxed; this keeps it so.
const _: () = {
    use std::mem::align_of;
    assert!(align_of::<lock::Lock>() <= 16);
    assert!(align_of::<lock::RLock>() <= 16);
    assert!(align_of::<condition::Condition>() <= 16);
    assert!(align_of::<semaphore::Semaphore>() <= 16);
    assert!(align_of::<event::Event>() <= 16);
    assert!(align_of::<barrier::Barrier>() <= 16);
    assert!(align_of::<timer::Timer>() <= 16);
    assert!(align_of::<queue::Queue>() <= 16);
    assert!(align_of::<queue::LifoQueue>() <= 16);
    assert!(align_of::<queue::PriorityQueue>() <= 16);
    assert!(align_of::<queue::SimpleQueue>() <= 16);
};

/// Runs threadkit's exit sequence (non-daemon Timers finish) with the GIL released; installed
/// with `threading._register_atexit` so it runs before Python finalizes.
#[pyfunction]
fn _shutdown(py: Python<'_>) {
    timer::exit_started();
    py.detach(threadkit::shutdown);
}

/// Joins the non-daemon Timers started after [`_shutdown`] began, which threadkit's exit sequence
/// no longer waits for; installed with `atexit`, which runs after `threading._shutdown`.
#[pyfunction]
fn _join_late_timers(py: Python<'_>) {
    timer::join_late(py);
}

/// Called in the child after `os.fork()` (registered with `os.register_at_fork`).
#[pyfunction]
fn _after_fork_in_child(py: Python<'_>) {
    wait::after_fork_in_child();
    signals::after_fork_in_child(py);
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
    m.add_function(wrap_pyfunction!(_join_late_timers, m)?)?;
    m.add_function(wrap_pyfunction!(_after_fork_in_child, m)?)?;
    diag::register(m)?;
    testing::register(m)?;
    Ok(())
}
