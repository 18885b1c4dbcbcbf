//! `Event` against an Event built from a Mutex + Condvar (std and parking_lot).

use crate::cases::monitor::{CondvarEvent, Monitor, Pl, Std};
use crate::harness::{two_threads, Case, Contender, Mode};
use crate::pin::Placement;

pub(crate) fn cases(mode: Mode) -> Vec<Case> {
    Placement::BOTH.map(|p| pingpong(mode, p)).into()
}

/// Round trips per trial in a full run (~0.65 s per trial split across CPUs, ~15 ms on one).
const ROUND_TRIPS: u64 = 10_000;

/// `event_pingpong`: two Events, `ping` and `pong`; one thread sets `ping` and waits for `pong`,
/// the other waits for `ping`, clears it and sets `pong`; time per round trip.
fn pingpong(mode: Mode, placement: Placement) -> Case {
    Case::pinned("event_pingpong", placement, "round trip", ROUND_TRIPS, mode)
        .threadkit(Some(Contender::new("threadkit Event", move |n| {
            run::<threadkit::Event>(placement, n)
        })))
        .peer(Contender::new(Std::<bool>::LABEL, move |n| {
            run::<CondvarEvent<Std<bool>>>(placement, n)
        }))
        .peer(Contender::new(Pl::<bool>::LABEL, move |n| {
            run::<CondvarEvent<Pl<bool>>>(placement, n)
        }))
}

/// What the ping-pong needs from an event.
trait EventLike: Sync {
    fn new() -> Self;
    fn set(&self);
    fn clear(&self);
    fn wait(&self);
}

impl EventLike for threadkit::Event {
    fn new() -> Self {
        threadkit::Event::new()
    }
    #[inline]
    fn set(&self) {
        self.set();
    }
    #[inline]
    fn clear(&self) {
        self.clear();
    }
    #[inline]
    fn wait(&self) {
        self.wait();
    }
}

impl<M: Monitor<bool>> EventLike for CondvarEvent<M> {
    fn new() -> Self {
        CondvarEvent::new()
    }
    #[inline]
    fn set(&self) {
        self.set();
    }
    #[inline]
    fn clear(&self) {
        self.clear();
    }
    #[inline]
    fn wait(&self) {
        self.wait();
    }
}

fn run<E: EventLike>(placement: Placement, n: u64) -> std::time::Duration {
    let (ping, pong) = (E::new(), E::new());
    two_threads(
        Some(placement),
        || {
            for _ in 0..n {
                ping.set();
                pong.wait();
                pong.clear();
            }
        },
        || {
            for _ in 0..n {
                ping.wait();
                ping.clear();
                pong.set();
            }
        },
    )
}
