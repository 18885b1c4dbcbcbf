//! [`Semaphore`] and [`BoundedSemaphore`]: Python's `threading.Semaphore` and
//! `threading.BoundedSemaphore`, with the [`SemaphorePermit`] guard they share.

use std::fmt;
use std::panic::Location;
use std::time::{Duration, Instant};

use crate::identity::{Identity, ObjectKind};
use crate::lock_order;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::wait::{self, FilterOp, ParkResult, Target, UnparkToken, WaitKind, DEFAULT_PARK_TOKEN};

/// At least one thread may be parked waiting for a permit (only while the value is zero).
const PARKED: usize = 1;
/// The bits above the flag hold the semaphore's value.
const VALUE_SHIFT: u32 = 1;
/// One permit, in state-word units.
const ONE: usize = 1 << VALUE_SHIFT;
/// The largest value a semaphore holds: an eighth of the word, so that the value, read as a
/// signed number, stays far from overflowing while a plain semaphore's permit drops add to it
/// before they check it (see [`RawSemaphore::release_one`]).
const MAX_VALUE: usize = usize::MAX >> 3;
/// A [`SemaphorePermit`]'s `limit` when it belongs to a plain [`Semaphore`] (above any bound a
/// `BoundedSemaphore` can have).
const PLAIN: usize = usize::MAX;

/// The value held in a state word, read as a signed number. It is below zero only while plain
/// semaphore acquirers that found no permit are giving back the unit their fast path took (see
/// [`RawSemaphore::acquire`]): a negative value means no permit is available.
#[inline]
fn value_of(state: usize) -> isize {
    (state as isize) >> VALUE_SHIFT
}

/// The token `release` wakes waiters with; a woken waiter competes for a permit again.
const TOKEN_RETRY: UnparkToken = UnparkToken(0);

/// The counter both semaphore types are made of: `value << VALUE_SHIFT | PARKED` in one word.
///
/// Permits live in the counter, never in wake-ups: a woken waiter takes its permit from the
/// counter like anyone else (a thread that was not asleep may take it first, as in Python), so a
/// waiter that times out or loses the race never strands a permit. `release(n)` wakes at most `n`
/// sleepers, under the parking lot's bucket lock, and clears `PARKED` when none remain.
///
/// A plain [`Semaphore`]'s acquire and its permit's drop are each one read-modify-write with no
/// load before it (`fetch_sub` / `fetch_add`: one exclusive fetch of the cache line, where a load
/// and a compare-exchange make two under contention). An acquire whose `fetch_sub` finds no
/// permit has taken the value below zero for a moment; it adds the unit back and then competes
/// in the slow path, which looks at the counter before it sleeps or gives up, so the unit it gave
/// back is never stranded (if nobody else took it, it takes it itself). `BoundedSemaphore` keeps
/// the compare-exchange (its bound must be checked against a value with no such units out).
struct RawSemaphore {
    state: AtomicUsize,
    identity: Identity,
}

impl RawSemaphore {
    #[cfg(not(loom))]
    #[track_caller]
    const fn new(value: usize, kind: ObjectKind) -> Self {
        Self::with_identity(value, Identity::new(kind, crate::identity::caller()))
    }

    #[cfg(not(loom))]
    #[track_caller]
    const fn with_identity(value: usize, identity: Identity) -> Self {
        assert!(
            value <= MAX_VALUE,
            "semaphore initial value exceeds Semaphore::MAX_PERMITS"
        );
        RawSemaphore {
            state: AtomicUsize::new(value << VALUE_SHIFT),
            identity,
        }
    }

    #[track_caller]
    fn named(value: usize, kind: ObjectKind, name: String) -> Self {
        Self::with_identity(value, Identity::named(kind, name, Location::caller()))
    }

    #[cfg(loom)]
    #[track_caller]
    fn new(value: usize, kind: ObjectKind) -> Self {
        Self::with_identity(value, Identity::new(kind, crate::identity::caller()))
    }

    #[cfg(loom)]
    #[track_caller]
    fn with_identity(value: usize, identity: Identity) -> Self {
        assert!(
            value <= MAX_VALUE,
            "semaphore initial value exceeds Semaphore::MAX_PERMITS"
        );
        RawSemaphore {
            state: AtomicUsize::new(value << VALUE_SHIFT),
            identity,
        }
    }

    #[inline]
    fn key(&self) -> usize {
        &self.state as *const AtomicUsize as usize
    }

    /// What a waiting thread publishes: the semaphore and its value.
    fn wait_target(&self) -> Target {
        /// # Safety
        /// `state` points to a live semaphore's state word.
        unsafe fn status(state: *const ()) -> String {
            // SAFETY: the caller's contract.
            let state = unsafe { &*(state as *const AtomicUsize) };
            format!("value {}", value_of(state.load(Ordering::Relaxed)).max(0))
        }
        Target::Object {
            identity: &self.identity,
            holder: None,
            status: Some((&self.state as *const AtomicUsize as *const (), status)),
        }
    }

    #[inline]
    fn value(&self) -> usize {
        let value = value_of(self.state.load(Ordering::Relaxed));
        // Mutant (loom only): a reading that forgets a value can be below zero.
        if cfg!(all(loom, threadkit_mutant = "semaphore_value_unclamped")) {
            return value as usize;
        }
        value.max(0) as usize
    }

    // ----- the lock-order checker's hooks, for a semaphore opted in with `with_lock_order` -----

