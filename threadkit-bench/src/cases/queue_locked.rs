//! `LifoQueue` and `PriorityQueue` against what a Rust user writes instead: a `Vec` or a
//! `BinaryHeap` behind a `Mutex`, with two `Condvar`s (not empty, not full), from std and from
//! parking_lot. Bounded(1024); 1P1C and 4P4C; timed from the workers' own clocks.
//! `PriorityQueue` keeps equal items in the order they were put, which a plain `BinaryHeap`
//! does not: the like-for-like peer stores each item with its insertion number.

use std::collections::BinaryHeap;
use std::sync::Arc;

use threadkit::queue::{LifoQueue, PriorityQueue};

use super::queue::alone;
use crate::harness::{Case, Contender, Mode};

/// The bound of every queue here.
const CAPACITY: usize = 1024;
/// Items per trial in a full run.
const ITEMS: u64 = 400_000;

/// A collection the peers keep behind their lock.
trait Pile: Default + Send {
    fn put(&mut self, item: u64);
    fn take(&mut self) -> Option<u64>;
    fn len(&self) -> usize;
}

impl Pile for Vec<u64> {
    fn put(&mut self, item: u64) {
        self.push(item);
    }
    fn take(&mut self) -> Option<u64> {
        self.pop()
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
}

impl Pile for BinaryHeap<std::cmp::Reverse<u64>> {
    fn put(&mut self, item: u64) {
        self.push(std::cmp::Reverse(item));
    }
    fn take(&mut self) -> Option<u64> {
        self.pop().map(|r| r.0)
    }
    fn len(&self) -> usize {
        BinaryHeap::len(self)
    }
}

/// A heap with `PriorityQueue`'s tie order (equal items in the order they were put): each
/// item with its insertion number, as a Python user writes `(priority, count, item)` for it.
#[derive(Default)]
struct StableHeap {
    heap: BinaryHeap<std::cmp::Reverse<(u64, u64)>>,
    next: u64,
}

impl Pile for StableHeap {
    fn put(&mut self, item: u64) {
        self.heap.push(std::cmp::Reverse((item, self.next)));
        self.next = self.next.wrapping_add(1);
    }
    fn take(&mut self) -> Option<u64> {
        self.heap.pop().map(|r| r.0 .0)
    }
    fn len(&self) -> usize {
        self.heap.len()
    }
}

/// The label of the like-for-like `PriorityQueue` peer.
const STABLE_PEER: &str = "parking_lot Mutex<BinaryHeap>+Condvar (FIFO ties)";

/// The textbook bounded buffer over std's `Mutex` and `Condvar`.
#[derive(Default)]
struct StdBuffer<C> {
    items: std::sync::Mutex<C>,
    not_empty: std::sync::Condvar,
    not_full: std::sync::Condvar,
}

impl<C: Pile> StdBuffer<C> {
    fn put(&self, item: u64) {
        let mut items = self.items.lock().unwrap();
        while items.len() >= CAPACITY {
            items = self.not_full.wait(items).unwrap();
        }
        items.put(item);
        drop(items);
        self.not_empty.notify_one();
    }

    fn get(&self) -> u64 {
        let mut items = self.items.lock().unwrap();
        loop {
            if let Some(item) = items.take() {
                drop(items);
                self.not_full.notify_one();
                return item;
            }
            items = self.not_empty.wait(items).unwrap();
        }
    }
}

/// The same over parking_lot's `Mutex` and `Condvar`.
#[derive(Default)]
struct PlBuffer<C> {
    items: parking_lot::Mutex<C>,
    not_empty: parking_lot::Condvar,
    not_full: parking_lot::Condvar,
}

impl<C: Pile> PlBuffer<C> {
    fn put(&self, item: u64) {
        let mut items = self.items.lock();
        while items.len() >= CAPACITY {
            self.not_full.wait(&mut items);
        }
        items.put(item);
        drop(items);
        self.not_empty.notify_one();
    }

