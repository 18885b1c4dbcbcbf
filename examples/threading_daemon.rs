//! threading_daemon.py: the process does not wait for a daemon thread, so its "Exiting" never
//! appears and the program ends at once.
//!
//! Python output:
//! ```text
//! (daemon    ) Starting
//! (non-daemon) Starting
//! (non-daemon) Exiting
//! ```

use std::thread::sleep;
use std::time::Duration;

use log::debug;
use threadkit::Builder;

fn daemon() {
    debug!("Starting");
    sleep(Duration::from_secs(2));
    debug!("Exiting");
}

fn non_daemon() {
    debug!("Starting");
    debug!("Exiting");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    threadkit::logging::basic_config(log::LevelFilter::Debug, "(%(threadName)-10s) %(message)s")?;

    let d = Builder::new().name("daemon").create(daemon);
    d.set_daemon(true)?;

    let t = Builder::new().name("non-daemon").create(non_daemon);

    d.start()?;
    t.start()?;
    Ok(())
}
