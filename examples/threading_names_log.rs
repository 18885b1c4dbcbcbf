//! threading_names_log.py: the thread name in every log line.
//!
//! Python output (3.13):
//! ```text
//! [DEBUG] (worker    ) Starting
//! [DEBUG] (Thread-1 (worker)) Starting
//! [DEBUG] (my_service) Starting
//! [DEBUG] (worker    ) Exiting
//! [DEBUG] (Thread-1 (worker)) Exiting
//! [DEBUG] (my_service) Exiting
//! ```

use std::thread::sleep;
use std::time::Duration;

use log::debug;
use threadkit::{Builder, Thread};

fn worker() {
    debug!("Starting");
    sleep(Duration::from_secs(2));
    debug!("Exiting");
}

fn my_service() {
    debug!("Starting");
    sleep(Duration::from_secs(3));
    debug!("Exiting");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    threadkit::logging::basic_config(
        log::LevelFilter::Debug,
        "[%(levelname)s] (%(threadName)-10s) %(message)s",
    )?;

    let t = Builder::new().name("my_service").create(my_service);
    let w = Builder::new().name("worker").create(worker);
    let w2 = Thread::new(worker); // use default name

    w.start()?;
    w2.start()?;
    t.start()?;
    Ok(())
}
