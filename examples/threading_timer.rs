//! threading_timer.py: a Timer runs its function after a delay, unless cancelled first.
//!
//! The second timer is cancelled and never runs. The first runs about three seconds after the
//! start, after `main` has finished: it is not a daemon, so the process waits for it at exit.
//!
//! Python output (3.13):
//! ```text
//! (MainThread) starting timers
//! (MainThread) waiting before canceling t2
//! (MainThread) canceling t2
//! (MainThread) done
//! (t1        ) worker running
//! ```

use std::thread::sleep;
use std::time::Duration;

use log::debug;
use threadkit::Timer;

fn delayed() {
    debug!("worker running");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    threadkit::logging::basic_config(log::LevelFilter::Debug, "(%(threadName)-10s) %(message)s")?;

    let t1 = Timer::new(Duration::from_secs(3), delayed);
    t1.set_name("t1");
    let t2 = Timer::new(Duration::from_secs(3), delayed);
    t2.set_name("t2");

    debug!("starting timers");
    t1.start()?;
    t2.start()?;

    debug!("waiting before canceling {}", t2.name());
    sleep(Duration::from_secs(2));
    debug!("canceling {}", t2.name());
    t2.cancel();
    debug!("done");
    Ok(())
}
