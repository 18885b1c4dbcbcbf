//! Joins threadkit cannot see by itself: a binding's thread join that waits outside threadkit
//! (CPython's `Thread.join` waits in C), published as a join so that dumps and the deadlock
//! finder see it.

use std::panic::Location;
use std::time::Instant;

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
    _published: crate::wait::record::Published,
    /// Dropped on the thread that published it: it withdraws that thread's record.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl std::fmt::Debug for JoinWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinWait").finish_non_exhaustive()
    }
}
