//! The waiting layer's loom backend (`--cfg loom` only).
//!
//! A model of `parking_lot_core`'s parking lot built from loom's own `Mutex` and `Condvar`, so that
//! loom sees, and explores, every step a primitive takes while parking and unparking:
//!
//! - one table (a loom `Mutex`) maps each key to a FIFO of waiters; it plays the part of the real
//!   backend's bucket lock: `validate`, `timed_out` and the unpark callbacks run while it is held;
//! - each waiter is a loom `Mutex<Option<UnparkToken>>` plus a loom `Condvar`; an unparker sets
//!   the token (under the table lock, as the real backend does) and notifies the condvar. A stray
//!   wake-up therefore stays with the one waiter it was meant for. `loom::thread::park` is not
//!   used: a stray `unpark` of a loom thread blocked elsewhere misbehaves (tokio-rs/loom#249).
//!
//! Time is not modelled (loom has no clock): a deadline already in the past when the thread is
//! about to sleep times out at once, through the same dequeue-and-`timed_out` path as the real
//! backend; any later deadline is treated as "never". So models use either a past deadline
//! (`Duration::ZERO`) or none. Spinning is not modelled either: [`SpinWait::spin`] always says
//! "stop spinning, park", which only removes an optimisation.
//!
//! The table lives in a `loom::lazy_static!`, which loom recreates for every execution.
//!
//! Mutation check: `--cfg threadkit_mutant="skip_validate"` (park without re-checking) and
//! `--cfg threadkit_mutant="always_last"` (a timed-out waiter always reports itself the last one)
//! break the contract the primitives rely on; `.ci/loom.sh --mutants` expects the models to fail
//! under each, which shows they can see a lost wake-up at all. `--cfg
//! threadkit_mutant="stale_wakeup"` (a wake-up sent on a key ends the next wait on that key, even
//! one that began after it) breaks what a wake-up *means*; the witness models of every primitive
//! that trusts its wake-up (Event, Condition, Barrier) must fail under it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use loom::sync::{Condvar, Mutex};

use super::{FilterOp, ParkResult, ParkToken, RequeueOp, UnparkResult, UnparkToken};

/// One parked thread.
struct Waiter {
    /// What the thread passed to `park`, shown to `unpark_filter`'s filter.
    park_token: ParkToken,
    /// The key whose queue the waiter is in (`unpark_requeue` moves it). Read and written only
    /// with the table lock held, so a plain std atomic is enough: loom sees the lock.
    key: AtomicUsize,
    /// Set (once) by the unparker that dequeued this waiter.
    unpark_token: Mutex<Option<UnparkToken>>,
    condvar: Condvar,
}

impl Waiter {
    /// Hands the waiter its token. Called with the table lock held, after dequeuing it.
    fn wake(&self, token: UnparkToken) {
        *self.unpark_token.lock().unwrap() = Some(token);
        self.condvar.notify_one();
    }

    /// Sleeps until an unparker has called [`wake`](Self::wake).
    fn sleep(&self) -> UnparkToken {
        let mut slot = self.unpark_token.lock().unwrap();
        loop {
            if let Some(token) = *slot {
                return token;
            }
            slot = self.condvar.wait(slot).unwrap();
        }
    }
}

/// The model parking lot.
struct Lot {
    queues: Mutex<HashMap<usize, VecDeque<Arc<Waiter>>>>,
    /// Mutant `stale_wakeup` only: the last token each key was unparked with.
    #[cfg(threadkit_mutant = "stale_wakeup")]
    stale: Mutex<HashMap<usize, UnparkToken>>,
    /// Whether unparks report `be_fair` (see [`hooks::set_fair_unpark`]). Model configuration,
    /// not model state: a plain std atomic set before the model's threads start.
    fair: AtomicBool,
}

loom::lazy_static! {
    static ref LOT: Lot = Lot {
        queues: Mutex::new(HashMap::new()),
        #[cfg(threadkit_mutant = "stale_wakeup")]
        stale: Mutex::new(HashMap::new()),
        fair: AtomicBool::new(false),
    };
}

