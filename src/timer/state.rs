//! A Timer's lifecycle: one atomic word, changed only by compare-and-swap (issue 10, defect 6).
//!
//! ```text
//!            cancel()                      start()
//!   NEW ──────────────► CANCELLED_NEW ──────────────► (start() finishes the record)
//!    │ start()
//!    ├──► PENDING ──┬─ service: fire ──► FIRED      (the worker finishes the record)
//!    │   (in heap)  └─ cancel() ───────► CANCELLED  (cancel() finishes the record)
//!    ├──► NEVER ────── cancel() ───────► CANCELLED  (cancel() finishes the record)
//!    └──► FAILED                                    (start() returns the error and finishes it)
//! ```
//!
//! # Why exactly one party finishes the record
//!
//! `start()`, `cancel()` and the service each decide what to do by one compare-and-swap on this
//! one word, from the state they expect. All modifications of one atomic location form a single
//! total order (coherence) whatever memory orderings are used, and a compare-and-swap reads the
//! latest value in that order; so of two transitions out of the same state exactly one succeeds,
//! and the loser reads what the winner wrote. Each transition carries one duty (the arrows above),
//! and every path from `NEW` takes exactly one duty-carrying transition, so the Timer's record is
//! finished (`mark_stopped`: joiners woken, unlisted) exactly once, and the function runs only
//! after `fire` won, which no `cancel()` can follow.
//!
//! The old protocol kept "started" in the thread record and "cancelled" here: `start()` stored
//! one and loaded the other, `cancel()` swapped the other and loaded the one — store buffering,
//! which the memory model lets end with both loads seeing the old values and nobody finishing the
//! record. There is no second location to consult now.
//!
//! Memory orderings only carry data along, not the decision: a successful transition is `AcqRel`
//! so that whoever acts after seeing it (cancel after start, the service after start) also sees
//! what the thread before it did, in particular `Thread::start`'s `STARTED` store, which must come
//! before the finisher's `STOPPED` store.
//!
//! `PENDING` means "in the service's heap": `start()` makes that transition and pushes the heap
//! entry in one critical section of the service lock, and the `PENDING` → `FIRED` / `CANCELLED`
//! transitions are made under that lock too, so the count of cancelled heap entries is exact.

use crate::loom::sync::atomic::{AtomicU8, Ordering};

/// Created; neither started nor cancelled.
const NEW: u8 = 0;
/// Cancelled before `start()`: the function never runs; `start()` will finish the record.
const CANCELLED_NEW: u8 = 1;
/// Started and in the service's heap, waiting for its deadline.
pub(super) const PENDING: u8 = 2;
/// Started with an interval too large to represent: never fires; only `cancel()` finishes it.
pub(super) const NEVER: u8 = 3;
/// Cancelled after `start()`: `cancel()` finished the record.
const CANCELLED: u8 = 4;
/// Claimed by the service: a worker runs the function and then finishes the record.
const FIRED: u8 = 5;
/// `start()` could not start the timer service: it returns the error and finishes the record.
pub(super) const FAILED: u8 = 6;

/// The outcome of [`Lifecycle::cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cancel {
    /// Already fired, failed or cancelled: nothing to do.
    Lost,
    /// Cancelled before `start()`: the caller drops the function; `start()` finishes the record.
    BeforeStart,
    /// Cancelled a started Timer that never fires: the caller drops the function and finishes the
    /// record.
    Never,
    /// The Timer is `PENDING`: the caller must try [`Lifecycle::cancel_pending`] under the
    /// service lock.
    Pending,
}

/// A Timer's lifecycle word; see the module docs.
pub(super) struct Lifecycle {
    word: AtomicU8,
}

impl Lifecycle {
    pub(super) fn new() -> Self {
        Lifecycle {
            word: AtomicU8::new(NEW),
        }
    }

    /// `start()`'s transition `NEW` → `to` (`PENDING`, `NEVER` or `FAILED`). `false`: the Timer
    /// was cancelled first, and the caller finishes the record.
    pub(super) fn start(&self, to: u8) -> bool {
        debug_assert!(matches!(to, PENDING | NEVER | FAILED));
        match self
            .word
            .compare_exchange(NEW, to, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(seen) => {
                debug_assert_eq!(seen, CANCELLED_NEW, "a Timer is started once");
                false
            }
        }
    }

