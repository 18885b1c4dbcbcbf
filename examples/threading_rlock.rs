//! threading_rlock.py: an `RLock` may be acquired again by the thread that holds it.
//!
//! The only change from `threading_lock_reacquire.rs` is `RLock` for `Lock`.
//!
//! Python output (Python 2, as in the article, printed `1` for the second try; Python 3 prints
//! `True`):
//! ```text
//! First try : True
//! Second try: True
//! ```
//! threadkit prints Rust's `true`.

use threadkit::RLock;

static LOCK: RLock = RLock::new();

fn main() {
    // `acquire()` blocks until it holds the lock, so it cannot fail: Python's `True` is the
    // guard, kept alive for the rest of `main`.
    let _first = LOCK.acquire();
    println!("First try : {}", LOCK.locked());
    let second = LOCK.try_acquire();
    println!("Second try: {}", second.is_some());
}
