//! [`Condition`]: Python's `threading.Condition`, and [`ConditionLock`], the locks it works over.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::identity::{Identity, ObjectKind};

use crate::lock::{Lock, LockGuard, TOKEN_HANDOFF};
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::rlock::{RLock, RLockGuard};
use crate::wait::record::{self, CondLock, LastSignal};
use crate::wait::{
    self, ParkResult, ParkToken, RequeueOp, Target, UnparkResult, UnparkToken, WaitKind,
};

/// The token `notify` wakes waiters with when it wakes them directly (a waiter moved onto the
/// lock's queue is woken by the lock's release instead, with the lock's own tokens).
const TOKEN_NOTIFIED: UnparkToken = UnparkToken(2);

mod sealed {
    /// Only this crate's locks can back a [`Condition`](super::Condition).
    pub trait Sealed {
        /// What a waiter publishes about the lock for diagnostics (its identity, ownership
        /// words and parking key), `token` being the waiter's park token. (The crate-private
        /// return type is the point: only this crate can make sense of it, and the `Token`
        /// keeps anyone else from calling it.)
        #[doc(hidden)]
        fn cl_diag(&self, token: usize, _: Token) -> crate::wait::record::CondLock;
    }

    /// Proof that a caller is inside this crate: the hidden methods of
    /// [`ConditionLock`](super::ConditionLock) take one, and no one else can make it.
    #[derive(Clone, Copy, Debug)]
    pub struct Token(pub(super) ());
}

use sealed::Token;

/// A lock a [`Condition`] can work over: [`Lock`] (with or without data), [`RLock`], and an
/// [`Arc`] or a shared reference to either, so that several conditions can share one lock.
///
/// The trait is sealed: its methods are the crate's own business. What it tells users is the
/// [`Guard`](Self::Guard) type: a `Condition`'s [`acquire`](Condition::acquire) returns the
/// lock's own guard, so a `Condition<Lock<T>>` gives access to the `T` the lock guards.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use threadkit::{Condition, ConditionLock, Lock, RLock};
///
/// fn takes_any<L: ConditionLock>(_cond: &Condition<L>) {}
///
/// takes_any(&Condition::new()); // over an RLock
/// takes_any(&Condition::with_lock(Lock::new()));
/// takes_any(&Condition::with_lock(Arc::new(RLock::new())));
/// let lock = Lock::with_value(0);
/// takes_any(&Condition::with_lock(&lock));
/// ```
pub trait ConditionLock: sealed::Sealed {
    /// The guard the lock's acquire methods return (`LockGuard<T>` or `RLockGuard<T>`).
    type Guard<'a>
    where
        Self: 'a;

    /// What a [`wait_for`](Condition::wait_for) predicate receives: `&mut T` for a
    /// [`Lock<T>`](Lock) (as std's and parking_lot's `Condvar::wait_while` hand it), `&T` for an
    /// [`RLock<T>`](RLock), whose data is shared between the owner's nested guards.
    type Data<'a>
    where
        Self: 'a;

    /// The guarded data, for a `wait_for` predicate.
    #[doc(hidden)]
    fn cl_data<'a, 'g: 'a>(guard: &'a mut Self::Guard<'g>, _: Token) -> Self::Data<'a>
    where
        Self: 'g;
    #[doc(hidden)]
    #[track_caller]
    fn cl_acquire(&self, _: Token) -> Self::Guard<'_>;
    #[doc(hidden)]
    #[track_caller]
    fn cl_try_acquire(&self, _: Token) -> Option<Self::Guard<'_>>;
    #[doc(hidden)]
    #[track_caller]
    fn cl_acquire_timeout(&self, timeout: Duration, _: Token) -> Option<Self::Guard<'_>>;
    #[doc(hidden)]
    #[track_caller]
    fn cl_acquire_deadline(&self, deadline: Instant, _: Token) -> Option<Self::Guard<'_>>;
    /// Whether `guard` is a guard of this very lock.
    #[doc(hidden)]
    fn cl_is_guard_of(&self, guard: &Self::Guard<'_>, _: Token) -> bool;
    /// Whether the lock is held in a way a guard of it can rely on (an RLock: by the caller).
    #[doc(hidden)]
    fn cl_is_held(&self, _: Token) -> bool;
    /// Releases the lock completely and returns what [`cl_acquire_restore`] needs to put it back.
    ///
    /// # Safety
    ///
    /// The caller holds the lock through a guard of it that it borrows exclusively (so no
    /// reference to guarded data is alive), and calls `cl_acquire_restore` with the result before
    /// that guard is used again.
    #[doc(hidden)]
    unsafe fn cl_release_save(&self, _: Token) -> usize;
    /// Acquires the lock again (blocking) and restores the state `cl_release_save` saved.
    #[doc(hidden)]
    #[track_caller]
    fn cl_acquire_restore(&self, saved: usize, _: Token);
    /// The key of the lock word threads wait on (notified waiters are moved there).
    #[doc(hidden)]
    fn cl_park_key(&self, _: Token) -> usize;
    /// Under the bucket locks: marks the lock word as having parked threads if it is locked.
    #[doc(hidden)]
    fn cl_mark_parked_if_locked(&self, _: Token) -> bool;
    /// Under the bucket lock: a waiter moved onto the lock's queue timed out there.
    #[doc(hidden)]
    fn cl_requeued_timed_out(&self, was_last: bool, _: Token);
    /// The lock was handed to the calling thread by its release: restore what
    /// `cl_release_save` saved without acquiring again.
    #[doc(hidden)]
    #[track_caller]
    fn cl_restore_handed_off(&self, saved: usize, _: Token);
}

impl<T: ?Sized> sealed::Sealed for Lock<T> {
    fn cl_diag(&self, token: usize, _: Token) -> CondLock {
        cond_lock(self, None, token)
    }
}

/// A Condition waiter's view of `lock` (an RLock's inner lock with its `count`).
fn cond_lock<T: ?Sized>(lock: &Lock<T>, count: Option<&AtomicUsize>, token: usize) -> CondLock {
    let Target::Object {
        identity,
        holder: Some(holder),
        ..
    } = lock.wait_target(count)
    else {
        unreachable!("a lock's wait target names its holder")
    };
    CondLock {
        identity,
        holder,
        key: lock.park_key(),
        token,
    }
}

impl<T: ?Sized> ConditionLock for Lock<T> {
    type Guard<'a>
        = LockGuard<'a, T>
    where
        Self: 'a;
    type Data<'a>
        = &'a mut T
    where
        Self: 'a;

