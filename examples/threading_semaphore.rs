//! threading_semaphore.py: limiting concurrent access to a resource with a `Semaphore`.
//!
//! Four workers want the pool, but the semaphore lets only two in at a time; `ActivePool` just
//! records who is inside.
//!
//! Python output (3.13; times vary):
//! ```text
//! 2013-02-21 06:37:53,629 (0 ) Waiting to join the pool
//! 2013-02-21 06:37:53,629 (1 ) Waiting to join the pool
//! 2013-02-21 06:37:53,629 (0 ) Running: ['0']
//! 2013-02-21 06:37:53,629 (2 ) Waiting to join the pool
//! 2013-02-21 06:37:53,630 (3 ) Waiting to join the pool
//! 2013-02-21 06:37:53,630 (1 ) Running: ['0', '1']
//! 2013-02-21 06:37:53,730 (0 ) Running: ['1']
//! 2013-02-21 06:37:53,731 (2 ) Running: ['1', '2']
//! 2013-02-21 06:37:53,731 (1 ) Running: ['2']
//! 2013-02-21 06:37:53,732 (3 ) Running: ['2', '3']
//! 2013-02-21 06:37:53,831 (2 ) Running: ['3']
//! 2013-02-21 06:37:53,833 (3 ) Running: []
//! ```

use std::sync::Arc;
use std::thread::sleep;
use std::time::Duration;

use log::debug;
use threadkit::{current_thread, Builder, Lock, Semaphore};

/// Python's `repr` of a list of strings: `['0', '1']`.
fn py_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

struct ActivePool {
    active: Lock<Vec<String>>,
}

impl ActivePool {
    fn new() -> Self {
        ActivePool {
            active: Lock::with_value(Vec::new()),
        }
    }

    fn make_active(&self, name: &str) {
        let mut active = self.active.acquire();
        active.push(name.to_owned());
        debug!("Running: {}", py_list(&active));
    }

    fn make_inactive(&self, name: &str) {
        let mut active = self.active.acquire();
        if let Some(i) = active.iter().position(|n| n == name) {
            active.remove(i);
        }
        debug!("Running: {}", py_list(&active));
    }
}

fn worker(s: &Semaphore, pool: &ActivePool) {
    debug!("Waiting to join the pool");
    let _permit = s.acquire(); // with s:
    let name = current_thread().name();
    pool.make_active(&name);
    sleep(Duration::from_millis(100));
    pool.make_inactive(&name);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    threadkit::logging::basic_config(
        log::LevelFilter::Debug,
        "%(asctime)s (%(threadName)-2s) %(message)s",
    )?;

    let pool = Arc::new(ActivePool::new());
    let s = Arc::new(Semaphore::new(2));
    for i in 0..4 {
        let (s, pool) = (Arc::clone(&s), Arc::clone(&pool));
        let t = Builder::new()
            .name(i.to_string())
            .create(move || worker(&s, &pool));
        t.start()?;
    }
    Ok(())
}
