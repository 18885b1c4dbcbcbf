//! Python's `queue` module: [`Queue`], [`LifoQueue`], [`PriorityQueue`] and [`SimpleQueue`].
//!
//! Queues move items between threads. [`Queue`] hands them out first in, first out;
//! [`LifoQueue`] last in, first out; [`PriorityQueue`] smallest first (ties in the order they were
//! put). The three take a `maxsize` (0 means unbounded): `put` on a full queue waits for room and
//! `get` on an empty one waits for an item, or gives up at once (`try_`), after a timeout
//! (`_timeout`) or at a deadline (`_deadline`). They count the items put and not yet marked done
//! with `task_done`, so that `join` can wait until everything put has been processed, and they can
//! be shut down (Python 3.13), which makes `put` fail and, once the queue is drained, `get` too.
//! [`SimpleQueue`] is the bare unbounded FIFO: no `maxsize`, no task counting, no shutdown.
//!
//! ```
//! use std::sync::Arc;
//! use threadkit::queue::Queue;
//!
//! let jobs = Arc::new(Queue::new(0));
//! let worker = std::thread::spawn({
//!     let jobs = Arc::clone(&jobs);
//!     move || {
//!         let mut total = 0;
//!         // `get` fails once the queue is shut down and empty.
//!         while let Ok(n) = jobs.get() {
//!             total += n;
//!             jobs.task_done().unwrap();
//!         }
//!         total
//!     }
//! });
//! for n in 1..=10 {
//!     jobs.put(n).unwrap();
//! }
//! jobs.join(); // every item has had its task_done
//! jobs.shutdown();
//! assert_eq!(worker.join().unwrap(), 55);
//! ```
//!
//! # From Python
//!
//! | Python `queue` | threadkit |
//! |---|---|
//! | `Queue(maxsize)`, `LifoQueue(maxsize)`, `PriorityQueue(maxsize)`, `SimpleQueue()` | [`Queue::new`], [`LifoQueue::new`], [`PriorityQueue::new`], [`SimpleQueue::new`] |
//! | `q.put(x)` / `put(x, block=False)`, `put_nowait(x)` / `put(x, timeout=t)` | [`put`](Queue::put) / [`try_put`](Queue::try_put) / [`put_timeout`](Queue::put_timeout), [`put_deadline`](Queue::put_deadline) |
//! | `q.get()` / `get(block=False)`, `get_nowait()` / `get(timeout=t)` | [`get`](Queue::get) / [`try_get`](Queue::try_get) / [`get_timeout`](Queue::get_timeout), [`get_deadline`](Queue::get_deadline) |
//! | `qsize()`, `empty()`, `full()`, `maxsize` | [`len`](Queue::len), [`is_empty`](Queue::is_empty), [`is_full`](Queue::is_full), [`maxsize`](Queue::maxsize) |
//! | `task_done()`, `join()`, `unfinished_tasks` | [`task_done`](Queue::task_done), [`join`](Queue::join) (+ [`join_timeout`](Queue::join_timeout)), [`unfinished_tasks`](Queue::unfinished_tasks) |
//! | `shutdown()`, `shutdown(immediate=True)`, `is_shutdown` | [`shutdown`](Queue::shutdown), [`shutdown_immediate`](Queue::shutdown_immediate), [`is_shutdown`](Queue::is_shutdown) |
//! | `queue.Full`, `queue.Empty`, `queue.ShutDown` | [`TryPutError::Full`], [`TryGetError::Empty`] (and the `Timeout` variants), the `ShutDown` variants, [`PutError`], [`GetError`] |
//!
//! # Differences from Python, for all the queues
//!
//! - What Python raises is returned as an error that hands a rejected item back.
//! - `maxsize` is fixed when the queue is made (Python lets code assign `q.maxsize`).
//! - A [`Duration`](std::time::Duration) cannot be negative, so the `ValueError` for a negative
//!   timeout cannot happen; a timeout too large for the clock means "wait forever".
//! - The store cannot be customised by overriding `_put`/`_get`; pick the queue type instead.
//! - Waits are not interrupted by signals.
//!
//! # How they are built
//!
//! All the waiting goes through the crate's parking layer: getters, putters and joiners park on
//! three keys of their own, and each side keeps a count of its sleepers, so a `put` or `get` with
//! nobody waiting makes no system call. The length is kept as two counters, items ever put and
//! items ever taken, each written by one side on its own cache line, and the unfinished tasks
//! are "items ever put" minus "tasks done", so a `put` writes nothing that consumers write. Before parking, a blocked `get` or `put` spins briefly on
//! the queue's length, which avoids most sleeps when producer and consumer run at similar speeds.
//! [`Queue`] and [`SimpleQueue`] keep their items in two halves, each behind its own
//! [`Lock`]: producers append to one, consumers take from the other and swap the two
//! (in constant time) when theirs runs dry, so producers and consumers rarely contend for the same
//! lock. [`LifoQueue`] and [`PriorityQueue`] keep one store behind one lock.

use std::collections::VecDeque;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::Instant;

use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::wait::{self, ParkResult, SpinWait, UnparkToken, WaitKind, DEFAULT_PARK_TOKEN};
use crate::Lock;

mod error;
// `lifo`, `priority` and `simple` are declared after the `bounded_queue!` macro they use.

pub use error::{
    GetError, GetTimeoutError, PutError, PutTimeoutError, TaskDoneError, TryGetError, TryPutError,
};
pub use lifo::LifoQueue;
pub use priority::PriorityQueue;
pub use simple::SimpleQueue;

/// Aligns a value to its own cache line(s), so that fields written by producers and fields
/// written by consumers do not share one (128 bytes: adjacent-line prefetch pairs lines on x86).
#[repr(align(128))]
#[derive(Default)]
pub(crate) struct CachePadded<T>(T);

impl<T> Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for CachePadded<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// Why a queue operation could not go ahead (mapped to the public error types by each method).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The queue is full (or stayed full until the deadline).
    Full,
    /// The queue is empty (or stayed empty until the deadline).
    Empty,
    /// The queue is shut down (and, for a get, empty).
    ShutDown,
}

