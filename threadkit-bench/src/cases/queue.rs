//! `Queue` against `crossbeam_channel::bounded` and `std::sync::mpsc::sync_channel`.

use std::sync::{mpsc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use threadkit::queue::Queue;

use crate::harness::{two_threads, Case, Contender, Mode};

/// The bound of every queue here (CPython: `Queue(maxsize=1024)`).
const CAPACITY: usize = 1024;

pub(crate) fn cases(mode: Mode) -> Vec<Case> {
    vec![spsc(mode), mpmc_4x4(mode)]
}

/// `queue_spsc`: one producer puts `n` integers, one consumer gets them; wall time per item.
fn spsc(mode: Mode) -> Case {
    Case::new("queue_spsc", "item", 1_000_000, mode)
        .threadkit(threadkit_spsc())
        .peer(Contender::new("crossbeam bounded(1024)", |n| {
            let (tx, rx) = crossbeam_channel::bounded(CAPACITY);
            let mut sum = 0;
            let d = two_threads(
                None,
                || (0..n).for_each(|_| sum += rx.recv().unwrap()),
                move || (0..n).for_each(|i| tx.send(i).unwrap()),
            );
            check_sum(n, sum);
            d
        }))
        .peer(Contender::new("std sync_channel(1024)", |n| {
            let (tx, rx) = mpsc::sync_channel(CAPACITY);
            let mut sum = 0;
            let d = two_threads(
                None,
                || (0..n).for_each(|_| sum += rx.recv().unwrap()),
                move || (0..n).for_each(|i| tx.send(i).unwrap()),
            );
            check_sum(n, sum);
            d
        }))
}

/// `queue_mpmc_4x4`: four producers and four consumers share one queue; wall time per item.
/// std's channel has a single receiver, so its consumers share it behind a `Mutex` (what std
/// users write); crossbeam's receiver is cloned.
fn mpmc_4x4(mode: Mode) -> Case {
    Case::new("queue_mpmc_4x4", "item", 1_000_000, mode)
        .divisible_by(4)
        .threadkit(threadkit_mpmc_4x4())
        .peer(Contender::new("crossbeam bounded(1024)", |n| {
            let (tx, rx) = crossbeam_channel::bounded(CAPACITY);
            four_by_four(n, move |i| tx.send(i).unwrap(), move || rx.recv().unwrap())
        }))
        .peer(Contender::new("std sync_channel(1024)", |n| {
            let (tx, rx) = mpsc::sync_channel(CAPACITY);
            let rx = Mutex::new(rx);
            four_by_four(
                n,
                move |i| tx.send(i).unwrap(),
                move || rx.lock().unwrap().recv().unwrap(),
            )
        }))
}

/// Four producer threads each put `n / 4` items with `put`, four consumer threads each take
/// `n / 4` with `get`; times from the release of all eight until the last consumer is done.
fn four_by_four(n: u64, put: impl Fn(u64) + Sync, get: impl Fn() -> u64 + Sync) -> Duration {
    let per_thread = n / 4;
    let start = std::sync::Barrier::new(9);
    let (elapsed, sum) = thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                start.wait();
                (0..per_thread).for_each(&put);
            });
        }
        let consumers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    (0..per_thread).map(|_| get()).sum::<u64>()
                })
            })
            .collect();
        start.wait();
        let t = Instant::now();
        let sum: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
        (t.elapsed(), sum)
    });
    assert_eq!(
        sum,
        4 * per_thread * per_thread.saturating_sub(1) / 2,
        "lost items"
    );
    elapsed
}

fn check_sum(n: u64, sum: u64) {
    assert_eq!(sum, n * n.saturating_sub(1) / 2, "lost items");
}

/// The threadkit side of `queue_spsc`: `Queue::new(CAPACITY)`, `put` on the other thread, `get`
/// on the timed one, as the peers. No `task_done`: the peers have nothing like it (the queue
/// still counts unfinished tasks on every `put`, which is part of what it costs).
fn threadkit_spsc() -> Option<Contender> {
    Some(Contender::new("threadkit Queue(1024)", |n| {
        let q = Queue::new(CAPACITY);
        let mut sum = 0;
        let d = two_threads(
            None,
            || (0..n).for_each(|_| sum += q.get().unwrap()),
            || (0..n).for_each(|i| q.put(i).unwrap()),
        );
        check_sum(n, sum);
        d
    }))
}

/// The threadkit side of `queue_mpmc_4x4`: one `Queue::new(CAPACITY)` shared by the four
/// producers (`put`) and the four consumers (`get`).
fn threadkit_mpmc_4x4() -> Option<Contender> {
    Some(Contender::new("threadkit Queue(1024)", |n| {
        let q = Queue::new(CAPACITY);
        four_by_four(n, |i| q.put(i).unwrap(), || q.get().unwrap())
    }))
}