    /// The service's claim, under its lock: `PENDING` → `FIRED`. `false`: cancelled.
    pub(super) fn fire(&self) -> bool {
        self.transition(PENDING, FIRED)
    }

    /// `cancel()`'s second step, under the service lock: `PENDING` → `CANCELLED`. `false`: the
    /// service fired it (or another `cancel()` won) meanwhile.
    pub(super) fn cancel_pending(&self) -> bool {
        self.transition(PENDING, CANCELLED)
    }

    /// `cancel()`'s first step: the transitions out of `NEW` and `NEVER`, or which lock to take.
    pub(super) fn cancel(&self) -> Cancel {
        let mut seen = self.word.load(Ordering::Acquire);
        loop {
            let (to, outcome) = match seen {
                NEW => (CANCELLED_NEW, Cancel::BeforeStart),
                NEVER => (CANCELLED, Cancel::Never),
                PENDING => return Cancel::Pending,
                _ => return Cancel::Lost,
            };
            match self
                .word
                .compare_exchange(seen, to, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return outcome,
                // `start()` moved it on: look again at what it became.
                Err(now) => seen = now,
            }
        }
    }

    /// Whether `cancel()` stopped the function from running.
    pub(super) fn is_cancelled(&self) -> bool {
        matches!(self.word.load(Ordering::Acquire), CANCELLED_NEW | CANCELLED)
    }

    /// Whether the Timer waits in the service's heap (read under the service lock).
    pub(super) fn is_pending(&self) -> bool {
        self.word.load(Ordering::Acquire) == PENDING
    }

    fn transition(&self, from: u8, to: u8) -> bool {
        self.word
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn timer_lifecycle_each_path_has_one_finisher() {
        // Cancel before start: cancel wins, start learns it.
        let l = Lifecycle::new();
        assert_eq!(l.cancel(), Cancel::BeforeStart);
        assert!(!l.start(PENDING));
        assert!(l.is_cancelled());
        assert_eq!(l.cancel(), Cancel::Lost);

        // Started, then cancelled under the lock; the service's claim then fails.
        let l = Lifecycle::new();
        assert!(l.start(PENDING));
        assert_eq!(l.cancel(), Cancel::Pending);
        assert!(l.cancel_pending());
        assert!(!l.fire());
        assert!(!l.cancel_pending());
        assert!(l.is_cancelled());

        // Fired first: cancel loses.
        let l = Lifecycle::new();
        assert!(l.start(PENDING));
        assert!(l.fire());
        assert_eq!(l.cancel(), Cancel::Lost);
        assert!(!l.cancel_pending());
        assert!(!l.is_cancelled());

        // Never fires: only cancel finishes it.
        let l = Lifecycle::new();
        assert!(l.start(NEVER));
        assert!(!l.fire());
        assert_eq!(l.cancel(), Cancel::Never);
        assert_eq!(l.cancel(), Cancel::Lost);

        // Failed to start the service: cancel has nothing to do.
        let l = Lifecycle::new();
        assert!(l.start(FAILED));
        assert!(!l.fire());
        assert_eq!(l.cancel(), Cancel::Lost);
        assert!(!l.is_cancelled());
    }
}

/// loom models of the lifecycle, over every interleaving and every value the memory model lets a
/// load return. Not in `.ci/loom.sh` (which runs tests/loom); run them with
/// `RUSTFLAGS="--cfg loom" cargo test --release --target-dir target/loom --lib timer::state`.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::Arc;
    use loom::thread;

    /// The Thread record's states that matter here (`src/thread/handle.rs`).
    const INITIAL: u8 = 0;
    const STARTED: u8 = 2;
    const STOPPED: u8 = 3;

    /// What the model sees of a Timer: its record's state word, how many parties finished the
    /// record (the witness: must be exactly one), and how many times the function ran.
    struct Timer {
        record: AtomicU8,
        finished: AtomicUsize,
        ran: AtomicUsize,
    }

