//! threading_subclass.py: "subclass Thread and override run()" is a type implementing `Run`.
//!
//! Python output:
//! ```text
//! (Thread-1  ) running
//! (Thread-2  ) running
//! (Thread-3  ) running
//! (Thread-4  ) running
//! (Thread-5  ) running
//! ```

use log::debug;
use threadkit::{Run, Thread};

struct MyThread;

impl Run for MyThread {
    type Output = ();

    fn run(self) {
        debug!("running");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    threadkit::logging::basic_config(log::LevelFilter::Debug, "(%(threadName)-10s) %(message)s")?;

    for _ in 0..5 {
        let t = Thread::new(MyThread);
        t.start()?;
    }
    Ok(())
}
