//! A child forked while another thread of the parent is in the middle of a put into a queue
//! resizes that queue, puts into it and shuts it down: nothing waits for the put that was in
//! flight at the fork (its thread does not exist in the child). Review of issue 15, H1: the
//! dead thread's putting flag kept naming the queue, and the child's first `set_maxsize` waited
//! for it for ever (in the retire of the old store).
//!
//! In a file of its own, so that no other test's threads are running when it forks.
// The thread API is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]
#![cfg(unix)]

mod common;

use common::fork::{in_forked_child, HUNG};

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use threadkit::queue::Queue;

/// The queue the parent's producer keeps putting into, and that the child inherits.
static Q: OnceLock<Arc<Queue<u32>>> = OnceLock::new();

/// In the child: the first resize of the inherited queue, a put into the second store, a second
/// resize, and `shutdown`. Witness: what each call returns. (No get: a get pops the old store
/// first, and a lock-free store whose put was half done at the fork, a slot claimed but not
/// written, makes its pops wait for that write for ever: a limit of lock-free stores (crossbeam's too), as
/// CPython's queue can be left with its mutex held.)
fn resize_put_shutdown() {
    let q = Q.get().expect("set before the fork");
    q.set_maxsize(1_000_000);
    q.put(7).unwrap();
    assert!(!q.is_empty() && !q.is_full());
    q.set_maxsize(0);
    q.try_put(8).unwrap();
    q.shutdown();
    assert!(q.try_put(9).is_err());
}

/// A producer putting into and getting from `Q` without pause while the test thread forks:
/// every child resizes, puts and shuts down. Witness: each child's exit status (0 = its
/// calls returned what they should; `HUNG` = the alarm fired).
///
/// Before the fix: failed 3 of 3 runs (15 of 58, 15 of 48, 15 of 73 children hung before the
/// 30 s budget ran out; the review's repro: 7 of 40 and 3 of 40).
#[test]
fn a_child_forked_mid_put_resizes_and_puts() {
    let forks = 400;
    let budget = Duration::from_secs(30);
    let q = Arc::clone(Q.get_or_init(|| Arc::new(Queue::new(0))));
    let stop = Arc::new(AtomicBool::new(false));
    let puts = Arc::new(AtomicU64::new(0));
    let producer = {
        let (q, stop, puts) = (Arc::clone(&q), Arc::clone(&stop), Arc::clone(&puts));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                q.put(1).unwrap();
                let _ = q.try_get();
                puts.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while puts.load(Ordering::Relaxed) < 1000 {
        std::thread::yield_now();
    }
    let start = Instant::now();
    let (mut run, mut hung, mut failed) = (0, 0, 0);
    while run < forks && start.elapsed() < budget {
        match in_forked_child(resize_put_shutdown) {
            0 => {}
            HUNG => hung += 1,
            _ => failed += 1,
        }
        run += 1;
    }
    stop.store(true, Ordering::Relaxed);
    producer.join().unwrap();
    println!(
        "{run} children forked ({} puts by the parent's producer): {hung} hung, {failed} failed",
        puts.load(Ordering::Relaxed)
    );
    assert_eq!(hung, 0, "{hung} of {run} forked children hung");
    assert_eq!(failed, 0, "{failed} of {run} forked children failed");
    assert!(run >= 20, "too few forks ({run}) in {budget:?}");
}