    /// Whether the lock-order checker tracks this semaphore: armed, and opted in (disarmed:
    /// one relaxed load).
    #[inline]
    fn tracked(&self) -> bool {
        lock_order::armed() && self.identity.tracked_as_lock()
    }

    /// [`acquire`](Self::acquire), with the lock-order check before it and the held-stack push
    /// after it when [`tracked`](Self::tracked).
    #[inline]
    #[track_caller]
    fn acquire_checked<const PLAIN_SEM: bool>(&self, deadline: Option<Instant>) -> bool {
        let tracked = self.tracked();
        if tracked {
            lock_order::check_before(&self.identity, Location::caller(), deadline.is_some());
        }
        let got = self.acquire::<PLAIN_SEM>(deadline);
        if tracked && got {
            lock_order::acquired(&self.identity, Location::caller());
        }
        got
    }

    /// A timed acquire (a try first), as [`acquire_checked`](Self::acquire_checked).
    #[inline]
    #[track_caller]
    fn acquire_timeout_checked(&self, timeout: Duration) -> bool {
        let tracked = self.tracked();
        if tracked {
            lock_order::check_before(&self.identity, Location::caller(), true);
        }
        let got = self.try_acquire() || self.acquire_slow(wait::deadline_after(timeout));
        if tracked && got {
            lock_order::acquired(&self.identity, Location::caller());
        }
        got
    }

    /// [`try_acquire`](Self::try_acquire): no check (it cannot block), but a tracked semaphore
    /// goes on the held stack.
    #[inline]
    #[track_caller]
    fn try_acquire_checked(&self) -> bool {
        let got = self.try_acquire();
        if got && self.tracked() {
            lock_order::acquired(&self.identity, Location::caller());
        }
        got
    }

    /// Takes a permit if there is one. Uncontended: one load and one compare-exchange (it never
    /// takes the value below zero).
    #[inline]
    fn try_acquire(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        while value_of(state) >= 1 {
            match self.state.compare_exchange_weak(
                state,
                state - ONE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(s) => state = s,
            }
        }
        false
    }

    /// Takes a permit, waiting until `deadline` (`None`: forever). Returns whether it got one.
    ///
    /// `PLAIN_SEM` (a plain [`Semaphore`]): one `fetch_sub`; if it found no permit, the unit is
    /// added back (that `fetch_add` needs no wake-up: this thread then looks at the counter in
    /// the slow path before it parks or gives up, and takes the unit itself if it is still
    /// there). Otherwise (`BoundedSemaphore`): a load and a compare-exchange, never below zero.
    #[inline]
    #[track_caller]
    fn acquire<const PLAIN_SEM: bool>(&self, deadline: Option<Instant>) -> bool {
        if PLAIN_SEM {
            // Mutants (loom only, `.ci/loom.sh --mutants`): a fast path that takes a permit
            // from an empty semaphore, and one that keeps the unit it took below zero.
            let first_missing = if cfg!(all(loom, threadkit_mutant = "semaphore_take_from_zero")) {
                0
            } else {
                1
            };
            if value_of(self.state.fetch_sub(ONE, Ordering::Acquire)) >= first_missing {
                return true;
            }
            if !cfg!(all(loom, threadkit_mutant = "semaphore_keep_debt")) {
                self.state.fetch_add(ONE, Ordering::Relaxed);
            }
            return self.acquire_slow(deadline);
        }
        let state = self.state.load(Ordering::Relaxed);
        if value_of(state) >= 1
            && self
                .state
                .compare_exchange_weak(state, state - ONE, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            return true;
        }
        self.acquire_slow(deadline)
    }