/// The counters every store shares, read without locks by waiters and by `len`.
///
/// The length is `pushed - popped`: two counters, each written by one side only (under that
/// side's lock) and each on its own cache line, so that with the two-lock FIFO a producer and a
/// consumer do not write to a common line on every item. Both only grow (wrapping).
pub(crate) struct State {
    /// Items ever stored; written only under the put-side lock.
    pushed: CachePadded<AtomicUsize>,
    /// Items ever taken out (by a get, a drain, or lost to a panic); written only under the
    /// get-side lock.
    popped: CachePadded<AtomicUsize>,
    /// Tasks finished: `task_done` calls, plus the items an immediate shutdown dropped. The
    /// unfinished tasks (Python's `unfinished_tasks`) are `pushed - finished`, so a `put` counts
    /// its task without touching a counter the consumers write.
    finished: CachePadded<AtomicUsize>,
    /// Read-mostly: the shut-down flag, the fixed settings and the waiter counts.
    config: CachePadded<Config>,
}

/// The read-mostly part of [`State`].
struct Config {
    /// Set once by `shutdown`, under the store's locks.
    shut_down: AtomicBool,
    /// 0 for unbounded.
    maxsize: usize,
    /// Whether `put` counts unfinished tasks (not for `SimpleQueue`).
    track_tasks: bool,
    /// Parked getters, putters and joiners; the keys they park on are these fields' addresses.
    waiters: Waiters,
}

impl State {
    fn new(maxsize: usize, track_tasks: bool) -> Self {
        State {
            pushed: CachePadded(AtomicUsize::new(0)),
            popped: CachePadded(AtomicUsize::new(0)),
            finished: CachePadded(AtomicUsize::new(0)),
            config: CachePadded(Config {
                shut_down: AtomicBool::new(false),
                maxsize,
                track_tasks,
                waiters: Waiters::default(),
            }),
        }
    }

    /// The number of items stored. Reads `popped` before `pushed`: `pushed` only grows and is
    /// never behind `popped`, so the difference cannot go negative.
    #[inline]
    fn len(&self) -> usize {
        let popped = self.popped.load(Ordering::SeqCst);
        self.pushed.load(Ordering::SeqCst).wrapping_sub(popped)
    }

    /// Tasks put and not finished. Reads `finished` before `pushed`, as [`len`](Self::len) does.
    #[inline]
    fn unfinished(&self) -> usize {
        let finished = self.finished.load(Ordering::SeqCst);
        self.pushed.load(Ordering::SeqCst).wrapping_sub(finished)
    }

    #[inline]
    fn is_shut_down(&self) -> bool {
        self.config.shut_down.load(Ordering::SeqCst)
    }

    /// Called under the put-side lock before storing an item: may it go in?
    ///
    /// `popped_seen` is the put side's cache of `popped` (a value it read earlier, so never ahead
    /// of the real one): the consumers' counter is only re-read when the cached one says "full",
    /// so a bounded queue with room does not pull the consumers' cache line on every put.
    #[inline]
    pub(crate) fn admit(&self, popped_seen: &mut usize) -> Result<(), Refusal> {
        let config = &*self.config;
        if config.shut_down.load(Ordering::Relaxed) {
            return Err(Refusal::ShutDown);
        }
        if config.maxsize != 0 {
            let pushed = self.pushed.load(Ordering::Relaxed);
            if pushed.wrapping_sub(*popped_seen) >= config.maxsize {
                *popped_seen = self.popped.load(Ordering::SeqCst);
                if pushed.wrapping_sub(*popped_seen) >= config.maxsize {
                    return Err(Refusal::Full);
                }
            }
        }
        Ok(())
    }

    /// [`admit`](Self::admit) for a store whose put and get sides share one lock (nothing to
    /// cache: the counters' lines move with the lock anyway).
    #[inline]
    pub(crate) fn admit_uncached(&self) -> Result<(), Refusal> {
        let mut popped = self.popped.load(Ordering::Relaxed);
        self.admit(&mut popped)
    }

    /// Called under the put-side lock once the item is stored (which also counts its task).
    #[inline]
    pub(crate) fn pushed(&self) {
        // SeqCst: pairs with the getters' count (see `Core::park_on`).
        self.pushed.fetch_add(1, Ordering::SeqCst);
    }

    /// Called under the get-side lock once an item is taken out.
    #[inline]
    pub(crate) fn popped(&self) {
        self.popped.fetch_add(1, Ordering::SeqCst);
    }

    /// Called under the get-side lock(s) when the store is empty: `Empty`, or `ShutDown` once the
    /// queue is shut down.
    #[inline]
    pub(crate) fn refuse_get(&self) -> Refusal {
        if self.config.shut_down.load(Ordering::Relaxed) {
            Refusal::ShutDown
        } else {
            Refusal::Empty
        }
    }

    /// Called under all the store's locks by `shutdown`.
    pub(crate) fn close(&self) {
        self.config.shut_down.store(true, Ordering::SeqCst);
    }

    /// Called under the get-side lock(s) when `shutdown_immediate` took `n` items out, or when a
    /// store lost `n` items to a panic.
    pub(crate) fn drained(&self, n: usize) {
        self.popped.fetch_add(n, Ordering::SeqCst);
    }

    /// Called under the store's lock when a panic left `n` items in it that `pushed` did not count
    /// (a user's `Ord` panicked after the item went in).
    pub(crate) fn recount(&self, n: usize) {
        for _ in 0..n {
            self.pushed();
        }
    }

    /// Without the put-side lock: `Some` when a get must fail now. Reads the length before the
    /// flag: a flag still clear means it was clear when the length was read, so `Empty` is a true
    /// answer for that moment; `ShutDown` is only given after re-reading the length once the
    /// flag is seen (no put can succeed after the flag is set).
    #[inline]
    pub(crate) fn quick_refuse_get(&self) -> Option<Refusal> {
        if self.len() != 0 {
            return None;
        }
        if !self.is_shut_down() {
            return Some(Refusal::Empty);
        }
        (self.len() == 0).then_some(Refusal::ShutDown)
    }

