//! The errors of the queue operations: Python's `queue.Full`, `queue.Empty` and `queue.ShutDown`,
//! split by operation so that each call can only return the cases it can meet.
//!
//! Errors from `put` hand the rejected item back ([`into_inner`](PutError::into_inner)); their
//! `Debug` does not need `T: Debug`. CPython's `Full`, `Empty` and `ShutDown` carry no message, so
//! the `Display` texts are threadkit's own; [`TaskDoneError`] uses CPython's.

use std::error::Error;
use std::fmt;

/// An error returned from `put` on a queue that has been shut down; holds the item.
///
/// Python raises `queue.ShutDown`.
///
/// # Examples
///
/// ```
/// use threadkit::queue::Queue;
///
/// let q = Queue::new(0);
/// q.shutdown();
/// let err = q.put("job").unwrap_err();
/// assert_eq!(err.to_string(), "putting into a shut-down queue");
/// assert_eq!(err.into_inner(), "job");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PutError<T>(pub T);

impl<T> PutError<T> {
    /// The item that could not be put.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = threadkit::queue::PutError(7);
    /// assert_eq!(err.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PutError(..)")
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("putting into a shut-down queue")
    }
}

impl<T> Error for PutError<T> {}

/// An error returned from `try_put` (Python's `put_nowait`); holds the item.
///
/// # Examples
///
/// ```
/// use threadkit::queue::{Queue, TryPutError};
///
/// let q = Queue::new(1);
/// q.try_put(1).unwrap();
/// assert_eq!(q.try_put(2), Err(TryPutError::Full(2)));
/// q.shutdown();
/// assert_eq!(q.try_put(3), Err(TryPutError::ShutDown(3)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TryPutError<T> {
    /// The queue is at its `maxsize` (Python's `queue.Full`).
    Full(T),
    /// The queue has been shut down (Python's `queue.ShutDown`).
    ShutDown(T),
}

impl<T> TryPutError<T> {
    /// The item that could not be put.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = threadkit::queue::TryPutError::Full("x");
    /// assert_eq!(err.into_inner(), "x");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TryPutError::Full(item) | TryPutError::ShutDown(item) => item,
        }
    }

    /// Whether the queue was full.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(threadkit::queue::TryPutError::Full(()).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TryPutError::Full(_))
    }

    /// Whether the queue was shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(threadkit::queue::TryPutError::ShutDown(()).is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        matches!(self, TryPutError::ShutDown(_))
    }
}

impl<T> From<PutError<T>> for TryPutError<T> {
    fn from(err: PutError<T>) -> Self {
        TryPutError::ShutDown(err.0)
    }
}

impl<T> fmt::Debug for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("Full(..)"),
            TryPutError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<T> fmt::Display for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("putting into a full queue"),
            TryPutError::ShutDown(_) => f.write_str("putting into a shut-down queue"),
        }
    }
}

impl<T> Error for TryPutError<T> {}

/// An error returned from `put_timeout` / `put_deadline`; holds the item.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use threadkit::queue::{PutTimeoutError, Queue};
///
/// let q = Queue::new(1);
/// q.put(1).unwrap();
/// let err = q.put_timeout(2, Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err, PutTimeoutError::Timeout(2));
/// assert_eq!(err.to_string(), "timed out putting into a full queue");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PutTimeoutError<T> {
    /// The queue stayed full until the deadline (Python's `queue.Full`).
    Timeout(T),
    /// The queue was, or got, shut down (Python's `queue.ShutDown`).
    ShutDown(T),
}

impl<T> PutTimeoutError<T> {
    /// The item that could not be put.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = threadkit::queue::PutTimeoutError::Timeout(4);
    /// assert_eq!(err.into_inner(), 4);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            PutTimeoutError::Timeout(item) | PutTimeoutError::ShutDown(item) => item,
        }
    }

    /// Whether the wait timed out.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(threadkit::queue::PutTimeoutError::Timeout(()).is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, PutTimeoutError::Timeout(_))
    }

    /// Whether the queue was shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(threadkit::queue::PutTimeoutError::ShutDown(()).is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        matches!(self, PutTimeoutError::ShutDown(_))
    }
}

