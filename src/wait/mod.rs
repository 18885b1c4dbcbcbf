//! The waiting layer: the one way any threadkit primitive blocks a thread.
//!
//! Every blocking call in the crate (a contended acquire, a condition wait, a join, a queue get)
//! ends up in [`park_for`], and every wake-up in [`unpark_one`], [`unpark_all`] or [`unpark_filter`].
//! The shape is `parking_lot_core`'s: a thread parks on a *key* (the address of the primitive's
//! state word) after a `validate` callback, run under the parking lot's bucket lock, confirms that
//! it still has to sleep; wakers pass an [`UnparkToken`] that tells the sleeper why it woke.
//!
//! Keeping this layer small and in one place buys three things:
//! - the real backend (`parking_lot_core`: a global hash table of FIFO queues, one futex per
//!   thread, deadlines as [`Instant`]s) is swapped for a model under `--cfg loom` (`model.rs`:
//!   loom's Mutex and Condvar, same callbacks under the same lock, past deadlines time out, later
//!   ones never do), so loom explores the primitives' real code over every interleaving;
//! - diagnostics can see every wait: [`park_for`] publishes what the thread waits on (kind,
//!   object, call site, since, deadline; `record.rs`) for the duration of the sleep, which is
//!   what the thread dump and the deadlock finder (`src/diagnostics`) read;
//! - the `unsafe` contract of `parking_lot_core` is upheld in one reviewed file.
//!
//! # Contract for callers (all inside this crate)
//! `validate` and `timed_out` run while a bucket lock is held: they must not panic, block, or
//! call back into this module. `before_sleep` may call the `unpark_*` functions but not [`park_for`].
//! A timed park may be refused by the layer itself, before the primitive's `validate` runs (an
//! interrupt is pending, [`interrupt`]): it then returns [`ParkResult::TimedOut`] having run
//! neither `validate`, `before_sleep` nor `timed_out`, so a primitive that gives something up in
//! `before_sleep` (a lock guard) must find it still held after such a return.
//! Keys are addresses of state words owned by the calling primitive, so two live primitives
//! never share a key.

use std::panic::Location;
use std::time::{Duration, Instant};

#[cfg(not(loom))]
pub(crate) use parking_lot_core::SpinWait;
#[allow(unused_imports)] // FilterOp and ParkToken serve unpark_filter's callers
pub(crate) use parking_lot_core::{
    FilterOp, ParkResult, ParkToken, RequeueOp, UnparkResult, UnparkToken, DEFAULT_PARK_TOKEN,
    DEFAULT_UNPARK_TOKEN,
};

pub(crate) mod interrupt;
#[cfg_attr(loom, allow(dead_code))]
mod last_signal;
#[cfg(loom)]
mod model;
// Under loom the diagnostics that read records (and the thread joins that announce) are
// compiled out; the primitives still publish.
#[cfg_attr(loom, allow(dead_code, unused_imports))]
pub(crate) mod profile;
#[cfg_attr(loom, allow(dead_code, unused_imports))]
pub(crate) mod record;

#[cfg(loom)]
pub use model::hooks as loom_hooks;
#[cfg(loom)]
pub(crate) use model::SpinWait;
#[cfg_attr(loom, allow(unused_imports))]
pub(crate) use record::{announce, Holder, Target};

/// What kind of blocking call a thread is in, as a thread dump shows it.
#[cfg_attr(loom, allow(dead_code, unreachable_pub))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitKind {
    /// A contended [`crate::Lock`] acquire.
    Lock,
    /// A contended [`crate::RLock`] acquire.
    RLock,
    /// [`crate::Event::wait`].
    Event,
    /// A [`crate::Semaphore`] or [`crate::BoundedSemaphore`] acquire with no permit available.
    Semaphore,
    /// [`crate::Barrier::wait`] before the last party arrives.
    Barrier,
    /// A `get` on an empty queue ([`crate::queue`]).
    QueueGet,
    /// A `put` on a full queue ([`crate::queue`]).
    QueuePut,
    /// A queue's `join`, waiting for `task_done` ([`crate::queue`]).
    QueueJoin,
    /// The timer service waiting for the next deadline, or an idle timer worker.
    Timer,
    /// A [`crate::Condition`] wait (notify, not the lock, wakes it).
    Condition,
    /// A join of another thread ([`crate::Thread::join`], [`crate::JoinHandle::join`]).
    Join,
}