    /// Whether a `get` has to wait (empty and open).
    #[inline]
    fn get_blocks(&self) -> bool {
        self.len() == 0 && !self.is_shut_down()
    }

    /// Whether a `put` has to wait (bounded, full and open).
    #[inline]
    fn put_blocks(&self) -> bool {
        self.config.maxsize != 0 && self.len() >= self.config.maxsize && !self.is_shut_down()
    }
}

/// How many threads are parked (or about to park) on each of a queue's three keys; the keys are
/// these fields' addresses.
#[derive(Default)]
struct Waiters {
    getters: AtomicUsize,
    putters: AtomicUsize,
    joiners: AtomicUsize,
}

/// A queue's item store, with its own locking. `push` must call [`State::admit`] before and
/// [`State::pushed`] after storing, under its put-side lock; `pop` must call [`State::popped`] or
/// [`State::refuse_get`] under its get-side lock(s); `close` must call [`State::close`] (and
/// [`State::drained`]) with every lock held. If the store panics (a user's `Ord`), it must leave
/// `len` equal to what it holds.
pub(crate) trait Buffer {
    /// What the queue holds.
    type Item;
    /// What `close(.., true)` takes out, dropped by the caller after the locks are released.
    type Drained;
    /// Stores `item` if [`State::admit`] allows it, or hands it back with the refusal.
    fn push(&self, item: Self::Item, state: &State) -> Result<(), (Self::Item, Refusal)>;
    /// Takes the next item out, or says why not (`Empty` or `ShutDown`).
    fn pop(&self, state: &State) -> Result<Self::Item, Refusal>;
    /// Marks the queue shut down and, if `immediate`, takes every item out; returns how many.
    fn close(&self, state: &State, immediate: bool) -> (usize, Self::Drained);
}

/// The machinery shared by every queue type: counters, waiting and waking, over a [`Buffer`].
pub(crate) struct Core<B> {
    state: State,
    buf: B,
}

/// Whether `deadline` has passed (a zero timeout only tries once, without spinning).
#[inline]
fn past(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// Runs its closure when dropped, which the queue only lets happen while unwinding (on the
/// normal path it is `mem::forget`-ten): the wake-up owed for a change a panicking store made.
struct OnUnwind<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnUnwind<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// Wakers pass no information.
const TOKEN: UnparkToken = UnparkToken(0);

impl<B: Default> Core<B> {
    pub(crate) fn new(maxsize: usize, track_tasks: bool) -> Self {
        Core {
            state: State::new(maxsize, track_tasks),
            buf: B::default(),
        }
    }
}

impl<B> Core<B> {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.state.len()
    }

    #[inline]
    pub(crate) fn maxsize(&self) -> usize {
        self.state.config.maxsize
    }

    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.state.config.maxsize != 0 && self.len() >= self.state.config.maxsize
    }

    #[inline]
    pub(crate) fn unfinished_tasks(&self) -> usize {
        self.state.unfinished()
    }

    #[inline]
    pub(crate) fn is_shutdown(&self) -> bool {
        self.state.is_shut_down()
    }

    /// `Debug` for the public types: kind, length, maxsize and the rest of the state.
    pub(crate) fn debug(&self, kind: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct(kind);
        d.field("len", &self.len());
        d.field("maxsize", &self.maxsize());
        if self.state.config.track_tasks {
            d.field("unfinished_tasks", &self.unfinished_tasks());
            d.field("is_shutdown", &self.is_shutdown());
        }
        d.finish()
    }

    fn key(counter: &AtomicUsize) -> usize {
        counter as *const AtomicUsize as usize
    }

    /// After a put: wake one parked getter, if there is one. With nobody parked this is one load.
    #[inline]
    fn wake_getter(&self) {
        crate::loom::seq_cst_fence_for_loom(); // see there: loom's SeqCst is weaker than real
        if self.state.config.waiters.getters.load(Ordering::SeqCst) != 0 {
            wait::unpark_one(Self::key(&self.state.config.waiters.getters), |_| TOKEN);
        }
    }

    /// After a get: wake one parked putter, if there is one.
    #[inline]
    fn wake_putter(&self) {
        crate::loom::seq_cst_fence_for_loom(); // see there: loom's SeqCst is weaker than real
        if self.state.config.waiters.putters.load(Ordering::SeqCst) != 0 {
            wait::unpark_one(Self::key(&self.state.config.waiters.putters), |_| TOKEN);
        }
    }

    /// Parks on `counter`'s key while `still_blocked` holds, until woken or `deadline`; returns
    /// whether the wait timed out.
    ///
    /// The counter is raised before `still_blocked` is checked under the bucket lock, and wakers
    /// change the state before reading the counter (both SeqCst): either the waker sees the
    /// sleeper and wakes it, or the sleeper's check sees the change and does not sleep.
    fn park_on(
        &self,
        kind: WaitKind,
        counter: &AtomicUsize,
        still_blocked: impl FnOnce() -> bool,
        deadline: Option<Instant>,
    ) -> bool {
        counter.fetch_add(1, Ordering::SeqCst);
        crate::loom::seq_cst_fence_for_loom(); // see there: loom's SeqCst is weaker than real
        let result = wait::park(
            kind,
            Self::key(counter),
            still_blocked,
            || {},
            |_, _| {},
            DEFAULT_PARK_TOKEN,
            deadline,
        );
        counter.fetch_sub(1, Ordering::Relaxed);
        matches!(result, ParkResult::TimedOut)
    }

    /// `task_done`: one unfinished task fewer; wakes the joiners when none is left.
    pub(crate) fn task_done(&self) -> Result<(), TaskDoneError> {
        let (pushed, finished) = (&self.state.pushed, &self.state.finished);
        let mut done = finished.load(Ordering::SeqCst);
        loop {
            // `pushed` only grows, so "a task is unfinished" stays true until `finished` moves.
            if pushed.load(Ordering::SeqCst).wrapping_sub(done) == 0 {
                return Err(TaskDoneError(()));
            }
            match finished.compare_exchange_weak(
                done,
                done.wrapping_add(1),
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => break,
                Err(now) => done = now,
            }
        }
        if pushed.load(Ordering::SeqCst) == done.wrapping_add(1) {
            self.wake_joiners();
        }
        Ok(())
    }

    fn wake_joiners(&self) {
        crate::loom::seq_cst_fence_for_loom(); // see there: loom's SeqCst is weaker than real
        if self.state.config.waiters.joiners.load(Ordering::SeqCst) != 0 {
            wait::unpark_all(Self::key(&self.state.config.waiters.joiners), TOKEN);
        }
    }

    /// `join`: waits until no task is unfinished, or until `deadline`; returns whether none is.
    pub(crate) fn join(&self, deadline: Option<Instant>) -> bool {
        loop {
            if self.state.unfinished() == 0 {
                return true;
            }
            let state = &self.state;
            let timed_out = self.park_on(
                WaitKind::QueueJoin,
                &self.state.config.waiters.joiners,
                || state.unfinished() != 0,
                deadline,
            );
            if timed_out {
                return self.state.unfinished() == 0;
            }
        }
    }
}

