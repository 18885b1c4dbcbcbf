//! [`Event`]: Python's `threading.Event`.

use std::fmt;
use std::panic::Location;
use std::time::{Duration, Instant};

use crate::identity::{Identity, ObjectKind};
use crate::loom::sync::atomic::{AtomicU8, Ordering};
use crate::wait::record::LastSignal;
use crate::wait::{self, FilterOp, ParkResult, Target, UnparkToken, WaitKind, DEFAULT_PARK_TOKEN};

/// The flag is set.
const SET: u8 = 1;
/// At least one thread may be parked waiting for the flag (only while it is not set).
const PARKED: u8 = 2;

/// The token `set` wakes waiters with.
const TOKEN_SET: UnparkToken = UnparkToken(1);

/// A flag that threads can wait for until another thread sets it: Python's `threading.Event`.
///
/// The flag starts unset. [`set`](Self::set) sets it and wakes every waiting thread;
/// [`clear`](Self::clear) unsets it; [`wait`](Self::wait) blocks until it is set, and
/// [`wait_timeout`](Self::wait_timeout) / [`wait_deadline`](Self::wait_deadline) give up after a
/// while and say whether the flag was set.
///
/// A waiter woken by `set` reports the event as set even if another thread cleared it again before
/// the waiter ran (CPython's gh-57711 behaviour): being woken by `set` is what counts.
///
/// # Differences from Python
///
/// - `wait()` without a timeout returns `()`: it can only return once set. `wait(timeout)` is
///   [`wait_timeout`](Self::wait_timeout), returning the same `bool` Python returns.
/// - Timeouts are [`Duration`]s; a zero timeout only checks the flag.
/// - Waits are not interrupted by signals.
///
/// # Size
///
/// 40 bytes (1 before diagnostics): the state byte, the
/// [identity](crate::diagnostics::ObjectInfo) that names it in thread dumps (24 bytes: kind and
/// id, creation site, name pointer), and a pointer to who last woke its waiters (allocated by
/// the first `set` that wakes somebody; a thread dump shows it beside the waiters).
///
/// # Memory ordering
///
/// Everything a thread did before calling [`set`](Self::set) happens-before everything a thread
/// does after a wait that returned `true` because of that `set`, or after an
/// [`is_set`](Self::is_set) that saw it.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use threadkit::Event;
///
/// let ready = Arc::new(Event::new());
/// let t = std::thread::spawn({
///     let ready = Arc::clone(&ready);
///     move || ready.set()
/// });
/// ready.wait();
/// assert!(ready.is_set());
/// # t.join().unwrap();
/// ```
pub struct Event {
    state: AtomicU8,
    identity: Identity,
    /// Who last woke waiters (diagnostics only).
    last: LastSignal,
}

crate::identity::diagnosable!([] Event, |e| &e.identity);

impl Event {
    /// Creates an event whose flag is not set.
    ///
    /// # Examples
    ///
    /// ```
    /// static STOP: threadkit::Event = threadkit::Event::new();
    /// assert!(!STOP.is_set());
    /// ```
    #[cfg(not(loom))]
    #[track_caller]
    pub const fn new() -> Self {
        Event {
            state: AtomicU8::new(0),
            identity: Identity::new(ObjectKind::Event, crate::identity::caller()),
            last: LastSignal::new(),
        }
    }

    /// Creates an event whose flag is not set (loom build).
    #[cfg(loom)]
    #[track_caller]
    pub fn new() -> Self {
        Event {
            state: AtomicU8::new(0),
            identity: Identity::new(ObjectKind::Event, crate::identity::caller()),
            last: LastSignal::new(),
        }
    }

    /// Creates an event whose flag is not set, with a name for
    /// [thread dumps](crate::diagnostics) (an unnamed one is shown by its creation site).
    ///
    /// # Examples
    ///
    /// ```
    /// let ready = threadkit::Event::named("config-loaded");
    /// assert_eq!(ready.name(), Some("config-loaded"));
    /// ```
    #[track_caller]
    pub fn named(name: impl Into<String>) -> Self {
        Event {
            state: AtomicU8::new(0),
            identity: Identity::named(ObjectKind::Event, name, Location::caller()),
            last: LastSignal::new(),
        }
    }

