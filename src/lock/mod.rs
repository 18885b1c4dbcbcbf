//! [`Lock`]: Python's `threading.Lock`, optionally guarding data.

use std::cell::UnsafeCell;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::AtomicPtr;
use std::time::{Duration, Instant};

use crate::identity::{Identity, ObjectKind};
use crate::loom::sync::atomic::{AtomicU64, Ordering};
use crate::wait::{self, UnparkToken};

/// The lock is held.
const LOCKED: u64 = 1;
/// At least one thread may be parked waiting for the lock.
const PARKED: u64 = 2;
/// The bits above the two flags hold the identifier of the thread that acquired the lock.
const OWNER_SHIFT: u32 = 2;

/// A woken waiter must compete for the lock again.
const TOKEN_NORMAL: UnparkToken = UnparkToken(0);
/// The releaser kept the lock locked and handed it straight to the woken waiter.
pub(crate) const TOKEN_HANDOFF: UnparkToken = UnparkToken(1);

/// A primitive lock: Python's `threading.Lock`, which can also guard a value.
///
/// A `Lock` is either locked or unlocked. [`acquire`](Self::acquire) blocks until it can lock it
/// and returns a [`LockGuard`]; dropping the guard (the end of Python's `with lock:` block)
/// releases it. [`try_acquire`](Self::try_acquire) never blocks, and
/// [`acquire_timeout`](Self::acquire_timeout) / [`acquire_deadline`](Self::acquire_deadline)
/// give up after a while, all returning `None` when they did not get the lock.
///
/// A `Lock` is not owned by a thread: as in Python, a lock acquired by one thread may be released
/// by another, either by moving its guard there ([`LockGuard`] is [`Send`]) or, for a plain
/// `Lock` (`Lock<()>`), by calling [`release`](Lock::release), which reports an error on an
/// unlocked lock instead of corrupting it. The lock still records *which* thread acquired it, for
/// its `Debug` output and for diagnostics.
///
/// # Guarding data
///
/// `Lock<T>` may carry the value it protects, as `std::sync::Mutex<T>` does, so the seed's
/// `Counter` (a lock beside a value) becomes one field:
///
/// ```
/// use threadkit::Lock;
///
/// struct Counter {
///     value: Lock<i64>,
/// }
///
/// impl Counter {
///     fn increment(&self) {
///         *self.value.acquire() += 1;
///     }
/// }
///
/// let c = Counter { value: Lock::with_value(0) };
/// c.increment();
/// assert_eq!(*c.value.acquire(), 1);
/// ```
///
/// The plain `Lock` is `Lock<()>`, made with [`Lock::new`]. Only the plain lock has the
/// Python-style [`release`](Lock::release): releasing a lock that guards data while some other
/// thread's guard still gives access to it would be a data race, so `Lock<T>` releases only
/// through its guard.
///
/// # Coming from `std::sync::Mutex` or parking_lot
///
/// | `std::sync::Mutex<T>` / `parking_lot::Mutex<T>` | `Lock<T>` |
/// |---|---|
/// | `Mutex::new(value)` | [`Lock::with_value(value)`](Lock::with_value), `Lock::from(value)`, `value.into()` ([`Lock::new()`](Lock::new) is Python's `Lock()`, which guards no value) |
/// | `Mutex::default()`, `#[derive(Default)]` on a struct of mutexes | [`Lock::default()`](Lock::default) (for `T: Default`) and the same derive |
/// | `m.lock().unwrap()` / `m.lock()` | [`acquire()`](Lock::acquire): no `Result`, nothing is poisoned |
/// | `m.try_lock()` | [`try_acquire()`](Lock::try_acquire) → `Option` |
/// | `m.try_lock_for(d)` / `try_lock_until(t)` (parking_lot) | [`acquire_timeout(d)`](Lock::acquire_timeout) / [`acquire_deadline(t)`](Lock::acquire_deadline) |
/// | `m.is_locked()` (parking_lot) | [`locked()`](Lock::locked) |
/// | `m.get_mut()`, `m.into_inner()` | [`get_mut()`](Lock::get_mut), [`into_inner()`](Lock::into_inner) (no `Result`) |
/// | `MutexGuard::map`, `unlock_fair`, `force_unlock` | not offered (a plain lock's [`release`](Lock::release) is the Python-style unlock) |
///
/// ```
/// use threadkit::Lock;
///
/// #[derive(Default)]
/// struct Stats {
///     hits: Lock<u64>,
///     names: Lock<Vec<String>>,
/// }
///
/// let stats = Stats::default();
/// *stats.hits.acquire() += 1;
/// let names: Lock<Vec<String>> = vec!["a".to_string()].into();
/// assert_eq!(names.acquire().len(), 1);
/// assert_eq!(*stats.hits.acquire(), 1);
/// ```
///
/// # Unwind safety
///
/// The plain `Lock` (`Lock<()>`) is [`UnwindSafe`](std::panic::UnwindSafe) and
/// [`RefUnwindSafe`](std::panic::RefUnwindSafe), so `catch_unwind` accepts closures that use it:
/// a panic releases the lock and there is no data a half-finished update could be left in.
/// `Lock<T>` with data is `UnwindSafe` when `T` is, but not `RefUnwindSafe`: std's `Mutex` is,
/// because it poisons, and threadkit's lock does not, so a panic halfway through an update leaves
/// the half-updated `T` for the next acquirer, exactly what the marker warns about. Wrap the
/// closure in [`AssertUnwindSafe`](std::panic::AssertUnwindSafe) once you know the updates cannot
/// be left half-done (as with parking_lot's `Mutex`).
///
/// ```
/// use std::panic::{catch_unwind, AssertUnwindSafe};
/// use threadkit::Lock;
///
/// let lock = Lock::new();
/// let r = catch_unwind(|| {
///     let _g = lock.acquire();
///     panic!("boom");
/// });
/// assert!(r.is_err() && !lock.locked()); // released, usable
///
/// let total = Lock::with_value(0);
/// let r = catch_unwind(AssertUnwindSafe(|| *total.acquire() += 1));
/// assert!(r.is_ok());
/// ```
///
/// Without the `AssertUnwindSafe`, a `Lock` with data does not compile there:
///
/// ```compile_fail
/// let total = threadkit::Lock::with_value(0);
/// let _ = std::panic::catch_unwind(|| *total.acquire() += 1);
/// ```
///
/// # Differences from Python
///
/// - `acquire(blocking=False)` is [`try_acquire`](Self::try_acquire), `acquire(timeout=t)` is
///   [`acquire_timeout`](Self::acquire_timeout); they return `Option<LockGuard>` rather than a
///   `bool`. A [`Duration`] cannot be negative, so Python's `ValueError`s for bad timeouts cannot
///   happen; a timeout too large for the clock means "wait forever".
/// - `release()` returns `Err(`[`ReleaseError`]`)` where Python raises `RuntimeError`.
/// - `with lock:` is a guard; a panic inside the block releases the lock (no poisoning).
/// - Waits are not interrupted by signals (Python raises `KeyboardInterrupt` from a blocked
///   `acquire`).
/// - Which waiter gets a released lock is unspecified, as in Python; a waiter that has waited
///   about half a millisecond is handed the lock directly, so no waiter starves.
///
/// # Names and diagnostics
///
/// [`Lock::named`] gives the lock a name for [thread dumps](crate::diagnostics) and deadlock
/// reports; an unnamed lock is shown by its creation site (`Lock@src/bank.rs:42`). The lock
/// also remembers where its holder acquired it (when
/// [holder sites](crate::diagnostics::set_holder_sites) are on: debug builds, or on request), so a
/// dump can say "held by alpha, acquired at src/bank.rs:88".
///
/// # Size
///
/// 40 bytes plus `T` (`Lock<()>` was 8 bytes before diagnostics): the state word, the holder's
/// acquire site (stored on acquire when holder sites are on), and the [identity](crate::diagnostics::ObjectInfo)
/// (kind and lazily drawn id, creation site, a pointer to the optional name).
///
/// # Memory ordering
///
/// Everything a thread did before releasing the lock happens-before everything the next acquirer
/// does after acquiring it, whichever threads they are.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use threadkit::Lock;
///
/// let lock = Arc::new(Lock::new());
/// let guard = lock.acquire();
/// assert!(lock.locked());
/// assert!(lock.try_acquire().is_none());
/// drop(guard);
/// assert!(!lock.locked());
/// ```
// `repr(C)`: what only diagnostics touch (the identity, the holder's site) first, then the state
// word, then the data right after it, so that for a small `T` the word and the data share a
// cache line as often as in parking_lot's `Mutex<T>` (unless the word sits in a line's last 8
// bytes). With the state word first, the data came 40 bytes after it and landed on the next
// line in 5 of 8 placements: `lock_contended_2t`'s fastest trials (its threads barely
// overlapping) took 13.7-14.2 ns per acquire+add+release on two lines against 12.3-12.7 ns on
// one, and under contention a second line moved between the CPUs (BENCHMARKS.md, "Contended
// locks, stop 21").
#[repr(C)]
pub struct Lock<T: ?Sized = ()> {
    identity: Identity,
    /// Where the current holder acquired it (a [`Site::as_ptr`](crate::site::Site); stale
    /// while unlocked).
    /// Diagnostics only, so a std atomic in every build.
    acquired_at: AtomicPtr<u8>,
    /// `(acquirer << OWNER_SHIFT) | PARKED | LOCKED`; the acquirer bits are zero when unlocked.
    state: AtomicU64,
    data: UnsafeCell<T>,
}

