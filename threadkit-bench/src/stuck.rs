//! `watchdog_selftest_stuck`: a case whose threads stop making progress, to show that the
//! watchdog turns a hang into a named failure and the run goes on. Only with
//! `--include-stuck-case` (the watchdog's integration test); never in a real run.

use threadkit::Event;

use crate::harness::{two_threads, Case, Contender, Mode};

/// The name of the stuck case.
pub(crate) const NAME: &str = "watchdog_selftest_stuck";

pub(crate) fn case(mode: Mode) -> Case {
    // The threadkit side runs first: its warm-up is what hangs.
    Case::new(NAME, "op", 1_000, mode)
        .threadkit(Some(Contender::new(
            "two threads waiting for each other",
            |_| {
                // Each side waits for an event only the other would set after its own wait: the
                // shape of a lost wake-up in a ping-pong.
                let (a, b) = (Event::new(), Event::new());
                two_threads(
                    None,
                    || {
                        a.wait();
                        b.set();
                    },
                    || {
                        b.wait();
                        a.set();
                    },
                )
            },
        )))
        .peer(Contender::new("never reached", |n| {
            std::time::Duration::from_nanos(n)
        }))
}
