//! Interrupting another thread's timed waits: the waiting layer's side of
//! [`crate::interrupt`].
//!
//! A thread becomes interruptible the first time an [`Interrupter`] is made for it. From then
//! on every *timed* park of that thread (one given a deadline) is armed: it publishes the key it
//! parks on and parks with a token that names the thread (its identifier with the top bit set,
//! which no primitive's own token has). [`Interrupter::interrupt`] raises the thread's pending
//! flag, then wakes the thread if it finds it parked on the published key, with
//! [`TOKEN_INTERRUPTED`]. The woken thread then does what a timeout does: it calls the
//! primitive's `timed_out` callback under the bucket lock (with whether it was the last thread
//! parked on the key *now*) and returns [`ParkResult::TimedOut`].
//!
//! # Why this is a timeout, and only a late one
//! For a primitive, an interrupted park differs from a timed-out one in one way only: between
//! the interrupter taking the thread off the queue and the thread's own `timed_out` call there
//! is a moment when the thread is off the queue but its `timed_out` has not run. A waker in that
//! moment finds fewer threads than the primitive's state says, exactly as a waker finds after a
//! timeout: every primitive's unpark callback already derives its state from what it found
//! (`have_more_threads`, `unparked_threads`), so a stale "parked" flag is cleared by the next
//! wake or by the late `timed_out` itself, and nothing is handed to a thread that was not woken.
//! The loom models in `tests/loom/interrupt.rs` check each primitive with a witness.
//!
//! # No lost interrupt
//! The thread publishes its key, then checks the pending flag under the bucket lock (in
//! `validate`); the interrupter raises the flag, then reads the key and scans that key's queue
//! under the same bucket lock. Both pairs are `SeqCst`, so either the parking thread sees the
//! flag (and does not sleep: its park returns `TimedOut` at once, without having been queued,
//! so `before_sleep` and `timed_out` do not run), or the interrupter sees the key and finds the
//! thread queued.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::{FilterOp, ParkResult, ParkToken, UnparkToken};

/// The token an interrupted thread is woken with; no primitive uses it.
pub(crate) const TOKEN_INTERRUPTED: UnparkToken = UnparkToken(usize::MAX);

/// The park-token bit that marks an armed park; primitives' own tokens never have it. An armed
/// park's token is the thread's identifier with this bit set, and it replaces the primitive's
/// own token (0, or Condition's: the thread's identifier), so whoever looks for a thread's
/// token on a queue compares [`without_armed_bit`]. On a 32-bit target the identifier is
/// truncated: after 2^31 threads two threads could share a token (an interrupt could then wake
/// the wrong one, as a timeout); not a limit on 64-bit targets.
const ARMED: usize = 1 << (usize::BITS - 1);

/// A park token as the primitive chose it: the armed bit cleared.
#[inline]
pub(crate) fn without_armed_bit(token: usize) -> usize {
    token & !ARMED
}

/// One interruptible thread's flags, shared by its [`Interrupter`]s.
pub(crate) struct State {
    /// Raised by [`Interrupter::interrupt`], lowered by [`take`].
    pending: AtomicBool,
    /// How many times [`Interrupter::interrupt`] was called (wrapping): tells "a new
    /// interrupt came" from "the old one was not taken" ([`count`]).
    count: AtomicUsize,
    /// The key of the thread's current armed park (0: none).
    parked_key: AtomicUsize,
    /// The key the interrupter found the thread on (written under that key's bucket lock,
    /// before the thread is woken).
    woken_key: AtomicUsize,
    /// The thread's park token while armed.
    token: usize,
}

crate::loom::thread_local_shim! {
    /// The calling thread's state, once an [`Interrupter`] has been made for it.
    static STATE: RefCell<Option<Arc<State>>> = const { RefCell::new(None) };
}

