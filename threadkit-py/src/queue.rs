//! `queue.Queue`, `LifoQueue`, `PriorityQueue` and `SimpleQueue` over threadkit's queues.
//!
//! Items are `Py<PyAny>`: the FIFO and LIFO queues never run Python code while they hold their
//! internal locks, so they are called with the GIL held when they will not wait. The priority
//! queue compares items with Python's `<` while it holds its heap lock, so it is always entered
//! with the GIL released (a comparison takes the GIL; a thread holding the GIL must never wait
//! for the heap lock).

use std::cmp::Ordering;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{self, AtomicI64};
use std::time::Instant;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use threadkit::queue::{GetTimeoutError, PutTimeoutError, TaskDoneError, TryGetError, TryPutError};

use crate::wait::{self, Mode};

type Item = Py<PyAny>;

fn task_done_error(_: TaskDoneError) -> PyErr {
    PyValueError::new_err("task_done() called too many times")
}

fn maxsize_of(maxsize: i64) -> usize {
    maxsize.max(0) as usize
}

/// A Python object ordered by its `<`, for threadkit's priority queue. An exception raised by
/// `<` is carried out of the heap as a panic payload (the heap keeps a pushed item, as heapq's
/// `heappush` does, and loses a popped one, as `heappop` does).
pub(crate) struct PyOrd(Item);

struct CompareError(PyErr);

impl PyOrd {
    fn compare(&self, other: &Self) -> Ordering {
        let r = Python::attach(|py| -> PyResult<Ordering> {
            let (a, b) = (self.0.bind(py), other.0.bind(py));
            if a.lt(b)? {
                Ok(Ordering::Less)
            } else if b.lt(a)? {
                Ok(Ordering::Greater)
            } else {
                Ok(Ordering::Equal)
            }
        });
        match r {
            Ok(o) => o,
            Err(e) => panic::resume_unwind(Box::new(CompareError(e))),
        }
    }
}

impl PartialEq for PyOrd {
    fn eq(&self, other: &Self) -> bool {
        self.compare(other) == Ordering::Equal
    }
}
impl Eq for PyOrd {}
impl PartialOrd for PyOrd {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for PyOrd {
    fn cmp(&self, other: &Self) -> Ordering {
        self.compare(other)
    }
}

/// The exception a comparison raised, or the panic resumed.
fn compare_error(payload: Box<dyn std::any::Any + Send>) -> PyErr {
    match payload.downcast::<CompareError>() {
        Ok(e) => e.0,
        Err(other) => panic::resume_unwind(other),
    }
}

/// Calls into a FIFO or LIFO queue with the GIL held: they never run Python code inside.
fn held<T>(_py: Python<'_>, f: impl FnOnce() -> T) -> PyResult<T> {
    Ok(f())
}

/// Calls into the priority queue with the GIL released: a comparison takes the GIL while the
/// heap lock is held, so a thread holding the GIL must never wait for the heap lock.
fn detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    py.detach(|| panic::catch_unwind(AssertUnwindSafe(f)))
        .map_err(compare_error)
}

