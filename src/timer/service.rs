//! The timer service: one internal thread holding a heap of deadlines, and a small pool of
//! worker threads that run due timers' functions.
//!
//! - The service thread sleeps (through the wait layer, [`WaitKind::Timer`]) until the earliest
//!   deadline, or until a newly scheduled timer becomes the earliest. At a deadline it pops every
//!   due entry, claims it (`PENDING` → `FIRED`, so a racing `cancel()` loses), queues it, and
//!   hands queued jobs to idle workers (see "The hand-off" below).
//! - A worker runs a function *as the Timer's thread* (`Thread::act_as` plus a fresh
//!   `local::ThreadScope`), reports a panic to the excepthook with the Timer's thread, drops the
//!   Timer's thread-local values, marks the Timer stopped (waking joiners), and takes the next job.
//! - The pool starts with one worker and grows by one whenever the queue has work, no worker is
//!   idle and no worker has taken a job for [`STALL`]: so a slow or blocked function delays the
//!   others by about that much, while short functions keep the pool small. Workers beyond the
//!   first retire after [`IDLE_RETIRE`] without work.
//! - `cancel()` is lazy: the heap entry stays until its deadline (then it is skipped), but the
//!   function is dropped and the Timer's record stopped at once. When more than half of a large
//!   heap is cancelled entries, the heap is rebuilt without them, so cancel costs amortised O(1).
//!
//! # The hand-off
//!
//! Every decision about a worker is made under the service lock, from the lock-protected lists;
//! a [`Parker`] wake-up is only a hint to look at them again, never a fact in itself.
//! - A worker is in the idle list exactly while it waits for work with nothing handed to it. It
//!   adds itself in one place (`run_worker`, after finding no work), and it is taken off in two:
//!   by the service, which in the same critical section moves a job into `handed` under the
//!   worker's id, or by the worker itself when it retires, which it may do only while it is still
//!   listed. So a worker is listed at most once, and a hand-off and a retirement cannot both win:
//!   whichever takes the lock first removes the entry, and the other sees that.
//! - A worker that wakes (notified, timed out, or spuriously) takes its handed job if there is one,
//!   even when its idle deadline has passed; otherwise it is still listed and decides by the
//!   clock, not by how it woke, whether to retire. The last worker never retires and stays listed
//!   once.
//! - A job in `handed` belongs to one listed-then-woken worker, so the service counts only the
//!   jobs left in `ready` as waiting for the pool to grow.
//!
//! Neither the service thread nor the workers are registered threads: `enumerate()` lists the
//! Timers, not them. They never end, except retiring workers, and are abandoned at process exit
//! like daemon threads (pending non-daemon Timers are joined by the exit sequence first).

use std::cmp::Ordering as CmpOrdering;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::state::{FAILED, NEVER, PENDING};
use super::Entry;
use crate::identity::{Identity, ObjectKind};
use crate::local::ThreadScope;
use crate::loom::sync::atomic::{AtomicU8, Ordering};
use crate::thread::ident;
use crate::wait::{self, Target, WaitKind, DEFAULT_PARK_TOKEN};
use crate::{Lock, Thread};

/// How long the queue may hold work with no worker taking any before the pool grows by one.
const STALL: Duration = Duration::from_millis(2);

/// How long a worker beyond the first waits for work before it exits.
const IDLE_RETIRE: Duration = Duration::from_secs(10);

/// The pool's timing: [`STALL`] and [`IDLE_RETIRE`] for the process's service; tests run private
/// services with short ones, and can hold a worker where its idle wait has just ended.
#[derive(Clone, Copy)]
pub(super) struct Config {
    pub(super) stall: Duration,
    pub(super) idle_retire: Duration,
    /// Called by a worker whose idle wait has just returned (with the wait's result), before it
    /// takes the service lock: lets a test land a hand-off in exactly that window.
    #[cfg(test)]
    pub(super) idle_wait_returned: Option<&'static (dyn Fn(bool) + Sync)>,
}

impl Config {
    const DEFAULT: Config = Config {
        stall: STALL,
        idle_retire: IDLE_RETIRE,
        #[cfg(test)]
        idle_wait_returned: None,
    };

    /// The default timing with a shorter retirement timeout (for tests).
    #[cfg(test)]
    pub(super) fn retiring_after(idle_retire: Duration) -> Config {
        Config {
            idle_retire,
            ..Config::DEFAULT
        }
    }
}

