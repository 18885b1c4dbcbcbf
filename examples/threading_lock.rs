//! threading_lock.py: two workers increment a shared `Counter` under a `Lock`.
//!
//! The Python `Counter` keeps a lock beside its value; here the value lives *inside* the lock
//! (`Lock<i64>`), so it cannot be touched without holding the lock. The acquire and release
//! points are where Python's are: "Acquired lock" is logged once the lock is held, and the guard
//! releases it at the end of `increment` (Python's `finally: self.lock.release()`).
//!
//! Python output (pauses are random, so the order varies; Python 3.13 names the threads
//! `Thread-1 (worker)`, while a closure passing the counter, as `args=(counter,)` does, has no
//! name to add, so threadkit prints `Thread-1` as the article's Python did):
//! ```text
//! (Thread-1  ) Sleeping 0.47
//! (Thread-2  ) Sleeping 0.65
//! (MainThread) Waiting for worker threads
//! (Thread-1  ) Waiting for lock
//! (Thread-1  ) Acquired lock
//! (Thread-1  ) Sleeping 0.90
//! (Thread-2  ) Waiting for lock
//! (Thread-2  ) Acquired lock
//! (Thread-2  ) Sleeping 0.11
//! (Thread-2  ) Waiting for lock
//! (Thread-2  ) Acquired lock
//! (Thread-2  ) Done
//! (Thread-1  ) Waiting for lock
//! (Thread-1  ) Acquired lock
//! (Thread-1  ) Done
//! (MainThread) Counter: 4
//! ```

use std::sync::Arc;
use std::thread::sleep;
use std::time::Duration;

use log::debug;
use threadkit::{current_thread, Lock, Thread};

struct Counter {
    value: Lock<i64>,
}

impl Counter {
    fn new(start: i64) -> Self {
        Counter {
            value: Lock::with_value(start),
        }
    }

    fn increment(&self) {
        debug!("Waiting for lock");
        let mut value = self.value.acquire();
        debug!("Acquired lock");
        *value += 1;
    }
}

fn worker(c: &Counter) {
    for _ in 0..2 {
        let pause = fastrand::f64();
        debug!("Sleeping {pause:.2}");
        sleep(Duration::from_secs_f64(pause));
        c.increment();
    }
    debug!("Done");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    threadkit::logging::basic_config(log::LevelFilter::Debug, "(%(threadName)-10s) %(message)s")?;

    let counter = Arc::new(Counter::new(0));
    for _ in 0..2 {
        let counter = Arc::clone(&counter);
        let t = Thread::new(move || worker(&counter));
        t.start()?;
    }

    debug!("Waiting for worker threads");
    let main_thread = current_thread();
    for t in threadkit::enumerate() {
        if t != main_thread {
            t.join()?;
        }
    }
    debug!("Counter: {}", *counter.value.acquire());
    Ok(())
}
