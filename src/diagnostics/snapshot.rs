//! Taking a thread dump: joining the thread registry with the published wait records.

use crate::site::Site;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::identity::{ObjectInfo, ObjectKind};
use crate::wait::record::{self, Target};
use crate::wait::WaitKind;

/// A thread as reports name it: identifier and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ThreadRef {
    /// threadkit's identifier ([`crate::get_ident`]).
    pub ident: u64,
    /// The thread's name; `"<ident N>"` for a thread that never registered (a foreign thread
    /// that used a threadkit primitive but never called [`crate::current_thread`]).
    pub name: Arc<str>,
}

/// What a thread is doing, in the JVM's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ThreadState {
    /// Not blocked in threadkit (running, or blocked somewhere threadkit cannot see: I/O, a std
    /// lock, a channel, a sleep).
    Runnable,
    /// Waiting to acquire a Lock or RLock (or to take a Condition's lock back).
    Blocked,
    /// In any other threadkit wait, with no timeout.
    Waiting,
    /// In any other threadkit wait, with a timeout.
    TimedWaiting,
}

impl ThreadState {
    /// `"RUNNABLE"`, `"BLOCKED"`, `"WAITING"` or `"TIMED_WAITING"`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(threadkit::diagnostics::ThreadState::Blocked.as_str(), "BLOCKED");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadState::Runnable => "RUNNABLE",
            ThreadState::Blocked => "BLOCKED",
            ThreadState::Waiting => "WAITING",
            ThreadState::TimedWaiting => "TIMED_WAITING",
        }
    }
}

/// Who holds a Lock or RLock that a thread waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HolderInfo {
    /// The thread that acquired it. A `Lock` may be released by another thread (Python allows
    /// it); the holder is whoever acquired it last and has not released it.
    pub thread: ThreadRef,
    /// Where the holder acquired it (the call site of `acquire`).
    pub acquired_at: Option<Site>,
    /// An RLock's recursion count (1 for a Lock).
    pub count: usize,
}

/// Who last woke the waiters of an Event (its last `set()` that woke somebody) or a Condition
/// (its last `notify` / `notify_all` that woke somebody).
///
/// Only wake-ups are recorded (a `set()` or `notify()` with nobody waiting stays one atomic
/// operation), so "never" means no call has woken a waiter of this object yet.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use threadkit::diagnostics::{self, WaitKind};
/// use threadkit::Event;
///
/// let turn = Arc::new(Event::named("turn"));
/// let waiter = |turn: Arc<Event>| std::thread::spawn(move || turn.wait_timeout(Duration::from_secs(10)));
/// let is_waiting = || {
///     diagnostics::dump().threads.iter().find_map(|t| {
///         t.waiting.clone().filter(|w| w.kind == WaitKind::Event)
///     })
/// };
/// let first = waiter(Arc::clone(&turn));
/// while is_waiting().is_none() {
///     std::thread::yield_now();
/// }
/// turn.set(); // wakes the first waiter: recorded
/// assert!(first.join().unwrap());
/// turn.clear();
/// let second = waiter(Arc::clone(&turn));
/// let wait = loop {
///     if let Some(w) = is_waiting() {
///         break w;
///     }
///     std::thread::yield_now();
/// };
/// let last = wait.last_signal.expect("the set() that woke the first waiter");
/// assert_eq!(last.thread.ident, threadkit::get_ident());
/// turn.set();
/// assert!(second.join().unwrap());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastSignal {
    /// The thread that called it: named as it is now if it is alive, else by the name it had
    /// when the object last noted it (a waker is noted when it wakes waiters of the object and
    /// is not one of the last two it noted), or by its identifier if that name was not noted.
    pub thread: ThreadRef,
    /// Where.
    pub site: Site,
    /// How long ago.
    pub ago: Duration,
}