/// A safety limit on the pool (each worker is an OS thread).
const MAX_WORKERS: usize = 4096;

/// A heap with fewer cancelled entries than this is never compacted.
const COMPACT_MIN: usize = 1024;

/// A scheduled Timer.
struct Item {
    deadline: Instant,
    /// Scheduling order: equal deadlines fire first-scheduled first.
    seq: u64,
    entry: Arc<Entry>,
    thread: Thread,
}

impl PartialEq for Item {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}

impl Eq for Item {}

impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Item {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest deadline first.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

/// A due Timer, claimed for running.
struct Job {
    entry: Arc<Entry>,
    thread: Thread,
}

/// A pool worker, as the service sees it.
struct Worker {
    /// Distinguishes workers in `State::handed`.
    id: u64,
    /// Notified when the service hands this worker a job: a hint to look at the lists.
    parker: Parker,
}

struct State {
    heap: BinaryHeap<Item>,
    next_seq: u64,
    /// About how many heap entries are cancelled (decides when to compact).
    cancelled: usize,
    /// Due Timers waiting for a worker.
    ready: VecDeque<Job>,
    /// Workers waiting for work with nothing handed to them, each once, most recently idle last.
    idle: Vec<Arc<Worker>>,
    /// Jobs handed to workers taken off `idle` (by worker id), until each worker takes its own.
    handed: Vec<(u64, Job)>,
    workers: usize,
    /// The next worker's id.
    next_worker: u64,
    /// Jobs taken by workers so far: the service watches it for progress.
    taken: u64,
    /// Whether the service thread is running.
    running: bool,
    /// How many times an idle worker's wait for work timed out (for tests and diagnostics).
    idle_timeouts: u64,
}

/// A timer service: the process's one ([`service`]), or a private one in tests.
pub(super) struct Service {
    state: Lock<State>,
    /// Wakes the service thread.
    wake: Parker,
    config: Config,
    /// What the service's threads wait on, as thread dumps name it.
    identity: Identity,
}

impl Service {
    fn new(config: Config) -> Service {
        Service {
            state: Lock::with_value(State {
                heap: BinaryHeap::new(),
                next_seq: 0,
                cancelled: 0,
                ready: VecDeque::new(),
                idle: Vec::new(),
                handed: Vec::new(),
                workers: 0,
                next_worker: 0,
                taken: 0,
                running: false,
                idle_timeouts: 0,
            }),
            wake: Parker::new(),
            config,
            identity: Identity::named(
                ObjectKind::Timer,
                "threadkit timer service",
                std::panic::Location::caller(),
            ),
        }
    }

    /// A private service with its own pool and timing, for tests (its threads live as long as
    /// the test process).
    #[cfg(test)]
    pub(super) fn leak(config: Config) -> &'static Service {
        Box::leak(Box::new(Service::new(config)))
    }

    /// What the pool looks like now (for tests).
    #[cfg(test)]
    pub(super) fn snapshot(&self) -> Snapshot {
        let st = self.state.acquire();
        Snapshot {
            workers: st.workers,
            idle: st.idle.iter().map(|w| w.id).collect(),
            handed: st.handed.iter().map(|(id, _)| *id).collect(),
            ready: st.ready.len(),
            idle_timeouts: st.idle_timeouts,
        }
    }
}

/// The pool's bookkeeping at one instant (for tests).
#[cfg(test)]
#[derive(Debug)]
pub(super) struct Snapshot {
    /// Workers counted (running or being spawned).
    pub(super) workers: usize,
    /// The idle list: one worker id per entry.
    pub(super) idle: Vec<u64>,
    /// The ids of workers with a job handed to them and not yet taken.
    pub(super) handed: Vec<u64>,
    /// Due Timers waiting for a worker.
    pub(super) ready: usize,
    /// How many idle waits have timed out so far.
    pub(super) idle_timeouts: u64,
}

static SERVICE: OnceLock<Service> = OnceLock::new();

/// The process's timer service.
pub(super) fn service() -> &'static Service {
    SERVICE.get_or_init(|| Service::new(Config::DEFAULT))
}

