//! Joining a thread: `Thread::join` and its timed variants.

use std::time::{Duration, Instant};

use super::{JoinError, Kind, Thread, INITIAL};
use crate::loom::sync::atomic::Ordering;

impl Thread {
    /// Waits until the thread has finished.
    ///
    /// Finished means its target has returned (or panicked) and its [`Local`](crate::Local)
    /// values are dropped: when any join returns, timed or not, the thread's values are gone.
    /// Any number of threads may join the same thread at once; joining a finished thread returns
    /// at once. Joining the main thread waits until the process starts to exit.
    ///
    /// # Errors
    ///
    /// [`JoinError::NotStarted`], [`JoinError::CurrentThread`] or [`JoinError::Dummy`], as
    /// Python's `RuntimeError`s; nothing is waited for.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::{current_thread, JoinError, Thread};
    ///
    /// let t = Thread::new(|| {});
    /// assert_eq!(t.join(), Err(JoinError::NotStarted));
    /// t.start().unwrap();
    /// t.join().unwrap();
    /// assert_eq!(current_thread().join(), Err(JoinError::CurrentThread));
    /// ```
    #[track_caller]
    pub fn join(&self) -> Result<(), JoinError> {
        self.join_until(None).map(|_| ())
    }

    /// Waits at most `timeout` for the thread to finish; returns whether it did.
    ///
    /// Python's `join(timeout)` followed by `not is_alive()`.
    ///
    /// # Errors
    ///
    /// As [`join`](Self::join).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadkit::{Event, Thread};
    /// use std::sync::Arc;
    ///
    /// let go = Arc::new(Event::new());
    /// let t = Thread::new({
    ///     let go = Arc::clone(&go);
    ///     move || go.wait()
    /// });
    /// t.start().unwrap();
    /// assert_eq!(t.join_timeout(Duration::from_millis(10)), Ok(false));
    /// assert!(t.is_alive());
    /// go.set();
    /// assert_eq!(t.join_timeout(Duration::from_secs(60)), Ok(true));
    /// ```
    #[track_caller]
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool, JoinError> {
        self.join_until(crate::wait::deadline_after(timeout))
    }

    /// Waits until `deadline` at the latest for the thread to finish; returns whether it did.
    ///
    /// # Errors
    ///
    /// As [`join`](Self::join).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let t = threadkit::Thread::new(|| {});
    /// t.start().unwrap();
    /// assert_eq!(t.join_deadline(Instant::now() + Duration::from_secs(60)), Ok(true));
    /// ```
    #[track_caller]
    pub fn join_deadline(&self, deadline: Instant) -> Result<bool, JoinError> {
        self.join_until(Some(deadline))
    }

    #[track_caller]
    fn join_until(&self, deadline: Option<Instant>) -> Result<bool, JoinError> {
        let inner = &self.inner;
        if inner.kind == Kind::Dummy {
            return Err(JoinError::Dummy);
        }
        if inner.state.load(Ordering::Acquire) == INITIAL {
            return Err(JoinError::NotStarted);
        }
        if self.is_current() {
            return Err(JoinError::CurrentThread);
        }
        if self.is_lost_in_fork() {
            // A thread of the parent process, which this forked child does not have: stopped.
            // Neither its OS handle (whose lock a thread of the parent may hold, and whose
            // `pthread_join` would wait for ever) nor its `finished` event (never set) is touched.
            return Ok(true);
        }
        // Published for diagnostics as a join of this thread (a wait-for edge), also while the
        // joiner sits in the OS join, which does not go through the waiting layer.
        let _published = crate::wait::announce(
            crate::wait::WaitKind::Join,
            crate::wait::Target::Join {
                ident: self.ident_raw(),
            },
            std::panic::Location::caller(),
            deadline,
        );
        let Some(deadline) = deadline else {
            // Untimed: the joiner that gets the OS handle waits in the OS join itself (one wait,
            // as std's join); the others wait for the finished event.
            let handle = inner.os_handle.acquire().take();
            if let Some(handle) = handle {
                let _ = handle.join();
            }
            // Whether or not this joiner reaped the OS thread, it returns only once the thread
            // is marked finished, re-checked after every wake-up (it is never unset).
            while !inner.finished.is_set() {
                inner.finished.wait();
            }
            return Ok(true);
        };
        // A wake-up is not trusted: the answer is the flag's state (which is never unset).
        let done = inner.finished.wait_deadline(deadline) && inner.finished.is_set();
        if done {
            // Reap the OS thread (its thread-local destructors have run once this returns). Only
            // one joiner gets the handle; the others return as soon as the thread has finished.
            let handle = inner.os_handle.acquire().take();
            if let Some(handle) = handle {
                let _ = handle.join();
            }
        }
        Ok(done)
    }
}
