//! threading_lock_noblock.py: `try_acquire` (Python's `acquire(0)`) tells the worker whether
//! the lock is free without waiting for it.
//!
//! `LockHolder` is a daemon thread that takes and drops the lock forever; the program ends when
//! the non-daemon `Worker` is done, as in Python (threadkit joins non-daemon threads at exit and
//! abandons daemon ones).
//!
//! Python output (timing decides how many iterations the worker needs):
//! ```text
//! (LockHolder) Starting
//! (LockHolder) Holding
//! (Worker    ) Starting
//! (LockHolder) Not holding
//! (Worker    ) Trying to acquire
//! (Worker    ) Iteration 1: Acquired
//! (Worker    ) Trying to acquire
//! (LockHolder) Holding
//! (Worker    ) Iteration 2: Not acquired
//! (LockHolder) Not holding
//! (Worker    ) Trying to acquire
//! (Worker    ) Iteration 3: Acquired
//! (LockHolder) Holding
//! (Worker    ) Trying to acquire
//! (Worker    ) Iteration 4: Not acquired
//! (LockHolder) Not holding
//! (Worker    ) Trying to acquire
//! (Worker    ) Iteration 5: Acquired
//! (Worker    ) Done after 5 iterations
//! ```

use std::sync::Arc;
use std::thread::sleep;
use std::time::Duration;

use log::debug;
use threadkit::{Builder, Lock};

fn lock_holder(lock: &Lock) {
    debug!("Starting");
    loop {
        {
            let _held = lock.acquire();
            debug!("Holding");
            sleep(Duration::from_millis(500));
            debug!("Not holding");
        } // released here, as Python's `finally: lock.release()`
        sleep(Duration::from_millis(500));
    }
}

fn worker(lock: &Lock) {
    debug!("Starting");
    let mut num_tries = 0;
    let mut num_acquires = 0;
    while num_acquires < 3 {
        sleep(Duration::from_millis(500));
        debug!("Trying to acquire");
        let have_it = lock.try_acquire();
        num_tries += 1;
        if have_it.is_some() {
            debug!("Iteration {num_tries}: Acquired");
            num_acquires += 1;
        } else {
            debug!("Iteration {num_tries}: Not acquired");
        }
        drop(have_it); // Python: `finally: if have_it: lock.release()`
    }
    debug!("Done after {num_tries} iterations");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    threadkit::logging::basic_config(log::LevelFilter::Debug, "(%(threadName)-10s) %(message)s")?;

    let lock = Arc::new(Lock::new());

    let holder = Builder::new().name("LockHolder").create({
        let lock = Arc::clone(&lock);
        move || lock_holder(&lock)
    });
    holder.set_daemon(true)?;
    holder.start()?;

    let worker = Builder::new().name("Worker").create(move || worker(&lock));
    worker.start()?;
    Ok(())
}
