//! The contended paths of [`Lock`]: spin, park through `src/wait`, and the release that wakes a
//! parked waiter (handing the lock over directly when parking_lot_core says it is time to be
//! fair).

use std::panic::Location;
use std::time::Instant;

use super::{Lock, ReleaseError, LOCKED, OWNER_SHIFT, PARKED, TOKEN_HANDOFF, TOKEN_NORMAL};
use crate::identity::ObjectKind;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::wait::{self, Holder, ParkResult, Target, UnparkResult, WaitKind, DEFAULT_PARK_TOKEN};

impl<T: ?Sized> Lock<T> {
    /// The contended acquire: spin briefly, then park. Returns false on timeout.
    /// `site` is the public method's call site (passed, not `#[track_caller]`: with the
    /// lock-order checker armed this runs inside a closure, which cannot forward it).
    /// With the contention profile on, a contended acquisition is charged, with the time it
    /// took, to the holder's acquire site (read now) and to `site`.
    #[cold]
    pub(super) fn acquire_slow(
        &self,
        deadline: Option<Instant>,
        count: Option<&AtomicUsize>,
        site: &'static Location<'static>,
    ) -> bool {
        let profiled = wait::profile::contention_start(&self.acquired_at);
        let got = self.acquire_contended(deadline, count, site);
        if let (Some(start), true) = (profiled, got) {
            start.charge(&self.identity, site);
        }
        got
    }

    /// [`acquire_slow`](Self::acquire_slow) without the profile.
    fn acquire_contended(
        &self,
        deadline: Option<Instant>,
        count: Option<&AtomicUsize>,
        site: &'static Location<'static>,
    ) -> bool {
        let me = Self::locked_by_me();
        let mut spin = wait::SpinWait::new();
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            // Free: take it, keeping the PARKED bit for the threads still asleep.
            if state & LOCKED == 0 {
                match self.state.compare_exchange_weak(
                    state,
                    (state & PARKED) | me,
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

            let validate = || {
                let s = self.state.load(Ordering::Relaxed);
                s & (LOCKED | PARKED) == LOCKED | PARKED
            };
            let timed_out = |_key, was_last: bool| {
                if was_last {
                    self.state.fetch_and(!PARKED, Ordering::Relaxed);
                }
            };
            let kind = match self.identity.kind() {
                ObjectKind::RLock => WaitKind::RLock,
                _ => WaitKind::Lock,
            };
            match wait::park_for_at(
                site,
                kind,
                self.wait_target(count),
                self.key(),
                validate,
                || {},
                timed_out,
                DEFAULT_PARK_TOKEN,
                deadline,
            ) {
                ParkResult::Unparked(TOKEN_HANDOFF) => {
                    // The releaser kept the lock locked for us with no acquirer recorded.
                    self.record_acquirer(me);
                    return true;
                }
                ParkResult::Unparked(_) | ParkResult::Invalid => {}
                ParkResult::TimedOut => return false,
            }
            spin.reset();
            state = self.state.load(Ordering::Relaxed);
        }
    }

    /// What a thread waiting for this lock publishes (see `src/wait/record.rs`).
    pub(crate) fn wait_target(&self, count: Option<&AtomicUsize>) -> Target {
        Target::Object {
            identity: &self.identity,
            holder: Some(Holder {
                state: &self.state,
                acquired_at: &self.acquired_at,
                count: count.map_or(std::ptr::null(), |c| c as *const AtomicUsize),
            }),
            status: None,
        }
    }

    /// After a hand-off, writes this thread into the acquirer bits (unless someone has already
    /// released the lock meanwhile, which Python allows).
    pub(super) fn record_acquirer(&self, me: u64) {
        let mut state = self.state.load(Ordering::Relaxed);
        while state & LOCKED != 0 && state >> OWNER_SHIFT == 0 {
            match self.state.compare_exchange_weak(
                state,
                state | me,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(s) => state = s,
            }
        }
    }

    /// The rest of a release whose swap found the PARKED bit or the lock unlocked (`old`, the
    /// word it replaced with 0). The lock is already free: this wakes one parked waiter, whose
    /// hand-off (if parking_lot_core says it is time to be fair) takes the lock back for it, and
    /// puts the PARKED bit back for those still asleep.
    ///
    /// Between the swap and the callback the PARKED bit is clear while threads may be parked:
    /// a thread that takes and releases the lock then wakes nobody, which is right, since this
    /// release's wake-up is still to come, and the callback sets the bit again for the rest.
    #[cold]
    #[inline(never)]
    pub(super) fn release_rest(&self, old: u64) -> Result<(), ReleaseError> {
        if old & PARKED != 0 {
            self.wake_one();
        }
        if old & LOCKED == 0 {
            // Released an unlocked lock: an error, and the state is as it was (the PARKED bit,
            // cleared by the swap, is restored by the wake-up above, which at worst is spurious).
            return Err(ReleaseError(()));
        }
        Ok(())
    }

    /// Wakes one thread parked on the lock (under the parking lot's bucket lock, like every
    /// change of the PARKED bit that must be exact).
    fn wake_one(&self) {
        let callback = |unpark: UnparkResult| {
            let more = if unpark.have_more_threads { PARKED } else { 0 };
            // Hand the lock over directly when parking_lot_core says the waiter has waited long
            // enough (about every 0.5 ms), if the lock is still free: that bounds starvation.
            if unpark.unparked_threads != 0 && unpark.be_fair {
                let mut state = self.state.load(Ordering::Relaxed);
                while state & LOCKED == 0 {
                    match self.state.compare_exchange_weak(
                        state,
                        LOCKED | more,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return TOKEN_HANDOFF,
                        Err(s) => state = s,
                    }
                }
            }
            if more != 0 && !cfg!(threadkit_mutant = "lock_wake_unmarked") {
                self.state.fetch_or(PARKED, Ordering::Relaxed);
            }
            TOKEN_NORMAL
        };
        wait::unpark_one(self.key(), callback);
    }
}