    #[inline]
    fn cl_data<'a, 'g: 'a>(guard: &'a mut LockGuard<'g, T>, _: Token) -> &'a mut T
    where
        Self: 'g,
    {
        guard
    }
    #[inline]
    fn cl_acquire(&self, _: Token) -> LockGuard<'_, T> {
        self.acquire()
    }
    #[inline]
    fn cl_try_acquire(&self, _: Token) -> Option<LockGuard<'_, T>> {
        self.try_acquire()
    }
    #[inline]
    fn cl_acquire_timeout(&self, timeout: Duration, _: Token) -> Option<LockGuard<'_, T>> {
        self.acquire_timeout(timeout)
    }
    #[inline]
    fn cl_acquire_deadline(&self, deadline: Instant, _: Token) -> Option<LockGuard<'_, T>> {
        self.acquire_deadline(deadline)
    }
    #[inline]
    fn cl_is_guard_of(&self, guard: &LockGuard<'_, T>, _: Token) -> bool {
        std::ptr::eq(guard.lock(), self)
    }
    #[inline]
    fn cl_is_held(&self, _: Token) -> bool {
        self.locked()
    }
    #[inline]
    unsafe fn cl_release_save(&self, _: Token) -> usize {
        // SAFETY: the caller holds the lock through a guard it borrows exclusively (this
        // method's contract), so no reference to the data is alive until `cl_acquire_restore`.
        // An error would mean someone released a plain lock behind the guard's back; it is
        // unlocked either way.
        let _ = unsafe { self.raw_release() };
        0
    }
    #[inline]
    #[track_caller]
    fn cl_acquire_restore(&self, _saved: usize, _: Token) {
        self.raw_reacquire_counted(None, None);
    }
    #[inline]
    fn cl_park_key(&self, _: Token) -> usize {
        self.park_key()
    }
    #[inline]
    fn cl_mark_parked_if_locked(&self, _: Token) -> bool {
        self.mark_parked_if_locked()
    }
    #[inline]
    fn cl_requeued_timed_out(&self, was_last: bool, _: Token) {
        self.requeued_timed_out(was_last);
    }
    #[inline]
    #[track_caller]
    fn cl_restore_handed_off(&self, _saved: usize, _: Token) {
        self.finish_handoff();
    }
}

impl<T: ?Sized> sealed::Sealed for RLock<T> {
    fn cl_diag(&self, token: usize, _: Token) -> CondLock {
        cond_lock(self.raw_lock(), Some(self.count_word()), token)
    }
}

impl<T: ?Sized> ConditionLock for RLock<T> {
    type Guard<'a>
        = RLockGuard<'a, T>
    where
        Self: 'a;
    type Data<'a>
        = &'a T
    where
        Self: 'a;

    #[inline]
    fn cl_data<'a, 'g: 'a>(guard: &'a mut RLockGuard<'g, T>, _: Token) -> &'a T
    where
        Self: 'g,
    {
        guard
    }
    #[inline]
    fn cl_acquire(&self, _: Token) -> RLockGuard<'_, T> {
        self.acquire()
    }
    #[inline]
    fn cl_try_acquire(&self, _: Token) -> Option<RLockGuard<'_, T>> {
        self.try_acquire()
    }
    #[inline]
    fn cl_acquire_timeout(&self, timeout: Duration, _: Token) -> Option<RLockGuard<'_, T>> {
        self.acquire_timeout(timeout)
    }
    #[inline]
    fn cl_acquire_deadline(&self, deadline: Instant, _: Token) -> Option<RLockGuard<'_, T>> {
        self.acquire_deadline(deadline)
    }
    #[inline]
    fn cl_is_guard_of(&self, guard: &RLockGuard<'_, T>, _: Token) -> bool {
        self.is_guard_of(guard)
    }
    #[inline]
    fn cl_is_held(&self, _: Token) -> bool {
        self.is_owned()
    }
    #[inline]
    unsafe fn cl_release_save(&self, _: Token) -> usize {
        self.release_save()
    }
    #[inline]
    #[track_caller]
    fn cl_acquire_restore(&self, saved: usize, _: Token) {
        self.acquire_restore(saved);
    }
    #[inline]
    fn cl_park_key(&self, _: Token) -> usize {
        self.raw_lock().park_key()
    }
    #[inline]
    fn cl_mark_parked_if_locked(&self, _: Token) -> bool {
        self.raw_lock().mark_parked_if_locked()
    }
    #[inline]
    fn cl_requeued_timed_out(&self, was_last: bool, _: Token) {
        self.raw_lock().requeued_timed_out(was_last);
    }
    #[inline]
    #[track_caller]
    fn cl_restore_handed_off(&self, saved: usize, _: Token) {
        self.restore_after_handoff(saved);
    }
}