/// One blocked thread's wait.
#[derive(Clone, Debug)]
pub struct WaitInfo {
    /// The kind of blocking call. A Condition waiter taking its lock back (notified and moved
    /// onto the lock's queue, or woken and re-acquiring) waits for the lock: `Lock` or `RLock`.
    pub kind: WaitKind,
    /// The object waited on (`None` for a join).
    pub object: Option<ObjectInfo>,
    /// For a Condition waiter taking its lock back after the wait (`object` is then the lock):
    /// the Condition.
    pub reacquiring_after: Option<ObjectInfo>,
    /// The holder, for a Lock or RLock acquire (and a Condition waiter taking its lock back).
    pub holder: Option<HolderInfo>,
    /// For an Event or Condition wait: who last woke waiters of it (`None`: nobody yet).
    pub last_signal: Option<LastSignal>,
    /// The thread joined, for a join.
    pub joining: Option<ThreadRef>,
    /// A one-line status of the object: a semaphore's value, a barrier's arrivals.
    pub status: Option<String>,
    /// Where the blocking call was made.
    pub site: Site,
    /// How long the thread has been blocked in this call.
    pub waited: Duration,
    /// Time left before the call times out; `None`: no timeout.
    pub timeout_in: Option<Duration>,
    /// Identifies this wait among the thread's waits: the same thread with the same value in two
    /// dumps is one uninterrupted wait.
    pub seq: u64,
}

/// A lock a thread holds.
///
/// While the [lock-order checker](super::set_lock_order_mode) is armed (debug builds, by
/// default) a dump lists every Lock, RLock (and semaphore opted in with `with_lock_order`) each
/// thread holds, from the checker's per-thread list of held locks. Disarmed, it lists only the
/// locks some thread is waiting for, known from the waiters' side
/// ([`ThreadDump::held_complete`] says which).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldInfo {
    /// The lock.
    pub object: ObjectInfo,
    /// Where this thread acquired it.
    pub acquired_at: Option<Site>,
    /// How long this thread has held it, when known: recorded at the acquire while the checker
    /// is armed and [holder sites](super::set_holder_sites) are on (both by default in debug
    /// builds).
    pub held_for: Option<Duration>,
    /// An RLock's recursion count, as a waiter sees it (1 for a Lock, and for a lock nobody
    /// waits for: the list of held locks does not count re-entries; publishing every re-entry
    /// would cost the re-entrant acquire and release a load and a branch each, 21 to 28
    /// instructions per pair, measured).
    pub count: usize,
    /// How long the longest waiter has been waiting for it: the lock has been held at least
    /// this long.
    pub contended_for: Duration,
    /// How many threads wait for it.
    pub waiters: usize,
}

/// One thread in a dump.
#[derive(Clone, Debug)]
pub struct ThreadSnapshot {
    /// Identifier and name.
    pub thread: ThreadRef,
    /// The kernel's thread id, if known.
    pub native_id: Option<u64>,
    /// Whether it is a daemon thread (`None` for an unregistered thread).
    pub daemon: Option<bool>,
    /// What it is doing.
    pub state: ThreadState,
    /// What it waits on, if it is blocked in threadkit.
    pub waiting: Option<WaitInfo>,
    /// The locks it holds, oldest first: every one while the lock-order checker is armed, else
    /// only those other threads wait for (see [`HeldInfo`] and [`ThreadDump::held_complete`]).
    pub holding: Vec<HeldInfo>,
}

/// A snapshot of every thread threadkit knows, with what each waits on and holds.
///
/// Made by [`dump`](super::dump); `Display` gives the text a person reads.
#[derive(Clone, Debug)]
pub struct ThreadDump {
    /// When it was taken.
    pub taken_at: SystemTime,
    /// Every live thread: registered ones in [`crate::enumerate`] order, then threads that are
    /// blocked in threadkit without being registered.
    pub threads: Vec<ThreadSnapshot>,
    /// The deadlocks among them ([`find_deadlocks`](super::find_deadlocks) at the same moment).
    pub deadlocks: Vec<super::Deadlock>,
    /// Whether each thread's `holding` lists every lock it holds (the lock-order checker is
    /// armed and keeps the per-thread lists), or only the locks somebody waits for.
    pub held_complete: bool,
}

/// A published record, copied out with its pointers resolved.
#[derive(Clone, Debug)]
pub(crate) struct Blocked {
    pub(crate) ident: u64,
    pub(crate) native_id: u64,
    /// What the thread is, for an internal wait of an unregistered one (the timer service's).
    pub(crate) label: Option<&'static str>,
    pub(crate) wait: WaitInfo,
    /// The owner ident, for a lock-like wait; the joined thread's for a join.
    pub(crate) waits_for: Option<u64>,
    pub(crate) holder_site: Option<Site>,
    pub(crate) holder_count: usize,
}