    impl Timer {
        fn new() -> Arc<Self> {
            Arc::new(Timer {
                record: AtomicU8::new(INITIAL),
                finished: AtomicUsize::new(0),
                ran: AtomicUsize::new(0),
            })
        }

        /// `Thread::mark_stopped`.
        fn finish(&self) {
            self.record.store(STOPPED, Ordering::Release);
            self.finished.fetch_add(1, Ordering::AcqRel);
        }

        fn check(&self, cancelled: bool) {
            let finished = self.finished.load(Ordering::Acquire);
            assert!(finished > 0, "nobody finished the record");
            assert_eq!(finished, 1, "the record was finished twice");
            assert_eq!(
                self.record.load(Ordering::Acquire),
                STOPPED,
                "the record is alive forever"
            );
            let ran = self.ran.load(Ordering::Acquire);
            assert_eq!(
                ran,
                usize::from(!cancelled),
                "cancelled: {cancelled}, ran: {ran}"
            );
        }
    }

    /// `start()` (the record's `STARTED` store, then the lifecycle's claim; once `PENDING`, the
    /// service may fire it), racing `cancel()` on another thread.
    #[test]
    fn timer_lifecycle_cancel_racing_start_and_fire_has_one_finisher() {
        loom::model(|| {
            let timer = Timer::new();
            let life = Arc::new(Lifecycle::new());
            let starter = thread::spawn({
                let (timer, life) = (Arc::clone(&timer), Arc::clone(&life));
                move || {
                    timer.record.store(STARTED, Ordering::Release);
                    if !life.start(PENDING) {
                        timer.finish();
                        return None;
                    }
                    // In the heap: the service thread may claim it at its deadline.
                    Some(thread::spawn(move || {
                        if life.fire() {
                            timer.ran.fetch_add(1, Ordering::AcqRel);
                            timer.finish();
                        }
                    }))
                }
            });
            let cancelled = match life.cancel() {
                Cancel::Lost => false,
                Cancel::BeforeStart => true,
                Cancel::Never => unreachable!("never started as NEVER here"),
                Cancel::Pending => {
                    let won = life.cancel_pending();
                    if won {
                        timer.finish();
                    }
                    won
                }
            };
            if let Some(service) = starter.join().unwrap() {
                service.join().unwrap();
            }
            assert_eq!(life.is_cancelled(), cancelled);
            timer.check(cancelled);
        });
    }

    /// The protocol before issue 10, as it was: `start()` stored `STARTED` in the record, set
    /// the record's `started` event (a release swap), then loaded the cancel word; `cancel()`
    /// claimed the cancel word, then loaded the record. loom finds the store-buffering outcome in
    /// which both loads see the old values and nobody finishes the record: the model can see
    /// defect 6.
    #[test]
    #[should_panic(expected = "nobody finished the record")]
    fn timer_old_protocol_loses_the_record_to_store_buffering() {
        const WAITING: u8 = 0;
        const CANCELLED: u8 = 1;
        const FIRED: u8 = 2;
        loom::model(|| {
            let timer = Timer::new();
            let word = Arc::new(AtomicU8::new(WAITING));
            let started_event = Arc::new(AtomicU8::new(0));
            let starter = thread::spawn({
                let (timer, word) = (Arc::clone(&timer), Arc::clone(&word));
                move || {
                    timer.record.store(STARTED, Ordering::Release);
                    started_event.swap(1, Ordering::Release);
                    if word.load(Ordering::Acquire) != WAITING {
                        timer.finish();
                        return None;
                    }
                    Some(thread::spawn(move || {
                        let fired = word.compare_exchange(
                            WAITING,
                            FIRED,
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        );
                        if fired.is_ok() {
                            timer.ran.fetch_add(1, Ordering::AcqRel);
                            timer.finish();
                        }
                    }))
                }
            });
            let cancelled = word
                .compare_exchange(WAITING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok();
            if cancelled && timer.record.load(Ordering::Acquire) == STARTED {
                timer.finish();
            }
            if let Some(service) = starter.join().unwrap() {
                service.join().unwrap();
            }
            timer.check(cancelled);
        });
    }
}
