//! [`Barrier`]: Python's `threading.Barrier`, with its result and error types.

use std::fmt;
use std::panic::{self, AssertUnwindSafe, Location};
use std::time::{Duration, Instant};

use crate::identity::{Identity, ObjectKind};
use crate::lock::{Lock, LockGuard};
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::wait::{self, ParkResult, Target, UnparkToken, WaitKind, DEFAULT_PARK_TOKEN};

/// In the status word: the barrier is broken.
const BROKEN: usize = 1;
/// In the status word: the bits above the flag hold the number of waiting threads.
const COUNT_SHIFT: u32 = 1;

/// Wakes the waiters of a cycle that completed: they pass.
const TOKEN_PASSED: UnparkToken = UnparkToken(1);
/// Wakes the waiters of a cycle that was aborted, reset or timed out: they get an error.
const TOKEN_BROKEN: UnparkToken = UnparkToken(2);
/// The longest a waiter with a check parks between two checks (see `wait_checking`).
const LONGEST_CHECK_INTERVAL: Duration = Duration::from_secs(365 * 24 * 3600);

/// The action a barrier's last arriving thread runs.
type Action = Box<dyn FnMut() + Send + 'static>;

/// A synchronization point for a fixed number of threads: Python's `threading.Barrier`.
///
/// Each of `parties` threads calls [`wait`](Self::wait); all of them block until the last one
/// arrives, then all are released together and the barrier is ready for the next cycle. Each
/// call returns its arrival index (0 for the first thread, `parties - 1` for the last); the last
/// one is the *leader*, which runs the barrier's optional action before anyone is released.
///
/// The barrier can *break*: when [`abort`](Self::abort) is called, when a waiting thread's
/// timeout expires, when [`reset`](Self::reset) is called while threads wait, or when the action
/// panics. Every thread waiting then gets [`BrokenBarrierError`], and so does every later call to
/// `wait` until [`reset`](Self::reset) makes the barrier usable again.
///
/// # Differences from Python
///
/// - `Barrier(0)` raises `ValueError`; [`Barrier::new(0)`](Self::new) panics with the same
///   message.
/// - `wait()` returns `Ok(`[`BarrierWaitResult`]`)` with [`index`](BarrierWaitResult::index)
///   (Python's return value) and [`is_leader`](BarrierWaitResult::is_leader), and
///   `Err(`[`BrokenBarrierError`]`)` where Python raises. `wait(timeout)` is
///   [`wait_timeout`](Self::wait_timeout); [`wait`](Self::wait) uses the default timeout, if any.
/// - The action is a closure; if it panics, the barrier breaks, the other threads get
///   `BrokenBarrierError` and the panic continues in the leader, as an exception would.
/// - A new cycle starts as soon as the last party of the previous one arrives: threads that come
///   back quickly do not wait for the previous cycle's threads to leave `wait` (Python's
///   "draining" and "resetting" states). Indices and outcomes are the same.
/// - The action runs while the barrier's internal lock is held, as in Python, so it must not
///   call [`wait`](Self::wait), [`abort`](Self::abort) or [`reset`](Self::reset) on the same
///   barrier (it would deadlock). [`n_waiting`](Self::n_waiting),
///   [`is_broken`](Self::is_broken) and `Debug` take no lock and are safe anywhere.
/// - Waits are not interrupted by signals; [`wait_interruptible`](Self::wait_interruptible) lets a
///   caller look for interruptions while it waits and give up its arrival, as Python's
///   `Barrier.wait` does when an exception ends the wait.
/// - `Debug` prints `Barrier { waiters: 2/3 }` or `Barrier { state: broken }`, as CPython's repr
///   ends in `waiters=2/3>` or `broken>`.
///
/// # Size
///
/// 144 bytes on 64-bit targets (112 before diagnostics): the state under its
/// [`Lock`](crate::Lock) (counts, generation, the boxed action, the default timeout) and the
/// lock-free status word waiters park on. The lock carries the barrier's name and creation site
/// for [diagnostics](crate::diagnostics), so the barrier adds no identity of its own.
///
/// # Memory ordering
///
/// Everything each thread did before calling `wait`, and everything the action did, happens-before
/// everything any thread does after its `wait` of the same cycle returns `Ok`.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use threadkit::Barrier;
///
/// let barrier = Arc::new(Barrier::new(3));
/// let threads: Vec<_> = (0..3)
///     .map(|_| {
///         let barrier = Arc::clone(&barrier);
///         std::thread::spawn(move || barrier.wait().unwrap().index())
///     })
///     .collect();
/// let mut indices: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
/// indices.sort();
/// assert_eq!(indices, [0, 1, 2]);
/// ```
pub struct Barrier {
    state: Lock<State>,
    /// A lock-free copy of the count and broken flag, `count << COUNT_SHIFT | BROKEN`, for
    /// `n_waiting`, `is_broken` and `Debug`. Its address is the key the waiters park on.
    status: AtomicUsize,
    parties: usize,
    timeout: Option<Duration>,
}

