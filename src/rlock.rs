//! [`RLock`]: Python's `threading.RLock`, a lock its owner may acquire again.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::panic::Location;
use std::time::{Duration, Instant};

use crate::identity::{Identity, ObjectKind};
use crate::lock::Lock;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::thread::ident;

/// A re-entrant lock: Python's `threading.RLock`.
///
/// An `RLock` has an *owner*, the thread that acquired it, and a *recursion count*. The owner may
/// acquire it again without blocking, which only raises the count; each release lowers it, and
/// the lock is free for other threads once the count is back to zero. Use it where one function
/// holding the lock calls another that takes it too (the seed's `threading_rlock.py`); a plain
/// [`Lock`] would deadlock there.
///
/// [`acquire`](Self::acquire) returns an [`RLockGuard`] that releases one level when dropped (the
/// end of Python's `with rlock:` block). [`try_acquire`](Self::try_acquire) never blocks;
/// [`acquire_timeout`](Self::acquire_timeout) and [`acquire_deadline`](Self::acquire_deadline)
/// give up after a while. For Python's explicit style, [`RLockGuard::forget`] keeps a level held
/// and [`release`](Self::release) gives it back later; only the owner may release.
///
/// # Carrying data
///
/// `RLock<T>` may carry the value it protects, as parking_lot's `ReentrantMutex<T>` does: the
/// port of a Python class whose methods re-enter `with self._lock:`. Its guards dereference to
/// **`&T`, never `&mut T`**: the owner may hold several guards at once (that is the point of
/// re-entry), so handing out `&mut T` would alias. Put the fields that change behind interior
/// mutability, [`Cell`](std::cell::Cell) or [`RefCell`](std::cell::RefCell): the `RLock` makes
/// them safe to share between threads (`RLock<T>` is [`Sync`] when `T` is only [`Send`]), and a
/// `RefCell` reports a conflicting borrow across nested calls as a panic instead of a data race.
///
/// ```
/// use std::cell::RefCell;
/// use threadkit::RLock;
///
/// struct Account {
///     state: RLock<RefCell<Vec<i64>>>,
/// }
///
/// impl Account {
///     fn deposit(&self, amount: i64) {
///         let entries = self.state.acquire();
///         entries.borrow_mut().push(amount);
///     }
///     fn deposit_twice(&self, amount: i64) {
///         let _whole = self.state.acquire(); // held across both calls, as `with self._lock:`
///         self.deposit(amount); // re-enters: no deadlock
///         self.deposit(amount);
///     }
/// }
///
/// let account = Account { state: RLock::with_value(RefCell::new(Vec::new())) };
/// account.deposit_twice(5);
/// assert_eq!(*account.state.acquire().borrow(), [5, 5]);
/// ```
///
/// The plain `RLock` is `RLock<()>`, made with [`RLock::new`].
///
/// # Differences from Python
///
/// - Acquire methods return an `Option<RLockGuard>` instead of `True`/`False`, and the guard is
///   neither [`Send`] nor [`Sync`]: a level acquired by one thread is released by that thread,
///   which is the rule Python enforces at run time.
/// - `release()` returns `Err(`[`RLockReleaseError`]`)` where Python raises `RuntimeError`.
/// - [`locked`](Self::locked) (added in Python 3.14) is here, reporting whether *any* thread
///   holds the lock; Python's private `_is_owned()` and `_recursion_count()` are the public
///   [`is_owned`](Self::is_owned) and [`recursion_count`](Self::recursion_count).
/// - `RLock` is a real type (in Python it is a factory function); it takes no arguments.
/// - A panic while holding a guard releases that guard's level (no poisoning). A thread that
///   exits while it still owns the lock (through [`RLockGuard::forget`]) leaves it owned by a
///   dead thread forever, as in CPython.
/// - The recursion count is a `usize`; acquiring past `usize::MAX` levels panics.
/// - `RLock<T>` can carry the data it protects (Python keeps it in the object's attributes);
///   its guards give `&T`, so what changes goes in a `Cell` or `RefCell`
///   ([Carrying data](#carrying-data)).
/// - Waits are not interrupted by signals.
///
/// # Size
///
/// 48 bytes plus `T` (16 before diagnostics): the [`Lock`] (40 bytes: the state word, which
/// records the owner, the holder's acquire site and the identity that names the RLock in thread
/// dumps) and the recursion count.
///
/// # Memory ordering
///
/// As for [`Lock`]: everything the owner did before its last release happens-before everything
/// the next owner does after acquiring it. Re-entrant acquires and inner releases synchronize
/// nothing (they stay on one thread).
///
/// # Examples
///
/// ```
/// use threadkit::RLock;
///
/// static LOCK: RLock = RLock::new();
///
/// fn inner() {
///     let _g = LOCK.acquire(); // does not block: this thread owns it already
///     assert_eq!(LOCK.recursion_count(), 2);
/// }
///
/// let _g = LOCK.acquire();
/// inner();
/// assert_eq!(LOCK.recursion_count(), 1);
/// ```
pub struct RLock<T: ?Sized = ()> {
    /// Locked while any thread owns the RLock; its acquirer bits name the owner.
    lock: Lock,
    /// The owner's recursion depth; 0 when unlocked. Written only by the owner (relaxed atomics
    /// so that `Debug` may read it from any thread without a data race).
    count: AtomicUsize,
    /// Reached only through guards, which only the owning thread holds.
    data: T,
}