/// The calling thread's state, creating it (the thread becomes interruptible).
fn current_state() -> Arc<State> {
    STATE.with(|s| {
        Arc::clone(s.borrow_mut().get_or_insert_with(|| {
            Arc::new(State {
                pending: AtomicBool::new(false),
                count: AtomicUsize::new(0),
                parked_key: AtomicUsize::new(0),
                woken_key: AtomicUsize::new(0),
                token: (crate::thread::ident::current() as usize) | ARMED,
            })
        }))
    })
}

crate::loom::thread_local_shim! {
    /// Set inside [`unarmed`]: the thread is not interruptible there.
    static UNARMED: Cell<bool> = const { Cell::new(false) };
}

/// The calling thread's state if it is interruptible (never during thread-local destruction,
/// nor inside [`unarmed`]).
#[inline]
fn state_if_any() -> Option<Arc<State>> {
    if UNARMED.try_with(Cell::get).unwrap_or(true) {
        return None;
    }
    STATE
        .try_with(|s| s.try_borrow().ok().and_then(|s| s.clone()))
        .ok()
        .flatten()
}

/// Runs `f` with the calling thread not interruptible: its timed waits are not armed, and a
/// pending interrupt is neither seen ([`pending`] says `false`) nor taken; it stays pending for
/// after. For waits whose timeout must mean a timeout (the exit sequence's joins).
#[cfg_attr(loom, allow(dead_code))] // the exit sequence is left out of `--cfg loom` builds
pub(crate) fn unarmed<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = UNARMED.try_with(|u| u.set(self.0));
        }
    }
    let _restore = Restore(UNARMED.try_with(|u| u.replace(true)).unwrap_or(true));
    f()
}

/// Whether the calling thread has an interrupt pending (it is then taken by [`take`]).
///
/// The primitives' wait loops treat a pending interrupt as a passed deadline
/// ([`super::expired`]), so a loop that re-checks its deadline does not park again.
#[inline]
pub(crate) fn pending() -> bool {
    state_if_any().is_some_and(|s| s.pending.load(Ordering::SeqCst))
}

/// How many interrupts the calling thread has been sent (wrapping; 0 if it is not
/// interruptible): a caller that runs code meant to [`take`] an interrupt compares it before and
/// after to tell an interrupt that was not taken from one that arrived meanwhile.
pub(crate) fn count() -> usize {
    state_if_any().map_or(0, |s| s.count.load(Ordering::SeqCst))
}

/// Takes the calling thread's interrupt: returns whether one was pending, and lowers the flag,
/// so that its timed waits sleep again (see [`Interrupter`]). `false` for a thread that was
/// never made interruptible.
///
/// # Examples
///
/// ```
/// use threadkit::interrupt::{take, Interrupter};
/// assert!(!take());
/// Interrupter::current().interrupt();
/// assert!(take());
/// assert!(!take());
/// ```
pub fn take() -> bool {
    state_if_any().is_some_and(|s| s.pending.swap(false, Ordering::SeqCst))
}

