//! How many items a "bounded(1)" queue takes while its receiver is blocked in `recv`: the
//! experiment behind BENCHMARKS.md's note on `queue_handoff/same_cpu` (kanal and flume hand an
//! item straight to a waiting receiver and still have their one buffer slot, so two sends in a
//! row succeed; a queue that never holds more than one item lets the second fail).
//!
//! `cargo run --release -p threadkit-bench --example bounded_one_capacity`
//!
//! Each round: a receiver thread blocks in `recv` (given 5 ms to get there), then the main thread
//! makes two non-blocking sends back to back (~100 ns apart; waking the receiver takes tens of
//! microseconds). The count is of rounds where both succeeded. Timing decides only whether the
//! receiver is already asleep, so the figures are an experiment's, not a test's.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

const ROUNDS: usize = 200;

/// Runs the round `ROUNDS` times: `make` returns the two sends (as one closure returning
/// whether both succeeded) and the receiver's blocking receive.
fn count(make: impl Fn() -> (Box<dyn FnOnce() -> bool>, Box<dyn FnOnce() + Send>)) -> usize {
    (0..ROUNDS)
        .filter(|_| {
            let (send_two, recv_one) = make();
            let receiver = thread::spawn(recv_one);
            thread::sleep(Duration::from_millis(5));
            let both = send_two();
            receiver.join().unwrap();
            both
        })
        .count()
}

/// The receiver's side: one receive, then hold on to the channel for a while (so that the
/// sends never see it disconnected).
fn hold<T>(_: T) {
    thread::sleep(Duration::from_millis(5));
}

fn main() {
    let kanal = count(|| {
        let (tx, rx) = kanal::bounded::<u32>(1);
        (
            Box::new(move || tx.try_send(1).unwrap() && tx.try_send(2).unwrap()),
            Box::new(move || hold((rx.recv().unwrap(), rx))),
        )
    });
    let flume = count(|| {
        let (tx, rx) = flume::bounded::<u32>(1);
        (
            Box::new(move || tx.try_send(1).is_ok() && tx.try_send(2).is_ok()),
            Box::new(move || hold((rx.recv().unwrap(), rx))),
        )
    });
    let crossbeam = count(|| {
        let (tx, rx) = crossbeam_channel::bounded::<u32>(1);
        (
            Box::new(move || tx.try_send(1).is_ok() && tx.try_send(2).is_ok()),
            Box::new(move || hold((rx.recv().unwrap(), rx))),
        )
    });
    let std = count(|| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<u32>(1);
        (
            Box::new(move || tx.try_send(1).is_ok() && tx.try_send(2).is_ok()),
            Box::new(move || hold((rx.recv().unwrap(), rx))),
        )
    });
    let threadkit = count(|| {
        let q = Arc::new(threadkit::queue::Queue::<u32>::new(1));
        let q2 = Arc::clone(&q);
        (
            Box::new(move || q.try_put(1).is_ok() && q.try_put(2).is_ok()),
            Box::new(move || hold(q2.get().unwrap())),
        )
    });
    println!(
        "of {ROUNDS} rounds, two sends in a row into a bounded(1) succeeded while the receiver \
         was blocked in recv: kanal {kanal}, flume {flume}, crossbeam {crossbeam}, \
         std sync_channel {std}, threadkit Queue(1) {threadkit}"
    );
}
