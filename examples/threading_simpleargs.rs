//! threading_simpleargs.py: pass each thread an argument. The closure captures what Python passes
//! as `args=(i,)`.
//!
//! Python output:
//! ```text
//! Worker: 0
//! Worker: 1
//! Worker: 2
//! Worker: 3
//! Worker: 4
//! ```

use threadkit::Thread;

/// thread worker function
fn worker(num: i32) {
    println!("Worker: {num}");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut threads = Vec::new();
    for i in 0..5 {
        let t = Thread::new(move || worker(i));
        t.start()?;
        threads.push(t);
    }
    Ok(())
}