/// Parks as [`super::park_for_at`]'s backend does, armed for interrupts when the thread is
/// interruptible and the park is timed.
#[inline]
pub(super) fn park(
    key: usize,
    validate: impl FnOnce() -> bool,
    before_sleep: impl FnOnce(),
    timed_out: impl FnOnce(usize, bool),
    token: ParkToken,
    deadline: Option<std::time::Instant>,
) -> ParkResult {
    let armed = if deadline.is_some() {
        state_if_any()
    } else {
        None
    };
    let Some(state) = armed else {
        return super::raw_park(key, validate, before_sleep, timed_out, token, deadline);
    };
    debug_assert!(
        token.0 == 0 || token.0 == without_armed_bit(state.token),
        "an armed park replaces a token the primitive needs"
    );
    let _disarm = Disarm(&state);
    state.parked_key.store(key, Ordering::SeqCst);
    crate::loom::seq_cst_fence_for_loom();
    let refused = Cell::new(false);
    let validate = || {
        crate::loom::seq_cst_fence_for_loom();
        if cfg!(threadkit_mutant = "interrupt_after_validate") {
            // Mutant: the flag read after the primitive's `validate` (which may count the
            // thread in: Condition's waiter count then leaks one per refused park).
            let valid = validate();
            if state.pending.load(Ordering::SeqCst) {
                refused.set(true);
                return false;
            }
            return valid;
        }
        if state.pending.load(Ordering::SeqCst) && !cfg!(threadkit_mutant = "interrupt_lost") {
            // Checked before the primitive's own `validate`, which may count the thread in.
            refused.set(true);
            return false;
        }
        validate()
    };
    // Called by the backend on a timeout, or below after an interrupt; never both.
    let timed_out = Cell::new(Some(timed_out));
    let call_timed_out = |key, was_last| {
        if let Some(f) = timed_out.take() {
            f(key, was_last);
        }
    };
    let result = super::raw_park(
        key,
        validate,
        before_sleep,
        call_timed_out,
        ParkToken(state.token),
        deadline,
    );
    match result {
        ParkResult::Invalid if refused.get() => ParkResult::TimedOut,
        ParkResult::Unparked(TOKEN_INTERRUPTED) => {
            // Off the queue since the interrupter took it: do what a timeout does, under the
            // bucket lock of the key it was found on, with "last" as it is now.
            let key = state.woken_key.load(Ordering::Relaxed);
            // Mutant `interrupt_no_timed_out`: the primitive never hears that the thread left.
            if !cfg!(threadkit_mutant = "interrupt_no_timed_out") {
                super::unpark_filter(
                    key,
                    |_| FilterOp::Stop,
                    |found| {
                        call_timed_out(key, !found.have_more_threads);
                        super::DEFAULT_UNPARK_TOKEN
                    },
                );
            }
            ParkResult::TimedOut
        }
        other => other,
    }
}

/// Clears the published key when an armed park ends (also on unwind).
struct Disarm<'a>(&'a State);

impl Drop for Disarm<'_> {
    fn drop(&mut self) {
        self.0.parked_key.store(0, Ordering::SeqCst);
    }
}

/// A handle that interrupts the timed waits of one thread, from any thread.
///
/// [`Interrupter::current`] makes one for the calling thread; [`interrupt`](Self::interrupt)
/// then ends that thread's current *timed* threadkit wait (any primitive's `_timeout` or
/// `_deadline` call, a timed [`Condition`](crate::Condition) wait, queue `get`/`put` with a
/// timeout, ...) as if its deadline had passed, and makes every timed wait it starts return the
/// same way at once, until the thread calls [`take`]. Untimed waits are not interrupted: they
/// have no way to report it. The interrupt is a flag, not a count: several `interrupt()` calls
/// before one `take()` are one interrupt.
///
/// This is how a blocked thread notices an event that is not the one it waits for: threadkit's
/// Python binding wakes the main thread this way when a signal arrives, so that Ctrl-C
/// interrupts a blocked `acquire()` the moment it is pressed without the thread waking up on a
/// timer.
///
/// # Differences from Python
///
/// Python has no such handle: there, only a signal interrupts a blocking call, and only in the
/// main thread. Java's `Thread.interrupt` is the nearest relative; unlike it, an interrupted
/// wait here returns as a timeout (no error type), and the flag stays raised until taken.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use threadkit::interrupt::{self, Interrupter};
///
/// let lock = threadkit::Lock::new();
/// let _held = lock.acquire();
/// std::thread::scope(|s| {
///     let (tx, rx) = std::sync::mpsc::channel();
///     let lock = &lock;
///     let waiter = s.spawn(move || {
///         tx.send(Interrupter::current()).unwrap();
///         // Waits up to an hour: the interrupt ends it early, as a timeout.
///         let got = lock.acquire_timeout(Duration::from_secs(3600)).is_some();
///         (got, interrupt::take())
///     });
///     rx.recv().unwrap().interrupt();
///     assert_eq!(waiter.join().unwrap(), (false, true));
/// });
/// ```
#[derive(Clone)]
pub struct Interrupter {
    state: Arc<State>,
}

