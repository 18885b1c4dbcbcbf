//! [`RepeatingTimer`]: a function run every interval on the timer service, until cancelled.
//!
//! Each run is a one-shot entry of the service's heap (its own lifecycle word, `state.rs`); the
//! [`Repeat`] shared by the runs decides, under its lock, whether a next run is scheduled or
//! the record is finished. `cancel()` and a run's end take that lock (then, maybe, the service's
//! lock: always in that order), so exactly one of them finishes the record:
//! - `cancel()` while a run is pending: it cancels that entry; if the service had not fired it,
//!   no worker will touch the timer again and `cancel()` finishes the record; otherwise the
//!   worker finds `cancelled` when the run ends (the run itself checks it first and does not
//!   call the function) and finishes it.
//! - `cancel()` while a run is in progress: the worker finds `cancelled` when the run ends.
//! - `cancel()` before `start()`: `start()` finds `cancelled` and finishes the record.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::service::{self, Service};
use super::state::{Cancel, Lifecycle};
use super::Entry;
use crate::{DaemonError, JoinError, Lock, StartError, Thread};

/// What the runs of one repeating timer share.
pub(super) struct Repeat {
    interval: Duration,
    service: &'static Service,
    /// The function; dropped once the timer is finished.
    function: Lock<Option<Box<dyn FnMut() + Send>>>,
    state: Lock<State>,
    /// Runs whose function was called.
    runs: AtomicU64,
    /// Whether the last run's function returned (a panic ends the repetition).
    returned: AtomicBool,
    /// Whether [`cancel`](RepeatingTimer::cancel) was called (readable without the lock).
    cancelled: AtomicBool,
}

struct State {
    cancelled: bool,
    /// When `start()` was called: run `k` is due at `start + k * interval`.
    start: Option<Instant>,
    /// The entry of the next (or running) run.
    current: Option<Arc<Entry>>,
}

impl Repeat {
    /// Schedules the run after `now` that keeps the grid `start + k * interval` (skipping runs
    /// whose time has passed), with `state` locked. An error: the service could not be started.
    fn schedule_next(self: &Arc<Self>, state: &mut State, thread: &Thread) -> std::io::Result<()> {
        let start = *state.start.get_or_insert_with(Instant::now);
        let deadline = next_deadline(start, self.interval, Instant::now());
        let me = Arc::clone(self);
        let entry = Arc::new(Entry {
            state: Lifecycle::new(),
            interval: self.interval,
            function: Lock::with_value(Some(Box::new(move || me.run_once()))),
            service: self.service,
            repeat: Some(Arc::clone(self)),
        });
        state.current = Some(Arc::clone(&entry));
        service::schedule_at(entry, thread, deadline)
    }

    /// One run, on a timer worker acting as the timer's thread.
    fn run_once(&self) {
        self.returned.store(false, Ordering::Relaxed);
        // A run the service fired just before `cancel()` does not call the function.
        if self.cancelled.load(Ordering::Acquire) {
            self.returned.store(true, Ordering::Relaxed);
            return;
        }
        self.runs.fetch_add(1, Ordering::Relaxed);
        // The function runs with no lock of the timer's held: taken out for the run and put back
        // after it (also when it panics). Runs never overlap, and the function is only dropped
        // (`finish`) when no run is in progress, so nobody misses it meanwhile. Holding the
        // `Lock` across the call would make every lock the function takes look ordered after it,
        // and a `cancel()` made while holding one of those (it drops the function under that
        // `Lock`) a lock-order inversion.
        let function = self.function.acquire().take();
        if let Some(function) = function {
            let mut run = PutBack {
                slot: &self.function,
                function: Some(function),
            };
            if let Some(f) = run.function.as_mut() {
                f();
            }
        }
        self.returned.store(true, Ordering::Relaxed);
    }

    /// Called by the worker when a run has ended: the next run, or the end of the timer.
    pub(super) fn after_run(self: &Arc<Self>, thread: &Thread) {
        let mut state = self.state.acquire();
        let go_on = !state.cancelled && self.returned.load(Ordering::Relaxed);
        if go_on && self.schedule_next(&mut state, thread).is_ok() {
            return;
        }
        state.current = None;
        drop(state);
        self.finish(thread);
    }

    /// Drops the function and finishes the record (joiners wake), even if the function's `Drop`
    /// panics (that goes to the excepthook).
    fn finish(&self, thread: &Thread) {
        let function = self.function.acquire().take();
        super::drop_function(thread, function);
        thread.mark_stopped();
    }
}