    /// The contended acquire: spin briefly, then park until a release wakes us.
    #[cold]
    #[track_caller]
    fn acquire_slow(&self, deadline: Option<Instant>) -> bool {
        let mut spin = wait::SpinWait::new();
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            // A permit is available: take it, keeping the PARKED bit for the threads asleep.
            if value_of(state) >= 1 {
                match self.state.compare_exchange_weak(
                    state,
                    state - ONE,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return true,
                    Err(s) => state = s,
                }
                continue;
            }

            // Nobody is parked yet: spin a little before going to sleep.
            if state & PARKED == 0 && spin.spin() {
                state = self.state.load(Ordering::Relaxed);
                continue;
            }

            // Only give up after having looked at the counter (a woken waiter always retries
            // first, so a wake-up is never wasted on a thread that then reports a timeout).
            if wait::expired(deadline) {
                return false;
            }

            // Announce that we are about to park.
            if state & PARKED == 0 {
                if let Err(s) = self.state.compare_exchange_weak(
                    state,
                    state | PARKED,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    state = s;
                    continue;
                }
            }

            // Sleep only if there is still no permit and PARKED is still set (a release in
            // between changed the word, or a timed-out last sleeper cleared the flag). A value
            // below zero is no permit: every unit an acquirer took below zero is added back by
            // that acquirer, which then looks at the counter itself (see `acquire`), so no
            // wake-up is owed for it.
            let validate = || {
                let s = self.state.load(Ordering::Relaxed);
                s & PARKED != 0 && value_of(s) <= 0
            };
            let timed_out = |_key, was_last: bool| {
                if was_last {
                    self.state.fetch_and(!PARKED, Ordering::Relaxed);
                }
            };
            match wait::park_for(
                WaitKind::Semaphore,
                self.wait_target(),
                self.key(),
                validate,
                || {},
                timed_out,
                DEFAULT_PARK_TOKEN,
                deadline,
            ) {
                // Python re-checks the value after a timed-out wait; so do we. We were no longer
                // queued, so no release counted on waking us.
                ParkResult::TimedOut => return self.try_acquire(),
                ParkResult::Unparked(_) | ParkResult::Invalid => {}
            }
            spin.reset();
            state = self.state.load(Ordering::Relaxed);
        }
    }

    /// Adds `n` permits if the value stays at most `limit`, and wakes up to `n` sleepers.
    #[inline]
    fn release(&self, n: usize, limit: usize) -> Result<(), OverReleaseError> {
        if n == 0 {
            return Ok(());
        }
        if self.tracked() {
            lock_order::releasing_unowned(&self.identity);
        }
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            // A value below zero is zero with units on their way back (only a plain semaphore,
            // whose limit leaves room for them).
            let room = limit.saturating_sub(value_of(state).max(0) as usize);
            if n > room {
                return Err(OverReleaseError(()));
            }
            // `n <= limit <= MAX_VALUE`, so `n << VALUE_SHIFT` cannot overflow, and the value
            // after the add stays far below the sign bit. The add wraps: a plain semaphore's
            // word is "negative" while an acquirer that found no permit gives its unit back,
            // and adding to it is adding to a two's-complement value (a plain `+` panicked
            // there in builds with overflow checks).
            match self.state.compare_exchange_weak(
                state,
                state.wrapping_add(n << VALUE_SHIFT),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(s) => state = s,
            }
        }
        if state & PARKED != 0 {
            self.wake(n);
        }
        Ok(())
    }

    /// A plain [`Semaphore`]'s permit drop: one `fetch_add`, no load before it. The value is
    /// checked after the add: at [`MAX_VALUE`] already (only after a `release` that raised it that
    /// far), the unit is taken back and the error returned, as `release(1, MAX_VALUE)` would;
    /// `MAX_VALUE` is an eighth of the word, so the add never reaches the sign bit.
    #[inline]
    fn release_one(&self) -> Result<(), OverReleaseError> {
        if self.tracked() {
            lock_order::releasing_unowned(&self.identity);
        }
        let state = self.state.fetch_add(ONE, Ordering::Release);
        if value_of(state) >= MAX_VALUE as isize {
            self.state.fetch_sub(ONE, Ordering::Relaxed);
            return Err(OverReleaseError(()));
        }
        if state & PARKED != 0 {
            self.wake(1);
        }
        Ok(())
    }

    /// Wakes at most `n` parked waiters, oldest first; clears PARKED when no sleeper is left.
    #[cold]
    fn wake(&self, n: usize) {
        let mut left = n;
        let filter = |_token| {
            if left == 0 {
                FilterOp::Stop
            } else {
                left -= 1;
                FilterOp::Unpark
            }
        };
        let callback = |result: wait::UnparkResult| {
            // Under the bucket lock: no thread can enqueue itself on this key meanwhile, so
            // "nobody left" is exact. Woken threads that find no permit set PARKED again.
            if !result.have_more_threads {
                self.state.fetch_and(!PARKED, Ordering::Relaxed);
            }
            TOKEN_RETRY
        };
        wait::unpark_filter(self.key(), filter, callback);
    }
}