crate::identity::diagnosable!([T: ?Sized] RLock<T>, |r| r.lock.identity());

// SAFETY: `&T` is handed out only through guards, which are neither `Send` nor `Sync`, and only
// to the thread that owns the lock; the lock's release/acquire orders one owner's accesses before
// the next owner's. So `T` is used by one thread at a time and need only be `Send` (the bound
// parking_lot's `ReentrantMutex` uses), not `Sync`.
unsafe impl<T: ?Sized + Send> Sync for RLock<T> {}

impl RLock<()> {
    /// Creates an unlocked re-entrant lock, as Python's `threading.RLock()`.
    ///
    /// `const`, so an `RLock` can be a `static`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::RLock::new();
    /// assert!(!lock.locked());
    /// ```
    #[cfg(not(loom))]
    #[track_caller]
    pub const fn new() -> Self {
        RLock::with_value(())
    }

    /// Creates an unlocked re-entrant lock (loom build: loom's atomics are not `const`).
    #[cfg(loom)]
    #[track_caller]
    pub fn new() -> Self {
        RLock::with_value(())
    }

    /// Creates an unlocked re-entrant lock with a name for [thread dumps](crate::diagnostics)
    /// and deadlock reports (an unnamed one is shown by its creation site).
    ///
    /// # Examples
    ///
    /// ```
    /// let cache = threadkit::RLock::named("cache");
    /// assert_eq!(cache.name(), Some("cache"));
    /// assert_eq!(threadkit::RLock::new().name(), None);
    /// ```
    #[track_caller]
    pub fn named(name: impl Into<String>) -> Self {
        RLock {
            lock: Lock::with_identity(
                Identity::named(ObjectKind::RLock, name, Location::caller()),
                (),
            ),
            count: AtomicUsize::new(0),
            data: (),
        }
    }

    /// Releases one level held by the calling thread: Python's `rlock.release()`.
    ///
    /// Pairs with a level kept by [`RLockGuard::forget`]. When the count reaches zero the lock
    /// becomes free for other threads. Releasing while guards of the calling thread are still
    /// alive is a logic error (a guard would later find its level gone and do nothing), but it
    /// cannot corrupt the lock: a plain `RLock` guards no data. (An `RLock<T>` with data releases
    /// only through its guards, as [`Lock<T>`](Lock) does.)
    ///
    /// # Errors
    ///
    /// [`RLockReleaseError`] if the calling thread does not own the lock, whether it is unlocked
    /// or owned by another thread (Python: `RuntimeError: cannot release un-acquired lock`); the
    /// lock is left as it was.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::RLock::new();
    /// lock.acquire().forget();
    /// lock.acquire().forget();
    /// lock.release().unwrap();
    /// assert!(lock.locked());
    /// lock.release().unwrap();
    /// assert!(!lock.locked());
    /// assert_eq!(lock.release().unwrap_err().to_string(), "cannot release un-acquired lock");
    /// ```
    #[inline]
    pub fn release(&self) -> Result<(), RLockReleaseError> {
        self.release_level()
    }
}

