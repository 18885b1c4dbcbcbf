//! threading_condition.py: consumers wait on a `Condition` until the producer notifies them.
//!
//! The consumers call `wait()` once, without a predicate loop, as the seed does: threadkit's
//! `Condition` has no spurious wake-ups, so a return from `wait` means a notify happened.
//!
//! Python output (the two consumers re-take the lock in either order):
//! ```text
//! 2013-02-21 06:37:49,549 (c1) Starting consumer thread
//! 2013-02-21 06:37:51,550 (c2) Starting consumer thread
//! 2013-02-21 06:37:53,551 (p ) Starting producer thread
//! 2013-02-21 06:37:53,552 (p ) Making resource available
//! 2013-02-21 06:37:53,552 (c2) Resource is available to consumer
//! 2013-02-21 06:37:53,553 (c1) Resource is available to consumer
//! ```

use std::sync::Arc;
use std::thread::sleep;
use std::time::Duration;

use log::debug;
use threadkit::{Builder, Condition};

/// wait for the condition and use the resource
fn consumer(cond: &Condition) {
    debug!("Starting consumer thread");
    let mut guard = cond.acquire();
    cond.wait(&mut guard);
    debug!("Resource is available to consumer");
}

/// set up the resource to be used by the consumer
fn producer(cond: &Condition) {
    debug!("Starting producer thread");
    let guard = cond.acquire();
    debug!("Making resource available");
    cond.notify_all(&guard);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    threadkit::logging::basic_config(
        log::LevelFilter::Debug,
        "%(asctime)s (%(threadName)-2s) %(message)s",
    )?;

    let condition = Arc::new(Condition::new());
    let c1 = Builder::new().name("c1").create({
        let condition = Arc::clone(&condition);
        move || consumer(&condition)
    });
    let c2 = Builder::new().name("c2").create({
        let condition = Arc::clone(&condition);
        move || consumer(&condition)
    });
    let p = Builder::new()
        .name("p")
        .create(move || producer(&condition));

    c1.start()?;
    sleep(Duration::from_secs(2));
    c2.start()?;
    sleep(Duration::from_secs(2));
    p.start()?;
    Ok(())
}
