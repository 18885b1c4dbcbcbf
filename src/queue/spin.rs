//! How a blocked `get` or `put` of a [`Queue`](super::Queue) or a
//! [`SimpleQueue`](super::SimpleQueue) waits before it sleeps: parking_lot's `SpinWait` (three
//! short rounds of `pause`, then 7 yields), then more yields for a bounded time, then the
//! parking lot.
//!
//! A sleep and its wake-up cost each side a system call, and the woken thread must then be
//! scheduled: on an idle CPU of a virtual machine that takes tens of microseconds (about 25 µs
//! each way in the pinned cross-CPU ping-pongs here). When the other side of a hand-off runs on
//! another CPU, the item or the room usually comes sooner than that, so a waiter that stays on
//! its CPU a little longer catches it without sleeping: a bounded(1) queue between two threads
//! pinned to two CPUs went from 22–24 µs per item (sleeping after `SpinWait`) to 0.4–1.3 µs. A
//! yield, rather than a busy loop, is what keeps the same-CPU hand-off fast (1.65 µs, unchanged):
//! there the other side runs only when this one gives the CPU up (busy rounds of `pause`
//! instead made that case 3–13× slower).
//!
//! The extra yields are bounded by time, not by count, and end after [`YIELD_FOR`]: a waiter
//! burns at most that much more for an item that does not come. With a CPU-bound process pinned
//! to each CPU, this measured no worse than `SpinWait` alone (1P1C bounded(1024) 282 ns per item
//! with both; the pinned hand-offs 1.67 ms against 1.91 ms on one CPU, 0.32 against 0.38 ms on
//! two). Bounding all the yields by time, `SpinWait`'s 7 included, made the 1P1C case 8× slower
//! beside the CPU-bound processes (2.3 µs per item): a waiter that sleeps after one yield has to
//! be woken, where one that keeps yielding is still runnable when the item comes.
//!
//! Under `--cfg loom` nothing spins (the model's `SpinWait` never does), so the models explore
//! the sleep after every failed look.

use crate::wait::SpinWait;
#[cfg(not(loom))]
use std::time::{Duration, Instant};

/// How long a blocked `get` or `put` keeps yielding after `SpinWait`'s rounds before it sleeps:
/// about one futex sleep and wake-up's latency here (a wait bounded by what sleeping would cost
/// is at most twice as long as the better choice, whichever way the item comes).
#[cfg(not(loom))]
pub(super) const YIELD_FOR: Duration = Duration::from_micros(20);

/// The spinner of one blocking call: [`spin`](Self::spin) until it says to sleep,
/// [`reset`](Self::reset) after each wake-up.
pub(super) struct Spinner {
    spin: SpinWait,
    /// When the extra yields end (set at the first of them).
    #[cfg(not(loom))]
    yield_until: Option<Instant>,
}

impl Spinner {
    pub(super) fn new() -> Self {
        Spinner {
            spin: SpinWait::new(),
            #[cfg(not(loom))]
            yield_until: None,
        }
    }

    /// Spins or yields once and returns true, or returns false: time to sleep. The clock is read
    /// only once `SpinWait`'s rounds are spent, so a hand-off that comes within them costs no
    /// clock read.
    #[inline]
    pub(super) fn spin(&mut self) -> bool {
        if self.spin.spin() {
            return true;
        }
        #[cfg(loom)]
        return false;
        #[cfg(not(loom))]
        {
            let now = Instant::now();
            let until = *self.yield_until.get_or_insert(now + YIELD_FOR);
            if now >= until {
                return false;
            }
            std::thread::yield_now();
            true
        }
    }

    /// Starts again from the first round (after a wake-up that found nothing).
    pub(super) fn reset(&mut self) {
        *self = Spinner::new();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn spins_then_yields_for_a_bounded_time_then_says_sleep() {
        let mut spinner = Spinner::new();
        let start = Instant::now();
        let mut rounds = 0u32;
        while spinner.spin() {
            rounds += 1;
            assert!(rounds < 10_000_000, "the spinner never said to sleep");
        }
        // SpinWait's 10 rounds, then yields until YIELD_FOR has passed.
        assert!(rounds > 10, "only {rounds} rounds");
        assert!(start.elapsed() >= YIELD_FOR);
        // It keeps saying so until reset, then spins again.
        assert!(!spinner.spin());
        spinner.reset();
        assert!(spinner.spin());
    }
}