fn unpark_result(unparked: usize, have_more: bool) -> UnparkResult {
    let mut result = UnparkResult::default();
    result.unparked_threads = unparked;
    result.have_more_threads = have_more;
    result.be_fair = unparked != 0 && LOT.fair.load(Ordering::Relaxed);
    result
}

pub(super) fn park(
    key: usize,
    validate: impl FnOnce() -> bool,
    before_sleep: impl FnOnce(),
    timed_out: impl FnOnce(usize, bool),
    token: ParkToken,
    deadline: Option<Instant>,
) -> ParkResult {
    let waiter = Arc::new(Waiter {
        park_token: token,
        key: AtomicUsize::new(key),
        unpark_token: Mutex::new(None),
        condvar: Condvar::new(),
    });
    {
        let mut queues = LOT.queues.lock().unwrap();
        // Mutant: a park that skips its re-check under the lock sleeps through a wake-up.
        let valid = cfg!(threadkit_mutant = "skip_validate") || validate();
        if !valid {
            return ParkResult::Invalid;
        }
        // Mutant: a wake-up that outlives the moment it was sent ends a later wait on the same
        // key (what Event's split set-then-wake did). Primitives that trust their wake-up must
        // fail their witness models; those that re-check (Lock, Semaphore) may survive.
        #[cfg(threadkit_mutant = "stale_wakeup")]
        if let Some(token) = LOT.stale.lock().unwrap().remove(&key) {
            drop(queues);
            before_sleep();
            return ParkResult::Unparked(token);
        }
        queues
            .entry(key)
            .or_default()
            .push_back(Arc::clone(&waiter));
    }
    before_sleep();
    if deadline.is_some_and(|d| d <= Instant::now()) {
        let mut queues = LOT.queues.lock().unwrap();
        // The waiter may have been requeued to another key meanwhile.
        let key = waiter.key.load(Ordering::Relaxed);
        if let Some(queue) = queues.get_mut(&key) {
            if let Some(pos) = queue.iter().position(|w| Arc::ptr_eq(w, &waiter)) {
                queue.remove(pos);
                // Mutant: a timed-out waiter that always says "I was the last" makes the primitive
                // drop its PARKED bit while others still sleep.
                let was_last = queue.is_empty() || cfg!(threadkit_mutant = "always_last");
                if was_last {
                    queues.remove(&key);
                }
                timed_out(key, was_last);
                return ParkResult::TimedOut;
            }
        }
        // An unparker dequeued us first: its token is already set, and it is ours.
    }
    ParkResult::Unparked(waiter.sleep())
}

pub(super) fn unpark_one(
    key: usize,
    callback: impl FnOnce(UnparkResult) -> UnparkToken,
) -> UnparkResult {
    let mut queues = LOT.queues.lock().unwrap();
    let (woken, have_more) = match queues.get_mut(&key) {
        Some(queue) => {
            let woken = queue.pop_front();
            let have_more = !queue.is_empty();
            if !have_more {
                queues.remove(&key);
            }
            (woken, have_more)
        }
        None => (None, false),
    };
    let result = unpark_result(usize::from(woken.is_some()), have_more);
    let token = callback(result);
    remember(key, token);
    if let Some(waiter) = woken {
        waiter.wake(token);
    }
    result
}

/// Mutant `stale_wakeup`: remembers `token` as the last wake-up sent on `key`.
#[inline]
#[allow(unused_variables)]
fn remember(key: usize, token: UnparkToken) {
    #[cfg(threadkit_mutant = "stale_wakeup")]
    LOT.stale.lock().unwrap().insert(key, token);
}

pub(super) fn unpark_all(key: usize, token: UnparkToken) -> usize {
    let mut queues = LOT.queues.lock().unwrap();
    let woken = queues.remove(&key).unwrap_or_default();
    remember(key, token);
    for waiter in &woken {
        waiter.wake(token);
    }
    woken.len()
}