/// A counting semaphore: Python's `threading.Semaphore`.
///
/// A semaphore holds a value, the number of permits available. [`acquire`](Self::acquire) takes
/// one, blocking while the value is zero, and returns a [`SemaphorePermit`] that gives it back
/// when dropped (Python's `with sem:`). [`try_acquire`](Self::try_acquire) never blocks;
/// [`acquire_timeout`](Self::acquire_timeout) and [`acquire_deadline`](Self::acquire_deadline)
/// give up after a while. [`release`](Self::release) adds permits from anywhere, for code that
/// acquires in one place and releases in another.
///
/// A plain `Semaphore` does not remember its initial value: releasing more than was acquired
/// raises the value, as in Python. Use [`BoundedSemaphore`] to catch that mistake.
///
/// # Differences from Python
///
/// - `acquire(blocking=False)` is [`try_acquire`](Self::try_acquire), `acquire(timeout=t)` is
///   [`acquire_timeout`](Self::acquire_timeout); they return `Option<SemaphorePermit>` rather
///   than a `bool`, and the permit releases itself. A [`Duration`] cannot be negative, so the
///   `ValueError`s for bad arguments cannot happen.
/// - The value is a `usize`, so `Semaphore(-1)`'s `ValueError` cannot happen; a value above
///   [`MAX_PERMITS`](Self::MAX_PERMITS) panics.
/// - `release(n)` takes the count explicitly (`release(1)` is Python's `release()`).
///   `release(0)` does nothing, where Python raises `ValueError: n must be one or more`.
/// - `with sem:` is a [`SemaphorePermit`]; a panic inside the block releases the permit (no
///   poisoning).
/// - Which waiter gets a released permit is unspecified, as in Python: a thread that was not
///   waiting may take it first. Waits are not interrupted by signals.
/// - A [`try_acquire`](Self::try_acquire) (or [`value`](Self::value)) racing a `release` can,
///   for a few instructions, miss the released permit: an [`acquire`](Self::acquire) on
///   another thread that found the semaphore empty holds the unit its single `fetch_sub` took
///   until it gives it back and competes for it (then it, or another thread, takes the permit;
///   none is lost). CPython's counter, read under a lock, never shows this; C++'s
///   `counting_semaphore::try_acquire` allows it. `BoundedSemaphore` does not do this.
/// - `Debug` prints `Semaphore { value: 3 }` where Python's repr ends in `value=3>`.
/// - Not a lock for the [lock-order checker](crate::diagnostics::set_lock_order_mode) unless
///   opted in with [`with_lock_order`](Self::with_lock_order) (Python checks no order at all).
///
/// # Size
///
/// 32 bytes (one word before diagnostics): the counter and the
/// [identity](crate::diagnostics::ObjectInfo) that names it in thread dumps (kind and id,
/// creation site, name pointer).
///
/// # Memory ordering
///
/// Everything a thread did before releasing a permit (dropping a [`SemaphorePermit`] or calling
/// [`release`](Self::release)) happens-before everything done by the thread that acquires that
/// permit, after its acquire returns.
///
/// # Examples
///
/// At most two workers inside at a time:
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use threadkit::Semaphore;
///
/// static POOL: Semaphore = Semaphore::new(2);
/// static INSIDE: AtomicUsize = AtomicUsize::new(0);
///
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         s.spawn(|| {
///             let _permit = POOL.acquire();
///             assert!(INSIDE.fetch_add(1, Ordering::SeqCst) < 2);
///             INSIDE.fetch_sub(1, Ordering::SeqCst);
///         });
///     }
/// });
/// assert_eq!(POOL.value(), 2);
/// ```
pub struct Semaphore {
    raw: RawSemaphore,
}

crate::identity::diagnosable!([] Semaphore, |s| &s.raw.identity);

impl Semaphore {
    /// The largest value a semaphore can hold (`usize::MAX / 8`).
    pub const MAX_PERMITS: usize = MAX_VALUE;

    /// Creates a semaphore holding `value` permits: Python's `threading.Semaphore(value)`.
    ///
    /// `const`, so a semaphore can be a `static`. Python's default value 1 is
    /// [`Semaphore::default`].
    ///
    /// # Panics
    ///
    /// If `value` exceeds [`MAX_PERMITS`](Self::MAX_PERMITS).
    ///
    /// # Examples
    ///
    /// ```
    /// static DOWNLOADS: threadkit::Semaphore = threadkit::Semaphore::new(3);
    /// assert_eq!(DOWNLOADS.value(), 3);
    /// ```
    #[cfg(not(loom))]
    #[track_caller]
    pub const fn new(value: usize) -> Self {
        Semaphore {
            raw: RawSemaphore::new(value, ObjectKind::Semaphore),
        }
    }

    /// Creates a semaphore holding `value` permits (loom build: loom's atomics are not `const`).
    ///
    /// # Panics
    ///
    /// If `value` exceeds [`MAX_PERMITS`](Self::MAX_PERMITS).
    #[cfg(loom)]
    #[track_caller]
    pub fn new(value: usize) -> Self {
        Semaphore {
            raw: RawSemaphore::new(value, ObjectKind::Semaphore),
        }
    }

    /// Creates a semaphore with `value` permits and a name for [thread dumps](crate::diagnostics)
    /// (an unnamed one is shown by its creation site).
    ///
    /// # Panics
    ///
    /// If `value` exceeds [`Semaphore::MAX_PERMITS`].
    ///
    /// # Examples
    ///
    /// ```
    /// let slots = threadkit::Semaphore::named("db-connections", 4);
    /// assert_eq!(slots.name(), Some("db-connections"));
    /// ```
    #[track_caller]
    pub fn named(name: impl Into<String>, value: usize) -> Self {
        Semaphore {
            raw: RawSemaphore::named(value, ObjectKind::Semaphore, name.into()),
        }
    }

    /// Opts this semaphore in to [lock-order checking](crate::diagnostics::set_lock_order_mode):
    /// used as a lock (a `Semaphore(1)` guarding a resource), it takes part in the recorded order of
    /// locks like a [`Lock`](crate::Lock), and an inversion between it and a lock is reported.
    ///
    /// A plain semaphore is not a lock (any thread may release a permit, and counting permits
    /// have no order), so the checker ignores it unless opted in. Opted in, a blocking or timed
    /// acquire is checked against the locks the thread holds, a [`try_acquire`](Self::try_acquire)
    /// is recorded as held without a check, and a release removes it from the holder's list of
    /// held locks (the releasing thread's own, else the thread that acquired it). Meant for a
    /// value of 1: with more permits two holders at once are normal, and the orders recorded
    /// may report cycles that cannot deadlock. Not `const`: a `static` semaphore cannot opt in.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::diagnostics::{self, LockOrderMode, Report};
    /// use threadkit::{Lock, Semaphore};
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let reports = Arc::new(AtomicUsize::new(0));
    /// let count = Arc::clone(&reports);
    /// diagnostics::set_report_hook(move |r: &Report| {
    ///     if let Report::PotentialDeadlock(_) = r {
    ///         count.fetch_add(1, Ordering::SeqCst);
    ///     }
    /// });
    /// diagnostics::set_lock_order_mode(LockOrderMode::Report);
    /// let disk = Semaphore::named("disk", 1).with_lock_order();
    /// let index = Lock::named("index");
    /// drop((disk.acquire(), index.acquire())); // disk, then index
    /// drop((index.acquire(), disk.acquire())); // index, then disk: reported
    /// diagnostics::reset_report_hook();
    /// assert_eq!(reports.load(Ordering::SeqCst), 1);
    /// ```
    #[must_use]
    pub fn with_lock_order(mut self) -> Self {
        self.raw.identity.track_as_lock();
        self
    }

    /// The name given with [`Semaphore::named`], if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(threadkit::Semaphore::new(1).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.raw.identity.name()
    }

    /// Blocks until a permit is available, takes it, and returns the guard that gives it back
    /// when dropped.
    ///
    /// Python's `sem.acquire()` and `with sem:`.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = threadkit::Semaphore::new(1);
    /// {
    ///     let _permit = sem.acquire();
    ///     assert_eq!(sem.value(), 0);
    /// } // released here
    /// assert_eq!(sem.value(), 1);
    /// ```
    #[inline]
    #[track_caller]
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.raw.acquire_checked::<true>(None);
        self.permit()
    }

    /// Takes a permit if one is available, without blocking.
    ///
    /// Python's `sem.acquire(blocking=False)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = threadkit::Semaphore::new(2);
    /// let a = sem.try_acquire();
    /// let b = sem.try_acquire();
    /// assert!(a.is_some() && b.is_some());
    /// assert!(sem.try_acquire().is_none());
    /// ```
    #[inline]
    #[must_use = "if unused the permit, when taken, is given back at once; \
                  `if sem.try_acquire().is_none()` gives it back at once too: bind the permit \
                  (`let Some(_permit) = ... else { ... };`), or call `forget()` on it"]
    #[track_caller]
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.raw.try_acquire_checked().then(|| self.permit())
    }

    /// Takes a permit, waiting at most `timeout` for one.
    ///
    /// Python's `sem.acquire(timeout=t)`. A zero timeout behaves as
    /// [`try_acquire`](Self::try_acquire); a timeout too large for the clock waits forever.
    ///
    /// Python's `if not sem.acquire(timeout=t): ...` becomes `let Some(_permit) = ... else`:
    /// testing the result with `.is_none()` drops the permit at once, giving it straight back.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let sem = threadkit::Semaphore::new(1);
    /// let Some(_permit) = sem.acquire_timeout(Duration::from_secs(1)) else {
    ///     panic!("no permit within a second");
    /// };
    /// assert_eq!(sem.value(), 0); // held until `_permit` goes out of scope
    /// assert!(sem.acquire_timeout(Duration::from_millis(10)).is_none());
    /// ```
    #[inline]
    #[track_caller]
    #[must_use = "if unused the permit, when taken, is given back at once; \
                  `if sem.acquire_timeout(t).is_none()` gives it back at once too: bind the permit \
                  (`let Some(_permit) = ... else { ... };`), or call `forget()` on it"]
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        self.raw
            .acquire_timeout_checked(timeout)
            .then(|| self.permit())
    }

    /// Takes a permit, waiting until `deadline` at the latest.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let sem = threadkit::Semaphore::new(1);
    /// assert!(sem.acquire_deadline(Instant::now() + Duration::from_secs(1)).is_some());
    /// ```
    #[inline]
    #[track_caller]
    #[must_use = "if unused the permit, when taken, is given back at once: bind the permit \
                  (`let Some(_permit) = ... else { ... };`), or call `forget()` on it"]
    pub fn acquire_deadline(&self, deadline: Instant) -> Option<SemaphorePermit<'_>> {
        self.raw
            .acquire_checked::<true>(Some(deadline))
            .then(|| self.permit())
    }

    /// Adds `n` permits and wakes up to `n` waiting threads: Python's `sem.release(n)`.
    ///
    /// Use it with permits given up by [`SemaphorePermit::forget`], or to raise the value: a
    /// plain semaphore may go above its initial value. `release(0)` does nothing.
    ///
    /// With nobody waiting this is one atomic operation and no system call.
    ///
    /// # Panics
    ///
    /// If the value would exceed [`MAX_PERMITS`](Self::MAX_PERMITS); the value is left as it was.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = threadkit::Semaphore::new(0);
    /// std::thread::scope(|s| {
    ///     s.spawn(|| sem.acquire().forget());
    ///     s.spawn(|| sem.acquire().forget());
    ///     sem.release(2); // wakes both
    /// });
    /// assert_eq!(sem.value(), 0);
    /// sem.release(1);
    /// assert_eq!(sem.value(), 1);
    /// ```
    #[inline]
    #[track_caller]
    pub fn release(&self, n: usize) {
        if self.raw.release(n, MAX_VALUE).is_err() {
            overflow_panic();
        }
    }

    /// The number of permits available now (Python's `sem._value`).
    ///
    /// The answer may be stale by the time the caller looks at it.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = threadkit::Semaphore::new(3);
    /// let _p = sem.acquire();
    /// assert_eq!(sem.value(), 2);
    /// ```
    #[inline]
    #[doc(alias = "_value")]
    #[doc(alias = "available_permits")]
    pub fn value(&self) -> usize {
        self.raw.value()
    }

    #[inline]
    fn permit(&self) -> SemaphorePermit<'_> {
        SemaphorePermit {
            raw: &self.raw,
            limit: PLAIN,
        }
    }

    /// Gives back one permit as a dropped permit guard does.
    #[inline]
    pub(crate) fn give_back(&self) {
        drop(self.permit());
    }
}

