//! threading_lock_reacquire.py: a `Lock` cannot be acquired twice, even by the thread holding it.
//!
//! The second, blocking-free attempt fails; a blocking `acquire()` there would wait forever.
//!
//! Python output:
//! ```text
//! First try : True
//! Second try: False
//! ```
//! threadkit prints Rust's `true` / `false`.

use threadkit::Lock;

static LOCK: Lock = Lock::new();

fn main() {
    // `acquire()` blocks until it holds the lock, so it cannot fail: Python's `True` is the
    // guard, kept alive (the lock stays held) for the rest of `main`.
    let _first = LOCK.acquire();
    println!("First try : {}", LOCK.locked());
    println!("Second try: {}", LOCK.try_acquire().is_some());
}
