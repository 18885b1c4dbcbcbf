//! [`Timer`]: Python's `threading.Timer`, without one OS thread per timer.
//!
//! A Timer is a [`Thread`] record of its own (listed by `enumerate()`, joinable, named, with a
//! daemon flag), but it has no OS thread while it waits: `start()` hands it to the timer service
//! (`service.rs`), and when its interval has passed a shared worker thread runs its function
//! *as* the Timer's thread. So 100,000 pending timers cost 100,000 small heap entries and a few
//! OS threads, instead of CPython's 100,000 threads.

mod forward;
#[cfg(test)]
mod pool_tests;
mod repeat;
mod service;
mod state;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{DaemonError, JoinError, Lock, StartError, Thread};
pub use repeat::RepeatingTimer;
use state::{Cancel, Lifecycle};

/// What a Timer handle and the timer service share.
struct Entry {
    /// Started, cancelled, fired: the one word that decides who does what (`state.rs`).
    state: Lifecycle,
    interval: Duration,
    /// Taken by the worker that runs it, or dropped by the `cancel()` that stopped it.
    function: Lock<Option<Box<dyn FnOnce() + Send>>>,
    /// The service that runs it.
    service: &'static service::Service,
    /// For one run of a [`RepeatingTimer`]: what schedules the next run after this one.
    repeat: Option<Arc<repeat::Repeat>>,
}

/// A function that runs once, after a delay, unless cancelled first: Python's
/// `threading.Timer`.
///
/// A `Timer` is a thread in every way a program can see. It has a name (`"Thread-N"` unless
/// [`set_name`](Self::set_name) says otherwise) and a daemon flag (the creating thread's, so
/// non-daemon from `main`: the process waits at exit for a pending Timer). Once
/// [started](Self::start) it is [alive](Self::is_alive) and listed by
/// [`enumerate`](crate::enumerate) until its function has returned or it is
/// [cancelled](Self::cancel); [`join`](Self::join) waits for that. Inside the function,
/// [`current_thread`](crate::current_thread) is the Timer's [`Thread`], so log lines carry its
/// name, and [`Local`](crate::Local) values are the Timer's own, dropped when the function
/// returns. A panic in the function goes to the [excepthook](crate::set_excepthook) with the
/// Timer's thread.
///
/// # Differences from Python
///
/// - No OS thread per Timer: a timer service thread keeps the deadlines, and a small pool of
///   worker threads runs due functions, each *acting as* the Timer's thread for the duration of
///   the call. A function that blocks for long makes the pool grow after a couple of
///   milliseconds, so other Timers are not held up. [`native_id`](Thread::native_id) is `None`
///   while the Timer waits and the worker's ID once it runs; renaming a running Timer does not
///   rename the worker's OS thread.
/// - Arguments are captured by the closure instead of `args`/`kwargs`; `function` and `finished`
///   are not exposed. [`cancel`](Self::cancel) returns whether it stopped the function from
///   running (Python returns `None`).
/// - A Timer is not a `Thread` subclass: [`thread`](Self::thread) gives its [`Thread`] record,
///   and the common `Thread` methods are repeated here.
/// - Deadlines use the monotonic clock; an interval too large to represent never fires.
/// - `Timer` is [`UnwindSafe`](std::panic::UnwindSafe) and
///   [`RefUnwindSafe`](std::panic::RefUnwindSafe), so `catch_unwind` accepts closures using one.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use threadkit::Timer;
///
/// let (tx, rx) = mpsc::channel();
/// let t = Timer::new(Duration::from_millis(10), move || {
///     tx.send(threadkit::current_thread().name().to_string()).unwrap();
/// });
/// t.set_name("t1");
/// t.start().unwrap();
/// assert_eq!(rx.recv().unwrap(), "t1");
/// t.join().unwrap();
/// assert!(!t.is_alive());
/// ```
#[derive(Clone)]
pub struct Timer {
    thread: Thread,
    entry: Arc<Entry>,
}

impl Timer {
    /// Creates a Timer that will call `function` once `interval` has passed after
    /// [`start`](Self::start). A zero interval runs it as soon as possible.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let t = threadkit::Timer::new(Duration::from_secs(3), || println!("worker running"));
    /// assert!(t.name().starts_with("Thread-"));
    /// assert!(!t.is_alive());
    /// ```
    pub fn new(interval: Duration, function: impl FnOnce() + Send + 'static) -> Timer {
        Timer::on_service(service::service(), interval, Box::new(function))
    }

    /// A Timer run by `service` (the process's one, or a test's private one).
    fn on_service(
        service: &'static service::Service,
        interval: Duration,
        function: Box<dyn FnOnce() + Send>,
    ) -> Timer {
        let entry = Arc::new(Entry {
            state: Lifecycle::new(),
            interval,
            function: Lock::with_value(Some(function)),
            service,
            repeat: None,
        });
        let scheduled = Arc::clone(&entry);
        let thread =
            Thread::new_timer(Box::new(move |thread| service::schedule(scheduled, thread)));
        Timer { thread, entry }
    }