/// Puts a repeating timer's function back where it was taken from for a run, when dropped.
struct PutBack<'a> {
    slot: &'a Lock<Option<Box<dyn FnMut() + Send>>>,
    function: Option<Box<dyn FnMut() + Send>>,
}

impl Drop for PutBack<'_> {
    fn drop(&mut self) {
        *self.slot.acquire() = self.function.take();
    }
}

/// The first time after `now` on the grid `start + k * interval` (k ≥ 1); `None` if it cannot
/// be represented (then the run never comes).
fn next_deadline(start: Instant, interval: Duration, now: Instant) -> Option<Instant> {
    let step = interval.as_nanos();
    let k = now.saturating_duration_since(start).as_nanos() / step + 1;
    let offset = step.checked_mul(k)?;
    let secs = u64::try_from(offset / 1_000_000_000).ok()?;
    let nanos = (offset % 1_000_000_000) as u32;
    start.checked_add(Duration::new(secs, nanos))
}

/// A function run every `interval` after [`start`](Self::start) until [`cancel`](Self::cancel),
/// on the same timer service as [`Timer`](crate::Timer): the self-rescheduling `Timer` that
/// Python programs write by hand.
///
/// Runs keep to the grid `start + k × interval` (k = 1, 2, ...), so they do not drift by the
/// time each run takes. A run that is still going when the next one is due delays it, and runs
/// whose time has passed meanwhile are skipped, not made up in a burst: after a time `t` at most
/// `t / interval` runs have started. Runs never overlap.
///
/// Like a Timer, a `RepeatingTimer` is one thread as far as a program can see: a [`Thread`]
/// record named `"Thread-N"`, with the creating thread's daemon flag, alive and listed by
/// [`enumerate`](crate::enumerate) from `start` until it is cancelled (and a run in progress
/// has ended); [`current_thread`](crate::current_thread) inside the function is that record.
/// Each run's [`Local`](crate::Local) values are dropped when the run returns. A panic in the
/// function goes to the [excepthook](crate::set_excepthook) and ends the repetition, as an
/// exception ends a Python thread.
///
/// A non-daemon `RepeatingTimer` never finishes by itself, so the process waits for it at exit
/// until it is cancelled: make it a daemon, or cancel it (for example in a
/// [`register_atexit`](crate::register_atexit) callback).
///
/// # Differences from Python
///
/// Python has no repeating timer; this replaces a `Timer` whose function starts a new `Timer`.
/// Here the name, the record and the daemon flag stay the same across runs, and a `cancel()`
/// stops the repetition wherever it is.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let ticks = Arc::new(AtomicU32::new(0));
/// let t = threadkit::RepeatingTimer::new(Duration::from_millis(5), {
///     let ticks = Arc::clone(&ticks);
///     move || {
///         ticks.fetch_add(1, Ordering::SeqCst);
///     }
/// });
/// t.start().unwrap();
/// while ticks.load(Ordering::SeqCst) < 3 {
///     std::thread::yield_now();
/// }
/// assert!(t.cancel());
/// t.join().unwrap(); // waits for a run in progress
/// let n = ticks.load(Ordering::SeqCst);
/// assert_eq!(t.runs(), u64::from(n));
/// ```
#[derive(Clone)]
pub struct RepeatingTimer {
    thread: Thread,
    repeat: Arc<Repeat>,
}

impl RepeatingTimer {
    /// Creates a timer that will call `function` every `interval` once started.
    ///
    /// # Panics
    ///
    /// If `interval` is zero (the function would run back to back for ever).
    ///
    /// # Examples
    ///
    /// ```
    /// let t = threadkit::RepeatingTimer::new(std::time::Duration::from_secs(1), || {});
    /// assert!(!t.is_alive());
    /// ```
    #[track_caller]
    pub fn new(interval: Duration, function: impl FnMut() + Send + 'static) -> RepeatingTimer {
        RepeatingTimer::on_service(service::service(), interval, Box::new(function))
    }