impl<B: Buffer> Core<B> {
    /// A put that never waits.
    #[inline]
    pub(crate) fn try_put(&self, item: B::Item) -> Result<(), (B::Item, Refusal)> {
        // A panicking `Ord` unwinds out of `push` with the item kept in the store (and
        // counted): the getter it is owed must still be woken (issue 10, defect 5).
        let on_unwind = OnUnwind(|| self.wake_getter());
        let pushed = self.buf.push(item, &self.state);
        std::mem::forget(on_unwind);
        pushed?;
        self.wake_getter();
        Ok(())
    }

    /// A put that waits for room until `deadline` (`None`: forever). `Full` means timed out.
    pub(crate) fn put(
        &self,
        mut item: B::Item,
        deadline: Option<Instant>,
    ) -> Result<(), (B::Item, Refusal)> {
        let mut spin = SpinWait::new();
        loop {
            match self.try_put(item) {
                Err((back, Refusal::Full)) => item = back,
                done => return done,
            }
            if past(deadline) {
                return Err((item, Refusal::Full));
            }
            // Spin a little while the queue stays full, then sleep.
            while self.state.put_blocks() && spin.spin() {}
            if !self.state.put_blocks() {
                continue;
            }
            let state = &self.state;
            let timed_out = self.park_on(
                WaitKind::QueuePut,
                &self.state.config.waiters.putters,
                || state.put_blocks(),
                deadline,
            );
            if timed_out {
                return self.try_put(item);
            }
            spin.reset();
        }
    }

    /// A get that never waits.
    #[inline]
    pub(crate) fn try_get(&self) -> Result<B::Item, Refusal> {
        // A panicking `Ord` unwinds out of `pop` with the item taken out (and dropped): the
        // putter owed that room must still be woken (issue 10, defect 5).
        let on_unwind = OnUnwind(|| self.wake_putter());
        let item = self.buf.pop(&self.state);
        std::mem::forget(on_unwind);
        let item = item?;
        self.wake_putter();
        Ok(item)
    }

    /// A get that waits for an item until `deadline` (`None`: forever). `Empty` means timed out.
    pub(crate) fn get(&self, deadline: Option<Instant>) -> Result<B::Item, Refusal> {
        let mut spin = SpinWait::new();
        loop {
            match self.try_get() {
                Err(Refusal::Empty) => {}
                done => return done,
            }
            if past(deadline) {
                return Err(Refusal::Empty);
            }
            while self.state.get_blocks() && spin.spin() {}
            if !self.state.get_blocks() {
                continue;
            }
            let state = &self.state;
            let timed_out = self.park_on(
                WaitKind::QueueGet,
                &self.state.config.waiters.getters,
                || state.get_blocks(),
                deadline,
            );
            if timed_out {
                return self.try_get();
            }
            spin.reset();
        }
    }

    /// `shutdown(immediate)`: refuse further puts, wake every blocked getter and putter; with
    /// `immediate`, also drop what is queued and count those tasks done.
    pub(crate) fn shutdown(&self, immediate: bool) {
        let (n, drained) = self.buf.close(&self.state, immediate);
        wait::unpark_all(Self::key(&self.state.config.waiters.putters), TOKEN);
        wait::unpark_all(Self::key(&self.state.config.waiters.getters), TOKEN);
        if immediate {
            self.forget_tasks(n);
            self.wake_joiners();
        }
        drop(drained); // outside the locks: an item's `drop` may use the queue
    }

    /// Takes `n` off the unfinished tasks, stopping at zero (immediate shutdown). Called after
    /// `close`, when no put can succeed any more, so `pushed` no longer moves.
    fn forget_tasks(&self, n: usize) {
        if n == 0 || !self.state.config.track_tasks {
            return;
        }
        let finished = &self.state.finished;
        let pushed = self.state.pushed.load(Ordering::SeqCst);
        let mut done = finished.load(Ordering::SeqCst);
        loop {
            let forget = n.min(pushed.wrapping_sub(done));
            match finished.compare_exchange_weak(
                done,
                done.wrapping_add(forget),
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return,
                Err(now) => done = now,
            }
        }
    }
}

/// The FIFO store of [`Queue`] and [`SimpleQueue`]: two deques, each behind its own lock.
///
/// Producers append to `tail`. Consumers take from the front of `head`; when it is empty they
/// lock `tail` too (always in the order head, then tail) and swap the two deques, so everything
/// in `head` is older than everything in `tail` and the order stays first in, first out.
pub(crate) struct Fifo<T> {
    head: CachePadded<Lock<VecDeque<T>>>,
    tail: CachePadded<Lock<Tail<T>>>,
}