impl<T> RLock<T> {
    /// Creates an unlocked re-entrant lock guarding `value` (parking_lot's
    /// `ReentrantMutex::new(value)`); its guards give `&T` (see
    /// [Carrying data](RLock#carrying-data)).
    ///
    /// `const`, so it can be a `static`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    ///
    /// let hits = threadkit::RLock::with_value(Cell::new(0));
    /// let outer = hits.acquire();
    /// outer.set(outer.get() + 1);
    /// let inner = hits.acquire(); // re-entrant: both guards read the same value
    /// inner.set(inner.get() + 1);
    /// assert_eq!(outer.get(), 2);
    /// ```
    #[cfg(not(loom))]
    #[track_caller]
    pub const fn with_value(value: T) -> Self {
        RLock {
            lock: Lock::with_identity(
                Identity::new(ObjectKind::RLock, crate::identity::caller()),
                (),
            ),
            count: AtomicUsize::new(0),
            data: value,
        }
    }

    /// Creates an unlocked re-entrant lock guarding `value` (loom build).
    #[cfg(loom)]
    #[track_caller]
    pub fn with_value(value: T) -> Self {
        RLock {
            lock: Lock::with_identity(
                Identity::new(ObjectKind::RLock, crate::identity::caller()),
                (),
            ),
            count: AtomicUsize::new(0),
            data: value,
        }
    }

    /// Consumes the lock and returns the value it guarded.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::RLock::with_value(String::from("a"));
    /// assert_eq!(lock.into_inner(), "a");
    /// ```
    pub fn into_inner(self) -> T {
        self.data
    }
}

