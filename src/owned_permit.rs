//! [`OwnedSemaphorePermit`]: a permit that owns an `Arc` of its semaphore, for pools that hand
//! permits to other threads or keep them inside the resources they guard.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::semaphore::{BoundedSemaphore, Semaphore};

/// A permit of a [`Semaphore`] or [`BoundedSemaphore`] held through an [`Arc`]: `'static`, so it
/// can be stored in a struct, returned from a function or moved into a thread, and gives the
/// permit back when dropped. tokio's `OwnedSemaphorePermit`.
///
/// Made by [`Semaphore::acquire_owned`] and its `try_` / `_timeout` / `_deadline` siblings
/// (and the same methods of [`BoundedSemaphore`]), which take `self: Arc<Self>`: clone the `Arc`
/// first if you need it again (`Arc::clone(&sem).acquire_owned()`).
///
/// # Differences from Python
///
/// Python needs no owned permit: any object may hold on to a semaphore and call `release()`
/// later. This is the Rust shape of that pattern, a guard that keeps its semaphore alive through
/// the `Arc`; [`forget`](Self::forget) plus a later `release` is the explicit Python style.
///
/// # Examples
///
/// A connection pool whose connections carry their permit, so returning a connection is
/// dropping it:
///
/// ```
/// use std::sync::Arc;
/// use threadkit::{BoundedSemaphore, OwnedSemaphorePermit};
///
/// struct Connection {
///     id: usize,
///     _permit: OwnedSemaphorePermit,
/// }
///
/// struct Pool {
///     slots: Arc<BoundedSemaphore>,
/// }
///
/// impl Pool {
///     fn connect(&self, id: usize) -> Connection {
///         Connection { id, _permit: Arc::clone(&self.slots).acquire_owned() }
///     }
/// }
///
/// let pool = Pool { slots: Arc::new(BoundedSemaphore::new(2)) };
/// let a = pool.connect(1);
/// let b = std::thread::spawn({
///     let c = pool.connect(2);
///     move || c.id // the permit travels with the connection
/// });
/// assert_eq!(b.join().unwrap(), 2);
/// assert_eq!(pool.slots.value(), 1); // `b`'s connection was dropped in its thread
/// drop(a);
/// assert_eq!(pool.slots.value(), 2);
/// ```
#[must_use = "dropping the permit gives it back at once: bind it to a named variable \
              (`let _permit = ...`; `let _ = ...` drops it too), or call `forget()` to keep it \
              taken until `release()`"]
pub struct OwnedSemaphorePermit {
    /// `None` once [`forget`](Self::forget) has given up the permit.
    sem: Option<Source>,
}

enum Source {
    Plain(Arc<Semaphore>),
    Bounded(Arc<BoundedSemaphore>),
}

impl OwnedSemaphorePermit {
    /// Gives up the permit without giving it back (the value stays lower until someone calls
    /// `release`), and drops the `Arc`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(threadkit::Semaphore::new(1));
    /// Arc::clone(&sem).acquire_owned().forget();
    /// assert_eq!(sem.value(), 0);
    /// assert_eq!(Arc::strong_count(&sem), 1);
    /// ```
    pub fn forget(mut self) {
        self.sem = None;
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        match &self.sem {
            Some(Source::Plain(sem)) => sem.give_back(),
            Some(Source::Bounded(sem)) => sem.give_back(),
            None => {}
        }
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("OwnedSemaphorePermit");
        match &self.sem {
            Some(Source::Plain(sem)) => d.field("semaphore", &**sem),
            Some(Source::Bounded(sem)) => d.field("semaphore", &**sem),
            None => d.field("semaphore", &format_args!("<forgotten>")),
        };
        d.finish()
    }
}