/// Schedules a started Timer (its record is registered and alive). Called by `Thread::start`,
/// which finishes the record itself if this returns an error.
pub(super) fn schedule(entry: Arc<Entry>, thread: &Thread) -> std::io::Result<()> {
    let deadline = wait::deadline_after(entry.interval);
    schedule_at(entry, thread, deadline)
}

/// [`schedule`] with the deadline given (`None`: never), for a repeating timer's next tick.
pub(super) fn schedule_at(
    entry: Arc<Entry>,
    thread: &Thread,
    deadline: Option<Instant>,
) -> std::io::Result<()> {
    let Some(deadline) = deadline else {
        // Too far in the future to represent: it never fires, and stays alive until cancelled.
        if !entry.state.start(NEVER) {
            // Cancelled before start: Python's thread starts, skips the function and ends.
            thread.mark_stopped();
        }
        return Ok(());
    };
    let svc = entry.service;
    let notify = {
        let mut st = svc.state.acquire();
        if !st.running {
            if let Err(err) = spawn_thread("threadkit-timers", move || run_service(svc)) {
                drop(st);
                if entry.state.start(FAILED) {
                    let function = entry.function.acquire().take();
                    super::drop_function(thread, function);
                }
                return Err(err);
            }
            st.running = true;
        }
        // `PENDING` and the heap entry in one critical section: a `PENDING` Timer is in the heap.
        if !entry.state.start(PENDING) {
            drop(st);
            // Cancelled before start: Python's thread starts, skips the function and ends.
            thread.mark_stopped();
            return Ok(());
        }
        let earliest = st.heap.peek().map_or(true, |top| deadline < top.deadline);
        let seq = st.next_seq;
        st.next_seq += 1;
        st.heap.push(Item {
            deadline,
            seq,
            entry: Arc::clone(&entry),
            thread: thread.clone(),
        });
        earliest
    };
    if notify {
        svc.wake.notify();
    }
    Ok(())
}

/// `cancel()` of a `PENDING` Timer: claims it under the service lock (so the service's own claim
/// and the count of cancelled heap entries agree), compacting the heap when cancelled entries
/// dominate it. `false`: the service fired it first.
pub(super) fn cancel_pending(entry: &Entry) -> bool {
    let mut st = entry.service.state.acquire();
    if !entry.state.cancel_pending() {
        return false;
    }
    st.cancelled += 1;
    if st.cancelled >= COMPACT_MIN && st.cancelled * 2 > st.heap.len() {
        st.heap.retain(|item| item.entry.state.is_pending());
        st.cancelled = 0;
    }
    true
}

fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    let mut builder = std::thread::Builder::new().name(name.into());
    let stack = crate::stack_size();
    if stack != 0 {
        builder = builder.stack_size(stack);
    }
    builder.spawn(f).map(drop)
}

