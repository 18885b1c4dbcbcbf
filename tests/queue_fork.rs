//! A child forked while other threads register or release their putting slots (their first put
//! into a queue, their exit) can put into and shut down queues: nothing the child inherits is
//! locked for ever (review 3, Q1: the slots were kept under one process-wide mutex, and a child
//! forked while another thread held it hung in its first put).
//!
//! In a file of its own, so that no other test's threads are running when it forks.
// The thread API is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]
#![cfg(unix)]

mod common;

use common::fork::{in_forked_child, HUNG};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use threadkit::queue::{GetError, Queue};

/// In the child: the forking thread's first put (it never put before, so it takes a slot),
/// and a get from a shut-down, empty queue (which scans every slot for a put in flight).
fn put_and_scan() {
    let q = Queue::new(0);
    q.put(7u32).unwrap();
    assert_eq!(q.get(), Ok(7));
    q.shutdown();
    assert_eq!(q.get(), Err(GetError));
}

/// Many threads holding slots (so that releasing or claiming one walks a long list) and two
/// threads spawning short-lived putting threads, one after another (each claims a slot at its
/// first put and releases it at exit) while the test thread forks: every child puts, scans,
/// and exits. Witness: each child's exit status (0 = its put and its get returned what they
/// should; `HUNG` = the alarm fired).
///
/// Before the fix (slots under a `std::sync::Mutex`): failed 3 of 3 runs, with 1 of 228, 2 of
/// 130 and 1 of 219 children hung (the review's reproduction: 1-8 of 2000).
#[test]
fn a_child_forked_while_slots_change_hands_never_hangs() {
    let idle_threads = 1000;
    let forks = 600;
    let budget = Duration::from_secs(6);

    let idle_q = Arc::new(Queue::new(0));
    let park = Arc::new(Barrier::new(idle_threads + 1));
    let idle: Vec<_> = (0..idle_threads)
        .map(|_| {
            let (q, park) = (Arc::clone(&idle_q), Arc::clone(&park));
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    q.put(0u32).unwrap();
                    park.wait();
                })
                .unwrap()
        })
        .collect();
    while idle_q.len() < idle_threads {
        std::thread::yield_now();
    }

    let stop = Arc::new(AtomicBool::new(false));
    let churn: Vec<_> = (0..2)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let q = Arc::new(Queue::new(0));
                let mut spawned = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let q = Arc::clone(&q);
                    std::thread::spawn(move || {
                        q.put(1u32).unwrap();
                        let _ = q.try_get();
                    })
                    .join()
                    .unwrap();
                    spawned += 1;
                }
                spawned
            })
        })
        .collect();

    let start = Instant::now();
    let (mut run, mut hung, mut failed) = (0, 0, 0);
    while run < forks && start.elapsed() < budget {
        match in_forked_child(put_and_scan) {
            0 => {}
            HUNG => hung += 1,
            _ => failed += 1,
        }
        run += 1;
    }

    stop.store(true, Ordering::Relaxed);
    let spawned: u64 = churn.into_iter().map(|t| t.join().unwrap()).sum();
    park.wait();
    for t in idle {
        t.join().unwrap();
    }
    println!("{run} children forked ({spawned} short-lived putters meanwhile): {hung} hung, {failed} failed");
    assert_eq!(hung, 0, "{hung} of {run} forked children hung");
    assert_eq!(failed, 0, "{failed} of {run} forked children failed");
    assert!(
        run >= 50 && spawned >= 10,
        "too few forks ({run}) or short-lived putters ({spawned}) to have raced"
    );
}
