//! The lock word's operations: the one-CAS fast paths, the raw acquire/release shared with
//! Condition and RLock, and the hooks Condition uses to requeue its waiters onto the lock.

use std::panic::Location;
use std::time::Instant;

use super::{Lock, LockGuard, ReleaseError, LOCKED, OWNER_SHIFT, PARKED};
use crate::lock_order;
use crate::loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use crate::thread::ident;
use std::marker::PhantomData;

use crate::wait;

impl<T: ?Sized> Lock<T> {
    // ----- raw operations, shared with Condition -----

    /// Acquires without making a guard; `deadline` `None` waits forever. Returns whether the lock
    /// was acquired.
    #[inline]
    #[track_caller]
    pub(crate) fn raw_acquire(&self, deadline: Option<Instant>) -> bool {
        self.raw_acquire_counted(deadline, None)
    }

    /// [`raw_acquire`](Self::raw_acquire) for an RLock, whose recursion count a thread dump
    /// shows beside the owner.
    #[inline]
    #[track_caller]
    pub(crate) fn raw_acquire_counted(
        &self,
        deadline: Option<Instant>,
        count: Option<&AtomicUsize>,
    ) -> bool {
        let site = Location::caller();
        let got = if lock_order::armed() {
            lock_order::ordered_acquire(
                &self.identity,
                site,
                deadline.is_some(),
                || self.try_lock_fast_assigned(),
                || self.acquire_slow(deadline, count, site),
            )
        } else {
            self.try_lock_fast() || self.acquire_slow(deadline, count, site)
        };
        if got {
            self.note_site(site);
        }
        got
    }

    /// A Condition's re-acquire after its wait: the lock goes back on the thread's held-lock
    /// stack, but no lock order is recorded or checked (the wait released it only for the wait).
    #[inline]
    #[track_caller]
    pub(crate) fn raw_reacquire_counted(
        &self,
        deadline: Option<Instant>,
        count: Option<&AtomicUsize>,
    ) -> bool {
        let site = Location::caller();
        let got = self.try_lock_fast() || self.acquire_slow(deadline, count, site);
        if got {
            self.note_acquired(site);
        }
        got
    }

    /// Releases the lock.
    ///
    /// # Safety
    ///
    /// If `T` is not `()`, the caller must hold the lock (own a guard it is giving up), so that no
    /// other reference to the data is alive.
    #[inline]
    pub(crate) unsafe fn raw_release(&self) -> Result<(), ReleaseError> {
        let me = Self::locked_by_me();
        // Read before the compare-exchange: a load after it waits for it to complete.
        let armed = lock_order::armed();
        if self
            .state
            .compare_exchange(me, 0, Ordering::Release, Ordering::Relaxed)
            .is_ok()
        {
            // The lock-order hook after the release: the calling thread was the acquirer, and a
            // load of the state word before the compare-exchange would cost the release ~2 ns.
            if armed {
                lock_order::releasing(&self.identity, None, 0);
            }
            return Ok(());
        }
        if armed {
            lock_order::releasing(&self.identity, self.acquired_by(), me >> OWNER_SHIFT);
        }
        self.release_slow()
    }

    // ----- for Condition, which moves notified waiters onto the lock's queue -----

    /// The key threads park on while waiting for this lock.
    pub(crate) fn park_key(&self) -> usize {
        self.key()
    }

    /// Under the parking lot's bucket locks, before threads are requeued onto this lock: sets
    /// the PARKED bit (so the release wakes them) if the lock is locked, and says whether it was.
    pub(crate) fn mark_parked_if_locked(&self) -> bool {
        self.state
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                (s & LOCKED != 0).then_some(s | PARKED)
            })
            .is_ok()
    }

    /// A requeued thread timed out on this lock's queue (under the bucket lock): the same
    /// bookkeeping as a timed-out acquirer.
    pub(crate) fn requeued_timed_out(&self, was_last: bool) {
        if was_last {
            self.state.fetch_and(!PARKED, Ordering::Relaxed);
        }
    }

    /// A requeued thread was woken with [`TOKEN_HANDOFF`]: the lock is already its own; record
    /// it as the acquirer.
    #[track_caller]
    pub(crate) fn finish_handoff(&self) {
        self.record_acquirer(Self::locked_by_me());
        if lock_order::armed() {
            lock_order::acquired(&self.identity, Location::caller());
        }
        self.note_site(Location::caller());
    }

    // ----- internals -----

    /// Records where the calling thread (which has just acquired the lock) acquired it, if
    /// holder sites are on (`diagnostics::set_holder_sites`; debug builds): a relaxed load of
    /// the switch, and then a relaxed store, the only cost diagnostics add to the uncontended
    /// path.
    #[inline]
    pub(super) fn note_acquired(&self, site: &'static Location<'static>) {
        if lock_order::armed() {
            lock_order::acquired(&self.identity, site);
        }
        self.note_site(site);
    }

    /// The holder-site half of [`note_acquired`](Self::note_acquired) (a blocking acquire has
    /// pushed the lock on the lock-order stack already): one relaxed load of the tracking
    /// switches, and with any of them on, a store of the site (and, with the contention profile
    /// on, a count of the acquisition).
    #[inline]
    pub(super) fn note_site(&self, site: &'static Location<'static>) {
        let tracking = wait::record::TRACKING.load(Ordering::Relaxed);
        if tracking != 0 {
            // A binding's caller's site, if it set one (read only while tracking is on).
            self.acquired_at
                .store(crate::site::resolve(site).as_ptr(), Ordering::Relaxed);
            if tracking & wait::record::TRACK_PROFILING != 0 {
                wait::profile::acquired(&self.identity);
            }
        }
    }

    /// The locked state word naming the calling thread as acquirer.
    #[inline]
    pub(super) fn locked_by_me() -> u64 {
        (ident::current() << OWNER_SHIFT) | LOCKED
    }

    #[inline]
    pub(super) fn key(&self) -> usize {
        &self.state as *const AtomicU64 as usize
    }

    /// The uncontended acquire: one compare-exchange.
    #[inline]
    pub(super) fn try_lock_fast(&self) -> bool {
        self.state
            .compare_exchange_weak(
                0,
                Self::locked_by_me(),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// [`try_lock_fast`](Self::try_lock_fast) for a thread whose identifier is assigned, and
    /// `false` (without assigning one) otherwise: it calls nothing, so that the lock-order
    /// checker's fast path saves no registers.
    #[inline]
    pub(super) fn try_lock_fast_assigned(&self) -> bool {
        let id = ident::current_or_unassigned();
        id != ident::UNASSIGNED
            && self
                .state
                .compare_exchange_weak(
                    0,
                    (id << OWNER_SHIFT) | LOCKED,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// # Safety
    ///
    /// The calling thread must have just acquired the lock.
    #[inline]
    pub(super) unsafe fn make_guard(&self) -> LockGuard<'_, T> {
        LockGuard {
            lock: self,
            _data: PhantomData,
        }
    }

    #[cold]
    #[track_caller]
    pub(super) fn try_acquire_slow(&self) -> Option<LockGuard<'_, T>> {
        let me = Self::locked_by_me();
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & LOCKED != 0 {
                return None;
            }
            match self.state.compare_exchange_weak(
                state,
                state | me,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.note_acquired(Location::caller());
                    // SAFETY: the compare-exchange took the lock for this thread.
                    return Some(unsafe { self.make_guard() });
                }
                Err(s) => state = s,
            }
        }
    }
}