    /// The name given with [`Event::named`], if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(threadkit::Event::new().name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.identity.name()
    }

    /// Sets the flag and wakes every thread waiting for it.
    ///
    /// With nobody waiting this is one atomic operation and no system call. With threads waiting,
    /// the flag is stored inside the wake-up (under the waiting layer's lock for this event), so
    /// exactly the threads waiting at that moment are woken: a `set` never ends a wait that
    /// began after it (a thread that saw the flag, cleared it and waited again sleeps until the
    /// next `set`).
    ///
    /// # Examples
    ///
    /// ```
    /// let e = threadkit::Event::new();
    /// e.set();
    /// e.set(); // idempotent
    /// assert!(e.is_set());
    /// ```
    #[inline]
    #[track_caller]
    pub fn set(&self) {
        // Fast path, one atomic operation: nobody parked, flag not yet set.
        if let Err(state) =
            self.state
                .compare_exchange(0, SET, Ordering::Release, Ordering::Relaxed)
        {
            self.set_slow(state, Location::caller());
        }
    }

    /// Unsets the flag. Threads calling [`wait`](Self::wait) afterwards block until the next
    /// [`set`](Self::set).
    ///
    /// # Examples
    ///
    /// ```
    /// let e = threadkit::Event::new();
    /// e.set();
    /// e.clear();
    /// assert!(!e.is_set());
    /// ```
    #[inline]
    pub fn clear(&self) {
        self.state.fetch_and(!SET, Ordering::Relaxed);
    }

    /// Whether the flag is set (Python's `is_set()`, formerly `isSet()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let e = threadkit::Event::new();
    /// assert!(!e.is_set());
    /// ```
    #[inline]
    #[doc(alias = "isSet")]
    pub fn is_set(&self) -> bool {
        self.state.load(Ordering::Acquire) & SET != 0
    }

    /// Blocks until the flag is set; returns at once if it already is.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = threadkit::Event::new();
    /// e.set();
    /// e.wait();
    /// ```
    #[inline]
    #[track_caller]
    pub fn wait(&self) {
        if !self.is_set() {
            self.wait_slow(None);
        }
    }

    /// Blocks until the flag is set or `timeout` has passed; returns whether it was set (or this
    /// thread was woken by [`set`](Self::set)).
    ///
    /// Python's `event.wait(timeout)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let e = threadkit::Event::new();
    /// assert!(!e.wait_timeout(Duration::from_millis(10)));
    /// e.set();
    /// assert!(e.wait_timeout(Duration::from_millis(10)));
    /// ```
    #[inline]
    #[track_caller]
    #[must_use = "returns whether the event was set before the timeout"]
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.is_set() || self.wait_slow(wait::deadline_after(timeout))
    }

    /// Blocks until the flag is set or `deadline` has passed; returns whether it was set.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let e = threadkit::Event::new();
    /// assert!(!e.wait_deadline(Instant::now() + Duration::from_millis(5)));
    /// ```
    #[inline]
    #[track_caller]
    #[must_use = "returns whether the event was set before the deadline"]
    pub fn wait_deadline(&self, deadline: Instant) -> bool {
        self.is_set() || self.wait_slow(Some(deadline))
    }

    fn key(&self) -> usize {
        &self.state as *const AtomicU8 as usize
    }

    /// `set` when the flag is already set or a thread may be parked.
    ///
    /// The flag must never be stored separately from the wake-up it announces: if it were, a
    /// waiter could see the flag, `clear` it and park again before the wake-up, and that stale
    /// wake-up would then end a wait no `set` was made for (a lost turn in every hand-off built
    /// on two Events). So with `PARKED` present the flag is stored inside the wake-up, under the
    /// parking lot's lock for this key: exactly the threads parked at that moment are woken, and
    /// any thread parking later re-checks the state under the same lock, sees the flag and does
    /// not sleep.
    #[cold]
    fn set_slow(&self, mut state: u8, site: &'static Location<'static>) {
        loop {
            if state & PARKED != 0 {
                let woken = wait::unpark_filter(
                    self.key(),
                    |_| FilterOp::Unpark,
                    |_| {
                        // Everyone parked is being woken: PARKED goes with them. A thread that
                        // set PARKED but has not validated yet will see SET and not sleep. A
                        // swap, not a store: it must be ordered with such a thread's CAS of
                        // PARKED (a plain store would do in the C++ model, but loom 0.7 lets a
                        // racing CAS overwrite it and reports a lost waiter).
                        self.state.swap(SET, Ordering::Release);
                        TOKEN_SET
                    },
                );
                // For thread dumps: who last woke waiters (only a `set` that woke somebody
                // pays for it).
                #[cfg(not(loom))]
                if woken.unparked_threads != 0 {
                    self.last.record(site);
                }
                #[cfg(loom)]
                let _ = (woken, site);
                return;
            }
            // Not parked: set the flag, already set or not, with a read-modify-write so that
            // this `set`'s writes are released to whoever sees the flag next.
            match self.state.compare_exchange_weak(
                state,
                state | SET,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
    }

    #[cold]
    #[track_caller]
    fn wait_slow(&self, deadline: Option<Instant>) -> bool {
        loop {
            let state = self.state.load(Ordering::Acquire);
            if state & SET != 0 {
                return true;
            }
            if state & PARKED == 0
                && self
                    .state
                    .compare_exchange_weak(state, PARKED, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            let validate = || self.state.load(Ordering::Relaxed) == PARKED;
            let timed_out = |_key, was_last: bool| {
                if was_last {
                    self.state.fetch_and(!PARKED, Ordering::Relaxed);
                }
            };
            match wait::park_for(
                WaitKind::Event,
                Target::Signal {
                    identity: &self.identity,
                    last: &self.last,
                    lock: None,
                },
                self.key(),
                validate,
                || {},
                timed_out,
                DEFAULT_PARK_TOKEN,
                deadline,
            ) {
                // Woken by `set`: report it even if the flag was cleared since (gh-57711). The
                // parking lot's hand-off orders the setter's writes before this return.
                ParkResult::Unparked(_) => return true,
                ParkResult::Invalid => {}
                ParkResult::TimedOut => return self.is_set(),
            }
        }
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    /// `Event { state: set }` or `Event { state: unset }`, as CPython's repr.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.is_set() { "set" } else { "unset" };
        f.debug_struct("Event")
            .field("state", &format_args!("{state}"))
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn size_is_a_byte_an_identity_and_a_pointer() {
        // 1 byte before diagnostics; the identity (24 bytes), the last-setter pointer and
        // alignment make it 40.
        assert_eq!(std::mem::size_of::<Event>(), 40);
    }

    #[test]
    fn set_clear_is_set() {
        let e = Event::new();
        assert!(!e.is_set());
        e.set();
        assert!(e.is_set());
        e.set();
        assert!(e.is_set());
        e.clear();
        assert!(!e.is_set());
        e.clear();
        assert!(!e.is_set());
    }

    #[test]
    fn waiters_woken_by_set() {
        let e = Arc::new(Event::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let e = Arc::clone(&e);
                std::thread::spawn(move || {
                    e.wait();
                    e.wait_timeout(Duration::from_secs(30))
                })
            })
            .collect();
        e.set();
        for t in threads {
            assert!(t.join().unwrap());
        }
    }

    #[test]
    fn debug_format() {
        let e = Event::new();
        assert_eq!(format!("{e:?}"), "Event { state: unset }");
        e.set();
        assert_eq!(format!("{e:?}"), "Event { state: set }");
    }
}
