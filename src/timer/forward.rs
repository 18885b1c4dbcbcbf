//! The [`Thread`](crate::Thread) methods a timer repeats from its record: one definition, with
//! its documentation and examples, for both [`Timer`](super::Timer) and
//! [`RepeatingTimer`](super::RepeatingTimer) (each has a `thread: Thread` field).
//!
//! The examples are written to hold for both: a timer made with a 60 s interval, started, then
//! cancelled (a `RepeatingTimer` only ends once cancelled).

macro_rules! thread_methods {
    ($Timer:ident) => {
        impl $Timer {
            /// The timer's [`Thread`] record: the same one [`enumerate`](crate::enumerate)
            /// lists and [`current_thread`](crate::current_thread) returns inside the function.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let t = threadkit::", stringify!($Timer), "::new(std::time::Duration::from_secs(60), || {});")]
            /// t.start().unwrap();
            /// let thread = t.thread().clone();
            /// assert!(thread.is_alive());
            /// t.cancel();
            /// t.join().unwrap();
            /// assert!(!thread.is_alive());
            /// ```
            pub fn thread(&self) -> &Thread {
                &self.thread
            }

            /// Waits until the timer has finished: cancelled before its function ran, or its
            /// function has returned (a `RepeatingTimer`: cancelled, and the run in progress has
            /// returned). See [`Thread::join`].
            ///
            /// # Errors
            ///
            /// [`JoinError::NotStarted`] before [`start`](Self::start);
            /// [`JoinError::CurrentThread`] from inside the timer's own function.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let t = threadkit::", stringify!($Timer), "::new(std::time::Duration::from_secs(60), || {});")]
            /// assert!(t.join().is_err()); // not started
            /// t.start().unwrap();
            /// t.cancel();
            /// t.join().unwrap();
            /// ```
            #[track_caller]
            pub fn join(&self) -> Result<(), JoinError> {
                self.thread.join()
            }

            /// Waits at most `timeout`; returns whether the timer finished. See
            /// [`Thread::join_timeout`].
            ///
            /// # Errors
            ///
            /// As [`join`](Self::join).
            ///
            /// # Examples
            ///
            /// ```
            /// use std::time::Duration;
            ///
            #[doc = concat!("let t = threadkit::", stringify!($Timer), "::new(Duration::from_secs(60), || {});")]
            /// t.start().unwrap();
            /// assert_eq!(t.join_timeout(Duration::from_millis(1)), Ok(false));
            /// t.cancel();
            /// assert_eq!(t.join_timeout(Duration::from_secs(60)), Ok(true));
            /// ```
            #[track_caller]
            pub fn join_timeout(&self, timeout: Duration) -> Result<bool, JoinError> {
                self.thread.join_timeout(timeout)
            }

            /// Waits until `deadline` at the latest; returns whether the timer finished.
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
            #[doc = concat!("let t = threadkit::", stringify!($Timer), "::new(Duration::from_secs(60), || {});")]
            /// t.start().unwrap();
            /// t.cancel();
            /// assert_eq!(t.join_deadline(Instant::now() + Duration::from_secs(60)), Ok(true));
            /// ```
            #[track_caller]
            pub fn join_deadline(&self, deadline: Instant) -> Result<bool, JoinError> {
                self.thread.join_deadline(deadline)
            }

            /// Whether the timer is started and has not finished: waiting, or running its
            /// function.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let t = threadkit::", stringify!($Timer), "::new(std::time::Duration::from_secs(60), || {});")]
            /// t.start().unwrap();
            /// assert!(t.is_alive());
            /// t.cancel();
            /// assert!(!t.is_alive());
            /// ```
            pub fn is_alive(&self) -> bool {
                self.thread.is_alive()
            }

            /// The timer's name (`"Thread-N"` unless [`set_name`](Self::set_name) gave one).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let t = threadkit::", stringify!($Timer), "::new(std::time::Duration::from_secs(60), || {});")]
            /// assert!(t.name().starts_with("Thread-"));
            /// ```
            pub fn name(&self) -> Arc<str> {
                self.thread.name()
            }

            /// Renames the timer (Python's `t.name = ...` / `t.setName(...)`). The shared
            /// worker thread that runs the function keeps its own OS-level name.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let t = threadkit::", stringify!($Timer), "::new(std::time::Duration::from_secs(60), || {});")]
            /// t.set_name("heartbeat");
            /// assert_eq!(&*t.name(), "heartbeat");
            /// ```
            #[doc(alias = "setName")]
            pub fn set_name(&self, name: impl Into<String>) {
                self.thread.set_name(name);
            }

            /// Whether the timer is a daemon: one the process does not wait for at exit. The
            /// creating thread's flag unless [`set_daemon`](Self::set_daemon) changed it.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let t = threadkit::", stringify!($Timer), "::new(std::time::Duration::from_secs(60), || {});")]
            /// assert!(!t.is_daemon()); // created by the main thread
            /// ```
            pub fn is_daemon(&self) -> bool {
                self.thread.is_daemon()
            }

            /// Sets the daemon flag; only before [`start`](Self::start).
            ///
            /// # Errors
            ///
            /// [`DaemonError`] once started.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let t = threadkit::", stringify!($Timer), "::new(std::time::Duration::from_secs(60), || {});")]
            /// t.set_daemon(true).unwrap();
            /// t.start().unwrap();
            /// assert!(t.set_daemon(false).is_err());
            /// t.cancel();
            /// ```
            pub fn set_daemon(&self, daemonic: bool) -> Result<(), DaemonError> {
                self.thread.set_daemon(daemonic)
            }
        }
    };
}

pub(super) use thread_methods;
