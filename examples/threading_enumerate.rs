//! threading_enumerate.py: join every thread that `enumerate()` lists, skipping the main thread.
//!
//! Python output (3.13; pauses are random, so the order varies):
//! ```text
//! (Thread-1 (worker)) sleeping 3
//! (Thread-2 (worker)) sleeping 2
//! (Thread-3 (worker)) sleeping 5
//! (MainThread) joining Thread-1 (worker)
//! (Thread-2 (worker)) ending
//! (Thread-1 (worker)) ending
//! (MainThread) joining Thread-3 (worker)
//! (Thread-3 (worker)) ending
//! (MainThread) joining Thread-2 (worker)
//! ```

use std::thread::sleep;
use std::time::Duration;

use log::debug;
use threadkit::{current_thread, Thread};

/// thread worker function
fn worker() {
    let pause = fastrand::u64(1..=5);
    debug!("sleeping {pause}");
    sleep(Duration::from_secs(pause));
    debug!("ending");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    threadkit::logging::basic_config(log::LevelFilter::Debug, "(%(threadName)-10s) %(message)s")?;

    for _ in 0..3 {
        let t = Thread::new(worker);
        t.set_daemon(true)?;
        t.start()?;
    }

    let main_thread = current_thread();
    for t in threadkit::enumerate() {
        if t == main_thread {
            continue;
        }
        debug!("joining {}", t.name());
        t.join()?;
    }
    Ok(())
}