fn run_service(svc: &'static Service) {
    // While the ready queue is non-empty: when it last saw a worker take a job, and the count.
    let mut backlog: Option<(Instant, u64)> = None;
    loop {
        let now = Instant::now();
        let mut wake = Vec::new();
        let mut grow = None;
        let mut due = Due::default();
        let next = {
            let mut st = svc.state.acquire();
            while st.heap.peek().is_some_and(|top| top.deadline <= now) {
                let item = st.heap.pop().expect("peeked");
                if item.entry.state.fire() {
                    st.ready.push_back(Job {
                        entry: item.entry,
                        thread: item.thread,
                    });
                } else {
                    // Cancelled (counted by `cancel_pending`, under this lock).
                    debug_assert!(st.cancelled > 0);
                    st.cancelled = st.cancelled.saturating_sub(1);
                }
            }
            // Hand each queued job to an idle worker, taking the worker off the idle list in the
            // same step (see "The hand-off" in the module docs).
            while !st.ready.is_empty() {
                let Some(worker) = st.idle.pop() else { break };
                let job = st.ready.pop_front().expect("checked non-empty");
                st.handed.push((worker.id, job));
                wake.push(worker);
            }
            // Workers list themselves only with `ready` empty, and the service empties `ready`
            // into idle workers: no job waits while a worker idles.
            debug_assert!(st.ready.is_empty() || st.idle.is_empty());
            if st.ready.is_empty() {
                // Nothing waits, or every due job belongs to a worker on its way.
                backlog = None;
            } else {
                // More work than idle workers: grow if there is no worker at all, or if no
                // worker has made progress for a while.
                let mut more = st.workers == 0;
                backlog = match backlog {
                    Some((since, taken)) if taken == st.taken => {
                        if now.duration_since(since) >= svc.config.stall && st.workers < MAX_WORKERS
                        {
                            more = true;
                            Some((now, taken))
                        } else {
                            Some((since, taken))
                        }
                    }
                    _ => Some((now, st.taken)),
                };
                if more {
                    // Counted now so that a failed spawn is retried at the next stall only.
                    st.workers += 1;
                    let id = st.next_worker;
                    st.next_worker += 1;
                    grow = Some(Arc::new(Worker {
                        id,
                        parker: Parker::new(),
                    }));
                }
            }
            if st.heap.is_empty() && st.heap.capacity() > COMPACT_MIN {
                // Give back the memory of a past burst of timers.
                st.heap.shrink_to_fit();
            }
            let top = st.heap.peek().map(|top| top.deadline);
            due.scheduled = st.heap.len() - st.cancelled.min(st.heap.len());
            due.next = st.heap.peek().map(|top| top.thread.clone());
            match (top, backlog) {
                (Some(t), Some((since, _))) => Some(t.min(since + svc.config.stall)),
                (None, Some((since, _))) => Some(since + svc.config.stall),
                (t, None) => t,
            }
        };
        for worker in wake {
            worker.parker.notify();
        }
        if let Some(worker) = grow {
            if spawn_thread("threadkit-timer", move || run_worker(svc, worker)).is_ok() {
                // Look again at once: maybe more work is due.
                continue;
            }
            // Out of threads: try again after `STALL` (the backlog deadline), not in a loop.
            svc.state.acquire().workers -= 1;
        }
        // Named outside the service lock (a Timer's name has a lock of its own).
        let due = DueNames {
            scheduled: due.scheduled,
            next: due.next.map(|t| t.name()),
        };
        svc.wake
            .wait(next, due.target(&svc.identity), "threadkit timer service");
    }
}

/// What the service thread's wait shows in a thread dump: how many Timers are scheduled and
/// which is due next (that Timer's deadline is the wait's).
#[derive(Default)]
struct Due {
    scheduled: usize,
    next: Option<Thread>,
}

/// [`Due`] with the next Timer's name.
struct DueNames {
    scheduled: usize,
    next: Option<Arc<str>>,
}

impl DueNames {
    /// The wait target: the service, with this as its status line. Borrowed by the wait.
    fn target(&self, identity: &Identity) -> Target {
        /// # Safety
        /// `due` points to a live `DueNames`.
        unsafe fn status(due: *const ()) -> String {
            // SAFETY: the caller's contract.
            let due = unsafe { &*(due as *const DueNames) };
            match &due.next {
                Some(name) => format!("{} Timers scheduled, next {name:?}", due.scheduled),
                None => "no Timer scheduled".into(),
            }
        }
        Target::Object {
            identity,
            holder: None,
            status: Some((self as *const DueNames as *const (), status)),
        }
    }
}

/// The status line of an idle worker's wait.
///
/// # Safety
/// Any pointer (it is not read).
unsafe fn idle_status(_: *const ()) -> String {
    "idle worker, waiting for a due Timer".into()
}

/// A pool worker's life; see "The hand-off" in the module docs for the rules it keeps.
fn run_worker(svc: &'static Service, me: Arc<Worker>) {
    let tid = ident::native_id();
    let mut st = svc.state.acquire();
    loop {
        // Work first: the job handed to this worker, else one from the queue.
        let job = match st.handed.iter().position(|(id, _)| *id == me.id) {
            Some(pos) => Some(st.handed.swap_remove(pos).1),
            None => st.ready.pop_front(),
        };
        if let Some(job) = job {
            st.taken += 1;
            drop(st);
            run_job(job, tid);
            st = svc.state.acquire();
            continue;
        }
        // No work: become idle. The only place a worker lists itself, reached only while it is
        // not listed (at its start, after a job, or after taking the job handed to it above).
        debug_assert!(!st.idle.iter().any(|w| w.id == me.id));
        st.idle.push(Arc::clone(&me));
        let mut deadline = wait::deadline_after(svc.config.idle_retire);
        loop {
            drop(st);
            let idle = Target::Object {
                identity: &svc.identity,
                holder: None,
                status: Some((std::ptr::null(), idle_status)),
            };
            let _notified = me.parker.wait(deadline, idle, "threadkit timer worker");
            #[cfg(test)]
            if let Some(hook) = svc.config.idle_wait_returned {
                hook(_notified);
            }
            st = svc.state.acquire();
            if st.handed.iter().any(|(id, _)| *id == me.id) {
                // Handed a job (which wins over an idle timeout, whatever woke us): take it.
                break;
            }
            // Nothing handed, so still listed: only a hand-off takes a worker off the list
            // while it waits. Decide by the clock, not by how the wait ended.
            let now = Instant::now();
            if deadline.map_or(true, |d| now < d) {
                continue;
            }
            st.idle_timeouts += 1;
            if st.workers > 1 {
                let pos = st.idle.iter().position(|w| w.id == me.id);
                let pos = pos.expect("a waiting worker with nothing handed is listed");
                st.idle.remove(pos);
                st.workers -= 1;
                return;
            }
            // The last worker stays for the next Timer, listed once as it is.
            deadline = wait::deadline_after(svc.config.idle_retire);
        }
    }
}