/// `Arc<L>` and `&L` work as `L` does, so several conditions can share one lock.
macro_rules! forward_condition_lock {
    ($($ptr:ty),*) => {$(
        impl<L: ConditionLock + ?Sized> sealed::Sealed for $ptr {
            fn cl_diag(&self, token: usize, t: Token) -> CondLock {
                (**self).cl_diag(token, t)
            }
        }

        impl<L: ConditionLock + ?Sized> ConditionLock for $ptr {
            type Guard<'a>
                = L::Guard<'a>
            where
                Self: 'a;
            type Data<'a>
                = L::Data<'a>
            where
                Self: 'a;

            #[inline]
            fn cl_data<'a, 'g: 'a>(guard: &'a mut L::Guard<'g>, t: Token) -> L::Data<'a>
            where
                Self: 'g,
            {
                L::cl_data(guard, t)
            }

            #[inline]
            fn cl_acquire(&self, t: Token) -> L::Guard<'_> {
                (**self).cl_acquire(t)
            }
            #[inline]
            fn cl_try_acquire(&self, t: Token) -> Option<L::Guard<'_>> {
                (**self).cl_try_acquire(t)
            }
            #[inline]
            fn cl_acquire_timeout(&self, timeout: Duration, t: Token) -> Option<L::Guard<'_>> {
                (**self).cl_acquire_timeout(timeout, t)
            }
            #[inline]
            fn cl_acquire_deadline(&self, deadline: Instant, t: Token) -> Option<L::Guard<'_>> {
                (**self).cl_acquire_deadline(deadline, t)
            }
            #[inline]
            fn cl_is_guard_of(&self, guard: &L::Guard<'_>, t: Token) -> bool {
                (**self).cl_is_guard_of(guard, t)
            }
            #[inline]
            fn cl_is_held(&self, t: Token) -> bool {
                (**self).cl_is_held(t)
            }
            #[inline]
            unsafe fn cl_release_save(&self, t: Token) -> usize {
                // SAFETY: the caller's contract is passed on unchanged.
                unsafe { (**self).cl_release_save(t) }
            }
            #[inline]
            #[track_caller]
            fn cl_acquire_restore(&self, saved: usize, t: Token) {
                (**self).cl_acquire_restore(saved, t);
            }
            #[inline]
            fn cl_park_key(&self, t: Token) -> usize {
                (**self).cl_park_key(t)
            }
            #[inline]
            fn cl_mark_parked_if_locked(&self, t: Token) -> bool {
                (**self).cl_mark_parked_if_locked(t)
            }
            #[inline]
            fn cl_requeued_timed_out(&self, was_last: bool, t: Token) {
                (**self).cl_requeued_timed_out(was_last, t);
            }
            #[inline]
            #[track_caller]
            fn cl_restore_handed_off(&self, saved: usize, t: Token) {
                (**self).cl_restore_handed_off(saved, t);
            }
        }
    )*};
}

forward_condition_lock!(Arc<L>, &L);