#[cold]
#[track_caller]
fn overflow_panic() -> ! {
    panic!("semaphore value would exceed Semaphore::MAX_PERMITS")
}

impl Default for Semaphore {
    /// A semaphore holding one permit, Python's `Semaphore()`.
    fn default() -> Self {
        Semaphore::new(1)
    }
}

impl fmt::Debug for Semaphore {
    /// `Semaphore { value: 3 }`, as CPython's `<threading.Semaphore at 0x…: value=3>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("value", &self.value())
            .finish()
    }
}

/// A semaphore that refuses to go above its initial value: Python's
/// `threading.BoundedSemaphore`.
///
/// It acquires like [`Semaphore`]; its [`release`](Self::release) returns an error, and leaves the
/// value unchanged, when the value would exceed the initial value. Releasing more than was
/// acquired is almost always a bug, and this is how to catch it.
///
/// # Differences from Python
///
/// As for [`Semaphore`], and:
/// - `release(n)` returns `Err(`[`OverReleaseError`]`)` where Python raises
///   `ValueError: Semaphore released too many times`.
/// - A [`SemaphorePermit`] cannot report an error when dropped: if the value is already at its
///   bound (someone called [`release`](Self::release) for a permit that is still alive), dropping
///   the permit leaves the value unchanged, where Python's `with` block would raise.
/// - `Debug` prints `BoundedSemaphore { value: 2/3 }` where Python's repr ends in `value=2/3>`.
///
/// # Size
///
/// 40 bytes (two words before diagnostics): the counter, the initial value and the identity.
///
/// # Memory ordering
///
/// As for [`Semaphore`].
///
/// # Examples
///
/// ```
/// use threadkit::BoundedSemaphore;
///
/// let sem = BoundedSemaphore::new(2);
/// sem.acquire().forget();
/// sem.release(1).unwrap();
/// let err = sem.release(1).unwrap_err();
/// assert_eq!(err.to_string(), "semaphore released too many times");
/// assert_eq!(sem.value(), 2);
/// ```
pub struct BoundedSemaphore {
    raw: RawSemaphore,
    initial: usize,
}