crate::identity::diagnosable!([] Barrier, |b| b.state.identity());

// Unwind safety: a `&Barrier` (or a `Barrier`) crossing `catch_unwind` cannot show a broken
// invariant. The one piece of user code the barrier runs, the action, runs under `catch_unwind`
// itself and a panic there breaks the barrier (every waiter and later caller is told, as a poisoned
// std lock tells them); everything else under the state lock is panic-free bookkeeping, and a
// thread that panics cannot be inside `wait` (it is parked there). The boxed action and the
// `UnsafeCell` in the lock are what make the compiler refuse it otherwise.
impl std::panic::UnwindSafe for Barrier {}
impl std::panic::RefUnwindSafe for Barrier {}

/// Everything `wait`, `abort` and `reset` change, behind the barrier's lock.
struct State {
    /// Threads that have arrived in the current cycle.
    count: usize,
    /// Threads of the current cycle that parked and have not yet been woken or come back on
    /// their own after a timeout.
    sleepers: usize,
    /// Which cycle is filling; a cycle ends when it completes or is reset.
    generation: u64,
    broken: bool,
    /// Ended cycles whose timed-out waiters have not come back yet to learn the outcome.
    stragglers: Vec<Straggler>,
    action: Option<Action>,
}

/// The outcome of an ended cycle, kept for waiters whose timeout fired just before it ended.
struct Straggler {
    generation: u64,
    passed: bool,
    remaining: usize,
}

impl Barrier {
    /// Creates a barrier for `parties` threads, with no action and no default timeout:
    /// Python's `threading.Barrier(parties)`.
    ///
    /// `const`, so a barrier can be a `static`.
    ///
    /// # Panics
    ///
    /// If `parties` is 0 (Python: `ValueError: parties must be > 0`).
    ///
    /// # Examples
    ///
    /// ```
    /// static START: threadkit::Barrier = threadkit::Barrier::new(1);
    /// assert_eq!(START.wait().unwrap().index(), 0);
    /// ```
    #[cfg(not(loom))]
    #[track_caller]
    pub const fn new(parties: usize) -> Self {
        assert!(parties > 0, "parties must be > 0");
        Barrier {
            // The internal lock carries the barrier's identity (no extra bytes).
            state: Lock::with_identity(
                Identity::new(ObjectKind::Barrier, crate::identity::caller()),
                State::new(None),
            ),
            status: AtomicUsize::new(0),
            parties,
            timeout: None,
        }
    }

    /// Creates a barrier for `parties` threads (loom build: loom's atomics are not `const`).
    ///
    /// # Panics
    ///
    /// If `parties` is 0.
    #[cfg(loom)]
    #[track_caller]
    pub fn new(parties: usize) -> Self {
        assert!(parties > 0, "parties must be > 0");
        Barrier {
            // The internal lock carries the barrier's identity (no extra bytes).
            state: Lock::with_identity(
                Identity::new(ObjectKind::Barrier, crate::identity::caller()),
                State::new(None),
            ),
            status: AtomicUsize::new(0),
            parties,
            timeout: None,
        }
    }

    /// Creates a barrier for `parties` threads whose last arriving thread runs `action` before
    /// any of them is released: Python's `Barrier(parties, action=f)`.
    ///
    /// # Panics
    ///
    /// If `parties` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let cycles = Arc::new(AtomicUsize::new(0));
    /// let c = Arc::clone(&cycles);
    /// let barrier = threadkit::Barrier::with_action(1, move || {
    ///     c.fetch_add(1, Ordering::Relaxed);
    /// });
    /// barrier.wait().unwrap();
    /// barrier.wait().unwrap();
    /// assert_eq!(cycles.load(Ordering::Relaxed), 2);
    /// ```
    #[track_caller]
    pub fn with_action(parties: usize, action: impl FnMut() + Send + 'static) -> Self {
        Barrier::builder(parties).action(action).build()
    }