/// The put side of [`Fifo`].
struct Tail<T> {
    items: VecDeque<T>,
    /// The put side's cache of `State::popped` (see [`State::admit`]).
    popped_seen: usize,
}

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo {
            head: CachePadded(Lock::with_value(VecDeque::new())),
            tail: CachePadded(Lock::with_value(Tail {
                items: VecDeque::new(),
                popped_seen: 0,
            })),
        }
    }
}

impl<T> Buffer for Fifo<T> {
    type Item = T;
    type Drained = (VecDeque<T>, VecDeque<T>);

    #[inline]
    fn push(&self, item: T, state: &State) -> Result<(), (T, Refusal)> {
        let mut tail = self.tail.acquire();
        if let Err(refusal) = state.admit(&mut tail.popped_seen) {
            return Err((item, refusal));
        }
        tail.items.push_back(item);
        state.pushed();
        Ok(())
    }

    #[inline]
    fn pop(&self, state: &State) -> Result<T, Refusal> {
        let mut head = self.head.acquire();
        if head.is_empty() {
            // Nothing on the put side either: answer without touching the producers' lock.
            if let Some(refusal) = state.quick_refuse_get() {
                return Err(refusal);
            }
            let mut tail = self.tail.acquire();
            if tail.items.is_empty() {
                return Err(state.refuse_get());
            }
            std::mem::swap(&mut *head, &mut tail.items);
        }
        match head.pop_front() {
            Some(item) => {
                state.popped();
                Ok(item)
            }
            None => Err(state.refuse_get()),
        }
    }

    fn close(&self, state: &State, immediate: bool) -> (usize, Self::Drained) {
        let mut head = self.head.acquire();
        let mut tail = self.tail.acquire();
        state.close();
        if !immediate {
            return (0, Default::default());
        }
        let drained = (std::mem::take(&mut *head), std::mem::take(&mut tail.items));
        let n = drained.0.len() + drained.1.len();
        state.drained(n);
        (n, drained)
    }
}

