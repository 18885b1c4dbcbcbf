//! threading_daemon_join_timeout.py: join with a timeout shorter than the daemon's sleep; the
//! daemon is still alive afterwards, and the program ends after about one second.
//!
//! Python output:
//! ```text
//! (daemon    ) Starting
//! (non-daemon) Starting
//! (non-daemon) Exiting
//! d.is_alive() True
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

    let _finished = d.join_timeout(Duration::from_secs(1))?;
    println!("d.is_alive() {}", d.is_alive());
    t.join()?;
    Ok(())
}