/// A condition variable: Python's `threading.Condition`.
///
/// A `Condition` owns a lock (an [`RLock`] by default, as in Python; any [`ConditionLock`]) and
/// lets threads holding that lock sleep until another thread changes some shared state and
/// notifies them. [`acquire`](Self::acquire) locks the condition's lock and returns that lock's
/// own guard (Python's `with cond:`); [`wait`](Self::wait) takes that guard, releases the lock
/// while it sleeps, and holds the lock again when it returns;
/// [`notify`](Self::notify) / [`notify_all`](Self::notify_all) wake waiters.
/// [`wait_for`](Self::wait_for) loops until a predicate holds.
///
/// Guarantees:
/// - **No spurious wake-ups.** A wait returns only because it was notified or, for the timed
///   waits, because its time ran out. (Predicates are still the robust style: another thread
///   may change the state between the notify and the waiter's return.)
/// - **FIFO.** `notify(n)` wakes the `n` threads that have waited longest, and exactly
///   `min(n, waiting)` of them; a waiter whose timeout expired is no longer counted.
/// - A woken waiter returns only once it holds the lock again, so it sees everything the
///   notifier wrote before releasing the lock.
/// - Over an `RLock`, a wait releases every level the thread holds and restores the whole
///   recursion depth before returning.
///
/// # Differences from Python
///
/// - `wait` and `notify` take the lock's guard as proof that the caller holds the lock, so
///   Python's `RuntimeError("cannot wait on un-acquired lock")` and `"cannot notify on
///   un-acquired lock"` become compile errors. Passing a guard of a *different* lock panics.
///   This also fixes a Python quirk: with a plain `Lock`, Python accepts a `notify` from any
///   thread while some other thread holds the lock.
/// - `wait()` returns `()`: without a timeout it can only return when notified.
///   `wait(timeout)` is [`wait_timeout`](Self::wait_timeout), returning Python's `bool`.
/// - `wait_for(predicate, timeout)` is [`wait_for`](Self::wait_for) /
///   [`wait_for_timeout`](Self::wait_for_timeout); the predicate returns a `bool` (Python
///   accepts any truthy value and returns it) and receives the guarded data (`&mut T` for a
///   `Condition<Lock<T>>`, as std's `wait_while`). The untimed `wait_for` returns `()`.
/// - `notify` and `notify_all` return how many threads they woke; `notifyAll` is
///   [`notify_all`](Self::notify_all).
/// - `release()` is dropping the guard (or, for explicit code, `cond.lock().release()`).
/// - Waits are not interrupted by signals. A zero timeout still releases and re-acquires the
///   lock, as in Python.
///
/// # Size
///
/// One word (the waiter count), the [identity](crate::diagnostics::ObjectInfo) for diagnostics
/// (24 bytes: kind and id, creation site, name pointer), a pointer to who last notified
/// waiters (allocated by the first `notify` that wakes somebody), plus the lock
/// (`Condition<Lock>` is 80 bytes, 16 before diagnostics).
///
/// # Memory ordering
///
/// Everything that happens under the lock is ordered by the lock. A waiter woken by a notify
/// returns after re-acquiring the lock, so everything the notifier did before releasing it
/// happens-before the waiter's return.
///
/// # Examples
///
/// The seed's consumers and producer, with the data inside the lock:
///
/// ```
/// use std::sync::Arc;
/// use threadkit::{Condition, Lock};
///
/// let cond = Arc::new(Condition::with_lock(Lock::with_value(None)));
/// let consumer = std::thread::spawn({
///     let cond = Arc::clone(&cond);
///     move || {
///         let mut resource = cond.acquire();
///         cond.wait_for(&mut resource, |r| r.is_some());
///         resource.take().unwrap()
///     }
/// });
/// {
///     let mut resource = cond.acquire();
///     *resource = Some("available");
///     cond.notify_all(&resource);
/// }
/// assert_eq!(consumer.join().unwrap(), "available");
/// ```
pub struct Condition<L = RLock> {
    /// How many threads are parked on this condition; its address is their parking key. Only
    /// changed under the parking lot's bucket lock, so it always equals the queue's length.
    waiters: AtomicUsize,
    identity: Identity,
    /// Who last woke waiters (diagnostics only).
    last: LastSignal,
    lock: L,
}

crate::identity::diagnosable!([L] Condition<L>, |c| &c.identity);

impl Condition<RLock> {
    /// Creates a condition over a new [`RLock`], as Python's `threading.Condition()`.
    ///
    /// `const`, so a condition can be a `static`.
    ///
    /// # Examples
    ///
    /// ```
    /// static COND: threadkit::Condition = threadkit::Condition::new();
    /// let g = COND.acquire();
    /// let g2 = COND.acquire(); // re-entrant, like Python's default
    /// assert_eq!(COND.lock().recursion_count(), 2);
    /// # drop((g, g2));
    /// ```
    #[cfg(not(loom))]
    #[track_caller]
    pub const fn new() -> Self {
        Condition::with_lock(RLock::new())
    }

    /// Creates a condition over a new [`RLock`] (loom build).
    #[cfg(loom)]
    #[track_caller]
    pub fn new() -> Self {
        Condition::with_lock(RLock::new())
    }

    /// Creates a condition over a new [`RLock`], with a name for
    /// [thread dumps](crate::diagnostics); the lock is named `"<name>.lock"`.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = threadkit::Condition::named("buf-not-empty");
    /// assert_eq!(cond.name(), Some("buf-not-empty"));
    /// assert_eq!(cond.lock().name(), Some("buf-not-empty.lock"));
    /// ```
    #[track_caller]
    pub fn named(name: impl Into<String>) -> Self {
        let name = name.into();
        let lock = RLock::named(format!("{name}.lock"));
        Condition::with_lock_named(name, lock)
    }
}

impl<L> Condition<L> {
    /// Creates a condition over `lock`: Python's `threading.Condition(lock)`.
    ///
    /// Pass an `Arc` (or a reference) to share one lock between several conditions, as
    /// Python's `queue.Queue` does with its `not_empty` and `not_full` conditions.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use threadkit::{Condition, Lock};
    ///
    /// let mutex = Arc::new(Lock::with_value(Vec::<i32>::new()));
    /// let not_empty = Condition::with_lock(Arc::clone(&mutex));
    /// let not_full = Condition::with_lock(Arc::clone(&mutex));
    /// let mut items = not_full.acquire();
    /// items.push(1);
    /// not_empty.notify(&items, 1); // the guard of the shared lock serves both
    /// ```
    #[cfg(not(loom))]
    #[track_caller]
    pub const fn with_lock(lock: L) -> Self {
        Condition {
            waiters: AtomicUsize::new(0),
            identity: Identity::new(ObjectKind::Condition, crate::identity::caller()),
            last: LastSignal::new(),
            lock,
        }
    }