impl Interrupter {
    /// A handle on the calling thread, which becomes interruptible.
    ///
    /// # Panics
    ///
    /// If called while the thread's thread-local values are being destroyed (from a
    /// thread-local's `Drop` at thread exit), as `LocalKey::with` does.
    ///
    /// # Examples
    ///
    /// ```
    /// let me = threadkit::interrupt::Interrupter::current();
    /// me.interrupt();
    /// assert!(threadkit::interrupt::take());
    /// assert!(!threadkit::interrupt::take());
    /// ```
    pub fn current() -> Interrupter {
        Interrupter {
            state: current_state(),
        }
    }

    /// Interrupts the thread: its current timed wait, or its next one, returns as timed out,
    /// and so does every timed wait until it calls [`take`]. Returns at once; callable from
    /// any thread (not from a signal handler: it may take a parking-lot bucket lock).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let me = threadkit::interrupt::Interrupter::current();
    /// me.interrupt();
    /// // Pending: a timed wait returns at once.
    /// assert!(!threadkit::Event::new().wait_timeout(Duration::from_secs(3600)));
    /// assert!(threadkit::interrupt::take());
    /// ```
    pub fn interrupt(&self) {
        let state = &*self.state;
        state.count.fetch_add(1, Ordering::SeqCst);
        state.pending.store(true, Ordering::SeqCst);
        crate::loom::seq_cst_fence_for_loom();
        let key = state.parked_key.load(Ordering::SeqCst);
        if key == 0 {
            return;
        }
        // Only the thread's own armed token is selected, so a stale key (the thread has moved
        // on) wakes nobody else. The flag is read again here, under the bucket lock: the
        // thread may have taken this interrupt and parked again (on the same key) since the
        // flag was raised, and an interrupt already taken must not end a later wait. Only the
        // thread itself takes, and it is parked while the filter sees it, so the read is exact.
        super::unpark_filter(
            key,
            |token| {
                // Mutant `interrupt_stale`: an interrupt already taken still ends a later wait.
                let still_pending = cfg!(threadkit_mutant = "interrupt_stale")
                    || state.pending.load(Ordering::SeqCst);
                if token.0 == state.token && still_pending {
                    FilterOp::Unpark
                } else {
                    FilterOp::Skip
                }
            },
            |result| {
                if result.unparked_threads != 0 {
                    state.woken_key.store(key, Ordering::Relaxed);
                }
                TOKEN_INTERRUPTED
            },
        );
    }

    /// Whether the thread has an interrupt it has not taken yet.
    ///
    /// # Examples
    ///
    /// ```
    /// let me = threadkit::interrupt::Interrupter::current();
    /// assert!(!me.is_pending());
    /// me.interrupt();
    /// assert!(me.is_pending());
    /// threadkit::interrupt::take();
    /// ```
    pub fn is_pending(&self) -> bool {
        self.state.pending.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for Interrupter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupter")
            .field("pending", &self.is_pending())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A parked (or about to park) timed wait on another thread ends by the interrupt, as a
    /// timeout, the primitive exactly as before; the flag is taken once. Run under Miri too
    /// (`.ci/miri.sh` runs the unit tests): the waiting layer's wrapper and fix-up, real threads.
    #[test]
    fn an_interrupt_ends_a_timed_wait_as_a_timeout() {
        let sem = crate::Semaphore::new(0);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            let sem = &sem;
            let waiter = s.spawn(move || {
                tx.send(Interrupter::current()).unwrap();
                let got = sem.acquire_timeout(Duration::from_secs(3600)).is_some();
                (got, take(), take())
            });
            rx.recv().unwrap().interrupt();
            assert_eq!(waiter.join().unwrap(), (false, true, false));
        });
        sem.release(1);
        assert_eq!(sem.value(), 1);
    }

    #[test]
    fn a_thread_never_made_interruptible_has_nothing_to_take() {
        std::thread::spawn(|| {
            assert!(!take());
            assert!(!pending());
            assert_eq!(count(), 0);
        })
        .join()
        .unwrap();
    }
}
