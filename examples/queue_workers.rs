//! queue_workers.py: a pool of named worker threads draining a `queue.Queue` of jobs.
//!
//! The seed's "See also: Queue", as a program. Each worker takes jobs until the queue is shut
//! down, marking each one done with `task_done`; the main thread waits on `join` for every job,
//! then shuts the queue down so the workers stop. The Python original:
//!
//! ```python
//! import logging, queue, random, threading, time
//!
//! logging.basicConfig(level=logging.DEBUG, format='(%(threadName)-10s) %(message)s')
//!
//! def worker(jobs):
//!     while True:
//!         try:
//!             job = jobs.get()
//!         except queue.ShutDown:
//!             logging.debug('No more jobs')
//!             return
//!         logging.debug('Processing job %s', job)
//!         time.sleep(random.random() / 10)
//!         jobs.task_done()
//!
//! jobs = queue.Queue()
//! for i in range(3):
//!     threading.Thread(name=f'worker-{i}', target=worker, args=(jobs,)).start()
//! for job in range(6):
//!     jobs.put(job)
//! logging.debug('Waiting for the jobs')
//! jobs.join()
//! logging.debug('All jobs done')
//! jobs.shutdown()
//! ```
//!
//! Python output (3.13; which worker gets which job varies from run to run):
//! ```text
//! (worker-0  ) Processing job 0
//! (worker-1  ) Processing job 1
//! (worker-2  ) Processing job 2
//! (MainThread) Waiting for the jobs
//! (worker-1  ) Processing job 3
//! (worker-0  ) Processing job 4
//! (worker-2  ) Processing job 5
//! (MainThread) All jobs done
//! (worker-1  ) No more jobs
//! (worker-0  ) No more jobs
//! (worker-2  ) No more jobs
//! ```

use std::sync::Arc;
use std::thread::sleep;
use std::time::Duration;

use log::debug;
use threadkit::queue::Queue;
use threadkit::Builder;

fn worker(jobs: &Queue<u32>) {
    loop {
        let Ok(job) = jobs.get() else {
            // The queue is shut down and empty: Python's `queue.ShutDown`.
            debug!("No more jobs");
            return;
        };
        debug!("Processing job {job}");
        sleep(Duration::from_secs_f64(fastrand::f64() / 10.0));
        jobs.task_done().expect("one task_done per job taken");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    threadkit::logging::basic_config(log::LevelFilter::Debug, "(%(threadName)-10s) %(message)s")?;

    let jobs = Arc::new(Queue::new(0));
    for i in 0..3 {
        let jobs = Arc::clone(&jobs);
        Builder::new()
            .name(format!("worker-{i}"))
            .create(move || worker(&jobs))
            .start()?;
    }
    for job in 0..6 {
        jobs.put(job)?;
    }
    debug!("Waiting for the jobs");
    jobs.join();
    debug!("All jobs done");
    jobs.shutdown();
    // As in Python, the process waits for the (non-daemon) workers before it exits.
    Ok(())
}