crate::identity::diagnosable!([] BoundedSemaphore, |s| &s.raw.identity);

impl BoundedSemaphore {
    /// The largest value a semaphore can hold (`usize::MAX / 8`).
    pub const MAX_PERMITS: usize = MAX_VALUE;

    /// Creates a semaphore holding `value` permits that can never hold more:
    /// Python's `threading.BoundedSemaphore(value)`.
    ///
    /// `const`, so it can be a `static`. Python's default value 1 is
    /// [`BoundedSemaphore::default`].
    ///
    /// # Panics
    ///
    /// If `value` exceeds [`MAX_PERMITS`](Self::MAX_PERMITS).
    ///
    /// # Examples
    ///
    /// ```
    /// static CONNECTIONS: threadkit::BoundedSemaphore = threadkit::BoundedSemaphore::new(5);
    /// assert_eq!(CONNECTIONS.value(), 5);
    /// ```
    #[cfg(not(loom))]
    #[track_caller]
    pub const fn new(value: usize) -> Self {
        BoundedSemaphore {
            raw: RawSemaphore::new(value, ObjectKind::BoundedSemaphore),
            initial: value,
        }
    }

    /// Creates a bounded semaphore holding `value` permits (loom build).
    ///
    /// # Panics
    ///
    /// If `value` exceeds [`MAX_PERMITS`](Self::MAX_PERMITS).
    #[cfg(loom)]
    #[track_caller]
    pub fn new(value: usize) -> Self {
        BoundedSemaphore {
            raw: RawSemaphore::new(value, ObjectKind::BoundedSemaphore),
            initial: value,
        }
    }

    /// Creates a bounded semaphore with `value` permits and a name for
    /// [thread dumps](crate::diagnostics).
    ///
    /// # Panics
    ///
    /// If `value` exceeds [`BoundedSemaphore::MAX_PERMITS`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = threadkit::BoundedSemaphore::named("pool", 2);
    /// assert_eq!(pool.name(), Some("pool"));
    /// ```
    #[track_caller]
    pub fn named(name: impl Into<String>, value: usize) -> Self {
        BoundedSemaphore {
            raw: RawSemaphore::named(value, ObjectKind::BoundedSemaphore, name.into()),
            initial: value,
        }
    }

    /// Opts this semaphore in to [lock-order checking](crate::diagnostics::set_lock_order_mode):
    /// used as a lock (a `BoundedSemaphore(1)` guarding a resource), it takes part in the recorded order of
    /// locks like a [`Lock`](crate::Lock), and an inversion between it and a lock is reported.
    ///
    /// A plain semaphore is not a lock (any thread may release a permit, and counting permits
    /// have no order), so the checker ignores it unless opted in. Opted in, a blocking or timed
    /// acquire is checked against the locks the thread holds, a [`try_acquire`](Self::try_acquire)
    /// is recorded as held without a check, and a release removes it from the holder's list of
    /// held locks (the releasing thread's own, else the thread that acquired it). Meant for a
    /// value of 1: with more permits two holders at once are normal, and the orders recorded
    /// may report cycles that cannot deadlock. Not `const`: a `static` semaphore cannot opt in.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::diagnostics::{self, LockOrderMode, Report};
    /// use threadkit::{Lock, BoundedSemaphore};
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let reports = Arc::new(AtomicUsize::new(0));
    /// let count = Arc::clone(&reports);
    /// diagnostics::set_report_hook(move |r: &Report| {
    ///     if let Report::PotentialDeadlock(_) = r {
    ///         count.fetch_add(1, Ordering::SeqCst);
    ///     }
    /// });
    /// diagnostics::set_lock_order_mode(LockOrderMode::Report);
    /// let disk = BoundedSemaphore::named("disk", 1).with_lock_order();
    /// let index = Lock::named("index");
    /// drop((disk.acquire(), index.acquire())); // disk, then index
    /// drop((index.acquire(), disk.acquire())); // index, then disk: reported
    /// diagnostics::reset_report_hook();
    /// assert_eq!(reports.load(Ordering::SeqCst), 1);
    /// ```
    #[must_use]
    pub fn with_lock_order(mut self) -> Self {
        self.raw.identity.track_as_lock();
        self
    }

