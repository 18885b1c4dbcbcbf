//! [`LockGuard`]: the proof that a [`Lock`] is held.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use super::Lock;

/// Proof that a [`Lock`] is held; releases it when dropped.
///
/// Dereferences to the guarded value. A guard may be sent to another thread and dropped there:
/// a `Lock` belongs to no thread.
///
/// # Examples
///
/// ```
/// let lock = threadkit::Lock::with_value(String::from("a"));
/// let mut guard = lock.acquire();
/// guard.push('b');
/// drop(guard);
/// assert_eq!(&*lock.acquire(), "ab");
/// ```
#[must_use = "dropping the guard releases the lock at once: bind it to a named variable \
              (`let _guard = ...`; `let _ = ...` drops it too), or call `forget()` to keep a plain \
              lock locked until `release()`"]
pub struct LockGuard<'a, T: ?Sized = ()> {
    pub(super) lock: &'a Lock<T>,
    /// Makes the guard `Send`/`Sync` exactly when `&mut T` is.
    pub(super) _data: PhantomData<&'a mut T>,
}

impl<T: ?Sized> LockGuard<'_, T> {
    /// The lock this guard holds.
    pub(crate) fn lock(&self) -> &Lock<T> {
        self.lock
    }
}

impl LockGuard<'_, ()> {
    /// Gives up the guard without releasing the lock, which stays locked until someone calls
    /// [`Lock::release`]: the Python pattern of a bare `lock.acquire()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::Lock::new();
    /// lock.acquire().forget();
    /// assert!(lock.locked());
    /// lock.release().unwrap();
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl<T: ?Sized> Deref for LockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held, so no other reference to the data exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes this the only access through the guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for LockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds the lock and is going away, so no reference to the data remains.
        // An error means someone released a plain lock behind this guard's back (a logic error
        // Python shares); the lock is left unlocked, which is what the guard wanted.
        let _ = unsafe { self.lock.raw_release() };
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for LockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for LockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
