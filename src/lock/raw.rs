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

/// The instrumentation word (`src/wait/record.rs`): zero when nothing asks a Lock acquire to
/// leave its plain path.
#[inline(always)]
pub(super) fn instrumentation() -> u8 {
    wait::record::TRACKING.load(Ordering::Relaxed)
}

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
        let tracking = instrumentation();
        if tracking != 0 {
            return self.acquire_instrumented(deadline, count, site, tracking);
        }
        self.try_lock_fast() || self.acquire_slow(deadline, count, site)
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
    /// One atomic swap that clears the whole word (the acquirer too, so nothing of the calling
    /// thread is read), and only if it finds the PARKED bit (or the lock unlocked), the out-of-line
    /// rest: the wake-up comes after the release, so that the lock is free while the waker takes
    /// the parking lot's bucket lock. parking_lot 0.13's unlock also wakes after freeing, but
    /// keeps the PARKED bit (a `fetch_sub` of the locked bit) and hands over only in
    /// `unlock_fair`; here the swap clears the bit, the wake-up puts it back for the sleepers
    /// left, and the fair hand-off (about every 0.5 ms) happens only if the lock is still free
    /// when the wake-up runs: a thread that took it in between keeps it, and the woken waiter
    /// parks again, so the starvation bound is best-effort, no longer strict.
    ///
    /// # Safety
    ///
    /// If `T` is not `()`, the caller must hold the lock (own a guard it is giving up), so that no
    /// other reference to the data is alive.
    #[inline]
    pub(crate) unsafe fn raw_release(&self) -> Result<(), ReleaseError> {
        // Read before the swap: a load after it waits for it to complete.
        if lock_order::armed() {
            return self.release_armed();
        }
        let old = self.state.swap(0, Ordering::Release);
        if old & (LOCKED | PARKED) != LOCKED {
            return self.release_rest(old);
        }
        Ok(())
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
        self.note_acquired(Location::caller());
    }

    // ----- internals -----

    /// Records, for the instrumentation that is on, that the calling thread (which has just
    /// acquired the lock without a lock-order check) acquired it at `site`: one relaxed load of
    /// the instrumentation word when everything is off.
    #[inline]
    pub(super) fn note_acquired(&self, site: &'static Location<'static>) {
        let tracking = instrumentation();
        if tracking != 0 {
            self.note_acquired_instrumented(site, tracking);
        }
    }

    /// [`note_acquired`](Self::note_acquired) with something on: the lock-order push, then the
    /// holder site.
    #[cold]
    #[inline(never)]
    fn note_acquired_instrumented(&self, site: &'static Location<'static>, tracking: u8) {
        if lock_order::armed_in(tracking) {
            lock_order::acquired(&self.identity, site);
        }
        self.note_site(site, tracking);
    }

    /// The acquire when the instrumentation word `tracking` is not zero: through the lock-order
    /// checker if it is armed, and then the holder site (out of line, so that the plain acquire
    /// stays a load, a compare-exchange and a branch).
    #[cold]
    #[inline(never)]
    pub(super) fn acquire_instrumented(
        &self,
        deadline: Option<Instant>,
        count: Option<&AtomicUsize>,
        site: &'static Location<'static>,
        tracking: u8,
    ) -> bool {
        let got = if lock_order::armed_in(tracking) {
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
            self.note_site(site, tracking);
        }
        got
    }

    /// The holder-site half of the instrumentation (a blocking acquire has pushed the lock on
    /// the lock-order stack already): with holder sites or the profile on (in `tracking`), a
    /// store of the site (and, with the profile on, a count of the acquisition).
    #[inline]
    fn note_site(&self, site: &'static Location<'static>, tracking: u8) {
        if tracking & (wait::record::TRACK_HOLDER_SITES | wait::record::TRACK_PROFILING) != 0 {
            // A binding's caller's site, if it set one (read only while tracking is on).
            self.acquired_at
                .store(crate::site::resolve(site).as_ptr(), Ordering::Relaxed);
            if tracking & wait::record::TRACK_PROFILING != 0 {
                wait::profile::acquired(&self.identity);
            }
        }
    }

    /// The release with the lock-order checker armed: the hook sees who acquired the lock. A
    /// release by another thread than the acquirer queues the removal for it before the lock is
    /// free (so that the acquirer cannot take it again first); the acquirer's own release
    /// leaves its stack after.
    #[cold]
    #[inline(never)]
    fn release_armed(&self) -> Result<(), ReleaseError> {
        let me = ident::current();
        let acquirer = self.acquired_by();
        let elsewhere = matches!(acquirer, Some(t) if t != 0 && t != me);
        if elsewhere {
            lock_order::releasing(&self.identity, acquirer, me);
        }
        let old = self.state.swap(0, Ordering::Release);
        if !elsewhere && old & LOCKED != 0 {
            lock_order::releasing(&self.identity, None, me);
        }
        if old & (LOCKED | PARKED) != LOCKED {
            return self.release_rest(old);
        }
        Ok(())
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