crate::identity::diagnosable!([T: ?Sized] Lock<T>, |l| &l.identity);

/// The identifier of the thread that acquired a lock whose state word is `state`, if locked.
pub(crate) fn owner_of(state: u64) -> Option<u64> {
    (state & LOCKED != 0).then_some(state >> OWNER_SHIFT)
}

// SAFETY: the lock hands out access to `T` to one thread at a time, so it may be shared between
// threads whenever `T` may be sent between them (the bound std's `Mutex` uses).
unsafe impl<T: ?Sized + Send> Sync for Lock<T> {}
// SAFETY: sending the lock sends the `T` inside it.
unsafe impl<T: ?Sized + Send> Send for Lock<T> {}

// A plain lock has no data a panic could leave half-updated (see "Unwind safety" above); the
// `UnsafeCell<()>` inside is what makes the compiler refuse it otherwise.
impl std::panic::RefUnwindSafe for Lock<()> {}

impl Lock<()> {
    /// Creates an unlocked lock, as Python's `threading.Lock()`.
    ///
    /// `const`, so a lock can be a `static`.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::Lock;
    ///
    /// static LOCK: Lock = Lock::new();
    /// let _guard = LOCK.acquire();
    /// assert!(LOCK.locked());
    /// ```
    #[cfg(not(loom))]
    #[track_caller]
    pub const fn new() -> Self {
        Lock::with_value(())
    }

