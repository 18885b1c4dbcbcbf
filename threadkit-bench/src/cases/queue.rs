//! `Queue` (and `SimpleQueue`) against the channels Rust users already use: crossbeam-channel,
//! flume, kanal and std's `mpsc`, bounded(1024) and unbounded, with 1 or 4 producers and 1 or 4
//! consumers; the 1P1C cases again pinned to one CPU and to two; a bounded(1) hand-off, pinned;
//! and the cost of `task_done`.
//!
//! Every multi-threaded case here is timed from the workers' own clocks (first worker's start to
//! last worker's end; see [`workers`]), not from the main thread, which may not run again until
//! the workers are done on a 2-CPU machine.

use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use threadkit::queue::{Queue, SimpleQueue};

use crate::harness::{tight_loop, Case, Contender, Mode};
use crate::pin::{self, Placement};

/// The bound of every bounded queue here (CPython: `Queue(maxsize=1024)`).
const CAPACITY: usize = 1024;
/// Items per trial in a full run.
const ITEMS: u64 = 1_000_000;

/// `f(label, shape_or_placement, make, send, recv)` for a channel whose halves have the usual
/// `send(i).unwrap()` / `recv().unwrap()`.
macro_rules! send_recv {
    ($f:ident, $label:expr, $arg:expr, $make:expr) => {
        $f(
            $label,
            $arg,
            $make,
            |tx, i| tx.send(i).unwrap(),
            |rx| rx.recv().unwrap(),
        )
    };
}

/// `case` with the crossbeam, flume and kanal channels bounded to `bound` (`None`: unbounded) as
/// peers, in that order, each made by `f(label, arg, make, send, recv)` (`channel` or
/// `pinned_pair`).
macro_rules! crate_peers {
    ($case:expr, $f:ident, $arg:expr, $bound:expr) => {
        match $bound {
            Some(cap) => $case
                .peer(send_recv!($f, "crossbeam bounded(1024)", $arg, move || {
                    crossbeam_channel::bounded(cap)
                }))
                .peer(send_recv!($f, "flume bounded(1024)", $arg, move || {
                    flume::bounded(cap)
                }))
                .peer(send_recv!($f, "kanal bounded(1024)", $arg, move || {
                    kanal::bounded(cap)
                })),
            None => $case
                .peer(send_recv!(
                    $f,
                    "crossbeam unbounded",
                    $arg,
                    crossbeam_channel::unbounded
                ))
                .peer(send_recv!($f, "flume unbounded", $arg, flume::unbounded))
                .peer(send_recv!($f, "kanal unbounded", $arg, kanal::unbounded)),
        }
    };
}

/// Producers and consumers of one case.
#[derive(Clone, Copy)]
pub(super) struct Shape {
    producers: usize,
    consumers: usize,
}

impl Shape {
    const ALL: [(Shape, &'static str); 4] = [
        (Shape::new(1, 1), "1p1c"),
        (Shape::new(4, 4), "4p4c"),
        (Shape::new(1, 4), "1p4c"),
        (Shape::new(4, 1), "4p1c"),
    ];

    pub(super) const fn new(producers: usize, consumers: usize) -> Self {
        Shape {
            producers,
            consumers,
        }
    }
}

pub(crate) fn cases(mode: Mode) -> Vec<Case> {
    let mut cases = Vec::new();
    for (shape, tag) in Shape::ALL {
        // The first two keep the names BENCHMARKS.md and python/bench.py have used all along.
        let name = match tag {
            "1p1c" => "queue_spsc".to_owned(),
            "4p4c" => "queue_mpmc_4x4".to_owned(),
            _ => format!("queue_bounded_{tag}"),
        };
        cases.push(through(name, shape, Some(CAPACITY), mode));
        if tag == "1p1c" {
            cases.extend(Placement::BOTH.map(|p| pinned_1p1c(Some(CAPACITY), p, mode)));
        }
    }
    for (shape, tag) in Shape::ALL {
        cases.push(through(format!("queue_unbounded_{tag}"), shape, None, mode));
        if tag == "1p1c" {
            cases.extend(Placement::BOTH.map(|p| pinned_1p1c(None, p, mode)));
        }
    }
    cases.extend(Placement::BOTH.map(|p| handoff(mode, p)));
    cases.push(task_done(mode));
    cases.push(one_thread("queue_1t", Some(CAPACITY), mode));
    cases.push(one_thread("queue_unbounded_1t", None, mode));
    cases
}

/// A contender that puts then gets one item on one thread, `n` times: the cost of a put+get
/// with no other thread about (for instruction counts under callgrind: no scheduling in it).
pub(super) fn alone<Q: 'static>(
    label: &'static str,
    make: impl Fn() -> Q + 'static,
    put_get: impl Fn(&Q, u64) -> u64 + 'static,
) -> Contender {
    Contender::new(label, move |n| {
        let q = make();
        let mut sum = 0;
        let took = tight_loop(n, || sum += put_get(std::hint::black_box(&q), 1));
        assert_eq!(sum, n, "lost items");
        took
    })
}