    /// Creates a barrier for `parties` threads whose [`wait`](Self::wait) gives up after
    /// `timeout`, breaking the barrier: Python's `Barrier(parties, timeout=t)`.
    ///
    /// # Panics
    ///
    /// If `parties` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let barrier = threadkit::Barrier::with_timeout(2, Duration::from_millis(10));
    /// assert!(barrier.wait().is_err()); // nobody else came
    /// assert!(barrier.is_broken());
    /// ```
    #[track_caller]
    pub fn with_timeout(parties: usize, timeout: Duration) -> Self {
        Barrier::builder(parties).timeout(timeout).build()
    }

    /// Creates a barrier for `parties` threads with a name for
    /// [thread dumps](crate::diagnostics) (an unnamed one is shown by its creation site).
    ///
    /// # Panics
    ///
    /// If `parties` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = threadkit::Barrier::named("stage-1", 2);
    /// assert_eq!(b.name(), Some("stage-1"));
    /// ```
    #[track_caller]
    pub fn named(name: impl Into<String>, parties: usize) -> Self {
        Barrier::builder(parties).name(name).build()
    }

    /// The name given with [`Barrier::named`] or [`BarrierBuilder::name`], if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(threadkit::Barrier::new(2).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.state.name()
    }

    /// Starts building a barrier for `parties` threads, to give it an action, a default timeout or a
    /// name.
    ///
    /// # Panics
    ///
    /// If `parties` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let barrier = threadkit::Barrier::builder(1)
    ///     .action(|| println!("all here"))
    ///     .timeout(Duration::from_secs(2))
    ///     .build();
    /// assert!(barrier.wait().unwrap().is_leader());
    /// ```
    #[track_caller]
    pub fn builder(parties: usize) -> BarrierBuilder {
        assert!(parties > 0, "parties must be > 0");
        BarrierBuilder {
            parties,
            action: None,
            timeout: None,
            name: None,
            site: Location::caller(),
        }
    }

    /// Waits until all parties have called `wait`, using the barrier's default timeout if it has
    /// one; returns this thread's arrival index: Python's `barrier.wait()`.
    ///
    /// The last thread to arrive runs the action, if any, then releases everyone.
    ///
    /// # Errors
    ///
    /// [`BrokenBarrierError`] if the barrier is broken when this thread arrives or while it waits
    /// (by [`abort`](Self::abort), [`reset`](Self::reset), a timeout, or a panicking action).
    /// If this thread's own default timeout expires, it breaks the barrier and gets the error.
    ///
    /// # Panics
    ///
    /// In the leader, if the action panics: the panic continues after the barrier is broken.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = threadkit::Barrier::new(2);
    /// std::thread::scope(|s| {
    ///     let other = s.spawn(|| barrier.wait().unwrap());
    ///     let mine = barrier.wait().unwrap();
    ///     let theirs = other.join().unwrap();
    ///     assert_eq!(mine.index() + theirs.index(), 1);
    ///     assert!(mine.is_leader() != theirs.is_leader());
    /// });
    /// ```
    #[track_caller]
    pub fn wait(&self) -> Result<BarrierWaitResult, BrokenBarrierError> {
        self.wait_until(self.timeout.and_then(wait::deadline_after))
    }

    /// As [`wait`](Self::wait), but gives up after `timeout` instead of the default timeout:
    /// Python's `barrier.wait(timeout)`.
    ///
    /// # Errors
    ///
    /// [`BrokenBarrierError`] as for [`wait`](Self::wait); when `timeout` expires first, this
    /// thread breaks the barrier for everyone and gets the error.
    ///
    /// # Panics
    ///
    /// In the leader, if the action panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let barrier = threadkit::Barrier::new(2);
    /// assert!(barrier.wait_timeout(Duration::from_millis(10)).is_err());
    /// assert!(barrier.is_broken());
    /// ```
    #[track_caller]
    pub fn wait_timeout(&self, timeout: Duration) -> Result<BarrierWaitResult, BrokenBarrierError> {
        self.wait_until(wait::deadline_after(timeout))
    }

    /// As [`wait`](Self::wait), but gives up at `deadline`.
    ///
    /// # Errors
    ///
    /// [`BrokenBarrierError`] as for [`wait_timeout`](Self::wait_timeout).
    ///
    /// # Panics
    ///
    /// In the leader, if the action panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    ///
    /// let barrier = threadkit::Barrier::new(1);
    /// assert_eq!(barrier.wait_deadline(Instant::now()).unwrap().index(), 0);
    /// ```
    #[track_caller]
    pub fn wait_deadline(
        &self,
        deadline: Instant,
    ) -> Result<BarrierWaitResult, BrokenBarrierError> {
        self.wait_until(Some(deadline))
    }

    /// As [`wait`](Self::wait) with an optional `timeout` (`None`: the barrier's default
    /// timeout, if any), running `check` every `every` while this thread waits; an error from
    /// `check` ends the wait: the thread leaves the cycle and the error is returned.
    ///
    /// This is how a binding makes a barrier wait interruptible, for instance by Ctrl-C in a
    /// Python main thread (`check` runs the interpreter's signal handlers). An interrupted
    /// thread takes its arrival back, as Python's `Barrier.wait` does when an exception ends it:
    /// the barrier does not break, the other parties go on waiting, and [`n_waiting`](Self::n_waiting)
    /// counts one fewer (so a party arriving later may get an index that a waiting party already
    /// has, as in Python). A check that returns `Ok` changes nothing. `check` runs with no lock
    /// held, between two parks; the thread is not parked while it runs, and a cycle that ends
    /// meanwhile gives this thread its outcome, unless `check` fails (then the error is returned
    /// and the cycle's outcome is the other parties'). Diagnostics see one wait per slice; wrap
    /// the call in [`as_one_wait`](crate::diagnostics::as_one_wait) to publish it as one.
    ///
    /// An [interrupt](crate::interrupt) of the waiting thread runs `check` at once, without
    /// waiting for `every` to pass (a binding can then pass a long `every` and interrupt the
    /// thread when there is something to check). `check` should take the interrupt
    /// ([`take`](crate::interrupt::take)): if it is still pending after a check that returned
    /// `Ok`, the wait ends as a timed-out one (breaking the barrier), as every timed wait of an
    /// interrupted thread does.
    ///
    /// # Errors
    ///
    /// `Err(e)` with `check`'s error; otherwise `Ok` with what [`wait`](Self::wait) returns.
    ///
    /// # Panics
    ///
    /// In the leader, if the action panics. If `check` panics, the panic propagates after the
    /// thread has left the cycle exactly as when `check` returns an error: its arrival is taken
    /// back, the barrier does not break, and the other parties go on waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::time::Duration;
    ///
    /// let barrier = threadkit::Barrier::new(2);
    /// let stop = AtomicBool::new(false);
    /// std::thread::scope(|s| {
    ///     let waiter = s.spawn(|| {
    ///         barrier.wait_interruptible(None, Duration::from_millis(5), || {
    ///             if stop.load(Ordering::Relaxed) { Err("interrupted") } else { Ok(()) }
    ///         })
    ///     });
    ///     stop.store(true, Ordering::Relaxed);
    ///     assert_eq!(waiter.join().unwrap().unwrap_err(), "interrupted");
    /// });
    /// assert!(!barrier.is_broken());
    /// assert_eq!(barrier.n_waiting(), 0);
    /// ```
    #[track_caller]
    pub fn wait_interruptible<E>(
        &self,
        timeout: Option<Duration>,
        every: Duration,
        check: impl FnMut() -> Result<(), E>,
    ) -> Result<Result<BarrierWaitResult, BrokenBarrierError>, E> {
        let deadline = timeout.or(self.timeout).and_then(wait::deadline_after);
        self.wait_checking(deadline, Some((every, check)))
    }

    /// Breaks the barrier: threads waiting now, and every later `wait`, get
    /// [`BrokenBarrierError`] until [`reset`](Self::reset). Python's `barrier.abort()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = threadkit::Barrier::new(2);
    /// barrier.abort();
    /// assert!(barrier.is_broken());
    /// assert!(barrier.wait().is_err());
    /// ```
    pub fn abort(&self) {
        let mut st = self.state.acquire();
        self.break_barrier(&mut st);
    }

    /// Returns the barrier to its initial, empty state: threads waiting now get
    /// [`BrokenBarrierError`], and a broken barrier becomes usable again. Python's
    /// `barrier.reset()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = threadkit::Barrier::new(1);
    /// barrier.abort();
    /// barrier.reset();
    /// assert!(!barrier.is_broken());
    /// assert!(barrier.wait().is_ok());
    /// ```
    pub fn reset(&self) {
        let mut st = self.state.acquire();
        st.broken = false;
        self.end_cycle(&mut st, TOKEN_BROKEN);
    }

    /// The number of threads the barrier needs (Python's `parties`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(threadkit::Barrier::new(4).parties(), 4);
    /// ```
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// The number of threads waiting in the current cycle; 0 when broken (Python's
    /// `n_waiting`).
    ///
    /// The answer may be stale by the time the caller looks at it.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = threadkit::Barrier::new(2);
    /// assert_eq!(barrier.n_waiting(), 0);
    /// ```
    pub fn n_waiting(&self) -> usize {
        let status = self.status.load(Ordering::Relaxed);
        if status & BROKEN != 0 {
            0
        } else {
            status >> COUNT_SHIFT
        }
    }

    /// Whether the barrier is broken (Python's `broken`).
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = threadkit::Barrier::new(2);
    /// assert!(!barrier.is_broken());
    /// barrier.abort();
    /// assert!(barrier.is_broken());
    /// ```
    #[doc(alias = "broken")]
    pub fn is_broken(&self) -> bool {
        self.status.load(Ordering::Relaxed) & BROKEN != 0
    }

    // ----- internals -----

    fn key(&self) -> usize {
        &self.status as *const AtomicUsize as usize
    }

    /// Copies the count and the broken flag to the lock-free status word.
    /// What a waiting thread publishes: the barrier, with its count of arrived parties.
    fn wait_target(&self) -> Target {
        /// # Safety
        /// `barrier` points to a live barrier.
        unsafe fn status(barrier: *const ()) -> String {
            // SAFETY: the caller's contract.
            let b = unsafe { &*(barrier as *const Barrier) };
            let status = b.status.load(Ordering::Relaxed);
            if status & BROKEN != 0 {
                "broken".into()
            } else {
                format!("{} of {} parties waiting", status >> COUNT_SHIFT, b.parties)
            }
        }
        Target::Object {
            identity: self.state.identity(),
            holder: None,
            status: Some((self as *const Barrier as *const (), status)),
        }
    }

    fn publish(&self, st: &State) {
        let broken = if st.broken { BROKEN } else { 0 };
        self.status
            .store((st.count << COUNT_SHIFT) | broken, Ordering::Relaxed);
    }

    /// Marks the barrier broken and wakes every thread waiting in the current cycle with the
    /// bad news. The cycle stays current until `reset`.
    fn break_barrier(&self, st: &mut State) {
        st.broken = true;
        st.count = 0;
        // Publish before waking anyone, so that a woken thread never sees the old count.
        self.publish(st);
        let woken = wait::unpark_all(self.key(), TOKEN_BROKEN);
        st.sleepers = st.sleepers.saturating_sub(woken);
    }

    /// Ends the current cycle, waking its waiters with `token`, and starts the next one.
    ///
    /// Every waiter of the cycle is either parked (and woken here) or has timed out and will
    /// come back for the outcome; the latter are recorded as stragglers.
    fn end_cycle(&self, st: &mut State, token: UnparkToken) {
        let generation = st.generation;
        let sleepers = st.sleepers;
        st.sleepers = 0;
        st.count = 0;
        st.generation = generation.wrapping_add(1);
        // Publish before waking anyone, so that a woken thread never sees the old count.
        self.publish(st);
        let woken = wait::unpark_all(self.key(), token);
        let left = sleepers.saturating_sub(woken);
        if left > 0 {
            st.stragglers.push(Straggler {
                generation,
                passed: token == TOKEN_PASSED,
                remaining: left,
            });
        }
    }

    #[track_caller]
    fn wait_until(
        &self,
        deadline: Option<Instant>,
    ) -> Result<BarrierWaitResult, BrokenBarrierError> {
        match self.wait_checking(deadline, None::<(Duration, fn() -> Result<(), ()>)>) {
            Ok(outcome) => outcome,
            Err(()) => unreachable!("no check, no interruption"),
        }
    }

    /// The one wait: `check`, if any, is `(every, check)`, run every `every` while parked.
    #[track_caller]
    fn wait_checking<E>(
        &self,
        deadline: Option<Instant>,
        mut check: Option<(Duration, impl FnMut() -> Result<(), E>)>,
    ) -> Result<Result<BarrierWaitResult, BrokenBarrierError>, E> {
        let mut st = self.state.acquire();
        if st.broken {
            return Ok(Err(BrokenBarrierError(())));
        }
        let index = st.count;
        let result = BarrierWaitResult {
            index,
            leader: index + 1 == self.parties,
        };

        if result.leader {
            if let Some(action) = st.action.as_mut() {
                if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(action)) {
                    self.break_barrier(&mut st);
                    drop(st);
                    panic::resume_unwind(payload);
                }
            }
            self.end_cycle(&mut st, TOKEN_PASSED);
            return Ok(Ok(result));
        }

        st.count += 1;
        st.sleepers += 1;
        let generation = st.generation;
        self.publish(&st);
        loop {
            // With a check, park until the next check is due (or the deadline, if sooner).
            let (park_until, last) = match (&check, deadline) {
                (None, _) => (deadline, true),
                (Some((every, _)), _) => {
                    // At most a year: an `every` too long for the clock would park untimed,
                    // and an untimed park is never interrupted (`crate::interrupt`).
                    let due = wait::deadline_after((*every).min(LONGEST_CHECK_INTERVAL));
                    match (due, deadline) {
                        (Some(due), Some(d)) if due < d => (Some(due), false),
                        (_, Some(d)) => (Some(d), true),
                        (due, None) => (due, due.is_none()),
                    }
                }
            };
            // Enqueue while still holding the lock and release it only once queued
            // (before_sleep), so whoever ends this cycle (under the lock) finds us in the queue
            // or knows we are not there.
            match wait::park_for(
                WaitKind::Barrier,
                self.wait_target(),
                self.key(),
                || true,
                move || drop::<LockGuard<'_, State>>(st),
                |_key, _was_last| {},
                DEFAULT_PARK_TOKEN,
                park_until,
            ) {
                ParkResult::Unparked(TOKEN_PASSED) => return Ok(Ok(result)),
                ParkResult::Unparked(_) => return Ok(Err(BrokenBarrierError(()))),
                // An interrupt (`crate::interrupt`) runs the check at once rather than ending
                // the wait, when there is a check.
                ParkResult::TimedOut | ParkResult::Invalid
                    if last && !(check.is_some() && wait::interrupt::pending()) =>
                {
                    return Ok(self.timed_out(generation, result));
                }
                ParkResult::TimedOut | ParkResult::Invalid => {}
            }
            // A check is due. Run it without the lock (it may need what the action holds).
            // A panicking check withdraws this thread exactly as an error from it does (the
            // state is updated under the lock below), then the panic goes on unwinding.
            let interrupts_before = wait::interrupt::count();
            let verdict = match check.as_mut() {
                Some((_, check)) => match panic::catch_unwind(AssertUnwindSafe(check)) {
                    Ok(verdict) => verdict,
                    Err(payload) => {
                        self.withdraw(generation, result);
                        panic::resume_unwind(payload);
                    }
                },
                None => Ok(()),
            };
            st = self.state.acquire();
            if st.generation != generation {
                // The cycle ended while this thread was not parked: its outcome is ours, and
                // an error from the check goes to the caller all the same.
                drop(st);
                let outcome = self.timed_out(generation, result);
                return verdict.map(|()| outcome);
            }
            if let Err(e) = verdict {
                // This thread leaves the cycle, as if it had never arrived: Python's
                // `Barrier.wait` takes back its arrival (`finally: self._count -= 1`) when an
                // exception ends the wait, and the barrier does not break.
                st.sleepers = st.sleepers.saturating_sub(1);
                if !st.broken {
                    st.count = st.count.saturating_sub(1);
                    self.publish(&st);
                }
                return Err(e);
            }
            if st.broken {
                // Broken while this thread was not parked (the breaker woke the others).
                st.sleepers = st.sleepers.saturating_sub(1);
                return Ok(Err(BrokenBarrierError(())));
            }
            if wait::interrupt::pending() && wait::interrupt::count() == interrupts_before {
                // The check left the interrupt pending (none came while it ran): the wait ends
                // as a timed-out one, as every timed wait does while an interrupt is pending,
                // rather than spinning. One that came while the check ran runs it again.
                drop(st);
                return Ok(self.timed_out(generation, result));
            }
        }
    }

    /// A waiter whose `check` panicked leaves its cycle as one whose check failed: its arrival
    /// is taken back (unless the barrier broke), or, if its cycle ended meanwhile, its
    /// straggler entry is consumed.
    #[cold]
    fn withdraw(&self, generation: u64, result: BarrierWaitResult) {
        let mut st = self.state.acquire();
        if st.generation != generation {
            drop(st);
            let _ = self.timed_out(generation, result);
            return;
        }
        st.sleepers = st.sleepers.saturating_sub(1);
        if !st.broken {
            st.count = st.count.saturating_sub(1);
            self.publish(&st);
        }
    }

    /// A waiter's deadline passed. It breaks the barrier, unless its cycle ended in the meantime
    /// (then the cycle's outcome is its outcome, as in Python, where the timed-out wait
    /// re-checks the state under the lock).
    #[cold]
    fn timed_out(
        &self,
        generation: u64,
        result: BarrierWaitResult,
    ) -> Result<BarrierWaitResult, BrokenBarrierError> {
        let mut st = self.state.acquire();
        if st.generation == generation {
            st.sleepers = st.sleepers.saturating_sub(1);
            if !st.broken {
                self.break_barrier(&mut st);
            }
            return Err(BrokenBarrierError(()));
        }
        let Some(i) = st
            .stragglers
            .iter()
            .position(|s| s.generation == generation)
        else {
            return Err(BrokenBarrierError(()));
        };
        let straggler = &mut st.stragglers[i];
        straggler.remaining -= 1;
        let passed = straggler.passed;
        if straggler.remaining == 0 {
            st.stragglers.swap_remove(i);
        }
        if passed {
            Ok(result)
        } else {
            Err(BrokenBarrierError(()))
        }
    }
}