    /// Creates an unlocked lock (loom build: loom's atomics are not `const`).
    #[cfg(loom)]
    #[track_caller]
    pub fn new() -> Self {
        Lock::with_value(())
    }

    /// Creates an unlocked lock with a name, shown by [thread dumps](crate::diagnostics) and
    /// deadlock reports instead of its creation site.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::Lock;
    ///
    /// let accounts = Lock::named("accounts");
    /// assert_eq!(accounts.name(), Some("accounts"));
    /// assert_eq!(Lock::new().name(), None);
    /// ```
    #[track_caller]
    pub fn named(name: impl Into<String>) -> Self {
        Lock::named_with_value(name, ())
    }

    /// Releases the lock, from any thread: Python's `lock.release()`.
    ///
    /// Use it with a guard given up by [`LockGuard::forget`] (or `std::mem::forget`), for code
    /// that acquires in one place and releases in another, as Python code does with explicit
    /// `acquire()` / `release()` calls. Releasing while a guard is still alive is a logic error
    /// (the guard would later release someone else's acquisition), though never undefined
    /// behaviour: a plain lock guards no data.
    ///
    /// # Errors
    ///
    /// [`ReleaseError`] if the lock is not locked (Python: `RuntimeError: release unlocked lock`);
    /// the lock is left as it was.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::Lock;
    ///
    /// let lock = Lock::new();
    /// lock.acquire().forget();
    /// assert!(lock.locked());
    /// // Another thread may do this just as well.
    /// std::thread::scope(|s| {
    ///     s.spawn(|| lock.release().unwrap());
    /// });
    /// assert!(!lock.locked());
    /// assert!(lock.release().is_err());
    /// ```
    pub fn release(&self) -> Result<(), ReleaseError> {
        // SAFETY: a plain lock guards no data, so releasing it cannot expose a `T` to two threads.
        unsafe { self.raw_release() }
    }
}

impl<T> Lock<T> {
    /// Creates an unlocked lock guarding `value`: std's `Mutex::new(value)`.
    ///
    /// ([`Lock::new()`](Lock::new) takes no value because it is Python's `Lock()`; `Lock::from(v)`
    /// and `v.into()` work too.)
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::Lock;
    ///
    /// let names = Lock::with_value(Vec::<String>::new());
    /// names.acquire().push("worker".into());
    /// assert_eq!(names.acquire().len(), 1);
    /// ```
    #[cfg(not(loom))]
    #[track_caller]
    pub const fn with_value(value: T) -> Self {
        Lock::with_identity(
            Identity::new(ObjectKind::Lock, crate::identity::caller()),
            value,
        )
    }