impl<T> From<PutError<T>> for PutTimeoutError<T> {
    fn from(err: PutError<T>) -> Self {
        PutTimeoutError::ShutDown(err.0)
    }
}

impl<T> fmt::Debug for PutTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            PutTimeoutError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<T> fmt::Display for PutTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutTimeoutError::Timeout(_) => f.write_str("timed out putting into a full queue"),
            PutTimeoutError::ShutDown(_) => f.write_str("putting into a shut-down queue"),
        }
    }
}

impl<T> Error for PutTimeoutError<T> {}

/// An error returned from a blocking `get` when the queue is shut down and empty.
///
/// Python raises `queue.ShutDown`.
///
/// # Examples
///
/// ```
/// use threadkit::queue::{GetError, Queue};
///
/// let q = Queue::<u8>::new(0);
/// q.shutdown();
/// assert_eq!(q.get(), Err(GetError));
/// assert_eq!(GetError.to_string(), "getting from an empty, shut-down queue");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetError;

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("getting from an empty, shut-down queue")
    }
}

impl Error for GetError {}

/// An error returned from `try_get` (Python's `get_nowait`).
///
/// # Examples
///
/// ```
/// use threadkit::queue::{Queue, TryGetError};
///
/// let q = Queue::<u8>::new(0);
/// assert_eq!(q.try_get(), Err(TryGetError::Empty));
/// q.shutdown();
/// assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryGetError {
    /// The queue is empty (Python's `queue.Empty`).
    Empty,
    /// The queue is empty and shut down (Python's `queue.ShutDown`).
    ShutDown,
}

impl TryGetError {
    /// Whether the queue was empty but still open.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(threadkit::queue::TryGetError::Empty.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        matches!(self, TryGetError::Empty)
    }

    /// Whether the queue was empty and shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(threadkit::queue::TryGetError::ShutDown.is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        matches!(self, TryGetError::ShutDown)
    }
}

impl From<GetError> for TryGetError {
    fn from(_: GetError) -> Self {
        TryGetError::ShutDown
    }
}

impl fmt::Display for TryGetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryGetError::Empty => f.write_str("getting from an empty queue"),
            TryGetError::ShutDown => f.write_str("getting from an empty, shut-down queue"),
        }
    }
}

impl Error for TryGetError {}

/// An error returned from `get_timeout` / `get_deadline`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use threadkit::queue::{GetTimeoutError, Queue};
///
/// let q = Queue::<u8>::new(0);
/// let err = q.get_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err, GetTimeoutError::Timeout);
/// assert_eq!(err.to_string(), "timed out getting from an empty queue");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetTimeoutError {
    /// The queue stayed empty until the deadline (Python's `queue.Empty`).
    Timeout,
    /// The queue is empty and shut down (Python's `queue.ShutDown`).
    ShutDown,
}

impl GetTimeoutError {
    /// Whether the wait timed out.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(threadkit::queue::GetTimeoutError::Timeout.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, GetTimeoutError::Timeout)
    }

    /// Whether the queue was empty and shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(threadkit::queue::GetTimeoutError::ShutDown.is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        matches!(self, GetTimeoutError::ShutDown)
    }
}

impl From<GetError> for GetTimeoutError {
    fn from(_: GetError) -> Self {
        GetTimeoutError::ShutDown
    }
}

impl fmt::Display for GetTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetTimeoutError::Timeout => f.write_str("timed out getting from an empty queue"),
            GetTimeoutError::ShutDown => f.write_str("getting from an empty, shut-down queue"),
        }
    }
}

impl Error for GetTimeoutError {}

/// An error returned from `task_done` when it has been called more times than items were put.
///
/// Python raises `ValueError: task_done() called too many times`.
///
/// # Examples
///
/// ```
/// let q = threadkit::queue::Queue::<u8>::new(0);
/// let err = q.task_done().unwrap_err();
/// assert_eq!(err.to_string(), "task_done() called too many times");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskDoneError(pub(crate) ());

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done() called too many times")
    }
}

impl Error for TaskDoneError {}