impl<T: ?Sized> RLock<T> {
    /// Acquires the lock, blocking until no other thread owns it, and returns a guard that
    /// releases this level when dropped.
    ///
    /// If the calling thread owns the lock already, this only raises the recursion count.
    /// Python's `rlock.acquire()` and `with rlock:`.
    ///
    /// # Panics
    ///
    /// If the recursion count would overflow `usize`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::RLock::new();
    /// let outer = lock.acquire();
    /// let inner = lock.acquire();
    /// assert_eq!(lock.recursion_count(), 2);
    /// drop(inner);
    /// drop(outer);
    /// assert!(!lock.locked());
    /// ```
    #[inline]
    #[track_caller]
    pub fn acquire(&self) -> RLockGuard<'_, T> {
        // The identifier is read once and kept in the guard, whose drop checks ownership with
        // it. A thread without one yet owns nothing (the value read then matches no lock state),
        // and the slow path assigns it.
        let me = ident::current_or_unassigned();
        if self.lock.is_locked_by(me) {
            self.bump();
            self.guard(me)
        } else {
            self.acquire_first()
        }
    }

    /// The blocking first level, out of line so that the re-entrant path of
    /// [`acquire`](Self::acquire) inlines into its caller.
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn acquire_first(&self) -> RLockGuard<'_, T> {
        self.lock.raw_acquire_counted(None, Some(&self.count));
        self.count.store(1, Ordering::Relaxed);
        self.guard(ident::current())
    }

    /// Acquires the lock if no other thread owns it, without blocking.
    ///
    /// Python's `rlock.acquire(blocking=False)`.
    ///
    /// # Panics
    ///
    /// If the recursion count would overflow `usize`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::RLock::new();
    /// let _a = lock.try_acquire().unwrap();
    /// let _b = lock.try_acquire().unwrap(); // re-entrant
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(lock.try_acquire().is_none()));
    /// });
    /// ```
    #[inline]
    #[track_caller]
    pub fn try_acquire(&self) -> Option<RLockGuard<'_, T>> {
        let me = ident::current();
        if self.lock.is_locked_by(me) {
            self.bump();
            return Some(self.guard(me));
        }
        self.lock.try_acquire().map(|g| self.first_level(g, me))
    }

    /// Acquires the lock, waiting at most `timeout` for another owner to release it.
    ///
    /// Python's `rlock.acquire(timeout=t)`. The owner gets it at once.
    ///
    /// # Panics
    ///
    /// If the recursion count would overflow `usize`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lock = threadkit::RLock::new();
    /// let _g = lock.acquire();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(lock.acquire_timeout(Duration::from_millis(10)).is_none()));
    /// });
    /// ```
    #[inline]
    #[track_caller]
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<RLockGuard<'_, T>> {
        self.acquire_until(crate::wait::deadline_after(timeout))
    }

    /// Acquires the lock, waiting until `deadline` at the latest.
    ///
    /// # Panics
    ///
    /// If the recursion count would overflow `usize`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let lock = threadkit::RLock::new();
    /// assert!(lock.acquire_deadline(Instant::now() + Duration::from_secs(1)).is_some());
    /// ```
    #[inline]
    #[track_caller]
    pub fn acquire_deadline(&self, deadline: Instant) -> Option<RLockGuard<'_, T>> {
        self.acquire_until(Some(deadline))
    }

    /// The timed acquire against one deadline (`None`: forever).
    #[inline]
    #[track_caller]
    fn acquire_until(&self, deadline: Option<Instant>) -> Option<RLockGuard<'_, T>> {
        let me = ident::current();
        if self.lock.is_locked_by(me) {
            self.bump();
            return Some(self.guard(me));
        }
        if !self.lock.raw_acquire_counted(deadline, Some(&self.count)) {
            return None;
        }
        self.count.store(1, Ordering::Relaxed);
        Some(self.guard(me))
    }

    /// The name given with [`RLock::named`], if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(threadkit::RLock::named("cache").name(), Some("cache"));
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.lock.name()
    }

    /// Releases one level held by the calling thread (the guard's drop, and the plain lock's
    /// `release`).
    #[inline]
    fn release_level(&self) -> Result<(), RLockReleaseError> {
        self.release_level_as(ident::current())
    }

    /// [`release_level`](Self::release_level) by the thread with identifier `me` (a guard's
    /// drop passes the identifier its acquire read).
    #[inline]
    fn release_level_as(&self, me: u64) -> Result<(), RLockReleaseError> {
        // A guard keeps `me` from its acquire: its drop's ownership test is then a load, a shift
        // and a compare.
        if !self.lock.is_locked_by(me) {
            return Err(RLockReleaseError(()));
        }
        // The owner holds at least one level; what is left after this one:
        let left = self.count.load(Ordering::Relaxed).wrapping_sub(1);
        if left != 0 {
            self.count.store(left, Ordering::Relaxed);
        } else {
            self.release_last();
        }
        Ok(())
    }

    /// Releases the last level: out of line, so that a guard's drop (an inner level, usually)
    /// inlines into its caller.
    #[cold]
    #[inline(never)]
    fn release_last(&self) {
        self.count.store(0, Ordering::Relaxed);
        // We own the inner lock, so it is locked and this cannot fail.
        let _ = self.lock.release();
    }

    /// Whether any thread holds the lock (Python 3.14's `rlock.locked()`).
    ///
    /// The answer may be stale by the time the caller looks at it.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::RLock::new();
    /// let g = lock.acquire();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(lock.locked())); // held, though not by this thread
    /// });
    /// drop(g);
    /// assert!(!lock.locked());
    /// ```
    #[inline]
    #[doc(alias = "is_locked")]
    pub fn locked(&self) -> bool {
        self.lock.locked()
    }

    /// Whether the calling thread owns the lock (Python's `rlock._is_owned()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::RLock::new();
    /// assert!(!lock.is_owned());
    /// let _g = lock.acquire();
    /// assert!(lock.is_owned());
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(!lock.is_owned()));
    /// });
    /// ```
    #[inline]
    #[doc(alias = "_is_owned")]
    #[doc(alias = "is_owned_by_current_thread")]
    pub fn is_owned(&self) -> bool {
        self.lock.is_locked_by(ident::current())
    }

    /// How many levels the calling thread holds; 0 if it does not own the lock (Python's
    /// `rlock._recursion_count()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::RLock::new();
    /// assert_eq!(lock.recursion_count(), 0);
    /// let _a = lock.acquire();
    /// let _b = lock.acquire();
    /// assert_eq!(lock.recursion_count(), 2);
    /// ```
    #[inline]
    #[doc(alias = "_recursion_count")]
    pub fn recursion_count(&self) -> usize {
        if self.is_owned() {
            self.count.load(Ordering::Relaxed)
        } else {
            0
        }
    }

    /// A mutable reference to the guarded value; no locking is needed since the borrow is
    /// exclusive.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lock = threadkit::RLock::with_value(1);
    /// *lock.get_mut() += 1;
    /// assert_eq!(*lock.acquire(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.data
    }

    // ----- for Condition -----

    /// Releases every level the calling thread holds and returns the count, to be given back to
    /// [`acquire_restore`](Self::acquire_restore) (Python's `_release_save`). Returns 0 and
    /// changes nothing if the calling thread does not own the lock.
    pub(crate) fn release_save(&self) -> usize {
        if !self.is_owned() {
            return 0;
        }
        let count = self.count.swap(0, Ordering::Relaxed);
        let _ = self.lock.release();
        count
    }

    /// Acquires the lock (blocking) and sets the recursion count to `count` (Python's
    /// `_acquire_restore`). A `count` of 0 (nothing was released) does nothing.
    #[track_caller]
    pub(crate) fn acquire_restore(&self, count: usize) {
        if count != 0 {
            self.lock.raw_reacquire_counted(None, Some(&self.count));
            self.count.store(count, Ordering::Relaxed);
        }
    }

    /// The lock word Condition requeues notified waiters onto.
    pub(crate) fn raw_lock(&self) -> &Lock {
        &self.lock
    }

    /// The recursion count, for what a Condition waiter publishes (diagnostics).
    pub(crate) fn count_word(&self) -> &AtomicUsize {
        &self.count
    }

    /// A requeued Condition waiter was handed the lock: record it and restore its depth.
    #[track_caller]
    pub(crate) fn restore_after_handoff(&self, count: usize) {
        self.lock.finish_handoff();
        self.count.store(count, Ordering::Relaxed);
    }

    /// Whether `guard` is a guard of this lock.
    pub(crate) fn is_guard_of(&self, guard: &RLockGuard<'_, T>) -> bool {
        std::ptr::eq(self, guard.rlock)
    }

    // ----- internals -----

    /// One more level for the owner.
    #[inline]
    fn bump(&self) {
        // `wrapping_add` and a test for 0: the flags of the increment are the overflow test.
        let count = self.count.load(Ordering::Relaxed).wrapping_add(1);
        if count == 0 {
            overflow()
        }
        self.count.store(count, Ordering::Relaxed);
    }

    /// The first level, after the inner lock was taken through `guard`.
    #[inline]
    fn first_level(&self, guard: crate::LockGuard<'_>, me: u64) -> RLockGuard<'_, T> {
        guard.forget();
        self.count.store(1, Ordering::Relaxed);
        self.guard(me)
    }

    /// A guard for one level held by the thread with identifier `me`.
    #[inline]
    fn guard(&self, me: u64) -> RLockGuard<'_, T> {
        RLockGuard {
            rlock: self,
            owner: me,
            _not_send: PhantomData,
        }
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn overflow() -> ! {
    panic!("RLock recursion count overflow")
}

impl<T: Default> Default for RLock<T> {
    /// An unlocked `RLock` guarding `T::default()` (for `RLock<()>`, Python's `RLock()`).
    fn default() -> Self {
        RLock::with_value(T::default())
    }
}

impl<T> From<T> for RLock<T> {
    fn from(value: T) -> Self {
        RLock::with_value(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RLock<T> {
    /// Like CPython's repr: `locked` with the owner's identifier and its recursion count (as seen
    /// from any thread), or `unlocked` with a count of 0 and no owner; then the data, when the calling thread may read it
    /// without blocking (it owns the lock, or the lock is free).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RLock");
        match self.lock.acquired_by() {
            Some(owner) => {
                d.field("state", &format_args!("locked"));
                d.field("owner", &owner);
                d.field("count", &self.count.load(Ordering::Relaxed));
            }
            None => {
                // No owner field: 0 would name no thread. The count is CPython's `count=0`.
                d.field("state", &format_args!("unlocked"));
                d.field("count", &0usize);
            }
        }
        match self.try_acquire() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// Proof that the current thread holds one level of an [`RLock`]; releases that level when
/// dropped.
///
/// Dereferences to `&T` (never `&mut T`: the owner may hold several guards at once). Neither
/// [`Send`] nor [`Sync`]: only the owning thread may release, or read through it.
///
/// # Examples
///
/// ```
/// let lock = threadkit::RLock::new();
/// {
///     let _g = lock.acquire();
///     assert!(lock.is_owned());
/// }
/// assert!(!lock.locked());
/// ```
///
/// Moving a guard to another thread does not compile:
///
/// ```compile_fail
/// let lock = threadkit::RLock::new();
/// let g = lock.acquire();
/// std::thread::scope(|s| {
///     s.spawn(move || drop(g));
/// });
/// ```
///
/// Nor does sharing one with another thread (it would read the data while it is not the owner):
///
/// ```compile_fail
/// let lock = threadkit::RLock::with_value(std::cell::Cell::new(0));
/// let g = lock.acquire();
/// std::thread::scope(|s| {
///     s.spawn(|| g.set(1));
/// });
/// ```
///
/// An `RLock` with data releases only through its guards (a Python-style `release` while a guard
/// still reads the data would let another thread in), so neither `forget` nor `release` exists:
///
/// ```compile_fail
/// let lock = threadkit::RLock::with_value(1);
/// lock.acquire().forget();
/// ```
///
/// ```compile_fail
/// let lock = threadkit::RLock::with_value(1);
/// let _ = lock.release();
/// ```
#[must_use = "dropping the guard releases this level of the RLock at once: bind it to a named \
              variable (`let _guard = ...`; `let _ = ...` drops it too), or call `forget()` to \
              keep the level of a plain RLock held until `release()`"]
pub struct RLockGuard<'a, T: ?Sized = ()> {
    rlock: &'a RLock<T>,
    /// The identifier of the thread that acquired this level (read once, by the acquire).
    owner: u64,
    /// Keeps the guard on the owning thread.
    _not_send: PhantomData<*const ()>,
}

impl RLockGuard<'_> {
    /// Gives up the guard without releasing its level, which stays held until the thread calls
    /// [`RLock::release`]: the Python pattern of a bare `rlock.acquire()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::RLock::new();
    /// lock.acquire().forget();
    /// assert_eq!(lock.recursion_count(), 1);
    /// lock.release().unwrap();
    /// assert!(!lock.locked());
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl<T: ?Sized> Deref for RLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.rlock.data
    }
}

impl<T: ?Sized> Drop for RLockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // An error means the thread released this level itself with `RLock::release` (a logic
        // error); the lock is already as the guard wanted it.
        let _ = self.rlock.release_level_as(self.owner);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RLockGuard<'_, T> {
    /// The guarded value, as std's `MutexGuard` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RLockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// The error returned by [`RLock::release`] when the calling thread does not own the lock.
///
/// Python raises `RuntimeError: cannot release un-acquired lock`.
///
/// # Examples
///
/// ```
/// let err = threadkit::RLock::new().release().unwrap_err();
/// assert_eq!(err.to_string(), "cannot release un-acquired lock");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RLockReleaseError(());

impl fmt::Debug for RLockReleaseError {
    /// The type and its message, so that `main() -> Result` prints what CPython would.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RLockReleaseError")
            .field(&self.to_string())
            .finish()
    }
}

impl fmt::Display for RLockReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot release un-acquired lock")
    }
}

