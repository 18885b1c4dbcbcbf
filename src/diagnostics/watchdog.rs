//! The watchdog: a background thread that reports deadlocks and stalls, and dumps on a timer
//! (`faulthandler.dump_traceback_later`).
//!
//! It is a plain `std` thread named `threadkit-watchdog`, not registered with threadkit, so it
//! never shows in the dumps it makes, and it sleeps on a std `Condvar`, never on a threadkit
//! primitive. Reports go through the [report hook](super::set_report_hook) with no lock held.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::report::{emit, Report, Stall};
use super::snapshot::{blocked_threads, Names};

/// Configures and starts a watchdog thread.
///
/// By default it checks every second for deadlocks, reports each new cycle once (followed by a
/// full dump), and reports no stalls. Nothing changes the program's behaviour: the watchdog only
/// reports.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use threadkit::diagnostics::Watchdog;
///
/// let dog = Watchdog::new()
///     .interval(Duration::from_millis(100))
///     .stall_threshold(Duration::from_secs(30))
///     .start()
///     .unwrap();
/// dog.stop();
/// ```
#[derive(Clone, Debug)]
#[must_use = "a watchdog does nothing until `start` is called"]
pub struct Watchdog {
    interval: Duration,
    deadlocks: bool,
    stall_threshold: Option<Duration>,
    dump_after: Option<Duration>,
    repeat: bool,
    dump_with_reports: bool,
}

impl Default for Watchdog {
    fn default() -> Self {
        Watchdog::new()
    }
}

impl Watchdog {
    /// A watchdog that checks for deadlocks every second.
    ///
    /// # Examples
    ///
    /// ```
    /// let _w = threadkit::diagnostics::Watchdog::new();
    /// ```
    pub fn new() -> Self {
        Watchdog {
            interval: Duration::from_secs(1),
            deadlocks: true,
            stall_threshold: None,
            dump_after: None,
            repeat: false,
            dump_with_reports: true,
        }
    }

    /// How often it checks (default 1 s).
    ///
    /// # Examples
    ///
    /// ```
    /// let _w = threadkit::diagnostics::Watchdog::new().interval(std::time::Duration::from_millis(50));
    /// ```
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Whether it looks for deadlocks (default yes).
    ///
    /// # Examples
    ///
    /// ```
    /// let _w = threadkit::diagnostics::Watchdog::new().deadlocks(false);
    /// ```
    pub fn deadlocks(mut self, on: bool) -> Self {
        self.deadlocks = on;
        self
    }

    /// Reports each thread blocked in threadkit for longer than `threshold` (once per wait).
    ///
    /// A wait is known by its thread and its number ([`WaitInfo::seq`](super::WaitInfo)): a
    /// wait made of slices ([`as_one_wait`](super::as_one_wait), as the Python extension's main
    /// thread waits) keeps one number, and is not reported again after a check that fell
    /// between two slices (a reported wait is forgotten once it has been gone for 16 checks).
    ///
    /// # Examples
    ///
    /// ```
    /// let _w = threadkit::diagnostics::Watchdog::new().stall_threshold(std::time::Duration::from_secs(10));
    /// ```
    pub fn stall_threshold(mut self, threshold: Duration) -> Self {
        self.stall_threshold = Some(threshold);
        self
    }

    /// Reports a full dump `after` the start, Python's `faulthandler.dump_traceback_later`;
    /// again every `after` if [`repeat`](Self::repeat) is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let _w = threadkit::diagnostics::Watchdog::new().dump_after(std::time::Duration::from_secs(60));
    /// ```
    pub fn dump_after(mut self, after: Duration) -> Self {
        self.dump_after = Some(after);
        self
    }

    /// Whether the [`dump_after`](Self::dump_after) dump repeats (default no).
    ///
    /// # Examples
    ///
    /// ```
    /// let _w = threadkit::diagnostics::Watchdog::new().repeat(true);
    /// ```
    pub fn repeat(mut self, repeat: bool) -> Self {
        self.repeat = repeat;
        self
    }

    /// Whether a deadlock or stall report is followed by a full dump (default yes).
    ///
    /// # Examples
    ///
    /// ```
    /// let _w = threadkit::diagnostics::Watchdog::new().dump_with_reports(false);
    /// ```
    pub fn dump_with_reports(mut self, on: bool) -> Self {
        self.dump_with_reports = on;
        self
    }