/// The `_owned` acquire methods of both semaphore types: each takes one permit with the
/// borrowing method of the same name, gives up that borrowing guard and wraps the `Arc`.
macro_rules! owned_acquires {
    ($ty:ident, $variant:ident, $name:literal) => {
        impl $ty {
            /// As [`acquire`](Self::acquire), returning a permit that owns an `Arc` of the
            /// semaphore (`'static`: it may be stored, returned or moved to another thread).
            ///
            /// # Examples
            ///
            /// ```
            /// use std::sync::Arc;
            ///
            #[doc = concat!("let sem = Arc::new(threadkit::", $name, "::new(1));")]
            /// let permit = Arc::clone(&sem).acquire_owned();
            /// let t = std::thread::spawn(move || drop(permit));
            /// t.join().unwrap();
            /// assert_eq!(sem.value(), 1);
            /// ```
            pub fn acquire_owned(self: Arc<Self>) -> OwnedSemaphorePermit {
                self.acquire().forget();
                OwnedSemaphorePermit::new(Source::$variant(self))
            }

            /// As [`try_acquire`](Self::try_acquire), returning an owned permit; the `Arc` is
            /// dropped if no permit was available.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::sync::Arc;
            ///
            #[doc = concat!("let sem = Arc::new(threadkit::", $name, "::new(1));")]
            /// let held = Arc::clone(&sem).try_acquire_owned().unwrap();
            /// assert!(Arc::clone(&sem).try_acquire_owned().is_none());
            /// # drop(held);
            /// ```
            #[must_use = "if unused the permit, when taken, is given back at once: bind it \
                          (`let Some(_permit) = ... else { ... };`)"]
            pub fn try_acquire_owned(self: Arc<Self>) -> Option<OwnedSemaphorePermit> {
                self.try_acquire()?.forget();
                Some(OwnedSemaphorePermit::new(Source::$variant(self)))
            }

            /// As [`acquire_timeout`](Self::acquire_timeout), returning an owned permit; the
            /// `Arc` is dropped if the time ran out.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::sync::Arc;
            /// use std::time::Duration;
            ///
            #[doc = concat!("let sem = Arc::new(threadkit::", $name, "::new(1));")]
            /// let held = Arc::clone(&sem).acquire_timeout_owned(Duration::from_secs(1)).unwrap();
            /// assert!(Arc::clone(&sem).acquire_timeout_owned(Duration::from_millis(10)).is_none());
            /// # drop(held);
            /// ```
            #[must_use = "if unused the permit, when taken, is given back at once: bind it \
                          (`let Some(_permit) = ... else { ... };`)"]
            pub fn acquire_timeout_owned(
                self: Arc<Self>,
                timeout: Duration,
            ) -> Option<OwnedSemaphorePermit> {
                self.acquire_timeout(timeout)?.forget();
                Some(OwnedSemaphorePermit::new(Source::$variant(self)))
            }

            /// As [`acquire_deadline`](Self::acquire_deadline), returning an owned permit; the
            /// `Arc` is dropped if the deadline passed.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::sync::Arc;
            /// use std::time::{Duration, Instant};
            ///
            #[doc = concat!("let sem = Arc::new(threadkit::", $name, "::new(1));")]
            /// let deadline = Instant::now() + Duration::from_secs(1);
            /// assert!(sem.acquire_deadline_owned(deadline).is_some());
            /// ```
            #[must_use = "if unused the permit, when taken, is given back at once: bind it \
                          (`let Some(_permit) = ... else { ... };`)"]
            pub fn acquire_deadline_owned(
                self: Arc<Self>,
                deadline: Instant,
            ) -> Option<OwnedSemaphorePermit> {
                self.acquire_deadline(deadline)?.forget();
                Some(OwnedSemaphorePermit::new(Source::$variant(self)))
            }
        }
    };
}

owned_acquires!(Semaphore, Plain, "Semaphore");
owned_acquires!(BoundedSemaphore, Bounded, "BoundedSemaphore");

impl OwnedSemaphorePermit {
    fn new(source: Source) -> Self {
        OwnedSemaphorePermit { sem: Some(source) }
    }
}