impl std::error::Error for RLockReleaseError {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn size_is_a_lock_and_a_word() {
        // 16 bytes before diagnostics: the inner Lock grew from 8 to 40.
        assert_eq!(std::mem::size_of::<RLock>(), 48);
    }

    #[test]
    fn nested_levels_and_release_order() {
        let lock = RLock::new();
        let a = lock.acquire();
        let b = lock.try_acquire().unwrap();
        let c = lock.acquire_timeout(Duration::from_millis(1)).unwrap();
        assert_eq!(lock.recursion_count(), 3);
        drop(b);
        assert_eq!(lock.recursion_count(), 2);
        drop(a);
        drop(c);
        assert_eq!(lock.recursion_count(), 0);
        assert!(!lock.locked());
        assert_eq!(lock.count.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn release_save_and_restore() {
        let lock = RLock::new();
        let _a = lock.acquire();
        let _b = lock.acquire();
        let saved = lock.release_save();
        assert_eq!(saved, 2);
        assert!(!lock.locked());
        std::thread::scope(|s| {
            s.spawn(|| drop(lock.acquire()));
        });
        lock.acquire_restore(saved);
        assert_eq!(lock.recursion_count(), 2);
    }

    #[test]
    fn release_save_when_not_owned_changes_nothing() {
        let lock = RLock::new();
        assert_eq!(lock.release_save(), 0);
        lock.acquire_restore(0);
        assert!(!lock.locked());
    }

    #[test]
    fn count_overflow_panics_and_leaves_lock_usable() {
        let lock = RLock::new();
        let g = lock.acquire();
        lock.count.store(usize::MAX, Ordering::Relaxed);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lock.acquire()));
        let msg = r.err().unwrap();
        assert_eq!(
            msg.downcast_ref::<&str>(),
            Some(&"RLock recursion count overflow")
        );
        lock.count.store(1, Ordering::Relaxed);
        drop(g);
        assert!(!lock.locked());
    }

