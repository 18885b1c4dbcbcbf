//! `Condition` against a Mutex + Condvar pair (std and parking_lot).

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

/// TODO(condition): the threadkit side, once `threadkit::Condition` is merged; until then the
/// case runs its peers only and the table says "not yet measured". Same shape as `peer`: a
/// `Condition` over a `Lock<bool>` turn, `notify()` after setting the turn, `wait_for`/`wait`
/// in a loop on the other side, both in `two_threads(Some(placement), ..)`.
fn threadkit_side(_placement: Placement) -> Option<Contender> {
    None
}
