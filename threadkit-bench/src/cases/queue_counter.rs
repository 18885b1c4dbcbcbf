//! What `Queue`'s task accounting costs when nobody calls `join` (issue 15): one atomic
//! read-modify-write per put on a word every producer writes (`begun`). Measured in one run
//! against the same store without it and with the two cheaper designs it could become:
//!
//! - `threadkit Queue(0)`: task accounting as built (the putting flag and the step on `begun`);
//! - `SimpleQueue`: the same lock-free list, no task accounting (the floor);
//! - `SimpleQueue + shared RMW`: the list plus one `fetch_add` per put on one word all producers
//!   share (what the step on `begun` is, without the putting flag);
//! - `SimpleQueue + RMW per producer`: the list plus one `fetch_add` per put on a word of the
//!   producer's own (a counter sharded per thread: what a sharded `begun` would cost at best).
//!
//! `queue_counter_1t` (one thread, put then get: instructions under callgrind, the
//! read-modify-write's latency) and `queue_counter_1p1c` / `_4p4c` (the cache line's traffic
//! between producers).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use threadkit::queue::{Queue, SimpleQueue};

use super::queue::alone;
use crate::harness::{Case, Contender, Mode};

/// Items per trial in a full run.
const ITEMS: u64 = 1_000_000;

/// A counter on a cache line of its own.
#[repr(align(128))]
#[derive(Default)]
struct Padded(AtomicU64);

/// A producer's handle: the list and a counter, shared by every producer (`shared`) or a new one
/// for each producer (each clone gets its own).
struct Counted {
    q: Arc<SimpleQueue<u64>>,
    counter: Arc<Padded>,
    shared: bool,
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        Counted {
            q: Arc::clone(&self.q),
            counter: if self.shared {
                Arc::clone(&self.counter)
            } else {
                Arc::default()
            },
            shared: self.shared,
        }
    }
}

impl Counted {
    fn new(shared: bool) -> (Self, Arc<SimpleQueue<u64>>) {
        let q = Arc::new(SimpleQueue::new());
        let counted = Counted {
            q: Arc::clone(&q),
            counter: Arc::default(),
            shared,
        };
        (counted, q)
    }

    #[inline]
    fn put(&self, i: u64) {
        self.counter.0.fetch_add(1, Ordering::SeqCst);
        self.q.put(i);
    }
}

const SHARED: &str = "SimpleQueue + shared RMW";
const PER_PRODUCER: &str = "SimpleQueue + RMW per producer";

pub(crate) fn cases(mode: Mode) -> Vec<Case> {
    let one_thread = Case::new("queue_counter_1t", "put+get", ITEMS, mode)
        .threadkit(Some(alone(
            "threadkit Queue(0)",
            || Queue::new(0),
            |q, i| {
                q.put(i).unwrap();
                q.get().unwrap()
            },
        )))
        .peer(alone("threadkit SimpleQueue", SimpleQueue::new, |q, i| {
            q.put(i);
            q.get()
        }))
        .peer(alone(
            SHARED,
            || Counted::new(true).0,
            |c, i| {
                c.put(i);
                c.q.get()
            },
        ));
    let mut cases = vec![one_thread];
    for (name, producers, consumers) in [("queue_counter_1p1c", 1, 1), ("queue_counter_4p4c", 4, 4)]
    {
        let shape = super::queue::Shape::new(producers, consumers);
        let contender = |label, shared: bool| -> Contender {
            super::queue::channel(
                label,
                shape,
                move || Counted::new(shared),
                |c: &Counted, i| c.put(i),
                |q: &Arc<SimpleQueue<u64>>| q.get(),
            )
        };
        cases.push(
            Case::new(name, "item", ITEMS, mode)
                .divisible_by(4)
                .threadkit(Some(super::queue::channel(
                    "threadkit Queue(0)",
                    shape,
                    || {
                        let q = Arc::new(Queue::new(0));
                        (Arc::clone(&q), q)
                    },
                    |q, i| q.put(i).unwrap(),
                    |q| q.get().unwrap(),
                )))
                .peer(super::queue::simple_queue(shape))
                .peer(contender(SHARED, true))
                .peer(contender(PER_PRODUCER, false)),
        );
    }
    cases
}