    #[track_caller]
    fn on_service(
        service: &'static Service,
        interval: Duration,
        function: Box<dyn FnMut() + Send>,
    ) -> RepeatingTimer {
        assert!(!interval.is_zero(), "RepeatingTimer: zero interval");
        let repeat = Arc::new(Repeat {
            interval,
            service,
            function: Lock::with_value(Some(function)),
            state: Lock::with_value(State {
                cancelled: false,
                start: None,
                current: None,
            }),
            runs: AtomicU64::new(0),
            returned: AtomicBool::new(true),
            cancelled: AtomicBool::new(false),
        });
        let scheduled = Arc::clone(&repeat);
        let thread = Thread::new_timer(Box::new(move |thread| {
            let mut state = scheduled.state.acquire();
            if state.cancelled {
                // Cancelled before start: the record starts and finishes, as a Timer's does.
                drop(state);
                scheduled.finish(thread);
                return Ok(());
            }
            let scheduled_next = scheduled.schedule_next(&mut state, thread);
            if scheduled_next.is_err() {
                // `Thread::start` finishes the record on an error.
                state.current = None;
                drop(state);
                let function = scheduled.function.acquire().take();
                super::drop_function(thread, function);
            }
            scheduled_next
        }));
        RepeatingTimer { thread, repeat }
    }

    /// Starts the timer: the first run is due after one interval.
    ///
    /// # Errors
    ///
    /// [`StartError::AlreadyStarted`] on a second call; [`StartError::Os`] if the timer
    /// service's thread could not be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = threadkit::RepeatingTimer::new(std::time::Duration::from_secs(60), || {});
    /// t.start().unwrap();
    /// assert!(t.start().is_err());
    /// t.cancel();
    /// ```
    pub fn start(&self) -> Result<(), StartError> {
        self.thread.start()
    }

    /// Stops the repetition: no run starts after `cancel` returns (a run in progress finishes;
    /// [`join`](Self::join) waits for it). Returns `false` if the timer was already cancelled or
    /// has ended (after a panic in its function). Can be called from inside the function.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = threadkit::RepeatingTimer::new(std::time::Duration::from_secs(60), || {});
    /// t.start().unwrap();
    /// assert!(t.cancel());
    /// assert!(!t.cancel());
    /// t.join().unwrap();
    /// ```
    pub fn cancel(&self) -> bool {
        let mut state = self.repeat.state.acquire();
        if state.cancelled || (state.current.is_none() && state.start.is_some()) {
            return false;
        }
        state.cancelled = true;
        self.repeat.cancelled.store(true, Ordering::Release);
        // Whoever finishes the record: see the module docs.
        let finish = match state.current.take() {
            None => false, // not started: `start()` finishes it
            Some(entry) => match entry.state.cancel() {
                Cancel::Pending => service::cancel_pending(&entry),
                Cancel::Never => true,
                Cancel::Lost | Cancel::BeforeStart => false,
            },
        };
        drop(state);
        if finish {
            self.repeat.finish(&self.thread);
        }
        true
    }

    /// Whether [`cancel`](Self::cancel) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = threadkit::RepeatingTimer::new(std::time::Duration::from_secs(1), || {});
    /// t.cancel();
    /// assert!(t.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.repeat.cancelled.load(Ordering::Acquire)
    }

    /// How many runs have called the function so far.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = threadkit::RepeatingTimer::new(std::time::Duration::from_secs(1), || {});
    /// assert_eq!(t.runs(), 0);
    /// ```
    pub fn runs(&self) -> u64 {
        self.repeat.runs.load(Ordering::Relaxed)
    }

    /// The time between runs.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let t = threadkit::RepeatingTimer::new(Duration::from_millis(250), || {});
    /// assert_eq!(t.interval(), Duration::from_millis(250));
    /// ```
    pub fn interval(&self) -> Duration {
        self.repeat.interval
    }
}

super::forward::thread_methods!(RepeatingTimer);

// As `Timer`: the state is atomics and locks consistent at every point a panic can be observed,
// and the function is never reachable through the handle.
impl std::panic::UnwindSafe for RepeatingTimer {}
impl std::panic::RefUnwindSafe for RepeatingTimer {}

impl fmt::Debug for RepeatingTimer {
    /// As a Timer's: `Timer(heartbeat, started 5)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.thread, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::next_deadline;
    use std::time::{Duration, Instant};

    #[test]
    fn deadlines_keep_to_the_grid_and_skip_missed_runs() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(next_deadline(start, ms(10), start), Some(start + ms(10)));
        assert_eq!(
            next_deadline(start, ms(10), start + ms(3)),
            Some(start + ms(10))
        );
        // A run that ended late: the next is the first grid point after now, not now + 10.
        assert_eq!(
            next_deadline(start, ms(10), start + ms(13)),
            Some(start + ms(20))
        );
        assert_eq!(
            next_deadline(start, ms(10), start + ms(47)),
            Some(start + ms(50))
        );
        assert_eq!(
            next_deadline(start, ms(10), start + ms(50)),
            Some(start + ms(60))
        );
        assert_eq!(next_deadline(start, Duration::MAX, start + ms(1)), None);
    }
}
