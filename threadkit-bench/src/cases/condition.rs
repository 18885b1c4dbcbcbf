//! `Condition` against a Mutex + Condvar pair (std and parking_lot).

use threadkit::{Condition, Lock};

use crate::cases::monitor::{Monitor, Pl, Std};
use crate::harness::{two_threads, Case, Contender, Mode};
use crate::pin::Placement;

pub(crate) fn cases(mode: Mode) -> Vec<Case> {
    Placement::BOTH.map(|p| pingpong(mode, p)).into()
}

/// Round trips per trial in a full run (~0.65 s per trial split across CPUs, ~15 ms on one).
const ROUND_TRIPS: u64 = 10_000;

/// `condition_pingpong`: two threads pass a turn back and forth through one condition
/// variable; time per round trip (two waits, two notifies).
fn pingpong(mode: Mode, placement: Placement) -> Case {
    Case::pinned(
        "condition_pingpong",
        placement,
        "round trip",
        ROUND_TRIPS,
        mode,
    )
    .threadkit(threadkit_side(placement))
    .peer(peer::<Std<bool>>(placement))
    .peer(peer::<Pl<bool>>(placement))
    .peer(pl_notify_under_lock(placement))
}

/// The turn is a bool: `true` = the other thread's move.
fn peer<M: Monitor<bool> + 'static>(placement: Placement) -> Contender {
    Contender::new(M::LABEL, move |n| {
        let turn = M::new(false);
        two_threads(
            Some(placement),
            || {
                for _ in 0..n {
                    turn.with(|t| *t = true);
                    turn.notify_one();
                    turn.wait_until(|t| !*t, |_| ());
                }
            },
            || {
                for _ in 0..n {
                    turn.wait_until(|t| *t, |t| *t = false);
                    turn.notify_one();
                }
            },
        )
    })
}

/// parking_lot's Mutex+Condvar doing what the threadkit side does: the notify with the lock held
/// (Python's rule, which threadkit's API enforces: `notify` takes the guard), the main side
/// keeping the lock from setting the turn to waiting for it back. The other peers notify after
/// unlocking, which spares the woken thread a wait for the lock.
fn pl_notify_under_lock(placement: Placement) -> Contender {
    Contender::new("parking_lot M+C, notify under lock", move |n| {
        let (turn, cv) = (parking_lot::Mutex::new(false), parking_lot::Condvar::new());
        two_threads(
            Some(placement),
            || {
                for _ in 0..n {
                    let mut t = turn.lock();
                    *t = true;
                    cv.notify_one();
                    while *t {
                        cv.wait(&mut t);
                    }
                }
            },
            || {
                for _ in 0..n {
                    let mut t = turn.lock();
                    while !*t {
                        cv.wait(&mut t);
                    }
                    *t = false;
                    cv.notify_one();
                }
            },
        )
    })
}

/// The threadkit side: a `Condition` over a `Lock<bool>` holding the turn. As in Python (and
/// the CPython twin), the notify happens with the lock held (the API takes the guard), and the
/// main side keeps the lock from setting the turn to waiting for it back; each wait is a
/// `wait_for` (the `while` loop around `wait`).
fn threadkit_side(placement: Placement) -> Option<Contender> {
    Some(Contender::new("threadkit Condition", move |n| {
        let cond = Condition::with_lock(Lock::with_value(false));
        two_threads(
            Some(placement),
            || {
                for _ in 0..n {
                    let mut turn = cond.acquire();
                    *turn = true;
                    cond.notify(&turn, 1);
                    cond.wait_for(&mut turn, |t| !*t);
                }
            },
            || {
                for _ in 0..n {
                    let mut turn = cond.acquire();
                    cond.wait_for(&mut turn, |t| *t);
                    *turn = false;
                    cond.notify(&turn, 1);
                }
            },
        )
    }))
}
