//! threading_lock_with.py: a guard (Python's `with lock:`) and explicit acquire/release manage
//! the lock in equivalent ways.
//!
//! Python output (Python 3.13 adds the target to the default names, `Thread-1 (worker_with)`;
//! closures passing the lock, as `args=(lock,)` does, have no name to add):
//! ```text
//! (Thread-1  ) Lock acquired via with
//! (Thread-2  ) Lock acquired directly
//! ```

use std::sync::Arc;

use log::debug;
use threadkit::{Lock, ReleaseError, Thread};

fn worker_with(lock: &Lock) {
    let _guard = lock.acquire();
    debug!("Lock acquired via with");
}

fn worker_no_with(lock: &Lock) -> Result<(), ReleaseError> {
    lock.acquire().forget(); // keep it locked without a guard, as a bare `lock.acquire()`
    debug!("Lock acquired directly");
    lock.release()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    threadkit::logging::basic_config(log::LevelFilter::Debug, "(%(threadName)-10s) %(message)s")?;

    let lock = Arc::new(Lock::new());
    let w = Thread::new({
        let lock = Arc::clone(&lock);
        move || worker_with(&lock)
    });
    let nw = Thread::new(move || worker_no_with(&lock));

    w.start()?;
    nw.start()?;
    Ok(())
}
