//! threading_local.py: a value stored in a `Local` is seen only by the thread that stored it.
//!
//! Python output (the random values differ from run to run):
//! ```text
//! (MainThread) No value yet
//! (MainThread) value=1000
//! (Thread-1  ) No value yet
//! (Thread-1  ) value=34
//! (Thread-2  ) No value yet
//! (Thread-2  ) value=7
//! ```

use std::sync::Arc;

use log::debug;
use threadkit::{Local, Thread};

fn show_value(data: &Local<i32>) {
    match data.get() {
        None => debug!("No value yet"),
        Some(val) => debug!("value={val}"),
    }
}

fn worker(data: &Local<i32>) {
    show_value(data);
    data.set(fastrand::i32(1..=100));
    show_value(data);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    threadkit::logging::basic_config(log::LevelFilter::Debug, "(%(threadName)-10s) %(message)s")?;

    let local_data = Arc::new(Local::new());
    show_value(&local_data);
    local_data.set(1000);
    show_value(&local_data);

    for _ in 0..2 {
        let data = Arc::clone(&local_data);
        let t = Thread::new(move || worker(&data));
        t.start()?;
    }
    Ok(())
}