    #[test]
    fn stale_guard_after_explicit_release_does_nothing() {
        let lock = RLock::new();
        let g = lock.acquire();
        lock.release().unwrap();
        // Another thread takes the lock and keeps it (then exits: it stays owned by that thread).
        std::thread::scope(|s| {
            s.spawn(|| lock.acquire().forget());
        });
        drop(g); // not the owner any more: does nothing
        assert!(lock.locked());
        assert!(!lock.is_owned());
    }

    /// Under Miri this is the data-race check of `unsafe impl Sync for RLock<T>`: the `Cell` is
    /// plain memory, so an access the lock did not order would be reported.
    #[test]
    fn data_in_cell_is_ordered_between_owners() {
        use std::cell::Cell;
        let lock = RLock::with_value(Cell::new(0u32));
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for _ in 0..50 {
                        let outer = lock.acquire();
                        let inner = lock.acquire();
                        inner.set(outer.get() + 1);
                    }
                });
            }
        });
        assert_eq!(lock.into_inner().get(), 100);
    }

    #[test]
    fn debug_like_cpython_repr() {
        let lock = RLock::new();
        // Unlocked: no owner to show (the old `owner: 0` named no thread).
        assert_eq!(
            format!("{lock:?}"),
            "RLock { state: unlocked, count: 0, data: () }"
        );
        let _a = lock.acquire();
        let _b = lock.acquire();
        let me = ident::current();
        assert_eq!(
            format!("{lock:?}"),
            format!("RLock {{ state: locked, owner: {me}, count: 2, data: () }}")
        );
        // Seen from another thread too (CPython 3.14, gh-134322); the data is out of its reach.
        std::thread::scope(|s| {
            s.spawn(|| {
                assert_eq!(
                    format!("{lock:?}"),
                    format!("RLock {{ state: locked, owner: {me}, count: 2, data: <locked> }}")
                )
            });
        });
    }
}