/// Copies every published record (one slot lock at a time; never a user's lock).
pub(crate) fn blocked_threads(now: Instant) -> Vec<Blocked> {
    let clock = record::clock();
    let mut out = Vec::new();
    record::for_each(|r| {
        // A Condition waiter that a notify moved onto its lock's queue waits for the lock now.
        // SAFETY: inside `for_each`'s closure.
        let requeued = unsafe { r.requeued() };
        let (kind, object, after, holder) = match requeued {
            Some((lock, holder)) => (
                match lock.kind() {
                    ObjectKind::RLock => WaitKind::RLock,
                    _ => WaitKind::Lock,
                },
                Some(lock.describe()),
                // SAFETY: inside `for_each`'s closure.
                unsafe { r.identity() }.map(|c| c.describe()),
                holder,
            ),
            None => (
                r.kind,
                // SAFETY: inside `for_each`'s closure.
                unsafe { r.identity() }.map(|i| i.describe()),
                // SAFETY: inside `for_each`'s closure.
                unsafe { r.after() }.map(|c| c.describe()),
                // SAFETY: inside `for_each`'s closure.
                unsafe { r.holder() },
            ),
        };
        // Owner 0: a hand-off in progress (the new owner is about to write itself in).
        let holder = holder.filter(|h| h.0 != 0);
        // SAFETY: inside `for_each`'s closure.
        let target = unsafe { r.target() };
        let waits_for = match target {
            Target::Join { ident } => Some(ident),
            _ => holder.map(|(owner, _, _)| owner),
        };
        let placeholder = |ident| ThreadRef {
            ident,
            name: Arc::from(""),
        };
        out.push(Blocked {
            ident: r.ident,
            native_id: r.native_id,
            label: r.label,
            waits_for,
            holder_site: holder.and_then(|h| h.1),
            holder_count: holder.map_or(0, |h| h.2),
            wait: WaitInfo {
                kind,
                object,
                reacquiring_after: after,
                holder: holder.map(|(owner, at, count)| HolderInfo {
                    thread: placeholder(owner),
                    acquired_at: at,
                    count,
                }),
                // SAFETY: inside `for_each`'s closure.
                last_signal: unsafe { r.last_signal() }.map(|s| LastSignal {
                    thread: ThreadRef {
                        ident: s.ident,
                        // The name noted when it signalled, for a thread that has ended since
                        // (`Names::resolve`).
                        name: s.thread.unwrap_or_else(|| Arc::from("")),
                    },
                    site: s.site,
                    ago: clock.saturating_sub(s.at),
                }),
                joining: match target {
                    Target::Join { ident } => Some(placeholder(ident)),
                    _ => None,
                },
                // SAFETY: inside `for_each`'s closure.
                status: unsafe { r.status() },
                site: r.site,
                waited: clock.saturating_sub(r.since),
                // Taking the lock back has no timeout, whatever the Condition wait's was.
                timeout_in: r
                    .deadline
                    .filter(|_| requeued.is_none())
                    .map(|d| d.saturating_duration_since(now)),
                seq: r.seq,
            },
        });
    });
    out
}

/// Names for identifiers: the registry's threads, and the labels of unregistered ones.
pub(crate) struct Names {
    threads: BTreeMap<u64, crate::Thread>,
    order: Vec<u64>,
    labels: BTreeMap<u64, &'static str>,
}

impl Names {
    pub(crate) fn load() -> Names {
        let mut threads = BTreeMap::new();
        let mut order = Vec::new();
        for t in crate::enumerate() {
            if let Some(id) = t.ident() {
                order.push(id);
                threads.insert(id, t);
            }
        }
        Names {
            threads,
            order,
            labels: BTreeMap::new(),
        }
    }

    /// Takes the labels of the unregistered threads among `blocked`.
    pub(crate) fn label(&mut self, blocked: &[Blocked]) {
        for b in blocked {
            if let Some(l) = b.label {
                self.labels.insert(b.ident, l);
            }
        }
    }

    pub(crate) fn thread(&self, ident: u64) -> ThreadRef {
        let name = match (self.threads.get(&ident), self.labels.get(&ident)) {
            (Some(t), _) => t.name(),
            (None, Some(label)) => Arc::from(*label),
            (None, None) => Arc::from(format!("<ident {ident}>")),
        };
        ThreadRef { ident, name }
    }

    /// Fills in the names of the placeholders in `w`.
    pub(crate) fn resolve(&self, w: &mut WaitInfo) {
        if let Some(h) = &mut w.holder {
            h.thread = self.thread(h.thread.ident);
        }
        if let Some(j) = &mut w.joining {
            *j = self.thread(j.ident);
        }
        if let Some(s) = &mut w.last_signal {
            // A live thread by its name now, as everywhere in the dump; one that has ended by
            // the name the object noted when it woke waiters (which outlives the thread); an
            // unregistered thread by identifier.
            if s.thread.name.is_empty() || self.threads.contains_key(&s.thread.ident) {
                s.thread = self.thread(s.thread.ident);
            }
        }
    }
}

