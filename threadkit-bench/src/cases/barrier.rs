//! `Barrier` against `std::sync::Barrier`.

use std::sync::Barrier;

use crate::harness::{two_threads, Case, Contender, Mode};
use crate::pin::Placement;

pub(crate) fn cases(mode: Mode) -> Vec<Case> {
    Placement::BOTH.map(|p| barrier_2t(mode, p)).into()
}

/// `barrier_2t`: two threads meet at a `Barrier(2)` again and again; time per round.
/// 20k rounds: ~0.7 s per trial split across CPUs (~33 µs a round on the reference machine).
fn barrier_2t(mode: Mode, placement: Placement) -> Case {
    Case::pinned("barrier_2t", placement, "round", 20_000, mode)
        .threadkit(threadkit_side(placement))
        .peer(Contender::new("std Barrier", move |n| {
            let barrier = Barrier::new(2);
            let rounds = || {
                for _ in 0..n {
                    barrier.wait();
                }
            };
            two_threads(Some(placement), rounds, rounds)
        }))
}

/// The threadkit side: as the peer, with `threadkit::Barrier::new(2)`.
fn threadkit_side(placement: Placement) -> Option<Contender> {
    Some(Contender::new("threadkit Barrier", move |n| {
        let barrier = threadkit::Barrier::new(2);
        let rounds = || {
            for _ in 0..n {
                barrier.wait().expect("the barrier broke");
            }
        };
        two_threads(Some(placement), rounds, rounds)
    }))
}
