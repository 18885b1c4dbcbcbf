//! [`TaskDone`]: `task_done` when a guard is dropped.

use std::fmt;

use super::core::Core;
use super::error::TaskDoneError;
use super::locked::Container;
use super::locked_core::LockedCore;
use super::store::Store;

/// What a [`TaskDone`] guard calls: the queue's `task_done`, whatever its store.
pub(crate) trait Tasks {
    fn task_done(&self) -> Result<(), TaskDoneError>;
}

impl<S: Store> Tasks for Core<S> {
    fn task_done(&self) -> Result<(), TaskDoneError> {
        Core::task_done(self)
    }
}

impl<C: Container> Tasks for LockedCore<C> {
    fn task_done(&self) -> Result<(), TaskDoneError> {
        LockedCore::task_done(self)
    }
}

/// Calls `task_done` on its queue when dropped: Python's `finally: q.task_done()`.
///
/// Made by [`Queue::task_guard`](super::Queue::task_guard) (and the same method of
/// [`LifoQueue`](super::LifoQueue) and [`PriorityQueue`](super::PriorityQueue)).
///
/// # Differences from Python
///
/// Python has no such object; it is the RAII form of `try`/`finally`.
///
/// # Panics
///
/// Dropping it panics if there is no unfinished task left to mark done (unless the thread is
/// already panicking, when the error is ignored); use [`done`](Self::done) to get the error.
///
/// # Examples
///
/// ```
/// use threadkit::queue::Queue;
///
/// let q = Queue::new(0);
/// q.put("job").unwrap();
/// {
///     let job = q.get().unwrap();
///     let _done = q.task_guard();
///     println!("working on {job}");
/// } // task_done here
/// q.join(); // returns at once
/// ```
#[must_use = "dropping the guard at once marks the task done at once"]
pub struct TaskDone<'q> {
    tasks: Option<&'q dyn Tasks>,
}

impl<'q> TaskDone<'q> {
    pub(crate) fn new(tasks: &'q dyn Tasks) -> Self {
        TaskDone { tasks: Some(tasks) }
    }

    /// Calls `task_done` now and hands back its result; the guard then does nothing more.
    ///
    /// # Errors
    ///
    /// [`TaskDoneError`] if no task was unfinished; nothing changes.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = threadkit::queue::Queue::new(0);
    /// q.put(1).unwrap();
    /// q.get().unwrap();
    /// let guard = q.task_guard();
    /// q.task_done().unwrap(); // the same item marked done twice...
    /// assert!(guard.done().is_err()); // ...is reported here
    /// ```
    pub fn done(mut self) -> Result<(), TaskDoneError> {
        self.tasks.take().map_or(Ok(()), Tasks::task_done)
    }
}

impl Drop for TaskDone<'_> {
    fn drop(&mut self) {
        if let Some(tasks) = self.tasks.take() {
            if tasks.task_done().is_err() && !std::thread::panicking() {
                panic!("TaskDone guard: task_done() called too many times");
            }
        }
    }
}

impl fmt::Debug for TaskDone<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskDone")
            .field("pending", &self.tasks.is_some())
            .finish()
    }
}