/// `queue_1t` / `queue_unbounded_1t`: put then get on one thread, bounded(1024) or unbounded.
fn one_thread(name: &str, bound: Option<usize>, mode: Mode) -> Case {
    let case = Case::new(name, "put+get", ITEMS, mode).threadkit(Some(alone(
        if bound.is_some() {
            "threadkit Queue(1024)"
        } else {
            "threadkit Queue(0)"
        },
        move || Queue::new(bound.unwrap_or(0)),
        |q, i| {
            q.put(i).unwrap();
            q.get().unwrap()
        },
    )));
    macro_rules! pair {
        ($label:expr, $make:expr) => {
            alone($label, $make, |(tx, rx), i| {
                tx.send(i).unwrap();
                rx.recv().unwrap()
            })
        };
    }
    match bound {
        Some(cap) => case
            .peer(pair!("crossbeam bounded(1024)", move || {
                crossbeam_channel::bounded(cap)
            }))
            .peer(pair!("flume bounded(1024)", move || flume::bounded(cap)))
            .peer(pair!("kanal bounded(1024)", move || kanal::bounded(cap)))
            .peer(pair!("std sync_channel(1024)", move || mpsc::sync_channel(
                cap
            ))),
        None => case
            .peer(alone("threadkit SimpleQueue", SimpleQueue::new, |q, i| {
                q.put(i);
                q.get()
            }))
            .peer(pair!("crossbeam unbounded", crossbeam_channel::unbounded))
            .peer(pair!("flume unbounded", flume::unbounded))
            .peer(pair!("kanal unbounded", kanal::unbounded))
            .peer(pair!("std channel", mpsc::channel)),
    }
}

/// Runs `producers` threads that each call `put(i)` for their share of `0..n` and `consumers`
/// threads that each call `get()` for their share, all released by one barrier; returns the time
/// from the first worker's start to the last worker's end, and checks that every item arrived.
/// Each thread gets its own `put`/`get` (a cloned sender or receiver).
pub(super) fn workers<P, G>(
    n: u64,
    puts: Vec<P>,
    gets: Vec<G>,
    pins: Option<(usize, usize)>,
) -> Duration
where
    P: FnMut(u64) + Send,
    G: FnMut() -> u64 + Send,
{
    let (np, nc) = (puts.len() as u64, gets.len() as u64);
    let start = Barrier::new(puts.len() + gets.len());
    let (spans, sum) = thread::scope(|s| {
        let start = &start;
        let producers: Vec<_> = puts
            .into_iter()
            .enumerate()
            .map(|(t, mut put)| {
                s.spawn(move || {
                    let _pin = pins.map(|(_, b)| pin::pin_current(b));
                    start.wait();
                    let t0 = Instant::now();
                    (t as u64..n).step_by(np as usize).for_each(&mut put);
                    (t0, Instant::now())
                })
            })
            .collect();
        let consumers: Vec<_> = gets
            .into_iter()
            .map(|mut get| {
                s.spawn(move || {
                    let _pin = pins.map(|(a, _)| pin::pin_current(a));
                    start.wait();
                    let t0 = Instant::now();
                    let sum: u64 = (0..n / nc).map(|_| get()).sum();
                    (t0, Instant::now(), sum)
                })
            })
            .collect();
        let mut spans: Vec<(Instant, Instant)> = producers
            .into_iter()
            .map(|p| p.join().expect("producer panicked"))
            .collect();
        let mut sum = 0;
        for c in consumers {
            let (t0, t1, part) = c.join().expect("consumer panicked");
            spans.push((t0, t1));
            sum += part;
        }
        (spans, sum)
    });
    assert_eq!(sum, n * n.saturating_sub(1) / 2, "lost items");
    let first = spans.iter().map(|s| s.0).min().expect("no workers");
    let last = spans.iter().map(|s| s.1).max().expect("no workers");
    last - first
}

