//! The peers that Rust users build themselves: an Event, a Semaphore and a turn-passing
//! Condition out of a Mutex and a Condvar, over std and over parking_lot.
//!
//! They are written the way a careful user would (notify after unlocking, `while` loops around
//! waits), so that the comparison is with good hand-rolled code, not a straw man.

/// A mutex with a condition variable, over std or parking_lot.
pub(crate) trait Monitor<T>: Send + Sync + Sized {
    /// The name shown in the table before the primitive built on it ("std Mutex+Condvar").
    const LABEL: &'static str;
    fn new(value: T) -> Self;
    /// Runs `f` with the lock held.
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R;
    /// Waits (releasing the lock) until `ready` holds, then runs `then` with the lock held.
    fn wait_until<R>(&self, ready: impl FnMut(&mut T) -> bool, then: impl FnOnce(&mut T) -> R)
        -> R;
    fn notify_one(&self);
    fn notify_all(&self);
}

/// `std::sync::{Mutex, Condvar}`.
pub(crate) struct Std<T> {
    value: std::sync::Mutex<T>,
    cond: std::sync::Condvar,
}

impl<T: Send> Monitor<T> for Std<T> {
    const LABEL: &'static str = "std Mutex+Condvar";

    fn new(value: T) -> Self {
        Std {
            value: std::sync::Mutex::new(value),
            cond: std::sync::Condvar::new(),
        }
    }

    #[inline]
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.value.lock().unwrap())
    }

    #[inline]
    fn wait_until<R>(
        &self,
        mut ready: impl FnMut(&mut T) -> bool,
        then: impl FnOnce(&mut T) -> R,
    ) -> R {
        let mut guard = self.value.lock().unwrap();
        while !ready(&mut guard) {
            guard = self.cond.wait(guard).unwrap();
        }
        then(&mut guard)
    }

    #[inline]
    fn notify_one(&self) {
        self.cond.notify_one();
    }

    #[inline]
    fn notify_all(&self) {
        self.cond.notify_all();
    }
}

/// `parking_lot::{Mutex, Condvar}`.
pub(crate) struct Pl<T> {
    value: parking_lot::Mutex<T>,
    cond: parking_lot::Condvar,
}

impl<T: Send> Monitor<T> for Pl<T> {
    const LABEL: &'static str = "parking_lot Mutex+Condvar";

    fn new(value: T) -> Self {
        Pl {
            value: parking_lot::Mutex::new(value),
            cond: parking_lot::Condvar::new(),
        }
    }

    #[inline]
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.value.lock())
    }

    #[inline]
    fn wait_until<R>(
        &self,
        mut ready: impl FnMut(&mut T) -> bool,
        then: impl FnOnce(&mut T) -> R,
    ) -> R {
        let mut guard = self.value.lock();
        while !ready(&mut guard) {
            self.cond.wait(&mut guard);
        }
        then(&mut guard)
    }

    #[inline]
    fn notify_one(&self) {
        self.cond.notify_one();
    }

    #[inline]
    fn notify_all(&self) {
        self.cond.notify_all();
    }
}

/// Python's Event as a user would write it: a flag under a mutex, waiters on a condvar.
pub(crate) struct CondvarEvent<M>(M);

impl<M: Monitor<bool>> CondvarEvent<M> {
    pub(crate) fn new() -> Self {
        CondvarEvent(M::new(false))
    }

    #[inline]
    pub(crate) fn set(&self) {
        self.0.with(|flag| *flag = true);
        self.0.notify_all();
    }

    #[inline]
    pub(crate) fn clear(&self) {
        self.0.with(|flag| *flag = false);
    }

    #[inline]
    pub(crate) fn wait(&self) {
        self.0.wait_until(|flag| *flag, |_| ());
    }
}

/// A counting semaphore as a user would write it (and as CPython's `threading.Semaphore` is
/// written): a count under a mutex, waiters on a condvar.
pub(crate) struct CondvarSemaphore<M>(M);

impl<M: Monitor<usize>> CondvarSemaphore<M> {
    pub(crate) fn new(permits: usize) -> Self {
        CondvarSemaphore(M::new(permits))
    }

    #[inline]
    pub(crate) fn acquire(&self) {
        self.0.wait_until(|n| *n > 0, |n| *n -= 1);
    }

    #[inline]
    pub(crate) fn release(&self) {
        self.0.with(|n| *n += 1);
        self.0.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn semaphore_counts<M: Monitor<usize>>() {
        let s = CondvarSemaphore::<M>::new(2);
        s.acquire();
        s.acquire();
        std::thread::scope(|scope| {
            scope.spawn(|| s.acquire());
            s.release();
        });
        assert_eq!(s.0.with(|n| *n), 0);
    }

    fn event_wakes<M: Monitor<bool>>() {
        let e = CondvarEvent::<M>::new();
        std::thread::scope(|scope| {
            scope.spawn(|| e.wait());
            e.set();
        });
        e.clear();
        assert!(!e.0.with(|f| *f));
    }

    #[test]
    fn peers_behave() {
        semaphore_counts::<Std<usize>>();
        semaphore_counts::<Pl<usize>>();
        event_wakes::<Std<bool>>();
        event_wakes::<Pl<bool>>();
    }
}