/// Generates a bounded queue type (`Queue`, `LifoQueue`, `PriorityQueue`) over a [`Buffer`]:
/// the struct, its methods with their docs and examples, `Default` and `Debug`.
macro_rules! bounded_queue {
    (
        $(#[$attr:meta])*
        pub struct $Q:ident<T> => $Buf:ident $(where T: $bound:path)?;
    ) => {
        $(#[$attr])*
        pub struct $Q<T> {
            core: $crate::queue::Core<$Buf<T>>,
        }

        impl<T $(: $bound)?> $Q<T> {
            #[doc = concat!("Creates a queue that holds at most `maxsize` items; `0` means no limit.

Python's `", stringify!($Q), "(maxsize=0)`.

# Examples

```
use threadkit::queue::", stringify!($Q), ";

let q = ", stringify!($Q), "::new(2);
q.put(1).unwrap();
q.put(2).unwrap();
assert!(q.is_full());
assert!(!", stringify!($Q), "::<u8>::new(0).is_full());
```")]
            pub fn new(maxsize: usize) -> Self {
                $Q {
                    core: $crate::queue::Core::new(maxsize, true),
                }
            }

            #[doc = concat!("Puts `item` in the queue, waiting for room if it is full.

Python's `q.put(item)`. On an unbounded queue this never waits.

# Errors

[`PutError`](crate::queue::PutError) (holding the item) if the queue is shut down, or gets shut
down while this call waits for room (Python's `ShutDown`).

# Examples

```
use threadkit::queue::", stringify!($Q), ";

let q = std::sync::Arc::new(", stringify!($Q), "::new(1));
q.put(1).unwrap();
let getter = std::thread::spawn({
    let q = q.clone();
    move || q.get().unwrap()
});
q.put(2).unwrap(); // waits until the other thread took an item
assert_eq!(q.len(), 1);
# getter.join().unwrap();
```")]
            #[inline]
            pub fn put(&self, item: T) -> Result<(), $crate::queue::PutError<T>> {
                self.core
                    .put(item, None)
                    .map_err(|(item, _)| $crate::queue::PutError(item))
            }

            #[doc = concat!("Puts `item` in the queue if there is room now, without waiting.

Python's `q.put_nowait(item)` / `q.put(item, block=False)`.

# Errors

[`TryPutError::Full`](crate::queue::TryPutError::Full) if the queue is full (Python's `Full`),
[`TryPutError::ShutDown`](crate::queue::TryPutError::ShutDown) if it is shut down; both hold the
item.

# Examples

```
use threadkit::queue::{", stringify!($Q), ", TryPutError};

let q = ", stringify!($Q), "::new(1);
assert_eq!(q.try_put(1), Ok(()));
assert_eq!(q.try_put(2), Err(TryPutError::Full(2)));
```")]
            #[doc(alias = "put_nowait")]
            #[inline]
            pub fn try_put(&self, item: T) -> Result<(), $crate::queue::TryPutError<T>> {
                self.core.try_put(item).map_err(|(item, refusal)| match refusal {
                    $crate::queue::Refusal::ShutDown => {
                        $crate::queue::TryPutError::ShutDown(item)
                    }
                    _ => $crate::queue::TryPutError::Full(item),
                })
            }

            #[doc = concat!("Puts `item` in the queue, waiting at most `timeout` for room.

Python's `q.put(item, timeout=t)`. A zero timeout behaves as [`try_put`](Self::try_put).

# Errors

[`PutTimeoutError::Timeout`](crate::queue::PutTimeoutError::Timeout) if the queue stayed full
(Python's `Full`), [`PutTimeoutError::ShutDown`](crate::queue::PutTimeoutError::ShutDown) if it is
or gets shut down; both hold the item.

# Examples

```
use std::time::Duration;
use threadkit::queue::", stringify!($Q), ";

let q = ", stringify!($Q), "::new(1);
q.put_timeout(1, Duration::from_millis(10)).unwrap();
let err = q.put_timeout(2, Duration::from_millis(10)).unwrap_err();
assert!(err.is_timeout());
assert_eq!(err.into_inner(), 2);
```")]
            pub fn put_timeout(
                &self,
                item: T,
                timeout: std::time::Duration,
            ) -> Result<(), $crate::queue::PutTimeoutError<T>> {
                self.put_until(item, $crate::wait::deadline_after(timeout))
            }

            #[doc = concat!("Puts `item` in the queue, waiting for room until `deadline` at the
latest.

# Errors

As [`put_timeout`](Self::put_timeout).

# Examples

```
use std::time::{Duration, Instant};
use threadkit::queue::", stringify!($Q), ";

let q = ", stringify!($Q), "::new(1);
let deadline = Instant::now() + Duration::from_millis(10);
q.put_deadline(1, deadline).unwrap();
assert!(q.put_deadline(2, deadline).unwrap_err().is_timeout());
```")]
            pub fn put_deadline(
                &self,
                item: T,
                deadline: std::time::Instant,
            ) -> Result<(), $crate::queue::PutTimeoutError<T>> {
                self.put_until(item, Some(deadline))
            }

            fn put_until(
                &self,
                item: T,
                deadline: Option<std::time::Instant>,
            ) -> Result<(), $crate::queue::PutTimeoutError<T>> {
                self.core.put(item, deadline).map_err(|(item, refusal)| match refusal {
                    $crate::queue::Refusal::ShutDown => {
                        $crate::queue::PutTimeoutError::ShutDown(item)
                    }
                    _ => $crate::queue::PutTimeoutError::Timeout(item),
                })
            }

            #[doc = concat!("Takes the next item out of the queue, waiting for one if it is empty.

Python's `q.get()`. After a [`shutdown`](Self::shutdown) it still returns what is left, then fails.

# Errors

[`GetError`](crate::queue::GetError) if the queue is empty and shut down, also when the shutdown
happens while this call waits (Python's `ShutDown`).

# Examples

```
use threadkit::queue::", stringify!($Q), ";

let q = std::sync::Arc::new(", stringify!($Q), "::new(0));
let putter = std::thread::spawn({
    let q = q.clone();
    move || q.put(42).unwrap()
});
assert_eq!(q.get(), Ok(42)); // waits for the other thread's put
# putter.join().unwrap();
```")]
            #[inline]
            pub fn get(&self) -> Result<T, $crate::queue::GetError> {
                self.core.get(None).map_err(|_| $crate::queue::GetError)
            }

            #[doc = concat!("Takes the next item out of the queue if there is one, without waiting.

Python's `q.get_nowait()` / `q.get(block=False)`.

# Errors

[`TryGetError::Empty`](crate::queue::TryGetError::Empty) if the queue is empty (Python's
`Empty`), [`TryGetError::ShutDown`](crate::queue::TryGetError::ShutDown) if it is empty and shut
down (Python checks this first, and so does this call).

# Examples

```
use threadkit::queue::{", stringify!($Q), ", TryGetError};

let q = ", stringify!($Q), "::new(0);
q.put(\"a\").unwrap();
assert_eq!(q.try_get(), Ok(\"a\"));
assert_eq!(q.try_get(), Err(TryGetError::Empty));
```")]
            #[doc(alias = "get_nowait")]
            #[inline]
            pub fn try_get(&self) -> Result<T, $crate::queue::TryGetError> {
                self.core.try_get().map_err(|refusal| match refusal {
                    $crate::queue::Refusal::ShutDown => $crate::queue::TryGetError::ShutDown,
                    _ => $crate::queue::TryGetError::Empty,
                })
            }

            #[doc = concat!("Takes the next item out of the queue, waiting at most `timeout` for one.

Python's `q.get(timeout=t)`. A zero timeout behaves as [`try_get`](Self::try_get).

# Errors

[`GetTimeoutError::Timeout`](crate::queue::GetTimeoutError::Timeout) if the queue stayed empty
(Python's `Empty`), [`GetTimeoutError::ShutDown`](crate::queue::GetTimeoutError::ShutDown) if it
is empty and shut down.

# Examples

```
use std::time::Duration;
use threadkit::queue::{GetTimeoutError, ", stringify!($Q), "};

let q = ", stringify!($Q), "::new(0);
q.put(1).unwrap();
assert_eq!(q.get_timeout(Duration::from_millis(10)), Ok(1));
assert_eq!(q.get_timeout(Duration::from_millis(10)), Err(GetTimeoutError::Timeout));
```")]
            pub fn get_timeout(
                &self,
                timeout: std::time::Duration,
            ) -> Result<T, $crate::queue::GetTimeoutError> {
                self.get_until($crate::wait::deadline_after(timeout))
            }

            #[doc = concat!("Takes the next item out of the queue, waiting for one until `deadline`
at the latest.

# Errors

As [`get_timeout`](Self::get_timeout).

# Examples

```
use std::time::{Duration, Instant};
use threadkit::queue::", stringify!($Q), ";

let q = ", stringify!($Q), "::<u8>::new(0);
let deadline = Instant::now() + Duration::from_millis(10);
assert!(q.get_deadline(deadline).unwrap_err().is_timeout());
```")]
            pub fn get_deadline(
                &self,
                deadline: std::time::Instant,
            ) -> Result<T, $crate::queue::GetTimeoutError> {
                self.get_until(Some(deadline))
            }

            fn get_until(
                &self,
                deadline: Option<std::time::Instant>,
            ) -> Result<T, $crate::queue::GetTimeoutError> {
                self.core.get(deadline).map_err(|refusal| match refusal {
                    $crate::queue::Refusal::ShutDown => $crate::queue::GetTimeoutError::ShutDown,
                    _ => $crate::queue::GetTimeoutError::Timeout,
                })
            }

            #[doc = concat!("Marks one item taken with `get` as processed.

Python's `q.task_done()`. Each [`put`](Self::put) adds an unfinished task and each `task_done`
removes one; [`join`](Self::join) returns when none is left. It keeps working after a shutdown,
for the items taken before it.

# Errors

[`TaskDoneError`](crate::queue::TaskDoneError) if there is no unfinished task (Python's
`ValueError: task_done() called too many times`); nothing changes.

# Examples

```
use threadkit::queue::", stringify!($Q), ";

let q = ", stringify!($Q), "::new(0);
q.put(1).unwrap();
q.get().unwrap();
assert!(q.task_done().is_ok());
assert!(q.task_done().is_err());
```")]
            #[inline]
            pub fn task_done(&self) -> Result<(), $crate::queue::TaskDoneError> {
                self.core.task_done()
            }

            #[doc = concat!("Waits until every item put has been marked done with
[`task_done`](Self::task_done).

Python's `q.join()`. Returns at once if no task is unfinished; may be called any number of
times, from any number of threads. A [`shutdown_immediate`](Self::shutdown_immediate) counts the
items it drops as done, so it releases joiners unless items already taken are still unfinished.

# Examples

```
use threadkit::queue::", stringify!($Q), ";

let q = std::sync::Arc::new(", stringify!($Q), "::new(0));
q.put(1).unwrap();
let worker = std::thread::spawn({
    let q = q.clone();
    move || {
        q.get().unwrap();
        q.task_done().unwrap();
    }
});
q.join();
assert_eq!(q.unfinished_tasks(), 0);
# worker.join().unwrap();
```")]
            pub fn join(&self) {
                self.core.join(None);
            }

            #[doc = concat!("Waits at most `timeout` for every item put to be marked done; returns
whether they all are.

Not in Python, whose `join()` takes no timeout.

# Examples

```
use std::time::Duration;
use threadkit::queue::", stringify!($Q), ";

let q = ", stringify!($Q), "::new(0);
q.put(1).unwrap();
assert!(!q.join_timeout(Duration::from_millis(10)));
q.get().unwrap();
q.task_done().unwrap();
assert!(q.join_timeout(Duration::from_millis(10)));
```")]
            pub fn join_timeout(&self, timeout: std::time::Duration) -> bool {
                self.core.join($crate::wait::deadline_after(timeout))
            }

            #[doc = concat!("Waits until `deadline` at the latest for every item put to be marked
done; returns whether they all are.

# Examples

```
use std::time::{Duration, Instant};
use threadkit::queue::", stringify!($Q), ";

let q = ", stringify!($Q), "::<u8>::new(0);
assert!(q.join_deadline(Instant::now() + Duration::from_millis(10)));
```")]
            pub fn join_deadline(&self, deadline: std::time::Instant) -> bool {
                self.core.join(Some(deadline))
            }

            #[doc = concat!("Shuts the queue down: Python 3.13's `q.shutdown()`.

From now on [`put`](Self::put) and its variants fail, and threads blocked in them wake up with
the shut-down error. `get` and its variants keep returning the items still queued; once it is
empty they fail instead of waiting, and threads blocked in them wake up with the error. Calling it
again, or calling [`shutdown_immediate`](Self::shutdown_immediate) afterwards, is allowed.

# Examples

```
use threadkit::queue::{GetError, ", stringify!($Q), "};

let q = ", stringify!($Q), "::new(0);
q.put(1).unwrap();
q.shutdown();
assert!(q.is_shutdown());
assert!(q.put(2).is_err());
assert_eq!(q.get(), Ok(1));
assert_eq!(q.get(), Err(GetError));
```")]
            pub fn shutdown(&self) {
                self.core.shutdown(false);
            }

            #[doc = concat!("Shuts the queue down and drops everything still queued: Python 3.13's
`q.shutdown(immediate=True)`.

As [`shutdown`](Self::shutdown), and in addition the queued items are removed (and dropped, after
the queue's locks are released), each counting as a finished task, so that [`join`](Self::join)
returns unless items already taken with `get` are still waiting for their
[`task_done`](Self::task_done).

# Examples

```
use threadkit::queue::{TryGetError, ", stringify!($Q), "};

let q = ", stringify!($Q), "::new(0);
q.put(1).unwrap();
q.put(2).unwrap();
q.shutdown_immediate();
assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
assert_eq!(q.unfinished_tasks(), 0);
q.join(); // returns at once
```")]
            pub fn shutdown_immediate(&self) {
                self.core.shutdown(true);
            }
        }

        impl<T> $Q<T> {
            #[doc = concat!("The number of items in the queue: Python's `q.qsize()`.

Like Python's, the answer may be stale by the time the caller looks at it.

# Examples

```
let q = threadkit::queue::", stringify!($Q), "::new(0);
q.put('x').unwrap();
assert_eq!(q.len(), 1);
```")]
            #[doc(alias = "qsize")]
            #[inline]
            pub fn len(&self) -> usize {
                self.core.len()
            }

            #[doc = concat!("Whether the queue holds no item: Python's `q.empty()`.

# Examples

```
let q = threadkit::queue::", stringify!($Q), "::new(0);
assert!(q.is_empty());
q.put(1).unwrap();
assert!(!q.is_empty());
```")]
            #[doc(alias = "empty")]
            #[inline]
            pub fn is_empty(&self) -> bool {
                self.core.len() == 0
            }

            #[doc = concat!("Whether the queue holds `maxsize` items (never, for an unbounded
queue): Python's `q.full()`.

# Examples

```
let q = threadkit::queue::", stringify!($Q), "::new(1);
assert!(!q.is_full());
q.put(1).unwrap();
assert!(q.is_full());
```")]
            #[doc(alias = "full")]
            #[inline]
            pub fn is_full(&self) -> bool {
                self.core.is_full()
            }

            #[doc = concat!("The most items the queue holds; `0` means unbounded. Python's
`q.maxsize`.

# Examples

```
assert_eq!(threadkit::queue::", stringify!($Q), "::<u8>::new(5).maxsize(), 5);
```")]
            #[inline]
            pub fn maxsize(&self) -> usize {
                self.core.maxsize()
            }

            #[doc = concat!("Items put and not yet marked done with [`task_done`](Self::task_done):
Python's `q.unfinished_tasks`.

# Examples

```
let q = threadkit::queue::", stringify!($Q), "::new(0);
q.put(1).unwrap();
q.get().unwrap();
assert_eq!(q.unfinished_tasks(), 1);
```")]
            #[inline]
            pub fn unfinished_tasks(&self) -> usize {
                self.core.unfinished_tasks()
            }

            #[doc = concat!("Whether [`shutdown`](Self::shutdown) has been called: Python's
`q.is_shutdown`.

# Examples

```
let q = threadkit::queue::", stringify!($Q), "::<u8>::new(0);
assert!(!q.is_shutdown());
q.shutdown();
assert!(q.is_shutdown());
```")]
            #[inline]
            pub fn is_shutdown(&self) -> bool {
                self.core.is_shutdown()
            }
        }

        impl<T $(: $bound)?> Default for $Q<T> {
            /// An unbounded queue.
            fn default() -> Self {
                Self::new(0)
            }
        }

        impl<T> std::fmt::Debug for $Q<T> {
            /// Shows the kind, the length, `maxsize`, the unfinished tasks and whether the queue
            /// is shut down (CPython's repr shows only the class); not the items.
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.core.debug(stringify!($Q), f)
            }
        }
    };
}

mod lifo;
mod priority;
mod simple;

bounded_queue! {
    /// A first-in, first-out queue for passing items between threads: Python's `queue.Queue`.
    ///
    /// [`put`](Self::put) appends an item, waiting while the queue holds `maxsize` items;
    /// [`get`](Self::get) takes the oldest, waiting while the queue is empty. Both have non-blocking
    /// (`try_`), timeout and deadline variants. Each item put counts as an unfinished task until a
    /// consumer calls [`task_done`](Self::task_done); [`join`](Self::join) waits for them all.
    /// [`shutdown`](Self::shutdown) and [`shutdown_immediate`](Self::shutdown_immediate) end the
    /// queue's life as in Python 3.13. Share it with [`Arc`](std::sync::Arc) or a scoped thread.
    ///
    /// # Differences from Python
    ///
    /// - `put(x, block=False)` / `put_nowait` is [`try_put`](Self::try_put) and `put(x, timeout=t)`
    ///   is [`put_timeout`](Self::put_timeout); the same for `get`. Errors hand the item back.
    /// - `qsize()`, `empty()`, `full()` are [`len`](Self::len), [`is_empty`](Self::is_empty),
    ///   [`is_full`](Self::is_full); `maxsize` cannot change after creation.
    /// - `shutdown(immediate=True)` is [`shutdown_immediate`](Self::shutdown_immediate).
    /// - [`join_timeout`](Self::join_timeout) / [`join_deadline`](Self::join_deadline) are
    ///   additions.
    /// - The store is not a subclassable deque; see the [module docs](crate::queue) for how it is
    ///   built.
    ///
    /// # Memory ordering
    ///
    /// Everything a thread did before putting an item happens-before everything the thread that
    /// gets it does afterwards; everything before a `task_done` happens-before the return of a
    /// `join` that it released.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::queue::Queue;
    ///
    /// let q = Queue::new(0);
    /// for item in [111, 333, 222] {
    ///     q.put(item).unwrap();
    /// }
    /// let order: Vec<_> = std::iter::from_fn(|| q.try_get().ok()).collect();
    /// assert_eq!(order, [111, 333, 222]);
    /// ```
    pub struct Queue<T> => Fifo;
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn shareable_when_items_are_send() {
        fn shareable<Q: Send + Sync>() {}
        shareable::<Queue<std::cell::Cell<u8>>>();
        shareable::<LifoQueue<std::cell::Cell<u8>>>();
        shareable::<PriorityQueue<Box<u8>>>();
        shareable::<SimpleQueue<std::cell::Cell<u8>>>();
    }

    #[test]
    fn fifo_swap_keeps_order() {
        let q = Queue::new(0);
        q.put(1).unwrap();
        q.put(2).unwrap();
        assert_eq!(q.get(), Ok(1)); // swaps: head now holds 2
        q.put(3).unwrap(); // goes to tail, behind 2
        assert_eq!(q.get(), Ok(2));
        assert_eq!(q.get(), Ok(3));
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn counters_track_puts_and_gets() {
        let q = Queue::new(3);
        for i in 0..3 {
            q.put(i).unwrap();
        }
        assert_eq!((q.len(), q.unfinished_tasks()), (3, 3));
        assert!(q.try_put(9).unwrap_err().is_full());
        assert_eq!(q.unfinished_tasks(), 3, "a refused put is not a task");
        q.get().unwrap();
        assert_eq!((q.len(), q.unfinished_tasks()), (2, 3));
    }

    #[test]
    fn no_waiters_left_behind() {
        let q = Queue::<u8>::new(1);
        assert!(q.get_timeout(Duration::from_millis(1)).is_err());
        q.put(1).unwrap();
        assert!(q.put_timeout(2, Duration::from_millis(1)).is_err());
        assert!(!q.join_timeout(Duration::from_millis(1)));
        assert_eq!(
            q.core.state.config.waiters.getters.load(Ordering::Relaxed),
            0
        );
        assert_eq!(
            q.core.state.config.waiters.putters.load(Ordering::Relaxed),
            0
        );
        assert_eq!(
            q.core.state.config.waiters.joiners.load(Ordering::Relaxed),
            0
        );
    }

    #[test]
    fn immediate_shutdown_drains_both_halves() {
        let q = Queue::new(0);
        q.put(1).unwrap();
        q.put(2).unwrap();
        assert_eq!(q.get(), Ok(1)); // 2 now in head
        q.put(3).unwrap(); // 3 in tail
        q.shutdown_immediate();
        assert_eq!(q.len(), 0);
        assert_eq!(
            q.unfinished_tasks(),
            1,
            "the item taken is still unfinished"
        );
        assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
    }

    #[test]
    fn debug_shows_kind_len_maxsize() {
        let q = Queue::new(4);
        q.put("x").unwrap();
        assert_eq!(
            format!("{q:?}"),
            "Queue { len: 1, maxsize: 4, unfinished_tasks: 1, is_shutdown: false }"
        );
    }
}