    /// Creates an unlocked lock guarding `value` (loom build).
    #[cfg(loom)]
    #[track_caller]
    pub fn with_value(value: T) -> Self {
        Lock::with_identity(
            Identity::new(ObjectKind::Lock, crate::identity::caller()),
            value,
        )
    }

    /// Creates an unlocked lock guarding `value`, with a name for diagnostics (see
    /// [`Lock::named`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let balance = threadkit::Lock::named_with_value("balance", 0_i64);
    /// assert_eq!(*balance.acquire(), 0);
    /// ```
    #[track_caller]
    pub fn named_with_value(name: impl Into<String>, value: T) -> Self {
        Lock::with_identity(
            Identity::named(ObjectKind::Lock, name, Location::caller()),
            value,
        )
    }

    /// A lock with the given identity (RLock's inner lock carries the RLock's).
    #[cfg(not(loom))]
    pub(crate) const fn with_identity(identity: Identity, value: T) -> Self {
        Lock {
            state: AtomicU64::new(0),
            acquired_at: AtomicPtr::new(std::ptr::null_mut()),
            identity,
            data: UnsafeCell::new(value),
        }
    }

    /// A lock with the given identity (loom build).
    #[cfg(loom)]
    pub(crate) fn with_identity(identity: Identity, value: T) -> Self {
        Lock {
            state: AtomicU64::new(0),
            acquired_at: AtomicPtr::new(std::ptr::null_mut()),
            identity,
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns the value it guarded.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::Lock::with_value(5);
    /// assert_eq!(lock.into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Lock<T> {
    /// The address of the state word, for layout tests.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn state_word_addr(&self) -> usize {
        &self.state as *const AtomicU64 as usize
    }

    /// Blocks until the lock is acquired, and returns the guard that releases it when dropped.
    ///
    /// Python's `lock.acquire()` and `with lock:`. A thread that already holds the lock and
    /// acquires it again deadlocks, as in Python; use [`RLock`](crate::RLock) for that.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::Lock::with_value(0);
    /// {
    ///     let mut guard = lock.acquire();
    ///     *guard += 1;
    /// } // released here
    /// assert_eq!(*lock.acquire(), 1);
    /// ```
    #[inline]
    #[track_caller]
    #[doc(alias = "lock")]
    pub fn acquire(&self) -> LockGuard<'_, T> {
        let site = Location::caller();
        // One relaxed load for every diagnostic switch (the lock-order checker, holder sites,
        // the contention profile); anything on goes out of line.
        let tracking = raw::instrumentation();
        if tracking != 0 {
            self.acquire_instrumented(None, None, site, tracking);
        } else if !self.try_lock_fast() {
            self.acquire_slow(None, None, site);
        }
        // SAFETY: the calling thread has just acquired the lock.
        unsafe { self.make_guard() }
    }