    /// Creates a condition over `lock` (loom build).
    #[cfg(loom)]
    #[track_caller]
    pub fn with_lock(lock: L) -> Self {
        Condition {
            waiters: AtomicUsize::new(0),
            identity: Identity::new(ObjectKind::Condition, crate::identity::caller()),
            last: LastSignal::new(),
            lock,
        }
    }

    /// Creates a condition over `lock` with a name for [thread dumps](crate::diagnostics) (an
    /// unnamed one is shown by its creation site).
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::{Condition, Lock};
    ///
    /// let not_full = Condition::with_lock_named("not-full", Lock::named("buf"));
    /// assert_eq!(not_full.name(), Some("not-full"));
    /// ```
    #[track_caller]
    pub fn with_lock_named(name: impl Into<String>, lock: L) -> Self {
        Condition {
            waiters: AtomicUsize::new(0),
            identity: Identity::named(ObjectKind::Condition, name, Location::caller()),
            last: LastSignal::new(),
            lock,
        }
    }

    /// The name given with [`Condition::named`] or [`Condition::with_lock_named`], if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(threadkit::Condition::new().name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.identity.name()
    }

    /// The condition's lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = threadkit::Condition::new();
    /// let _g = cond.acquire();
    /// assert!(cond.lock().locked());
    /// ```
    pub fn lock(&self) -> &L {
        &self.lock
    }

    /// Consumes the condition and returns its lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = threadkit::Condition::with_lock(threadkit::Lock::with_value(3));
    /// assert_eq!(cond.into_inner().into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> L {
        self.lock
    }

    /// The parking key: the address of the condition's own state word.
    #[inline]
    fn key(&self) -> usize {
        &self.waiters as *const AtomicUsize as usize
    }
}

