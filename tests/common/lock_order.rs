//! The lock-order tests' shared set-up (tests/lock_order.rs, tests/lock_order_modes.rs): the
//! checker armed in a mode with its reports captured, named threads, the orders the scenarios
//! record.

use std::sync::{Arc, Mutex as StdMutex, MutexGuard};
use std::time::Duration;

use threadkit::diagnostics::{self, LockOrderMode, PotentialDeadlock, Report};
use threadkit::{BoundedSemaphore, Builder, Lock, RLock, Semaphore};

pub(crate) static SERIAL: StdMutex<()> = StdMutex::new(());

pub(crate) const T: Duration = Duration::from_secs(5);

pub(crate) type Seen = Arc<StdMutex<Vec<PotentialDeadlock>>>;

/// Serializes the test, arms the checker in `mode` and captures its reports (any other report
/// fails the test: a potential deadlock must never come out as something else).
pub(crate) fn setup(mode: LockOrderMode) -> (MutexGuard<'static, ()>, Seen) {
    let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let seen: Seen = Arc::default();
    let sink = Arc::clone(&seen);
    diagnostics::set_report_hook(move |r: &Report| match r {
        Report::PotentialDeadlock(p) => sink.lock().unwrap().push(p.clone()),
        other => panic!("unexpected report: {other}"),
    });
    diagnostics::reset_lock_order();
    diagnostics::set_lock_order_mode(mode);
    (serial, seen)
}

/// Runs `f` on a thread named `name` and joins it (bounded).
pub(crate) fn on_thread<R: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    let h = Builder::new().name(name).spawn(f).unwrap();
    super::join_or_fail(h, name)
}

pub(crate) fn count(seen: &Seen) -> usize {
    seen.lock().unwrap().len()
}

/// What the scenarios take in an order: a Lock, or a semaphore opted in with `with_lock_order`.
pub(crate) trait Take: Send + Sync + 'static {
    /// Runs `f` holding `self` (a blocking acquire).
    fn holding(&self, f: impl FnOnce());
}

/// `Take` by a blocking `acquire` and its guard.
macro_rules! take_by_acquire {
    ($($t:ty),*) => {$(
        impl Take for $t {
            fn holding(&self, f: impl FnOnce()) {
                let _g = self.acquire();
                f();
            }
        }
    )*};
}

take_by_acquire!(Lock, RLock, Semaphore, BoundedSemaphore);

/// On the calling thread: `a` then `b`, then `b` then `a` (an inversion when armed).
pub(crate) fn both_orders(a: &Lock, b: &Lock) {
    drop((a.acquire(), b.acquire()));
    drop((b.acquire(), a.acquire()));
}

/// Two new locks named `first` and `second`, with the order first → second recorded by a
/// thread named "alpha".
pub(crate) fn recorded_by_alpha(first: &str, second: &str) -> (Arc<Lock>, Arc<Lock>) {
    let (a, b) = (Arc::new(Lock::named(first)), Arc::new(Lock::named(second)));
    in_order("alpha", &a, &b);
    (a, b)
}

/// On a thread named `name` (joined): takes `first`, then `second` while holding it, which
/// records the order first → second.
pub(crate) fn in_order(name: &str, first: &Arc<impl Take>, second: &Arc<impl Take>) {
    let (a, b) = (Arc::clone(first), Arc::clone(second));
    on_thread(name, move || a.holding(|| b.holding(|| ())));
}

pub(crate) fn fl(site: threadkit::diagnostics::Site) -> String {
    format!("{}:{}", site.file(), site.line())
}