impl State {
    const fn new(action: Option<Action>) -> Self {
        State {
            count: 0,
            sleepers: 0,
            generation: 0,
            broken: false,
            stragglers: Vec::new(),
            action,
        }
    }
}

impl fmt::Debug for Barrier {
    /// `Barrier { waiters: 2/3 }` or `Barrier { state: broken }`, as CPython's repr.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Barrier");
        if self.is_broken() {
            d.field("state", &format_args!("broken"));
        } else {
            d.field(
                "waiters",
                &format_args!("{}/{}", self.n_waiting(), self.parties),
            );
        }
        d.finish()
    }
}

/// Builds a [`Barrier`] with an action and/or a default timeout; made by [`Barrier::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let barrier = threadkit::Barrier::builder(2).timeout(Duration::from_millis(1)).build();
/// assert!(barrier.wait().is_err());
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct BarrierBuilder {
    parties: usize,
    action: Option<Action>,
    timeout: Option<Duration>,
    name: Option<String>,
    site: &'static Location<'static>,
}

impl BarrierBuilder {
    /// Names the barrier for [thread dumps](crate::diagnostics) (an unnamed one is shown by its
    /// creation site).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = threadkit::Barrier::builder(2).name("stage-1").build();
    /// assert_eq!(b.name(), Some("stage-1"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the action the last arriving thread runs in each cycle, before any thread is
    /// released (Python's `action=`).
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = threadkit::Barrier::builder(1).action(|| ()).build();
    /// barrier.wait().unwrap();
    /// ```
    pub fn action(mut self, action: impl FnMut() + Send + 'static) -> Self {
        self.action = Some(Box::new(action));
        self
    }