pub(super) fn unpark_filter(
    key: usize,
    mut filter: impl FnMut(ParkToken) -> FilterOp,
    callback: impl FnOnce(UnparkResult) -> UnparkToken,
) -> UnparkResult {
    let mut queues = LOT.queues.lock().unwrap();
    let mut woken = Vec::new();
    let mut have_more = false;
    if let Some(queue) = queues.get_mut(&key) {
        let mut kept = VecDeque::with_capacity(queue.len());
        let mut stopped = false;
        for waiter in queue.drain(..) {
            if stopped {
                kept.push_back(waiter);
                continue;
            }
            match filter(waiter.park_token) {
                FilterOp::Unpark => woken.push(waiter),
                FilterOp::Skip => kept.push_back(waiter),
                FilterOp::Stop => {
                    stopped = true;
                    kept.push_back(waiter);
                }
            }
        }
        have_more = !kept.is_empty();
        if have_more {
            *queue = kept;
        } else {
            queues.remove(&key);
        }
    }
    let result = unpark_result(woken.len(), have_more);
    let token = callback(result);
    remember(key, token);
    for waiter in &woken {
        waiter.wake(token);
    }
    result
}

pub(super) fn unpark_requeue(
    key_from: usize,
    key_to: usize,
    validate: impl FnOnce() -> RequeueOp,
    callback: impl FnOnce(RequeueOp, UnparkResult) -> UnparkToken,
) -> UnparkResult {
    let mut queues = LOT.queues.lock().unwrap();
    let op = validate();
    if op == RequeueOp::Abort {
        return UnparkResult::default();
    }
    let mut from = queues.remove(&key_from).unwrap_or_default();
    let mut woken = None;
    let mut requeued = VecDeque::new();
    match op {
        RequeueOp::UnparkOne => woken = from.pop_front(),
        RequeueOp::UnparkOneRequeueRest => {
            woken = from.pop_front();
            requeued = std::mem::take(&mut from);
        }
        RequeueOp::RequeueAll => requeued = std::mem::take(&mut from),
        RequeueOp::RequeueOne => requeued.extend(from.pop_front()),
        RequeueOp::Abort => unreachable!("handled above"),
    }
    let have_more = !from.is_empty();
    if have_more {
        queues.insert(key_from, from);
    }
    let moved = requeued.len();
    if moved != 0 {
        for waiter in &requeued {
            waiter.key.store(key_to, Ordering::Relaxed);
        }
        queues.entry(key_to).or_default().extend(requeued);
    }
    let mut result = unpark_result(usize::from(woken.is_some()), have_more);
    result.requeued_threads = moved;
    let token = callback(op, result);
    remember(key_from, token);
    if let Some(waiter) = woken {
        waiter.wake(token);
    }
    result
}

/// The model's stand-in for `parking_lot_core::SpinWait`: never spins.
#[derive(Debug, Default)]
pub(crate) struct SpinWait(());

#[allow(dead_code)] // the same surface as parking_lot_core's, for all primitives
impl SpinWait {
    pub(crate) fn new() -> Self {
        SpinWait(())
    }

    pub(crate) fn reset(&mut self) {}

    /// Always `false`: "park now". Spinning is an optimisation loom need not explore.
    pub(crate) fn spin(&mut self) -> bool {
        false
    }

    pub(crate) fn spin_no_yield(&mut self) {}
}

/// Hooks for the loom models in `tests/loom.rs`, exported as `threadkit::__loom` under
/// `cfg(loom)` only. Not part of the API.
pub mod hooks {
    use super::LOT;
    use std::sync::atomic::Ordering;

    /// Makes every unpark in the current model execution report `be_fair` (`true`) or not
    /// (`false`, the default), so a model can explore the hand-off paths (e.g. `Lock`'s direct
    /// hand-over to the woken waiter) that the real backend takes about every 0.5 ms. Call it at
    /// the start of the model closure, before spawning.
    pub fn set_fair_unpark(fair: bool) {
        LOT.fair.store(fair, Ordering::Relaxed);
    }

    /// How many threads are parked, on any key, in the current model execution. A model that has
    /// joined all its threads can assert this is 0: no waiter left behind.
    pub fn parked_threads() -> usize {
        LOT.queues.lock().unwrap().values().map(|q| q.len()).sum()
    }
}