#[cfg_attr(loom, allow(dead_code, unreachable_pub))]
impl WaitKind {
    /// How the dump says it, after "waiting": `"to acquire"`, `"on"`, `"to join"` ...
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::diagnostics::WaitKind;
    /// assert_eq!(WaitKind::Lock.phrase(), "to acquire");
    /// assert_eq!(WaitKind::Event.phrase(), "on");
    /// ```
    pub fn phrase(self) -> &'static str {
        match self {
            WaitKind::Lock | WaitKind::RLock | WaitKind::Semaphore => "to acquire",
            WaitKind::Event | WaitKind::Barrier | WaitKind::Condition | WaitKind::Timer => "on",
            WaitKind::QueueGet => "to get from",
            WaitKind::QueuePut => "to put into",
            WaitKind::QueueJoin => "for task_done on",
            WaitKind::Join => "to join",
        }
    }
}

/// The instant `timeout` from now, or `None` ("wait forever") when that is not representable.
///
/// Every timed wait converts its relative timeout once, here, and then loops against the one
/// deadline, so retries after a lost race never extend the total wait.
#[inline]
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Parks the current thread on `key` until woken, or until `deadline` passes, publishing for
/// diagnostics that it waits (as `kind`) on `target`, called from the caller's call site
/// (`#[track_caller]` all the way from the public blocking method).
///
/// See the module docs for the callback contract.
#[inline]
#[track_caller]
#[allow(clippy::too_many_arguments)]
pub(crate) fn park_for(
    kind: WaitKind,
    target: Target,
    key: usize,
    validate: impl FnOnce() -> bool,
    before_sleep: impl FnOnce(),
    timed_out: impl FnOnce(usize, bool),
    token: ParkToken,
    deadline: Option<Instant>,
) -> ParkResult {
    park_for_at(
        Location::caller(),
        kind,
        target,
        key,
        validate,
        before_sleep,
        timed_out,
        token,
        deadline,
    )
}

/// [`park_for`] with the call site given (for a caller that cannot pass it by
/// `#[track_caller]`: `Lock`'s acquire runs inside the lock-order checker's closure).
#[inline]
#[allow(clippy::too_many_arguments, clippy::let_and_return)] // one `let` per backend
pub(crate) fn park_for_at(
    site: &'static Location<'static>,
    kind: WaitKind,
    target: Target,
    key: usize,
    validate: impl FnOnce() -> bool,
    before_sleep: impl FnOnce(),
    timed_out: impl FnOnce(usize, bool),
    token: ParkToken,
    deadline: Option<Instant>,
) -> ParkResult {
    // SAFETY: `record` is dropped at the end of this function (on unwinding too), never
    // leaked, and `target` (a parameter) outlives it.
    let record = unsafe { record::publish(kind, &target, site, deadline) };
    let result = interrupt::park(key, validate, before_sleep, timed_out, token, deadline);
    if let ParkResult::Unparked(_) = result {
        if record::tracking(record::TRACK_PROFILING) {
            if let Some(r) = record.record() {
                profile::charge(&r);
            }
        }
    }
    result
}