/// `queue.Queue`, `queue.LifoQueue` and `queue.PriorityQueue`: the same methods over threadkit's
/// three bounded queues. `$enter` is how the queue is called when it will not wait (`held` or
/// `detached`); `$wrap`/`$unwrap` convert a Python object to the queue's item and back.
macro_rules! bounded_queue {
    ($(#[$doc:meta])* $Py:ident => $Tk:ident<$Elem:ty>, $enter:ident, $wrap:expr, $unwrap:expr) => {
        $(#[$doc])*
        #[pyclass(module = "threadkit", frozen, weakref, subclass)]
        pub(crate) struct $Py {
            inner: Box<threadkit::queue::$Tk<$Elem>>,
            /// The last non-positive `maxsize` Python set (0, or negative: both mean unbounded, as
            /// in CPython), shown by the getter while the queue is unbounded. A positive bound is
            /// read back from the queue itself, so the getter and the bound the queue enforces
            /// agree whatever the order of concurrent assignments.
            unbounded_as: AtomicI64,
        }

        impl $Py {
            fn put_impl(
                &self,
                py: Python<'_>,
                item: Item,
                block: bool,
                timeout: Option<f64>,
            ) -> PyResult<()> {
                let mode = if block { wait::queue_timeout(timeout)? } else { Mode::Try };
                let q = &self.inner;
                let item = match $enter(py, || q.try_put($wrap(item)))? {
                    Ok(()) => return Ok(()),
                    Err(TryPutError::ShutDown(_)) => return Err(wait::shut_down(py)),
                    Err(TryPutError::Full(item)) => item,
                };
                let Mode::Until(deadline) = mode else {
                    return Err(wait::full(py));
                };
                let mut slot = Some(item);
                let r = wait::block(py, deadline, |d| {
                    let item = slot.take().expect("item put back after a timeout");
                    let r = panic::catch_unwind(AssertUnwindSafe(|| match d {
                        None => Some(q.put(item).map_err(|_| None)),
                        Some(d) => match q.put_deadline(item, d) {
                            Ok(()) => Some(Ok(())),
                            Err(PutTimeoutError::Timeout(item)) => {
                                slot = Some(item);
                                None
                            }
                            Err(PutTimeoutError::ShutDown(_)) => Some(Err(None)),
                        },
                    }));
                    r.unwrap_or_else(|p| Some(Err(Some(p))))
                })?;
                match r {
                    Some(Ok(())) => Ok(()),
                    Some(Err(None)) => Err(wait::shut_down(py)),
                    Some(Err(Some(p))) => Err(compare_error(p)),
                    None => Err(wait::full(py)),
                }
            }

            fn get_impl(
                &self,
                py: Python<'_>,
                block: bool,
                timeout: Option<f64>,
            ) -> PyResult<Item> {
                let mode = if block { wait::queue_timeout(timeout)? } else { Mode::Try };
                let q = &self.inner;
                match $enter(py, || q.try_get())? {
                    Ok(item) => return Ok($unwrap(item)),
                    Err(TryGetError::ShutDown) => return Err(wait::shut_down(py)),
                    Err(TryGetError::Empty) => {}
                }
                let Mode::Until(deadline) = mode else {
                    return Err(wait::empty(py));
                };
                let r = wait::block(py, deadline, |d| {
                    let r = panic::catch_unwind(AssertUnwindSafe(|| match d {
                        None => Some(q.get().map_err(|_| None)),
                        Some(d) => match q.get_deadline(d) {
                            Ok(item) => Some(Ok(item)),
                            Err(GetTimeoutError::Timeout) => None,
                            Err(GetTimeoutError::ShutDown) => Some(Err(None)),
                        },
                    }));
                    r.unwrap_or_else(|p| Some(Err(Some(p))))
                })?;
                match r {
                    Some(Ok(item)) => Ok($unwrap(item)),
                    Some(Err(None)) => Err(wait::shut_down(py)),
                    Some(Err(Some(p))) => Err(compare_error(p)),
                    None => Err(wait::empty(py)),
                }
            }

            /// For Rust-side threads (no GIL): a blocking put; Err if shut down.
            #[allow(dead_code)]
            pub(crate) fn inner_put(&self, item: Item) -> Result<(), ()> {
                self.inner.put($wrap(item)).map_err(|_| ())
            }

            /// For Rust-side threads (no GIL): a blocking get; None if shut down.
            #[allow(dead_code)]
            pub(crate) fn inner_get(&self) -> Option<Item> {
                self.inner.get().ok().map($unwrap)
            }

            #[allow(dead_code)]
            pub(crate) fn inner_task_done(&self) {
                let _ = self.inner.task_done();
            }
        }

        #[pymethods]
        impl $Py {
            #[new]
            #[pyo3(signature = (maxsize=0))]
            fn new(py: Python<'_>, maxsize: i64) -> Self {
                let inner = Box::new(threadkit::queue::$Tk::new(maxsize_of(maxsize)));
                crate::diag::created(py, &*inner);
                $Py {
                    inner,
                    unbounded_as: AtomicI64::new(maxsize.min(0)),
                }
            }

            #[pyo3(signature = (item, block=None, timeout=None))]
            fn put(
                &self,
                py: Python<'_>,
                item: Item,
                block: Option<&Bound<'_, PyAny>>,
                timeout: Option<f64>,
            ) -> PyResult<()> {
                self.put_impl(py, item, wait::truthy(block)?, timeout)
            }

            fn put_nowait(&self, py: Python<'_>, item: Item) -> PyResult<()> {
                self.put_impl(py, item, false, None)
            }

            #[pyo3(signature = (block=None, timeout=None))]
            fn get(
                &self,
                py: Python<'_>,
                block: Option<&Bound<'_, PyAny>>,
                timeout: Option<f64>,
            ) -> PyResult<Item> {
                self.get_impl(py, wait::truthy(block)?, timeout)
            }

            fn get_nowait(&self, py: Python<'_>) -> PyResult<Item> {
                self.get_impl(py, false, None)
            }

            fn task_done(&self, py: Python<'_>) -> PyResult<()> {
                let q = &self.inner;
                $enter(py, || q.task_done())?.map_err(task_done_error)
            }

            fn join(&self, py: Python<'_>) -> PyResult<()> {
                if self.inner.unfinished_tasks() == 0 {
                    return Ok(());
                }
                let q = &self.inner;
                wait::block(py, None, |d: Option<Instant>| match d {
                    None => {
                        q.join();
                        Some(())
                    }
                    Some(d) => q.join_deadline(d).then_some(()),
                })?;
                Ok(())
            }

            #[pyo3(signature = (immediate=false))]
            fn shutdown(&self, py: Python<'_>, immediate: bool) -> PyResult<()> {
                let q = &self.inner;
                $enter(py, || {
                    if immediate {
                        q.shutdown_immediate();
                    } else {
                        q.shutdown();
                    }
                })
            }

            #[getter]
            fn is_shutdown(&self) -> bool {
                self.inner.is_shutdown()
            }

            fn qsize(&self) -> usize {
                self.inner.len()
            }

            fn empty(&self) -> bool {
                self.inner.is_empty()
            }

            fn full(&self) -> bool {
                self.inner.is_full()
            }

            #[getter]
            fn maxsize(&self) -> i64 {
                match self.inner.maxsize() {
                    0 => self.unbounded_as.load(atomic::Ordering::Relaxed),
                    bound => i64::try_from(bound).unwrap_or(i64::MAX),
                }
            }

            /// `q.maxsize = n`: putters waiting for room check the new bound at once.
            #[setter]
            fn set_maxsize(&self, py: Python<'_>, maxsize: i64) -> PyResult<()> {
                let q = &self.inner;
                $enter(py, || SetMaxsize::set(&**q, maxsize_of(maxsize)))??;
                if maxsize <= 0 {
                    // Shown only while the queue is unbounded: whichever assignment's bound the
                    // queue keeps, the getter reads it back (a positive one from the queue).
                    self.unbounded_as.store(maxsize, atomic::Ordering::Relaxed);
                }
                Ok(())
            }

            #[getter]
            fn unfinished_tasks(&self) -> usize {
                self.inner.unfinished_tasks()
            }
        }
    };
}

/// How `q.maxsize = n` reaches each queue: every one takes a new bound at run time (a `Queue`
/// moves off its lock-free ring onto a locked store the first time: `Queue::set_maxsize`).
trait SetMaxsize {
    fn set(&self, maxsize: usize) -> PyResult<()>;
}

impl SetMaxsize for threadkit::queue::Queue<Item> {
    fn set(&self, maxsize: usize) -> PyResult<()> {
        self.set_maxsize(maxsize);
        Ok(())
    }
}

impl SetMaxsize for threadkit::queue::LifoQueue<Item> {
    fn set(&self, maxsize: usize) -> PyResult<()> {
        self.set_maxsize(maxsize);
        Ok(())
    }
}

impl SetMaxsize for threadkit::queue::PriorityQueue<PyOrd> {
    fn set(&self, maxsize: usize) -> PyResult<()> {
        self.set_maxsize(maxsize);
        Ok(())
    }
}

bounded_queue! {
    /// `queue.Queue(maxsize=0)`: first in, first out.
    ///
    /// Differences from Python: assigning `maxsize` wakes the putters waiting for room (CPython's
    /// assignment wakes nobody), and the first assignment moves the queue onto a locked store
    /// (each put and get then takes a lock, as in `LifoQueue`); the pure-Python hooks `_put`, `_get`,
    /// `_qsize`, `_init` and the attributes `queue`, `mutex`, `not_empty`, `not_full`,
    /// `all_tasks_done` do not exist (a subclass cannot change the storage).
    Queue => Queue<Item>, held, |x: Item| x, |x: Item| x
}

bounded_queue! {
    /// `queue.LifoQueue(maxsize=0)`: last in, first out. Differences as for `Queue`.
    LifoQueue => LifoQueue<Item>, held, |x: Item| x, |x: Item| x
}

bounded_queue! {
    /// `queue.PriorityQueue(maxsize=0)`: smallest item first (by `<`); equal items in the order
    /// they were put.
    ///
    /// Differences from Python: as for `Queue`; every call that takes the heap lock releases the
    /// GIL; a comparison that raises propagates from `put` (the item stays queued, as with
    /// `heapq.heappush`) or from `get` (the item is lost, as with `heapq.heappop`).
    PriorityQueue => PriorityQueue<PyOrd>, detached, PyOrd, |x: PyOrd| x.0
}

/// `queue.SimpleQueue()`: unbounded FIFO without task tracking.
///
/// Differences from Python: none known; as CPython's, `put` never blocks and ignores `block` and
/// `timeout`.
#[pyclass(module = "threadkit", frozen, weakref, subclass)]
pub(crate) struct SimpleQueue {
    pub(crate) inner: Box<threadkit::queue::SimpleQueue<Item>>,
}

impl SimpleQueue {
    fn get_impl(&self, py: Python<'_>, block: bool, timeout: Option<f64>) -> PyResult<Item> {
        let mode = if block {
            wait::queue_timeout(timeout)?
        } else {
            Mode::Try
        };
        if let Some(item) = self.inner.try_get() {
            return Ok(item);
        }
        let Mode::Until(deadline) = mode else {
            return Err(wait::empty(py));
        };
        let q = &self.inner;
        let r = wait::block(py, deadline, |d| match d {
            None => Some(q.get()),
            Some(d) => q.get_deadline(d),
        })?;
        r.ok_or_else(|| wait::empty(py))
    }
}

#[pymethods]
impl SimpleQueue {
    #[new]
    fn new(py: Python<'_>) -> Self {
        let inner = Box::new(threadkit::queue::SimpleQueue::new());
        crate::diag::created(py, &*inner);
        SimpleQueue { inner }
    }

    #[pyo3(signature = (item, block=None, timeout=None))]
    fn put(&self, item: Item, block: Option<&Bound<'_, PyAny>>, timeout: Option<f64>) {
        let _ = (block, timeout);
        self.inner.put(item);
    }

    fn put_nowait(&self, item: Item) {
        self.inner.put(item);
    }

    #[pyo3(signature = (block=None, timeout=None))]
    fn get(
        &self,
        py: Python<'_>,
        block: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Item> {
        self.get_impl(py, wait::truthy(block)?, timeout)
    }

    fn get_nowait(&self, py: Python<'_>) -> PyResult<Item> {
        self.get_impl(py, false, None)
    }

    fn qsize(&self) -> usize {
        self.inner.len()
    }

    fn empty(&self) -> bool {
        self.inner.is_empty()
    }

    #[classmethod]
    fn __class_getitem__(
        cls: &Bound<'_, pyo3::types::PyType>,
        item: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let py = cls.py();
        let alias = py.import("types")?.getattr("GenericAlias")?;
        Ok(alias.call1((cls, item))?.unbind())
    }
}