    /// Sets the timeout [`Barrier::wait`] uses (Python's `timeout=`); by default it waits
    /// forever.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let barrier = threadkit::Barrier::builder(1).timeout(Duration::from_secs(1)).build();
    /// barrier.wait().unwrap();
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Creates the barrier.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = threadkit::Barrier::builder(3).build();
    /// assert_eq!(barrier.parties(), 3);
    /// ```
    pub fn build(self) -> Barrier {
        let identity = match self.name {
            Some(name) => Identity::named(ObjectKind::Barrier, name, self.site),
            None => Identity::new(ObjectKind::Barrier, Some(self.site)),
        };
        Barrier {
            state: Lock::with_identity(identity, State::new(self.action)),
            status: AtomicUsize::new(0),
            parties: self.parties,
            timeout: self.timeout,
        }
    }
}

impl fmt::Debug for BarrierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierBuilder")
            .field("parties", &self.parties)
            .field("action", &self.action.as_ref().map(|_| "<closure>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What [`Barrier::wait`] returns to each thread of a cycle that passed.
///
/// # Examples
///
/// ```
/// let r = threadkit::Barrier::new(1).wait().unwrap();
/// assert_eq!(r.index(), 0);
/// assert!(r.is_leader());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarrierWaitResult {
    index: usize,
    leader: bool,
}

impl BarrierWaitResult {
    /// The thread's arrival index in its cycle: 0 for the first, `parties - 1` for the last
    /// (Python's return value of `wait()`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(threadkit::Barrier::new(1).wait().unwrap().index(), 0);
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// Whether this thread arrived last, ran the action, and released the others.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(threadkit::Barrier::new(1).wait().unwrap().is_leader());
    /// ```
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

/// The error returned by [`Barrier::wait`] when the barrier is broken or breaks while waiting.
///
/// Python raises `threading.BrokenBarrierError`.
///
/// # Examples
///
/// ```
/// let barrier = threadkit::Barrier::new(2);
/// barrier.abort();
/// assert_eq!(barrier.wait().unwrap_err().to_string(), "barrier is broken");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BrokenBarrierError(());

impl fmt::Debug for BrokenBarrierError {
    /// The type and its message, so that `main() -> Result` prints what CPython would.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BrokenBarrierError")
            .field(&self.to_string())
            .finish()
    }
}

impl fmt::Display for BrokenBarrierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("barrier is broken")
    }
}