    /// Starts the watchdog thread.
    ///
    /// # Errors
    ///
    /// The OS could not create the thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let dog = threadkit::diagnostics::Watchdog::new().start().unwrap();
    /// drop(dog); // stops it
    /// ```
    pub fn start(self) -> io::Result<WatchdogHandle> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("threadkit-watchdog".into())
            .spawn(move || self.run(&stop2))?;
        Ok(WatchdogHandle {
            stop,
            thread: Some(thread),
        })
    }

    fn run(self, stop: &(Mutex<bool>, Condvar)) {
        let start = Instant::now();
        let mut next_dump = self.dump_after.map(|d| after(start, d));
        let mut reported_cycles: BTreeSet<BTreeSet<(u64, u64)>> = BTreeSet::new();
        // Reported stalls, by (thread, wait number), with how many checks in a row each was not
        // seen blocked.
        let mut reported_stalls: BTreeMap<(u64, u64), u32> = BTreeMap::new();
        loop {
            let now = Instant::now();
            let mut wake = after(now, self.interval);
            if let Some(d) = next_dump {
                wake = wake.min(d);
            }
            let (lock, cv) = stop;
            let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
            while !*stopped && Instant::now() < wake {
                let left = wake.saturating_duration_since(Instant::now());
                stopped = cv
                    .wait_timeout(stopped, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            if *stopped {
                return;
            }
            drop(stopped);
            let mut reported = false;
            if self.deadlocks {
                let found = super::find_deadlocks();
                // Forget cycles that are over, so a new one with equal keys is new.
                let live: BTreeSet<_> = found.iter().map(|d| d.key()).collect();
                reported_cycles.retain(|k| live.contains(k));
                for d in found {
                    if reported_cycles.insert(d.key()) {
                        emit(&Report::Deadlock(d));
                        reported = true;
                    }
                }
            }
            if let Some(threshold) = self.stall_threshold {
                let blocked = blocked_threads(Instant::now());
                let live: BTreeSet<(u64, u64)> =
                    blocked.iter().map(|b| (b.ident, b.wait.seq)).collect();
                // A wait is forgotten only after it has been gone for a while: a wait made of
                // slices (`as_one_wait`: a Python main thread looking for Ctrl-C) is briefly
                // not published between two, and a check that falls there must not make the
                // next one report it again. Its number is never reused by a later wait, so
                // keeping it longer is never wrong, only memory (bounded by the stalls of the
                // last `STALL_MEMORY` checks).
                reported_stalls.retain(|key, missed| {
                    if live.contains(key) {
                        *missed = 0;
                    } else {
                        *missed += 1;
                    }
                    *missed <= STALL_MEMORY
                });
                let names = Names::load();
                // The timer service's internal waits (labelled) are idle by design: never a
                // stall. (A worker running a Timer's function is that Timer: unlabelled.)
                for mut b in blocked.into_iter().filter(|b| b.label.is_none()) {
                    if b.wait.waited >= threshold
                        && reported_stalls.insert((b.ident, b.wait.seq), 0).is_none()
                    {
                        names.resolve(&mut b.wait);
                        emit(&Report::Stall(Stall {
                            thread: names.thread(b.ident),
                            wait: b.wait,
                        }));
                        reported = true;
                    }
                }
            }
            let due = next_dump.is_some_and(|d| Instant::now() >= d);
            if due {
                next_dump = if self.repeat {
                    self.dump_after.map(|d| after(Instant::now(), d))
                } else {
                    None
                };
            }
            if due || (reported && self.dump_with_reports) {
                emit(&Report::Dump(super::dump()));
            }
        }
    }
}

/// How many checks in a row a reported stall may be unseen before the watchdog forgets it.
const STALL_MEMORY: u32 = 16;

/// `t + d`, or as far as an `Instant` goes when that overflows (`Duration::MAX`: "never"; a
/// plain `+` panics, which killed the watchdog's thread at once, silently).
fn after(t: Instant, d: Duration) -> Instant {
    let mut d = d;
    loop {
        if let Some(later) = t.checked_add(d) {
            return later;
        }
        d /= 2;
    }
}

/// A running watchdog; stops it (and waits for its thread) when dropped or [`stop`]ped.
///
/// [`stop`]: WatchdogHandle::stop
#[derive(Debug)]
pub struct WatchdogHandle {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WatchdogHandle {
    /// Stops the watchdog and waits for its thread to end (Python's
    /// `faulthandler.cancel_dump_traceback_later`).
    ///
    /// # Examples
    ///
    /// ```
    /// threadkit::diagnostics::Watchdog::new().start().unwrap().stop();
    /// ```
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            // Not from the watchdog's own thread (a hook that drops its handle): never join self.
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for WatchdogHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts a watchdog that reports a full dump after `timeout` (and every `timeout` after that
/// if `repeat`), and nothing else: Python's `faulthandler.dump_traceback_later(timeout,
/// repeat)`. Drop or [`stop`](WatchdogHandle::stop) the handle to cancel it.
///
/// # Errors
///
/// The OS could not create the thread.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let later = threadkit::diagnostics::dump_later(Duration::from_secs(3600), false).unwrap();
/// later.stop(); // finished in time: cancel
/// ```
pub fn dump_later(timeout: Duration, repeat: bool) -> io::Result<WatchdogHandle> {
    Watchdog::new()
        .deadlocks(false)
        .interval(timeout)
        .dump_after(timeout)
        .repeat(repeat)
        .start()
}
