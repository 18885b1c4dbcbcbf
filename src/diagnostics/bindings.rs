//! Waits a language binding publishes for threadkit to see: a thread join that waits outside
//! threadkit (CPython's `Thread.join` waits in C), and a binding's own Condition taking its lock
//! back after a wait.

use std::panic::Location;
use std::time::Instant;

use crate::identity::Diagnosable;
use crate::wait::{announce, Target, WaitKind};

/// Publishes the calling thread as waiting to join the thread whose threadkit identifier is
/// `ident`, until the returned guard is dropped: a thread dump shows it `waiting to join
/// "worker" #5 at <call site>`, and the deadlock finder follows the edge to that thread (a
/// join cycle: this thread holds a lock the joined thread waits for).
///
/// For language bindings whose joins wait outside threadkit (a Python `Thread.join`, which
/// waits in CPython's C code): wrap the join in it. threadkit's own
/// [`JoinHandle::join`](crate::JoinHandle::join) publishes its joins itself. The call site
/// is the caller's, or the one a binding set with
/// [`with_call_site`](crate::diagnostics::with_call_site); `deadline` is shown as the
/// join's timeout (`None`: no timeout). Waits the calling thread makes while the guard lives
/// (inside the join) leave the join's record in place. A guard dropped on another thread than
/// the one that made it withdraws nothing (the guard is not `Send`).
///
/// # Examples
///
/// ```
/// use threadkit::diagnostics::{self, WaitKind};
///
/// let (tx, rx) = std::sync::mpsc::channel();
/// let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
/// let worker = std::thread::spawn(move || {
///     tx.send(threadkit::get_ident()).unwrap();
///     done_rx.recv().unwrap(); // runs until told to end
/// });
/// let worker_ident = rx.recv().unwrap();
/// // A binding's join, about to wait outside threadkit:
/// let waiting = diagnostics::waiting_to_join(worker_ident, None);
/// let me = threadkit::get_ident();
/// let dump = diagnostics::dump();
/// let mine = dump.threads.iter().find(|t| t.thread.ident == me).unwrap();
/// let wait = mine.waiting.as_ref().unwrap();
/// assert_eq!(wait.kind, WaitKind::Join);
/// assert_eq!(wait.joining.as_ref().unwrap().ident, worker_ident);
/// done_tx.send(()).unwrap();
/// worker.join().unwrap(); // the join that `waiting` published
/// drop(waiting);
/// ```
#[track_caller]
#[must_use = "the join is published until the guard is dropped"]
pub fn waiting_to_join(ident: u64, deadline: Option<Instant>) -> JoinWait {
    JoinWait {
        _not_send: std::marker::PhantomData,
        _published: announce(
            WaitKind::Join,
            Target::Join { ident },
            Location::caller(),
            deadline,
        ),
    }
}

/// A published join ([`waiting_to_join`]); withdrawn when dropped.
pub struct JoinWait {
    _published: crate::wait::record::Published<'static>,
    /// Dropped on the thread that published it: it withdraws that thread's record.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl std::fmt::Debug for JoinWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinWait").finish_non_exhaustive()
    }
}

/// Runs `reacquire` with the calling thread's waits marked as the re-acquire of a lock after a
/// wait on `condition`: a dump then says `waiting to re-acquire RLock@app.py:3 after waiting
/// on ...` (and `reacquiring_after` names `condition`), as it does for threadkit's own
/// [`Condition`](crate::Condition), whose waits mark themselves. Returns what `reacquire`
/// returns; the mark is removed when it returns or unwinds.
///
/// For bindings that build their Condition from threadkit parts (a Python Condition made of
/// an Event per waiter and the user's lock): wrap the lock's re-acquire in it. A closure, not a
/// guard: the mark points at `condition`, and a guard could be leaked (`mem::forget`) with the
/// mark left behind after `condition` is gone, for the next dump to read.
///
/// # Examples
///
/// ```
/// use threadkit::diagnostics;
/// use threadkit::{Event, Lock};
///
/// let condition = Event::named("my condition"); // what the waiter waited on
/// let lock = Lock::named("the lock");
/// let _held = lock.acquire(); // another thread would hold it; the re-acquire then waits
/// let got = diagnostics::reacquiring_after(&condition, || {
///     lock.acquire_timeout(std::time::Duration::from_millis(1)).is_some()
/// });
/// assert!(!got);
/// ```
pub fn reacquiring_after<D: Diagnosable, R>(condition: &D, reacquire: impl FnOnce() -> R) -> R {
    let _marked = crate::wait::record::reacquiring(condition.identity());
    reacquire()
}