impl std::error::Error for BrokenBarrierError {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn status_mirrors_state() {
        let b = Arc::new(Barrier::new(3));
        assert_eq!(b.status.load(Ordering::Relaxed), 0);
        let b2 = Arc::clone(&b);
        let t = std::thread::spawn(move || b2.wait());
        while b.n_waiting() != 1 {
            std::thread::yield_now();
        }
        b.abort();
        assert!(t.join().unwrap().is_err());
        assert_eq!(b.status.load(Ordering::Relaxed), BROKEN);
        b.reset();
        assert_eq!(b.status.load(Ordering::Relaxed), 0);
        let st = b.state.acquire();
        assert_eq!((st.count, st.sleepers), (0, 0));
        assert!(st.stragglers.is_empty());
    }

    #[test]
    fn generations_advance_and_leave_nothing_behind() {
        let b = Arc::new(Barrier::new(2));
        let b2 = Arc::clone(&b);
        let t = std::thread::spawn(move || {
            for _ in 0..200 {
                b2.wait().unwrap();
            }
        });
        for _ in 0..200 {
            b.wait().unwrap();
        }
        t.join().unwrap();
        let st = b.state.acquire();
        assert_eq!(st.generation, 200);
        assert_eq!((st.count, st.sleepers), (0, 0));
        assert!(st.stragglers.is_empty());
    }