/// The parking lot's `park`, for [`interrupt::park`] (which arms timed parks of interruptible
/// threads and otherwise passes everything through).
#[inline]
#[allow(clippy::let_and_return)] // one `let` per backend
fn raw_park(
    key: usize,
    validate: impl FnOnce() -> bool,
    before_sleep: impl FnOnce(),
    timed_out: impl FnOnce(usize, bool),
    token: ParkToken,
    deadline: Option<Instant>,
) -> ParkResult {
    #[cfg(not(loom))]
    // SAFETY: `key` is the address of a state word owned by the calling primitive (module
    // contract), and the callbacks come from this crate's primitives, which keep `validate` and
    // `timed_out` to atomic loads/stores (no panics, no parking) and never park in `before_sleep`;
    // `interrupt::park`'s wrappers add an atomic load and a `Cell` to them.
    let result =
        unsafe { parking_lot_core::park(key, validate, before_sleep, timed_out, token, deadline) };
    #[cfg(loom)]
    let result = model::park(key, validate, before_sleep, timed_out, token, deadline);
    result
}

/// Whether a timed wait must stop: its deadline has passed, or the thread has an interrupt
/// pending ([`crate::interrupt`]). Wait loops check this rather than the clock alone, so that an
/// interrupted wait does not park again. `None` (no deadline) is never expired.
#[inline]
pub(crate) fn expired(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d || interrupt::pending())
}

/// Wakes the oldest thread parked on `key`; `callback` runs under the bucket lock with the
/// result (whether a thread was woken and whether others remain) and returns its token.
#[inline]
#[allow(clippy::let_and_return)] // one `let` per backend
pub(crate) fn unpark_one(
    key: usize,
    callback: impl FnOnce(UnparkResult) -> UnparkToken,
) -> UnparkResult {
    #[cfg(not(loom))]
    // SAFETY: as for `park`: a key owned by the caller, a non-panicking, non-parking callback.
    let result = unsafe { parking_lot_core::unpark_one(key, callback) };
    #[cfg(loom)]
    let result = model::unpark_one(key, callback);
    result
}

/// Wakes every thread parked on `key` with `token`; returns how many were woken.
#[inline]
#[allow(clippy::let_and_return)] // one `let` per backend
pub(crate) fn unpark_all(key: usize, token: UnparkToken) -> usize {
    #[cfg(not(loom))]
    // SAFETY: a key owned by the caller; no callbacks.
    let woken = unsafe { parking_lot_core::unpark_all(key, token) };
    #[cfg(loom)]
    let woken = model::unpark_all(key, token);
    woken
}

/// Walks the threads parked on `key` oldest first, waking those `filter` selects; `callback`
/// runs under the bucket lock before any thread is woken and returns the token they receive.
#[inline]
pub(crate) fn unpark_filter(
    key: usize,
    filter: impl FnMut(ParkToken) -> FilterOp,
    callback: impl FnOnce(UnparkResult) -> UnparkToken,
) -> UnparkResult {
    #[cfg(not(loom))]
    // SAFETY: a key owned by the caller, or (`interrupt`) a key the interrupted thread parked
    // on, where the filter selects only that thread's own armed token; `filter` and `callback`
    // only touch the caller's atomics and local state, never panic and never park.
    let result = unsafe { parking_lot_core::unpark_filter(key, filter, callback) };
    #[cfg(loom)]
    let result = model::unpark_filter(key, filter, callback);
    result
}

/// Moves threads parked on `key_from` to `key_to` (or wakes one) as `validate` decides, under
/// both bucket locks; `callback` runs before anyone is woken and returns the token a woken thread
/// receives. A requeued thread sleeps on, now on `key_to`, and is woken by whatever wakes
/// `key_to`'s threads (Condition moves notified waiters onto its lock this way, so they wake once,
/// when the notifier releases the lock, instead of waking only to block on it).
#[inline]
pub(crate) fn unpark_requeue(
    key_from: usize,
    key_to: usize,
    validate: impl FnOnce() -> RequeueOp,
    callback: impl FnOnce(RequeueOp, UnparkResult) -> UnparkToken,
) -> UnparkResult {
    #[cfg(not(loom))]
    // SAFETY: both keys belong to the caller (a Condition and its lock); `validate` and
    // `callback` only touch their atomics, never panic and never park.
    let result = unsafe { parking_lot_core::unpark_requeue(key_from, key_to, validate, callback) };
    #[cfg(loom)]
    let result = model::unpark_requeue(key_from, key_to, validate, callback);
    result
}