    /// Starts the countdown. The Timer is alive and listed by [`enumerate`](crate::enumerate)
    /// from now until its function has returned or it is cancelled.
    ///
    /// # Errors
    ///
    /// [`StartError::AlreadyStarted`] on a second call (Python: `RuntimeError: threads can only
    /// be started once`); [`StartError::Os`] if the timer service's thread could not be created.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let t = threadkit::Timer::new(Duration::ZERO, || {});
    /// t.start().unwrap();
    /// assert!(t.start().is_err());
    /// t.join().unwrap();
    /// ```
    pub fn start(&self) -> Result<(), StartError> {
        self.thread.start()
    }

    /// Stops the Timer if its function has not started yet: then the function never runs, is
    /// dropped, and the Timer finishes at once (joiners wake, `enumerate` stops listing it).
    /// Returns whether this call did that; cancelling a Timer whose function has started or
    /// finished, or one already cancelled, has no effect and returns `false`.
    ///
    /// A Timer cancelled before [`start`](Self::start) runs nothing when started.
    ///
    /// The function is dropped here, as the Timer's thread: a panic in its `Drop` goes to the
    /// [excepthook](crate::set_excepthook) with the Timer's thread, and the Timer still finishes.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let t = threadkit::Timer::new(Duration::from_secs(60), || unreachable!());
    /// t.start().unwrap();
    /// assert!(t.cancel());
    /// t.join().unwrap(); // returns at once
    /// assert!(!t.cancel());
    /// ```
    pub fn cancel(&self) -> bool {
        // Who finishes the record follows from which transition won (see `state.rs`).
        let finish = match self.entry.state.cancel() {
            Cancel::Lost => return false,
            // `start()` has not claimed the Timer: it will see the cancellation and finish it.
            Cancel::BeforeStart => false,
            Cancel::Never => true,
            Cancel::Pending => {
                if !service::cancel_pending(&self.entry) {
                    return false;
                }
                true
            }
        };
        let function = self.entry.function.acquire().take();
        drop_function(&self.thread, function);
        if finish {
            self.thread.mark_stopped();
        }
        true
    }

    /// Whether [`cancel`](Self::cancel) stopped this Timer's function from running.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = threadkit::Timer::new(std::time::Duration::from_secs(1), || {});
    /// t.cancel();
    /// assert!(t.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.entry.state.is_cancelled()
    }

    /// The delay between [`start`](Self::start) and the call (Python's `interval` attribute).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let t = threadkit::Timer::new(Duration::from_millis(1500), || {});
    /// assert_eq!(t.interval(), Duration::from_millis(1500));
    /// ```
    pub fn interval(&self) -> Duration {
        self.entry.interval
    }
}

/// Drops a Timer's function (or what is left of it) as the Timer's thread: a panic in its `Drop`
/// goes to the excepthook with the Timer's thread, as a panicking [`Local`](crate::Local) value's
/// does, and never unwinds the bookkeeping around the call (the caller still finishes the record,
/// and a timer worker goes on to its next job).
fn drop_function<F: Send + 'static>(thread: &Thread, function: Option<F>) {
    if let Some(function) = function {
        thread.run_as_target(Box::new(move || drop(function)));
    }
}

forward::thread_methods!(Timer);

// As `Thread`: a Timer's state is its record and one atomic lifecycle word, consistent at every
// point a panic can be observed, and its function is never reachable through the handle.
impl std::panic::UnwindSafe for Timer {}
impl std::panic::RefUnwindSafe for Timer {}

impl fmt::Debug for Timer {
    /// As CPython's repr: `Timer(t1, started 5)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.thread, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn debug_is_cpython_repr() {
        let t = Timer::new(Duration::from_secs(60), || {});
        t.set_name("t1");
        t.set_daemon(false).unwrap(); // test threads are foreign, hence daemon, threads
        assert_eq!(format!("{t:?}"), "Timer(t1, initial)");
        t.start().unwrap();
        let id = t.thread().ident().unwrap();
        assert_eq!(format!("{t:?}"), format!("Timer(t1, started {id})"));
        t.cancel();
        assert_eq!(format!("{t:?}"), format!("Timer(t1, stopped {id})"));
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "3,000 timers: minutes under Miri, and heap housekeeping is no UB question"
    )]
    fn cancelled_entries_do_not_pile_up() {
        let timers: Vec<Timer> = (0..3000)
            .map(|_| Timer::new(Duration::from_secs(3600), || {}))
            .collect();
        for t in &timers {
            t.set_daemon(true).unwrap();
            t.start().unwrap();
        }
        for t in &timers {
            assert!(t.cancel());
        }
        let heap = service_heap_len();
        assert!(heap < 3000, "heap still holds {heap} entries");
    }

    fn service_heap_len() -> usize {
        service::heap_len()
    }
}