impl<L: ConditionLock> Condition<L> {
    /// Acquires the condition's lock, blocking, and returns the lock's guard (Python's
    /// `cond.acquire()` and `with cond:`).
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = threadkit::Condition::with_lock(threadkit::Lock::with_value(1));
    /// *cond.acquire() += 1;
    /// assert_eq!(*cond.acquire(), 2);
    /// ```
    #[inline]
    #[track_caller]
    pub fn acquire(&self) -> L::Guard<'_> {
        self.lock.cl_acquire(Token(()))
    }

    /// Acquires the condition's lock if that needs no waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = threadkit::Condition::with_lock(threadkit::Lock::new());
    /// let _g = cond.acquire();
    /// assert!(cond.try_acquire().is_none());
    /// ```
    #[inline]
    #[track_caller]
    pub fn try_acquire(&self) -> Option<L::Guard<'_>> {
        self.lock.cl_try_acquire(Token(()))
    }

    /// Acquires the condition's lock, waiting at most `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let cond = threadkit::Condition::new();
    /// assert!(cond.acquire_timeout(Duration::from_millis(10)).is_some());
    /// ```
    #[inline]
    #[track_caller]
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<L::Guard<'_>> {
        self.lock.cl_acquire_timeout(timeout, Token(()))
    }

    /// Acquires the condition's lock, waiting until `deadline` at the latest.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let cond = threadkit::Condition::new();
    /// assert!(cond.acquire_deadline(Instant::now() + Duration::from_secs(1)).is_some());
    /// ```
    #[inline]
    #[track_caller]
    pub fn acquire_deadline(&self, deadline: Instant) -> Option<L::Guard<'_>> {
        self.lock.cl_acquire_deadline(deadline, Token(()))
    }

    /// Releases the lock, sleeps until notified, and re-acquires the lock before returning:
    /// Python's `cond.wait()`.
    ///
    /// `guard` must be a guard of this condition's lock. Over an [`RLock`], every level the
    /// thread holds is released during the wait and restored afterwards, so outer guards stay
    /// valid. Returns only after a [`notify`](Self::notify) or
    /// [`notify_all`](Self::notify_all) picked this thread (no spurious wake-ups).
    ///
    /// # Panics
    ///
    /// If `guard` is not a guard of this condition's lock, or the lock is no longer held through
    /// it (an explicit `release` behind the guard's back).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use threadkit::{Condition, Lock};
    ///
    /// let cond = Arc::new(Condition::with_lock(Lock::with_value(false)));
    /// let c2 = Arc::clone(&cond);
    /// let waiter = std::thread::spawn(move || {
    ///     let mut ready = c2.acquire();
    ///     while !*ready {
    ///         c2.wait(&mut ready);
    ///     }
    /// });
    /// let mut ready = cond.acquire();
    /// *ready = true;
    /// cond.notify_all(&ready);
    /// drop(ready);
    /// waiter.join().unwrap();
    /// ```
    ///
    /// Keeping a reference into the guarded data across a wait (when the lock is released) does
    /// not compile:
    ///
    /// ```compile_fail
    /// let cond = threadkit::Condition::with_lock(threadkit::Lock::with_value(vec![1]));
    /// let mut g = cond.acquire();
    /// let first = &g[0];
    /// cond.wait(&mut g);
    /// println!("{first}");
    /// ```
    #[track_caller]
    pub fn wait(&self, guard: &mut L::Guard<'_>) {
        self.check(guard, "wait");
        self.wait_until(None);
    }

    /// As [`wait`](Self::wait), giving up after `timeout`; returns `true` if notified, `false`
    /// if the time ran out (Python's `cond.wait(timeout)`). Either way the lock is held again
    /// when it returns.
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let cond = threadkit::Condition::new();
    /// let mut g = cond.acquire();
    /// assert!(!cond.wait_timeout(&mut g, Duration::from_millis(10)));
    /// assert!(cond.lock().is_owned());
    /// ```
    #[track_caller]
    pub fn wait_timeout(&self, guard: &mut L::Guard<'_>, timeout: Duration) -> bool {
        self.check(guard, "wait");
        self.wait_until(wait::deadline_after(timeout))
    }

    /// As [`wait`](Self::wait), giving up at `deadline`; returns `true` if notified.
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let cond = threadkit::Condition::new();
    /// let mut g = cond.acquire();
    /// assert!(!cond.wait_deadline(&mut g, Instant::now() + Duration::from_millis(10)));
    /// ```
    #[track_caller]
    pub fn wait_deadline(&self, guard: &mut L::Guard<'_>, deadline: Instant) -> bool {
        self.check(guard, "wait");
        self.wait_until(Some(deadline))
    }

    /// Waits until `predicate` returns `true`: Python's `cond.wait_for(predicate)`, std's
    /// `Condvar::wait_while` with the predicate the other way round.
    ///
    /// The predicate runs with the lock held and gets the data the lock guards: `&mut T` for a
    /// [`Lock<T>`](Lock) (as std's and parking_lot's `wait_while`), `&T` for an
    /// [`RLock<T>`](RLock) (see [`ConditionLock::Data`]); a plain lock's predicate gets `&mut ()`
    /// and reads whatever state it captured. If it is already true, there is no wait at all.
    /// Returns nothing: without a timeout it can only return once the predicate holds (Python's
    /// call returns the predicate's value, which is then always true).
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait), and if `predicate` panics (the lock is then held again and the
    /// thread no longer waits; dropping the guard during unwinding releases it).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use threadkit::{Condition, Lock};
    ///
    /// let cond = Arc::new(Condition::with_lock(Lock::with_value(0)));
    /// let c2 = Arc::clone(&cond);
    /// let t = std::thread::spawn(move || {
    ///     for _ in 0..4 {
    ///         let mut state = c2.acquire();
    ///         *state += 1;
    ///         c2.notify(&state, 1);
    ///     }
    /// });
    /// let mut state = cond.acquire();
    /// cond.wait_for(&mut state, |s| *s == 4);
    /// assert_eq!(*state, 4);
    /// # drop(state);
    /// # t.join().unwrap();
    /// ```
    #[track_caller]
    pub fn wait_for(&self, guard: &mut L::Guard<'_>, predicate: impl FnMut(L::Data<'_>) -> bool) {
        self.check(guard, "wait");
        self.wait_for_until(guard, predicate, None);
    }

    /// As [`wait_for`](Self::wait_for), giving up after `timeout` in all (one deadline for the
    /// whole loop, however many times the thread wakes); returns the predicate's last value
    /// (Python's `cond.wait_for(predicate, timeout)`).
    ///
    /// # Panics
    ///
    /// As [`wait_for`](Self::wait_for).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let cond = threadkit::Condition::with_lock(threadkit::Lock::with_value(0));
    /// let mut state = cond.acquire();
    /// assert!(!cond.wait_for_timeout(&mut state, |s| *s == 4, Duration::from_millis(10)));
    /// ```
    #[track_caller]
    pub fn wait_for_timeout(
        &self,
        guard: &mut L::Guard<'_>,
        predicate: impl FnMut(L::Data<'_>) -> bool,
        timeout: Duration,
    ) -> bool {
        self.check(guard, "wait");
        self.wait_for_until(guard, predicate, wait::deadline_after(timeout))
    }

    /// As [`wait_for`](Self::wait_for), giving up at `deadline`; returns the predicate's last
    /// value.
    ///
    /// # Panics
    ///
    /// As [`wait_for`](Self::wait_for).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let cond = threadkit::Condition::with_lock(threadkit::Lock::with_value(4));
    /// let mut state = cond.acquire();
    /// let deadline = Instant::now() + Duration::from_secs(1);
    /// assert!(cond.wait_for_deadline(&mut state, |s| *s == 4, deadline)); // no wait
    /// ```
    #[track_caller]
    pub fn wait_for_deadline(
        &self,
        guard: &mut L::Guard<'_>,
        predicate: impl FnMut(L::Data<'_>) -> bool,
        deadline: Instant,
    ) -> bool {
        self.check(guard, "wait");
        self.wait_for_until(guard, predicate, Some(deadline))
    }

    /// Wakes up to `n` threads waiting on this condition, those that have waited longest
    /// first, and returns how many it woke: Python's `cond.notify(n)`.
    ///
    /// The woken threads return from their waits once they get the lock, which the caller holds
    /// (it passes its guard) until it drops the guard. With nobody waiting this is one load: no
    /// system call, no queue lock.
    ///
    /// # Panics
    ///
    /// If `guard` is not a guard of this condition's lock, or the lock is no longer held through
    /// it.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = threadkit::Condition::new();
    /// let g = cond.acquire();
    /// assert_eq!(cond.notify(&g, 1), 0); // nobody waiting
    /// ```
    #[track_caller]
    pub fn notify(&self, guard: &L::Guard<'_>, n: usize) -> usize {
        self.check(guard, "notify");
        self.wake(n, Location::caller())
    }

    /// Wakes every thread waiting on this condition and returns how many it woke: Python's
    /// `cond.notify_all()`.
    ///
    /// # Panics
    ///
    /// As [`notify`](Self::notify).
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = threadkit::Condition::new();
    /// let g = cond.acquire();
    /// assert_eq!(cond.notify_all(&g), 0);
    /// ```
    #[track_caller]
    #[doc(alias = "notifyAll")]
    pub fn notify_all(&self, guard: &L::Guard<'_>) -> usize {
        self.check(guard, "notify");
        self.wake(usize::MAX, Location::caller())
    }

    // ----- internals -----

    /// Panics unless `guard` holds this condition's lock.
    #[inline]
    #[track_caller]
    fn check(&self, guard: &L::Guard<'_>, what: &'static str) {
        if !self.lock.cl_is_guard_of(guard, Token(())) {
            foreign_guard(what);
        }
        if !self.lock.cl_is_held(Token(())) {
            unheld_guard(what);
        }
    }

    /// Parks until notified or `deadline`; the lock (checked held by the caller) is released
    /// while parked and held again on return. Returns whether a notify woke the thread.
    #[track_caller]
    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        let mut saved = None;
        let validate = || {
            // Under the bucket lock, and before this thread releases the condition's lock: a
            // notifier (who needs that lock) reads the count only after this thread is queued.
            self.waiters.fetch_add(1, Ordering::Relaxed);
            true
        };
        let before_sleep = || {
            // SAFETY: `check` made sure the lock is held through the caller's guard, which the
            // public wait methods borrow exclusively for the whole wait; `cl_acquire_restore`
            // runs below before they return.
            saved = Some(unsafe { self.lock.cl_release_save(Token(())) });
        };
        let lock_key = self.lock.cl_park_key(Token(()));
        let notified_then_timed_out = std::cell::Cell::new(false);
        let timed_out = |key, was_last| {
            if key == lock_key {
                // Notified and moved onto the lock's queue, then the deadline passed there: the
                // notification stands; the lock is taken below, as after any notify.
                self.lock.cl_requeued_timed_out(was_last, Token(()));
                notified_then_timed_out.set(true);
            } else {
                // Under the bucket lock: the thread has left the queue and must leave the count.
                self.waiters.fetch_sub(1, Ordering::Relaxed);
            }
        };
        // Parked with this thread's identifier as its token (never 0, the lock's own waiters'
        // token): a thread dump finds it by that on the lock's queue once a notify has moved it
        // there, and shows it as taking the lock back.
        let token = crate::thread::ident::current() as usize;
        let result = wait::park_for(
            WaitKind::Condition,
            // Built when a thread dump looks (`Self::wait_target`): two words per wait.
            Target::Deferred {
                object: (self as *const Self).cast(),
                view: Self::wait_target,
            },
            self.key(),
            validate,
            before_sleep,
            timed_out,
            ParkToken(token),
            deadline,
        );
        // `saved` is `None` only if the thread never went to sleep (validate never fails, so
        // this is defence in depth): the lock was never released.
        if let Some(saved) = saved {
            if result == ParkResult::Unparked(TOKEN_HANDOFF) {
                // Moved onto the lock's queue by notify, then handed the lock by its release:
                // this takes nothing and never blocks, so there is no re-acquire to mark.
                self.lock.cl_restore_handed_off(saved, Token(()));
            } else {
                let _reacquiring = record::reacquiring(&self.identity);
                self.lock.cl_acquire_restore(saved, Token(()));
            }
        }
        matches!(result, ParkResult::Unparked(_)) || notified_then_timed_out.get()
    }

    /// What a waiter of the Condition at `cond` waits on, for a reader of its record
    /// (`Target::Deferred`): the Condition, who last notified, and the lock a notified waiter
    /// takes back, where the waiter sleeps with its identifier as its park token.
    ///
    /// # Safety
    ///
    /// `cond` points to a live `Condition<L>` (the one the waiter published).
    unsafe fn wait_target(cond: *const (), waiter: u64) -> Target {
        // SAFETY: the caller's contract.
        let cond = unsafe { &*cond.cast::<Self>() };
        Target::Signal {
            identity: &cond.identity,
            last: &cond.last,
            lock: Some(cond.lock.cl_diag(waiter as usize, Token(()))),
        }
    }

    /// The `wait_for` loop against one deadline (`None`: forever).
    #[track_caller]
    fn wait_for_until(
        &self,
        guard: &mut L::Guard<'_>,
        mut predicate: impl FnMut(L::Data<'_>) -> bool,
        deadline: Option<Instant>,
    ) -> bool {
        loop {
            if predicate(L::cl_data(guard, Token(()))) {
                return true;
            }
            // An interrupted thread stops as at its deadline (see `crate::interrupt`).
            if wait::expired(deadline) {
                return false;
            }
            self.wait_until(deadline);
        }
    }

    /// Wakes up to `n` waiters, oldest first; returns how many.
    #[inline]
    fn wake(&self, n: usize, site: &'static Location<'static>) -> usize {
        // The caller holds the lock, and every waiter counted itself before releasing it, so a
        // zero here means nobody is queued.
        if n == 0 || self.waiters.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        self.wake_slow(n, site)
    }

    /// Notified waiters are not woken here: they are moved onto the lock's queue (the notifier
    /// holds the lock) and wake once, when it is released, rather than waking only to block on
    /// the lock again (parking_lot's Condvar does the same). If the lock is not locked (a plain
    /// lock released behind the guard's back) they are woken directly.
    #[cold]
    fn wake_slow(&self, n: usize, site: &'static Location<'static>) -> usize {
        let lock_key = self.lock.cl_park_key(Token(()));
        let mut moved = 0;
        while moved < n {
            let validate = || {
                if self.lock.cl_mark_parked_if_locked(Token(())) {
                    if n == usize::MAX {
                        RequeueOp::RequeueAll
                    } else {
                        RequeueOp::RequeueOne
                    }
                } else {
                    RequeueOp::UnparkOne
                }
            };
            let callback = |_op, result: UnparkResult| {
                // Under the bucket locks: the moved threads leave the count.
                self.waiters.fetch_sub(
                    result.unparked_threads + result.requeued_threads,
                    Ordering::Relaxed,
                );
                TOKEN_NOTIFIED
            };
            let result = wait::unpark_requeue(self.key(), lock_key, validate, callback);
            let step = result.unparked_threads + result.requeued_threads;
            if step == 0 {
                break;
            }
            moved += step;
        }
        #[cfg(not(loom))]
        if moved != 0 {
            self.last.record(site);
        }
        #[cfg(loom)]
        let _ = site;
        moved
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn foreign_guard(what: &str) -> ! {
    panic!("cannot {what} on un-acquired lock: the guard belongs to a different lock than this Condition's")
}

#[cold]
#[inline(never)]
#[track_caller]
fn unheld_guard(what: &str) -> ! {
    panic!("cannot {what} on un-acquired lock: the lock was released behind the guard's back")
}

impl Default for Condition<RLock> {
    fn default() -> Self {
        Condition::new()
    }
}

impl<L: fmt::Debug> fmt::Debug for Condition<L> {
    /// Like CPython's repr, `<Condition(<lock>, <waiters>)>`: the lock's state and how many
    /// threads wait.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("lock", &self.lock)
            .field("waiters", &self.waiters.load(Ordering::Relaxed))
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn size_is_lock_plus_one_word_and_an_identity() {
        // 16 and 24 bytes before diagnostics: the lock grew, the identity is 24 bytes and the
        // last notifier's pointer 8.
        assert_eq!(std::mem::size_of::<Condition<Lock>>(), 80);
        assert_eq!(std::mem::size_of::<Condition>(), 88);
    }

    #[test]
    fn waiter_count_follows_timeouts() {
        let cond = Condition::with_lock(Lock::new());
        let mut g = cond.acquire();
        assert!(!cond.wait_timeout(&mut g, Duration::from_millis(1)));
        assert_eq!(cond.waiters.load(Ordering::Relaxed), 0);
        assert!(!cond.wait_timeout(&mut g, Duration::ZERO));
        assert_eq!(cond.waiters.load(Ordering::Relaxed), 0);
        assert!(cond.lock().locked());
    }

    #[test]
    fn notify_counts_and_leaves_count_exact() {
        let cond = Arc::new(Condition::with_lock(Lock::with_value(0usize)));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let cond = Arc::clone(&cond);
                std::thread::spawn(move || {
                    let mut g = cond.acquire();
                    *g += 1;
                    cond.wait(&mut g);
                })
            })
            .collect();
        // Wait until all three are parked (they count themselves under the lock).
        loop {
            let g = cond.acquire();
            if *g == 3 && cond.waiters.load(Ordering::Relaxed) == 3 {
                break;
            }
            drop(g);
            std::thread::yield_now();
        }
        let g = cond.acquire();
        assert_eq!(cond.notify(&g, 2), 2);
        assert_eq!(cond.waiters.load(Ordering::Relaxed), 1);
        assert_eq!(cond.notify_all(&g), 1);
        assert_eq!(cond.waiters.load(Ordering::Relaxed), 0);
        assert_eq!(cond.notify_all(&g), 0);
        drop(g);
        for t in threads {
            t.join().unwrap();
        }
    }

    #[test]
    fn debug_shows_lock_and_waiters() {
        let cond = Condition::new();
        assert_eq!(
            format!("{cond:?}"),
            "Condition { lock: RLock { state: unlocked, count: 0, data: () }, waiters: 0 }"
        );
    }
}
