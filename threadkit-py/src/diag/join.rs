//! `threading.Thread.join` in threadkit's dumps and deadlock finder.
//!
//! CPython's join waits in C, where threadkit sees nothing. `threadkit.trace_joins()` (which
//! `python -m threadkit` calls) wraps `Thread.join` so that the original runs inside
//! [`_join`], which publishes the wait as a join of the target thread
//! (`threadkit::diagnostics::waiting_to_join`): a dump shows `waiting to join "worker" #5 at
//! app.py:40`, and the deadlock finder follows the edge (a thread that holds a lock and joins a
//! thread waiting for it is a cycle). The original join does all the work, so its semantics
//! (timeout, the errors for joining the current or an unstarted thread, KeyboardInterrupt in
//! the main thread) are the interpreter's own.

use std::time::{Duration, Instant};

use pyo3::prelude::*;
use threadkit::diagnostics;

use crate::pysite::{enter, with_site};

/// `_native._register_thread(name)`: registers the calling thread with threadkit under `name`
/// (its `threading` name) and returns its threadkit identifier: what a join of it is published
/// with. Called by the wrapped `Thread._bootstrap_inner`, before the thread runs its target
/// (when `threading.current_thread()` would not find it yet).
#[pyfunction]
fn _register_thread(name: String) -> u64 {
    let me = threadkit::current_thread();
    if *me.name() != *name {
        me.set_name(name);
    }
    threadkit::get_ident()
}

/// The threadkit identifier of the Python thread `thread`: the one its bootstrap registered,
/// else the registered thread with its native id (a thread that used threadkit).
fn ident_of(thread: &Bound<'_, PyAny>, registered: Option<u64>) -> Option<u64> {
    if registered.is_some() {
        return registered;
    }
    let native: u64 = thread.getattr("native_id").ok()?.extract().ok()?;
    threadkit::enumerate()
        .into_iter()
        .find(|t| t.native_id() == Some(native))
        .and_then(|t| t.ident())
}

/// `_native._join(thread, timeout, join, ident=None)`: `join(thread, timeout)` (the original
/// `Thread.join`), published meanwhile as the calling thread's join of `thread` (threadkit
/// identifier `ident`, or looked up by native id) at the calling Python line, with `timeout`
/// as its deadline. A thread threadkit does not know is joined unpublished.
#[pyfunction]
#[pyo3(signature = (thread, timeout, join, ident=None))]
fn _join<'py>(
    py: Python<'py>,
    thread: Bound<'py, PyAny>,
    timeout: Bound<'py, PyAny>,
    join: Bound<'py, PyAny>,
    ident: Option<u64>,
) -> PyResult<Bound<'py, PyAny>> {
    let Some(ident) = ident_of(&thread, ident) else {
        return join.call1((thread, timeout));
    };
    // Only for the dump's "timeout in": the original join interprets (and checks) `timeout`.
    let deadline = timeout
        .extract::<f64>()
        .ok()
        .and_then(|t| Duration::try_from_secs_f64(t.max(0.0)).ok())
        .and_then(|d| Instant::now().checked_add(d));
    let site = enter(py);
    let _published = with_site(site, || diagnostics::waiting_to_join(ident, deadline));
    join.call1((thread, timeout))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_register_thread, m)?)?;
    m.add_function(wrap_pyfunction!(_join, m)?)?;
    Ok(())
}