    /// Acquires the lock if it is free, without blocking.
    ///
    /// Python's `lock.acquire(blocking=False)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::Lock::new();
    /// let first = lock.try_acquire();
    /// assert!(first.is_some());
    /// assert!(lock.try_acquire().is_none());
    /// ```
    #[inline]
    #[track_caller]
    #[doc(alias = "try_lock")]
    #[must_use = "if unused the lock, when acquired, is released at once; `if lock.try_acquire().is_some()` \
                  also releases it at once: bind the guard (`if let Some(_guard) = ...`)"]
    pub fn try_acquire(&self) -> Option<LockGuard<'_, T>> {
        let state = self.state.load(Ordering::Relaxed);
        if state & LOCKED != 0 {
            return None;
        }
        let me = Self::locked_by_me();
        match self
            .state
            .compare_exchange(state, state | me, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => {
                self.note_acquired(Location::caller());
                // SAFETY: the compare-exchange took the lock for this thread.
                Some(unsafe { self.make_guard() })
            }
            Err(_) => self.try_acquire_slow(),
        }
    }

    /// Acquires the lock, waiting at most `timeout`.
    ///
    /// Python's `lock.acquire(timeout=t)`. A zero timeout behaves as
    /// [`try_acquire`](Self::try_acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lock = threadkit::Lock::new();
    /// let _held = lock.acquire();
    /// assert!(lock.acquire_timeout(Duration::from_millis(10)).is_none());
    /// ```
    #[inline]
    #[track_caller]
    #[doc(alias = "try_lock_for")]
    #[must_use = "if unused the lock, when acquired, is released at once: bind the guard \
                  (`let Some(_guard) = lock.acquire_timeout(t) else { ... };`)"]
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<LockGuard<'_, T>> {
        if self.raw_acquire(wait::deadline_after(timeout)) {
            // SAFETY: the calling thread has just acquired the lock.
            Some(unsafe { self.make_guard() })
        } else {
            None
        }
    }

    /// Acquires the lock, waiting until `deadline` at the latest.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let lock = threadkit::Lock::new();
    /// assert!(lock.acquire_deadline(Instant::now() + Duration::from_secs(1)).is_some());
    /// ```
    #[inline]
    #[track_caller]
    #[doc(alias = "try_lock_until")]
    #[must_use = "if unused the lock, when acquired, is released at once: bind the guard \
                  (`let Some(_guard) = lock.acquire_deadline(t) else { ... };`)"]
    pub fn acquire_deadline(&self, deadline: Instant) -> Option<LockGuard<'_, T>> {
        if self.raw_acquire(Some(deadline)) {
            // SAFETY: the calling thread has just acquired the lock.
            Some(unsafe { self.make_guard() })
        } else {
            None
        }
    }

    /// Whether the lock is held by some thread (Python's `lock.locked()`).
    ///
    /// The answer may be stale by the time the caller looks at it.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::Lock::new();
    /// assert!(!lock.locked());
    /// let _g = lock.acquire();
    /// assert!(lock.locked());
    /// ```
    #[inline]
    #[doc(alias = "is_locked")]
    pub fn locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LOCKED != 0
    }

    /// A mutable reference to the guarded value; no locking is needed since the borrow is
    /// exclusive.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lock = threadkit::Lock::with_value(1);
    /// *lock.get_mut() += 1;
    /// assert_eq!(lock.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// The identifier (see [`get_ident`](crate::get_ident)) of the thread that acquired the lock,
    /// if it is locked. The lock need not be released by that thread.
    pub(crate) fn acquired_by(&self) -> Option<u64> {
        owner_of(self.state.load(Ordering::Relaxed))
    }

    /// The name given with [`Lock::named`], if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(threadkit::Lock::named("ledger").name(), Some("ledger"));
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.identity.name()
    }

    /// The lock's identity (RLock and Condition publish their waits with it).
    pub(crate) fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Whether the lock is held, acquired by the thread with identifier `ident`: one load, a
    /// shift and a compare (RLock's ownership test on its hot path). The acquirer bits are
    /// non-zero only while the lock is locked (every release clears them, and a hand-off's new
    /// owner writes them only into a locked word), and no thread has identifier 0, so the
    /// `LOCKED` bit need not be tested; `ident::UNASSIGNED` (`u64::MAX`) matches no word.
    #[inline]
    pub(crate) fn is_locked_by(&self, ident: u64) -> bool {
        self.state.load(Ordering::Relaxed) >> OWNER_SHIFT == ident
    }
}

impl<T: Default> Default for Lock<T> {
    /// An unlocked lock guarding `T::default()` (for the plain `Lock<()>`, Python's `Lock()`), so
    /// `#[derive(Default)]` works on structs of locks, as with std's `Mutex`.
    fn default() -> Self {
        Lock::with_value(T::default())
    }
}

impl<T> From<T> for Lock<T> {
    fn from(value: T) -> Self {
        Lock::with_value(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Lock<T> {
    /// Shows `locked`/`unlocked` (as CPython's repr), the acquiring thread's identifier, and the
    /// data when the lock could be taken without blocking.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Lock");
        match self.acquired_by() {
            Some(owner) => {
                d.field("state", &format_args!("locked"));
                d.field("acquired_by", &owner);
                d.field("data", &format_args!("<locked>"));
            }
            None => {
                d.field("state", &format_args!("unlocked"));
                match self.try_acquire() {
                    Some(guard) => d.field("data", &&*guard),
                    None => d.field("data", &format_args!("<locked>")),
                };
            }
        }
        d.finish()
    }
}

mod contended;
mod error;
mod guard;
mod raw;
#[cfg(all(test, not(loom)))]
mod tests;

pub use error::ReleaseError;
pub use guard::LockGuard;