/// Runs one due Timer's function as the Timer's thread.
fn run_job(job: Job, tid: u64) {
    let Job { entry, thread } = job;
    let function = entry.function.acquire().take();
    // The Timer's own held-lock stack, set up before the worker acts as its thread.
    let held = crate::lock_order::enter_scope(thread.ident_raw());
    let acting = thread.act_as();
    thread.set_native_id(tid);
    let values = ThreadScope::enter();
    if let Some(function) = function {
        thread.run_as_target(function);
    }
    // The Timer's "thread" exits: its thread-local values are dropped before joiners wake, as
    // for a real thread. A panicking `Drop` is reported like a panicking function.
    thread.run_as_target(Box::new(move || {
        if let Err(payload) = values.finish() {
            std::panic::resume_unwind(payload);
        }
    }));
    crate::lock_order::exit_scope(held);
    match &entry.repeat {
        // A repeating timer's record stays alive between runs: it schedules its next run, or
        // finishes the record once cancelled.
        Some(repeat) => repeat.after_run(&thread),
        None => thread.mark_stopped(),
    }
    drop(acting);
}

/// Not notified, nobody parked.
const EMPTY: u8 = 0;
/// The owner is parked (or about to be).
const PARKED: u8 = 1;
/// A notification is pending.
const NOTIFIED: u8 = 2;

/// A one-owner wake-up flag: [`notify`](Self::notify) from any thread, [`wait`](Self::wait)
/// from the owner. A notification given while the owner is not waiting is kept for its next wait.
struct Parker {
    state: AtomicU8,
}

impl Parker {
    fn new() -> Self {
        Parker {
            state: AtomicU8::new(EMPTY),
        }
    }

    fn key(&self) -> usize {
        &self.state as *const AtomicU8 as usize
    }

    fn notify(&self) {
        // No system call unless the owner is parked.
        if self.state.swap(NOTIFIED, Ordering::Release) == PARKED {
            wait::unpark_one(self.key(), |_| wait::UnparkToken(0));
        }
    }

    /// Waits until notified (returns `true`, consuming the notification) or until `deadline`.
    ///
    /// The result is a hint: `false` may also mean a spurious wake-up before `deadline`, and a
    /// notification may be one its caller has already acted on. Callers decide from the state the
    /// notification announces (under the service lock), never from this.
    /// `target` is what a thread dump shows it waiting on (it must stay alive until this
    /// returns), and `label` the (unregistered) thread's name there.
    #[track_caller]
    fn wait(&self, deadline: Option<Instant>, target: Target, label: &'static str) -> bool {
        let _label = wait::record::labelled(label);
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return true;
        }
        wait::park_for(
            WaitKind::Timer,
            target,
            self.key(),
            || {
                self.state
                    .compare_exchange(EMPTY, PARKED, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            },
            || {},
            |_, _| {
                let _ = self.state.compare_exchange(
                    PARKED,
                    EMPTY,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            },
            DEFAULT_PARK_TOKEN,
            deadline,
        );
        self.state.swap(EMPTY, Ordering::Acquire) == NOTIFIED
    }
}

/// How many entries the heap holds (cancelled ones included).
#[cfg(all(test, not(loom)))]
pub(super) fn heap_len() -> usize {
    service().state.acquire().heap.len()
}