/// A contender over a channel-like pair: `make` builds it, each producer thread gets a clone of
/// the sending half and each consumer a clone of the receiving half.
pub(super) fn channel<S, R>(
    label: &'static str,
    shape: Shape,
    make: impl Fn() -> (S, R) + 'static,
    send: impl Fn(&S, u64) + Copy + Send + 'static,
    recv: impl Fn(&R) -> u64 + Copy + Send + 'static,
) -> Contender
where
    S: Clone + Send + 'static,
    R: Clone + Send + 'static,
{
    Contender::new(label, move |n| {
        let (tx, rx) = make();
        let puts = (0..shape.producers)
            .map(|_| {
                let tx = tx.clone();
                move |i| send(&tx, i)
            })
            .collect();
        let gets = (0..shape.consumers)
            .map(|_| {
                let rx = rx.clone();
                move || recv(&rx)
            })
            .collect();
        workers(n, puts, gets, None)
    })
}

/// The `SimpleQueue` peer of a case of `shape` (same store as `Queue`, no task counting).
pub(super) fn simple_queue(shape: Shape) -> Contender {
    channel(
        "threadkit SimpleQueue",
        shape,
        || {
            let q = Arc::new(SimpleQueue::new());
            (Arc::clone(&q), q)
        },
        |q, i| q.put(i),
        |q| q.get(),
    )
}

/// One FIFO case: `n` items from `shape.producers` to `shape.consumers` through a queue bounded
/// to `bound` (`None`: unbounded). std's receiver cannot be shared, so its consumers share it
/// behind a `Mutex` (what std users write).
fn through(name: String, shape: Shape, bound: Option<usize>, mode: Mode) -> Case {
    let mut case = Case::new(name, "item", ITEMS, mode)
        .divisible_by(4)
        .threadkit(Some(channel(
            if bound.is_some() {
                "threadkit Queue(1024)"
            } else {
                "threadkit Queue(0)"
            },
            shape,
            move || {
                let q = Arc::new(Queue::new(bound.unwrap_or(0)));
                (Arc::clone(&q), q)
            },
            |q, i| q.put(i).unwrap(),
            |q| q.get().unwrap(),
        )));
    if bound.is_none() {
        case = case.peer(simple_queue(shape));
    }
    let std_peer = match bound {
        Some(cap) => channel(
            "std sync_channel(1024)",
            shape,
            move || {
                let (tx, rx) = mpsc::sync_channel(cap);
                (tx, Arc::new(Mutex::new(rx)))
            },
            |tx, i| tx.send(i).unwrap(),
            |rx| rx.lock().unwrap().recv().unwrap(),
        ),
        None => channel(
            "std channel",
            shape,
            || {
                let (tx, rx) = mpsc::channel();
                (tx, Arc::new(Mutex::new(rx)))
            },
            |tx, i| tx.send(i).unwrap(),
            |rx| rx.lock().unwrap().recv().unwrap(),
        ),
    };
    crate_peers!(case, channel, shape, bound).peer(std_peer)
}

/// A pinned 1P1C contender over a channel-like pair (the hand-off case).
fn pinned_pair<S, R>(
    label: &'static str,
    placement: Placement,
    make: impl Fn() -> (S, R) + 'static,
    send: impl Fn(&S, u64) + Copy + Send + 'static,
    recv: impl Fn(&R) -> u64 + Copy + Send + 'static,
) -> Contender
where
    S: Send + 'static,
    R: Send + 'static,
{
    Contender::new(label, move |n| {
        let (tx, rx) = make();
        let pins = placement.cpus();
        workers(
            n,
            vec![move |i| send(&tx, i)],
            vec![move || recv(&rx)],
            pins,
        )
    })
}

