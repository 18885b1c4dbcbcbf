//! Scoped threads: [`scope`], threadkit's `std::thread::scope`.
//!
//! A thin layer over std's scope: std guarantees that every thread spawned in the scope is
//! joined before [`scope`] returns (which is what lets them borrow), and threadkit makes each of
//! them a threadkit thread (a registered [`Thread`] with a name and a daemon flag, its panic
//! reported to the excepthook, its `Local` values dropped before joiners wake).

use std::fmt;

use super::handle::Thread;
use super::Builder;

/// Creates a scope for spawning threads that borrow from the caller's stack, as
/// `std::thread::scope` does; every thread spawned in it has finished when `scope` returns.
///
/// The threads are threadkit threads: named (`Thread-N`, or [`Builder::spawn_scoped`] for a
/// name), listed by [`enumerate`](crate::enumerate) while they run,
/// [`current_thread`](crate::current_thread) inside them is their own [`Thread`], and a panic
/// that escapes one goes to the [excepthook](crate::set_excepthook).
///
/// # Panics
///
/// If `f` panics, or if a spawned thread panicked and its [`ScopedJoinHandle`] was not joined
/// (after all threads have finished), as `std::thread::scope` does.
///
/// # Differences from Python
///
/// Python has no scoped threads (any thread may use any object); this is Rust's way to let
/// threads borrow. The daemon flag is kept (the creating thread's by default) but changes
/// nothing here: the scope waits for its threads in any case.
///
/// # Examples
///
/// ```
/// let mut counts = vec![0; 4];
/// let words = ["a", "bb", "ccc", "dddd"];
/// threadkit::scope(|s| {
///     for (count, word) in counts.iter_mut().zip(&words) {
///         s.spawn(move || *count = word.len());
///     }
/// });
/// assert_eq!(counts, [1, 2, 3, 4]);
/// ```
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    std::thread::scope(|s| f(Scope::wrap(s)))
}

/// A scope to spawn threads in; see [`scope`].
///
/// # Examples
///
/// ```
/// let data = vec![1, 2, 3];
/// let sum = threadkit::scope(|s| {
///     let h = s.spawn(|| data.iter().sum::<i32>());
///     h.join().unwrap()
/// });
/// assert_eq!(sum, 6);
/// ```
#[repr(transparent)]
pub struct Scope<'scope, 'env> {
    inner: std::thread::Scope<'scope, 'env>,
}

impl<'scope, 'env> Scope<'scope, 'env> {
    fn wrap(s: &'scope std::thread::Scope<'scope, 'env>) -> &'scope Self {
        // SAFETY: `Scope` is a `repr(transparent)` wrapper of std's `Scope`, so the two types
        // have the same layout, and the reference keeps its lifetime.
        unsafe { &*(s as *const std::thread::Scope<'scope, 'env>).cast::<Self>() }
    }

    /// std's scope underneath.
    pub(crate) fn std(&'scope self) -> &'scope std::thread::Scope<'scope, 'env> {
        &self.inner
    }

    /// Spawns a thread in the scope, named `Thread-N` (plus `" (name)"` for a named function),
    /// with the creating thread's daemon flag; the same as `Builder::new().spawn_scoped(s, f)`.
    ///
    /// # Panics
    ///
    /// If the OS cannot create a thread (use [`Builder::spawn_scoped`] to handle that).
    ///
    /// # Examples
    ///
    /// ```
    /// let name = String::from("shared");
    /// threadkit::scope(|s| {
    ///     s.spawn(|| assert_eq!(name, "shared"));
    ///     s.spawn(|| assert!(threadkit::current_thread().name().starts_with("Thread-")));
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        Builder::new()
            .spawn_scoped(self, f)
            .unwrap_or_else(|e| panic!("threadkit::Scope::spawn: {e}"))
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope").finish_non_exhaustive()
    }
}

/// An owned permission to join a scoped thread and take its result; see [`scope`].
///
/// # Examples
///
/// ```
/// threadkit::scope(|s| {
///     let h = threadkit::Builder::new().name("w").spawn_scoped(s, || 7).unwrap();
///     assert_eq!(h.thread().name().as_ref(), "w");
///     assert_eq!(h.join().unwrap(), 7);
/// });
/// ```
pub struct ScopedJoinHandle<'scope, T> {
    thread: Thread,
    inner: std::thread::ScopedJoinHandle<'scope, T>,
}

impl<'scope, T> ScopedJoinHandle<'scope, T> {
    pub(crate) fn new(thread: Thread, inner: std::thread::ScopedJoinHandle<'scope, T>) -> Self {
        ScopedJoinHandle { thread, inner }
    }

    /// The thread's [`Thread`] record.
    ///
    /// # Examples
    ///
    /// ```
    /// threadkit::scope(|s| {
    ///     let h = s.spawn(|| {});
    ///     assert!(h.thread().ident().is_some());
    /// });
    /// ```
    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// Waits for the thread to finish and returns its result: `Ok` with what it returned, or
    /// `Err` with the payload of the panic that ended it (which the excepthook has reported).
    ///
    /// # Errors
    ///
    /// The panic payload if the thread panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// # threadkit::set_excepthook(|_| {});
    /// threadkit::scope(|s| {
    ///     let h = s.spawn(|| -> u8 { panic!("boom") });
    ///     assert!(h.join().is_err()); // joined: the scope does not panic
    /// });
    /// # threadkit::reset_excepthook();
    /// ```
    pub fn join(self) -> std::thread::Result<T> {
        self.inner.join()
    }

    /// Whether the thread has finished running its function.
    ///
    /// # Examples
    ///
    /// ```
    /// threadkit::scope(|s| {
    ///     let h = s.spawn(|| {});
    ///     h.thread().join().unwrap();
    ///     assert!(h.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ScopedJoinHandle")
            .field(&self.thread)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    /// Runs the `repr(transparent)` cast in `Scope::wrap` (also under Miri).
    #[test]
    fn scoped_threads_write_borrowed_slots() {
        let mut slots = [0usize; 3];
        super::scope(|s| {
            for (i, slot) in slots.iter_mut().enumerate() {
                let h = s.spawn(move || *slot = i + 1);
                assert!(h.thread().ident().is_some());
            }
        });
        assert_eq!(slots, [1, 2, 3]);
    }
}