    /// A check that panics after its cycle ended (the thread was a straggler, not parked)
    /// consumes its straggler entry, as a failing check does. Witness: no entry is left and the
    /// next cycle starts from zero.
    #[test]
    fn panicking_check_after_its_cycle_ended_leaves_nothing_behind() {
        use std::sync::atomic::AtomicBool;
        let b = Arc::new(Barrier::new(2));
        let (in_check, passed) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let t = {
            let (b, in_check, passed) =
                (Arc::clone(&b), Arc::clone(&in_check), Arc::clone(&passed));
            std::thread::spawn(move || {
                panic::catch_unwind(AssertUnwindSafe(|| {
                    b.wait_interruptible(None, Duration::from_millis(1), || {
                        in_check.store(true, Ordering::SeqCst);
                        while !passed.load(Ordering::SeqCst) {
                            std::thread::yield_now();
                        }
                        panic!("check panicked after the cycle ended");
                        #[allow(unreachable_code)]
                        Ok::<(), ()>(())
                    })
                }))
            })
        };
        while !in_check.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        assert!(b.wait().unwrap().is_leader());
        passed.store(true, Ordering::SeqCst);
        assert!(t.join().unwrap().is_err());
        let st = b.state.acquire();
        assert_eq!((st.generation, st.count, st.sleepers), (1, 0, 0));
        assert!(st.stragglers.is_empty(), "a straggler entry leaked");
        assert!(!st.broken);
    }

    #[test]
    fn straggler_learns_the_outcome_of_its_cycle() {
        // Drive the timed-out-after-cycle-ended path directly.
        let b = Barrier::new(2);
        let r = BarrierWaitResult {
            index: 0,
            leader: false,
        };
        {
            let mut st = b.state.acquire();
            st.count = 1;
            st.sleepers = 1;
            b.end_cycle(&mut st, TOKEN_PASSED); // nobody parked: one straggler recorded
            st.count = 1;
            st.sleepers = 1;
            b.end_cycle(&mut st, TOKEN_BROKEN);
        }
        assert_eq!(b.timed_out(1, r), Err(BrokenBarrierError(())));
        assert_eq!(b.timed_out(0, r), Ok(r));
        assert!(b.state.acquire().stragglers.is_empty());
        assert!(!b.is_broken());
    }
}