    fn get(&self) -> u64 {
        let mut items = self.items.lock();
        loop {
            if let Some(item) = items.take() {
                drop(items);
                self.not_full.notify_one();
                return item;
            }
            self.not_empty.wait(&mut items);
        }
    }
}

pub(crate) fn cases(mode: Mode) -> Vec<Case> {
    let mut cases = Vec::new();
    for (producers, consumers, tag) in [(1, 1, "1p1c"), (4, 4, "4p4c")] {
        let shape = (producers, consumers);
        cases.push(
            Case::new(format!("lifo_{tag}"), "item", ITEMS, mode)
                .divisible_by(4)
                .threadkit(Some(shared(
                    "threadkit LifoQueue(1024)",
                    shape,
                    || LifoQueue::new(CAPACITY),
                    |q, i| q.put(i).unwrap(),
                    |q| q.get().unwrap(),
                )))
                .peer(shared(
                    "std Mutex<Vec>+Condvar",
                    shape,
                    StdBuffer::<Vec<u64>>::default,
                    StdBuffer::put,
                    StdBuffer::get,
                ))
                .peer(shared(
                    "parking_lot Mutex<Vec>+Condvar",
                    shape,
                    PlBuffer::<Vec<u64>>::default,
                    PlBuffer::put,
                    PlBuffer::get,
                )),
        );
        cases.push(
            Case::new(format!("priority_{tag}"), "item", ITEMS, mode)
                .divisible_by(4)
                .threadkit(Some(shared(
                    "threadkit PriorityQueue(1024)",
                    shape,
                    || PriorityQueue::new(CAPACITY),
                    |q, i| q.put(i).unwrap(),
                    |q| q.get().unwrap(),
                )))
                .peer(shared(
                    "std Mutex<BinaryHeap>+Condvar",
                    shape,
                    StdBuffer::<BinaryHeap<std::cmp::Reverse<u64>>>::default,
                    StdBuffer::put,
                    StdBuffer::get,
                ))
                .peer(shared(
                    "parking_lot Mutex<BinaryHeap>+Condvar",
                    shape,
                    PlBuffer::<BinaryHeap<std::cmp::Reverse<u64>>>::default,
                    PlBuffer::put,
                    PlBuffer::get,
                ))
                .peer(shared(
                    STABLE_PEER,
                    shape,
                    PlBuffer::<StableHeap>::default,
                    PlBuffer::put,
                    PlBuffer::get,
                )),
        );
    }
    cases.push(
        Case::new("lifo_1t", "put+get", ITEMS, mode)
            .threadkit(Some(alone(
                "threadkit LifoQueue(1024)",
                || LifoQueue::new(CAPACITY),
                |q, i| {
                    q.put(i).unwrap();
                    q.get().unwrap()
                },
            )))
            .peer(alone(
                "std Mutex<Vec>+Condvar",
                StdBuffer::<Vec<u64>>::default,
                |q, i| {
                    q.put(i);
                    q.get()
                },
            ))
            .peer(alone(
                "parking_lot Mutex<Vec>+Condvar",
                PlBuffer::<Vec<u64>>::default,
                |q, i| {
                    q.put(i);
                    q.get()
                },
            )),
    );
    cases.push(
        Case::new("priority_1t", "put+get", ITEMS, mode)
            .threadkit(Some(alone(
                "threadkit PriorityQueue(1024)",
                || PriorityQueue::new(CAPACITY),
                |q, i| {
                    q.put(i).unwrap();
                    q.get().unwrap()
                },
            )))
            .peer(alone(
                "std Mutex<BinaryHeap>+Condvar",
                StdBuffer::<BinaryHeap<std::cmp::Reverse<u64>>>::default,
                |q, i| {
                    q.put(i);
                    q.get()
                },
            ))
            .peer(alone(
                "parking_lot Mutex<BinaryHeap>+Condvar",
                PlBuffer::<BinaryHeap<std::cmp::Reverse<u64>>>::default,
                |q, i| {
                    q.put(i);
                    q.get()
                },
            ))
            .peer(alone(
                STABLE_PEER,
                PlBuffer::<StableHeap>::default,
                |q, i| {
                    q.put(i);
                    q.get()
                },
            )),
    );
    cases
}

/// A contender over one shared object: every producer and consumer holds an `Arc` of it.
fn shared<Q: Send + Sync + 'static>(
    label: &'static str,
    (producers, consumers): (usize, usize),
    make: impl Fn() -> Q + 'static,
    put: impl Fn(&Q, u64) + Copy + Send + 'static,
    get: impl Fn(&Q) -> u64 + Copy + Send + 'static,
) -> Contender {
    Contender::new(label, move |n| {
        let q = Arc::new(make());
        let puts = (0..producers)
            .map(|_| {
                let q = Arc::clone(&q);
                move |i| put(&q, i)
            })
            .collect();
        let gets = (0..consumers)
            .map(|_| {
                let q = Arc::clone(&q);
                move || get(&q)
            })
            .collect();
        super::queue::workers(n, puts, gets, None)
    })
}
