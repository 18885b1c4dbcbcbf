//! threading_simple.py: start five threads that each print "Worker".
//!
//! Python output:
//! ```text
//! Worker
//! Worker
//! Worker
//! Worker
//! Worker
//! ```

use threadkit::Thread;

/// thread worker function
fn worker() {
    println!("Worker");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut threads = Vec::new();
    for _ in 0..5 {
        let t = Thread::new(worker);
        t.start()?;
        threads.push(t);
    }
    Ok(())
}