    /// The name given with [`BoundedSemaphore::named`], if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(threadkit::BoundedSemaphore::new(1).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.raw.identity.name()
    }

    /// Blocks until a permit is available, takes it, and returns the guard that gives it back
    /// when dropped (Python's `acquire()` and `with sem:`).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = threadkit::BoundedSemaphore::new(1);
    /// let permit = sem.acquire();
    /// assert!(sem.try_acquire().is_none());
    /// drop(permit);
    /// assert_eq!(sem.value(), 1);
    /// ```
    #[inline]
    #[track_caller]
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.raw.acquire_checked::<false>(None);
        self.permit()
    }

    /// Takes a permit if one is available, without blocking (`acquire(blocking=False)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = threadkit::BoundedSemaphore::new(1);
    /// let _p = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_none());
    /// ```
    #[inline]
    #[must_use = "if unused the permit, when taken, is given back at once; \
                  `if sem.try_acquire().is_none()` gives it back at once too: bind the permit \
                  (`let Some(_permit) = ... else { ... };`), or call `forget()` on it"]
    #[track_caller]
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.raw.try_acquire_checked().then(|| self.permit())
    }

    /// Takes a permit, waiting at most `timeout` for one (`acquire(timeout=t)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let sem = threadkit::BoundedSemaphore::new(1);
    /// let _held = sem.acquire();
    /// assert!(sem.acquire_timeout(Duration::from_millis(10)).is_none());
    /// ```
    #[inline]
    #[track_caller]
    #[must_use = "if unused the permit, when taken, is given back at once; \
                  `if sem.acquire_timeout(t).is_none()` gives it back at once too: bind the permit \
                  (`let Some(_permit) = ... else { ... };`), or call `forget()` on it"]
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        self.raw
            .acquire_timeout_checked(timeout)
            .then(|| self.permit())
    }

    /// Takes a permit, waiting until `deadline` at the latest.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let sem = threadkit::BoundedSemaphore::new(1);
    /// assert!(sem.acquire_deadline(Instant::now() + Duration::from_secs(1)).is_some());
    /// ```
    #[inline]
    #[track_caller]
    #[must_use = "if unused the permit, when taken, is given back at once: bind the permit \
                  (`let Some(_permit) = ... else { ... };`), or call `forget()` on it"]
    pub fn acquire_deadline(&self, deadline: Instant) -> Option<SemaphorePermit<'_>> {
        self.raw
            .acquire_checked::<false>(Some(deadline))
            .then(|| self.permit())
    }

    /// Adds `n` permits and wakes up to `n` waiting threads, unless that would take the value
    /// above its initial value: Python's `sem.release(n)`.
    ///
    /// `release(0)` does nothing and succeeds. With nobody waiting a successful release is one
    /// atomic operation and no system call.
    ///
    /// # Errors
    ///
    /// [`OverReleaseError`] if the value plus `n` would exceed the initial value (Python:
    /// `ValueError: Semaphore released too many times`); the value is left unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = threadkit::BoundedSemaphore::new(3);
    /// sem.acquire().forget();
    /// sem.acquire().forget();
    /// assert!(sem.release(3).is_err()); // 1 + 3 > 3: nothing added
    /// assert_eq!(sem.value(), 1);
    /// sem.release(2).unwrap();
    /// assert_eq!(sem.value(), 3);
    /// ```
    #[inline]
    pub fn release(&self, n: usize) -> Result<(), OverReleaseError> {
        self.raw.release(n, self.initial)
    }

    /// The number of permits available now (Python's `sem._value`).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = threadkit::BoundedSemaphore::new(3);
    /// let _p = sem.acquire();
    /// assert_eq!(sem.value(), 2);
    /// ```
    #[inline]
    #[doc(alias = "_value")]
    #[doc(alias = "available_permits")]
    pub fn value(&self) -> usize {
        self.raw.value()
    }

    /// The value the semaphore was created with, which it never exceeds (Python's
    /// `sem._initial_value`).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = threadkit::BoundedSemaphore::new(3);
    /// assert_eq!(sem.initial_value(), 3);
    /// ```
    #[inline]
    #[doc(alias = "_initial_value")]
    pub fn initial_value(&self) -> usize {
        self.initial
    }

    #[inline]
    fn permit(&self) -> SemaphorePermit<'_> {
        SemaphorePermit {
            raw: &self.raw,
            limit: self.initial,
        }
    }

    /// Gives back one permit as a dropped permit guard does (never above the bound).
    #[inline]
    pub(crate) fn give_back(&self) {
        drop(self.permit());
    }
}

impl Default for BoundedSemaphore {
    /// A bounded semaphore holding one permit, Python's `BoundedSemaphore()`.
    fn default() -> Self {
        BoundedSemaphore::new(1)
    }
}

impl fmt::Debug for BoundedSemaphore {
    /// `BoundedSemaphore { value: 2/3 }`, as CPython's `<threading.BoundedSemaphore at 0x…:
    /// value=2/3>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphore")
            .field("value", &format_args!("{}/{}", self.value(), self.initial))
            .finish()
    }
}

