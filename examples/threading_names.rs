//! threading_names.py: each thread prints its own name. The unnamed thread gets "Thread-1 (worker)"
//! (CPython 3.10+ appends the target's name; the Python 2 article showed "Thread-1"). Lines from
//! different threads may interleave, as in the article.
//!
//! Python output (3.13; order varies):
//! ```text
//! worker Starting
//! Thread-1 (worker) Starting
//! my_service Starting
//! worker Exiting
//! Thread-1 (worker) Exiting
//! my_service Exiting
//! ```

use std::thread::sleep;
use std::time::Duration;

use threadkit::{current_thread, Builder, Thread};

fn worker() {
    println!("{} Starting", current_thread().name());
    sleep(Duration::from_secs(2));
    println!("{} Exiting", current_thread().name());
}

fn my_service() {
    println!("{} Starting", current_thread().name());
    sleep(Duration::from_secs(3));
    println!("{} Exiting", current_thread().name());
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let t = Builder::new().name("my_service").create(my_service);
    let w = Builder::new().name("worker").create(worker);
    let w2 = Thread::new(worker); // use default name

    w.start()?;
    w2.start()?;
    t.start()?;
    Ok(())
}
