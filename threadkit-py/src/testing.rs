//! `threadkit._native._testing`: Rust-side threadkit threads that share a Lock or a Queue with
//! Python threads, for the mixed-use tests. Not part of the API.

use pyo3::prelude::*;

use crate::event::Event;
use crate::lock::Lock;
use crate::queue::{Queue, SimpleQueue};

/// A threadkit thread (Rust, no GIL) that acquires `lock`, sets `held`, waits for `go`, then
/// releases the lock and sets `done`.
#[pyfunction]
fn spawn_lock_holder(lock: Py<Lock>, held: Py<Event>, go: Py<Event>, done: Py<Event>) {
    threadkit::spawn(move || {
        lock.get().inner.acquire().forget();
        held.get().set_impl();
        go.get().inner.wait();
        lock.get()
            .inner
            .release()
            .expect("the holder releases what it acquired");
        done.get().set_impl();
    });
}

/// A threadkit thread that acquires and releases `lock` `n` times, incrementing nothing: it
/// only contends. Sets `done` at the end.
#[pyfunction]
fn spawn_lock_churn(lock: Py<Lock>, n: usize, done: Py<Event>) {
    threadkit::spawn(move || {
        for _ in 0..n {
            lock.get().inner.acquire().forget();
            lock.get().inner.release().expect("held");
        }
        done.get().set_impl();
    });
}

/// A threadkit thread that puts each of `items` into `queue` (blocking while it is full), then
/// sets `done`.
#[pyfunction]
fn spawn_queue_producer(queue: Py<Queue>, items: Vec<Py<PyAny>>, done: Py<Event>) {
    threadkit::spawn(move || {
        for item in items {
            if queue.get().inner_put(item).is_err() {
                break;
            }
        }
        done.get().set_impl();
    });
}

/// A threadkit thread that takes `n` items from `queue` and hands each to `out`, calling
/// `task_done` for each; then sets `done`.
#[pyfunction]
fn spawn_queue_consumer(queue: Py<Queue>, n: usize, out: Py<SimpleQueue>, done: Py<Event>) {
    threadkit::spawn(move || {
        for _ in 0..n {
            match queue.get().inner_get() {
                Some(item) => {
                    out.get().inner.put(item);
                    queue.get().inner_task_done();
                }
                None => break,
            }
        }
        done.get().set_impl();
    });
}

/// Runs `hook()` in the main thread whenever a signal interrupts one of its blocking waits,
/// after the signal handlers, before the wait goes on (between two slices on the fallback
/// path). None: stop.
#[pyfunction]
#[pyo3(signature = (hook))]
fn set_slice_hook(hook: Option<Py<PyAny>>) {
    crate::wait::set_slice_hook(hook);
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let t = PyModule::new(m.py(), "_testing")?;
    t.add_function(wrap_pyfunction!(set_slice_hook, &t)?)?;
    t.add_function(wrap_pyfunction!(spawn_lock_holder, &t)?)?;
    t.add_function(wrap_pyfunction!(spawn_lock_churn, &t)?)?;
    t.add_function(wrap_pyfunction!(spawn_queue_producer, &t)?)?;
    t.add_function(wrap_pyfunction!(spawn_queue_consumer, &t)?)?;
    m.add_submodule(&t)?;
    Ok(())
}