/// One permit of a [`Semaphore`] or [`BoundedSemaphore`]; gives it back when dropped.
///
/// Returned by the semaphores' `acquire` methods; its scope is Python's `with sem:` block. A
/// permit may be sent to another thread and dropped there: semaphores belong to no thread.
///
/// The permit is given back when it is dropped, so keep it in a named variable for as long as
/// the resource is in use: `let _ = sem.acquire();` and `if sem.try_acquire().is_none()` both
/// give it back at once. [`forget`](Self::forget) keeps it taken without a guard (Python's bare
/// `sem.acquire()`, paired with a later `release`). For a permit that must outlive the borrow of
/// the semaphore (a pool handing permits to other threads or storing them in a connection),
/// use an `Arc` and [`Semaphore::acquire_owned`], which returns an [`OwnedSemaphorePermit`](crate::OwnedSemaphorePermit).
///
/// An unused permit is a warning whose message says the permit is given back at once (here an
/// error, through `deny`):
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let sem = threadkit::Semaphore::new(1);
/// sem.acquire();
/// ```
///
/// # Examples
///
/// ```
/// let sem = threadkit::Semaphore::new(1);
/// let permit = sem.acquire();
/// std::thread::scope(|s| {
///     s.spawn(move || drop(permit));
/// });
/// assert_eq!(sem.value(), 1);
/// ```
#[must_use = "dropping the permit gives it back at once: bind it to a named variable \
              (`let _permit = ...`; `let _ = ...` drops it too), or call `forget()` to keep it \
              taken until `release()`"]
pub struct SemaphorePermit<'a> {
    raw: &'a RawSemaphore,
    /// The value a release may reach: the bound of a `BoundedSemaphore`, or [`PLAIN`] for a
    /// plain semaphore's permit (released with one `fetch_add`, up to `MAX_VALUE`).
    limit: usize,
}

impl SemaphorePermit<'_> {
    /// Gives up the permit without releasing it: the value stays lower until someone calls
    /// `release`. The Python pattern of a bare `sem.acquire()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = threadkit::Semaphore::new(1);
    /// sem.acquire().forget();
    /// assert_eq!(sem.value(), 0);
    /// sem.release(1);
    /// assert_eq!(sem.value(), 1);
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    #[inline]
    fn drop(&mut self) {
        // An error means the value is already at its limit: someone released this permit's unit
        // behind its back (see `BoundedSemaphore`'s differences). Leave the value as it is.
        let _ = if self.limit == PLAIN {
            self.raw.release_one()
        } else {
            self.raw.release(1, self.limit)
        };
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish_non_exhaustive()
    }
}

/// The error returned by [`BoundedSemaphore::release`] when the value would exceed the initial
/// value.
///
/// Python raises `ValueError: Semaphore released too many times`.
///
/// # Examples
///
/// ```
/// let err = threadkit::BoundedSemaphore::new(1).release(1).unwrap_err();
/// assert_eq!(err.to_string(), "semaphore released too many times");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct OverReleaseError(());

impl fmt::Debug for OverReleaseError {
    /// `OverReleaseError("semaphore released too many times")`, so that `main() -> Result`
    /// prints the message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OverReleaseError")
            .field(&self.to_string())
            .finish()
    }
}

impl fmt::Display for OverReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore released too many times")
    }
}

impl std::error::Error for OverReleaseError {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn sizes() {
        // One and two words before diagnostics, plus the identity (24 bytes) now.
        assert_eq!(std::mem::size_of::<Semaphore>(), 32);
        assert_eq!(std::mem::size_of::<BoundedSemaphore>(), 40);
    }

    #[test]
    fn parked_bit_clears_after_wakeups() {
        let sem = Arc::new(Semaphore::new(0));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let sem = Arc::clone(&sem);
                std::thread::spawn(move || sem.acquire().forget())
            })
            .collect();
        // Wait until all three sleep (the PARKED bit is set once the first one parks).
        while sem.raw.state.load(Ordering::Relaxed) & PARKED == 0 {
            std::thread::yield_now();
        }
        sem.release(3);
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(sem.raw.state.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn timed_out_last_waiter_clears_parked() {
        let sem = Semaphore::new(0);
        assert!(sem.acquire_timeout(Duration::from_millis(20)).is_none());
        assert_eq!(sem.raw.state.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn over_release_panics_and_keeps_value() {
        let sem = Semaphore::new(Semaphore::MAX_PERMITS - 1);
        let r = std::panic::catch_unwind(|| sem.release(2));
        assert!(r.is_err());
        assert_eq!(sem.value(), Semaphore::MAX_PERMITS - 1);
        sem.release(1);
        assert_eq!(sem.value(), Semaphore::MAX_PERMITS);
    }

    #[test]
    fn release_zero_is_a_no_op() {
        let sem = Semaphore::new(0);
        sem.release(0);
        assert_eq!(sem.value(), 0);
        let b = BoundedSemaphore::new(1);
        assert_eq!(b.release(0), Ok(()));
        assert_eq!(b.value(), 1);
    }

    #[test]
    fn contended_counts_stay_exact() {
        let sem = Arc::new(Semaphore::new(2));
        let inside = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let sem = Arc::clone(&sem);
                let inside = Arc::clone(&inside);
                std::thread::spawn(move || {
                    // Under Miri 20,000 acquires take ~40 s; 2,000 still contend.
                    for _ in 0..if cfg!(miri) { 500 } else { 5_000 } {
                        let _p = sem.acquire();
                        assert!(inside.fetch_add(1, Ordering::SeqCst) < 2);
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(sem.raw.state.load(Ordering::Relaxed), 2 << VALUE_SHIFT);
    }
}