/// `queue_spsc/…` and `queue_unbounded_1p1c/…`: the 1P1C cases with the producer and the
/// consumer pinned to one CPU (`same_cpu`: they run in turn, each moving a run of items through
/// memory the other is not touching) or to two (`split_cpus`: side by side, every item's cache
/// line crossing between the CPUs). Unpinned, the scheduler picks the regime trial by trial and
/// the channels rank differently in each (BENCHMARKS.md, "A second CPU"); pinned, each regime is
/// measured on its own.
fn pinned_1p1c(bound: Option<usize>, placement: Placement, mode: Mode) -> Case {
    let (name, label) = match bound {
        Some(_) => ("queue_spsc", "threadkit Queue(1024)"),
        None => ("queue_unbounded_1p1c", "threadkit Queue(0)"),
    };
    let case = Case::pinned(name, placement, "item", ITEMS, mode).threadkit(Some(pinned_pair(
        label,
        placement,
        move || {
            let q = Arc::new(Queue::new(bound.unwrap_or(0)));
            (Arc::clone(&q), q)
        },
        |q, i| q.put(i).unwrap(),
        |q| q.get().unwrap(),
    )));
    let std_peer = match bound {
        Some(cap) => send_recv!(
            pinned_pair,
            "std sync_channel(1024)",
            placement,
            move || mpsc::sync_channel(cap)
        ),
        None => send_recv!(pinned_pair, "std channel", placement, mpsc::channel),
    };
    crate_peers!(case, pinned_pair, placement, bound).peer(std_peer)
}

/// `queue_handoff`: one producer, one consumer, through a queue of size 1: every item is a
/// hand-off (and usually a wake-up), pinned to one CPU or to two, as the ping-pongs are.
fn handoff(mode: Mode, placement: Placement) -> Case {
    Case::pinned("queue_handoff", placement, "item", ITEMS / 50, mode)
        .threadkit(Some(pinned_pair(
            "threadkit Queue(1)",
            placement,
            || {
                let q = Arc::new(Queue::new(1));
                (Arc::clone(&q), q)
            },
            |q, i| q.put(i).unwrap(),
            |q| q.get().unwrap(),
        )))
        .peer(send_recv!(
            pinned_pair,
            "crossbeam bounded(1)",
            placement,
            || crossbeam_channel::bounded(1)
        ))
        .peer(send_recv!(
            pinned_pair,
            "flume bounded(1)",
            placement,
            || flume::bounded(1)
        ))
        .peer(send_recv!(
            pinned_pair,
            "kanal bounded(1)",
            placement,
            || kanal::bounded(1)
        ))
        .peer(send_recv!(
            pinned_pair,
            "std sync_channel(1)",
            placement,
            || mpsc::sync_channel(1)
        ))
}

/// `queue_task_done`: 1P1C through an unbounded `Queue` with a `task_done` after every `get`
/// (the worker-pool idiom), against the same queue without it and against `SimpleQueue` (the
/// same store, no task counting, no shutdown): the ratios are what task accounting costs.
fn task_done(mode: Mode) -> Case {
    let shape = Shape::new(1, 1);
    let queue = || {
        let q = Arc::new(Queue::new(0));
        (Arc::clone(&q), q)
    };
    Case::new("queue_task_done", "item", ITEMS, mode)
        .threadkit(Some(channel(
            "threadkit put+get+task_done",
            shape,
            queue,
            |q, i| q.put(i).unwrap(),
            |q| {
                let item = q.get().unwrap();
                q.task_done().unwrap();
                item
            },
        )))
        .peer(channel(
            "threadkit put+get",
            shape,
            queue,
            |q, i| q.put(i).unwrap(),
            |q| q.get().unwrap(),
        ))
        .peer(simple_queue(shape))
}