fn state_of(w: &WaitInfo) -> ThreadState {
    match w.kind {
        WaitKind::Lock | WaitKind::RLock => ThreadState::Blocked,
        _ if w.timeout_in.is_some() => ThreadState::TimedWaiting,
        _ => ThreadState::Waiting,
    }
}

/// Takes the dump: one pass over the records, one over the registry.
pub(crate) fn take() -> ThreadDump {
    let now = Instant::now();
    let taken_at = SystemTime::now();
    let mut blocked = blocked_threads(now);
    let mut names = Names::load();
    names.label(&blocked);
    for b in &mut blocked {
        names.resolve(&mut b.wait);
    }
    // Locks held, from the waiters' side.
    let mut holding: BTreeMap<u64, Vec<HeldInfo>> = BTreeMap::new();
    for b in &blocked {
        let (Some(h), Some(object)) = (&b.wait.holder, &b.wait.object) else {
            continue;
        };
        let list = holding.entry(h.thread.ident).or_default();
        match list.iter_mut().find(|x| x.object.id == object.id) {
            Some(x) => {
                x.waiters += 1;
                x.contended_for = x.contended_for.max(b.wait.waited);
            }
            None => list.push(HeldInfo {
                object: object.clone(),
                acquired_at: b.holder_site,
                held_for: None,
                count: b.holder_count,
                contended_for: b.wait.waited,
                waiters: 1,
            }),
        }
    }
    let held_complete = merge_checker_lists(&mut holding);
    let mut by_ident: BTreeMap<u64, Blocked> = blocked.into_iter().map(|b| (b.ident, b)).collect();
    // Registered threads in `enumerate()` order, then unregistered ones: blocked threads, and
    // holders that are not blocked.
    let mut order = names.order.clone();
    let mut rest: Vec<u64> = by_ident
        .keys()
        .chain(holding.keys())
        .filter(|i| !names.threads.contains_key(i))
        .copied()
        .collect();
    rest.sort_unstable();
    rest.dedup();
    order.extend(rest);
    let threads = order
        .into_iter()
        .map(|ident| {
            let b = by_ident.remove(&ident);
            let registered = names.threads.get(&ident);
            let native_id = registered
                .and_then(|t| t.native_id())
                .or_else(|| b.as_ref().map(|b| b.native_id).filter(|&n| n != 0));
            let waiting = b.map(|b| b.wait);
            ThreadSnapshot {
                thread: names.thread(ident),
                native_id,
                daemon: registered.map(|t| t.is_daemon()),
                state: waiting.as_ref().map_or(ThreadState::Runnable, state_of),
                waiting,
                holding: holding.remove(&ident).unwrap_or_default(),
            }
        })
        .collect();
    ThreadDump {
        taken_at,
        threads,
        deadlocks: super::find_deadlocks(),
        held_complete,
    }
}

/// Adds every lock the lock-order checker's per-thread lists show held (oldest first) to the
/// locks known from their waiters, which keep their waiter counts. Returns whether the lists
/// were available (the checker is armed).
fn merge_checker_lists(holding: &mut BTreeMap<u64, Vec<HeldInfo>>) -> bool {
    let Some(lists) = crate::lock_order::held_locks() else {
        return false;
    };
    for (ident, locks) in lists {
        let from_waiters = holding.remove(&ident).unwrap_or_default();
        let mut merged: Vec<HeldInfo> = Vec::new();
        for h in locks {
            if merged.iter().any(|m| m.object.id == h.object.id) {
                continue; // a Lock re-acquired after another thread released it
            }
            let known = from_waiters.iter().find(|w| w.object.id == h.object.id);
            merged.push(HeldInfo {
                object: h.object,
                acquired_at: Some(h.acquired_at),
                held_for: h.held_for,
                count: known.map_or(1, |w| w.count),
                contended_for: known.map_or(Duration::ZERO, |w| w.contended_for),
                waiters: known.map_or(0, |w| w.waiters),
            });
        }
        // Held locks the list does not show (acquired before the checker was armed).
        let unlisted: Vec<HeldInfo> = from_waiters
            .into_iter()
            .filter(|w| !merged.iter().any(|m| m.object.id == w.object.id))
            .collect();
        merged.extend(unlisted);
        holding.insert(ident, merged);
    }
    true
}
