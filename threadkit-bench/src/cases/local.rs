//! `Local` (Python's `threading.local`) against `thread_local!` and
//! `thread_local::ThreadLocal`.

use std::cell::Cell;
use std::hint::black_box;

use thread_local::ThreadLocal;

use crate::harness::{tight_loop, Case, Contender, Mode};

pub(crate) fn cases(mode: Mode) -> Vec<Case> {
    vec![local_get(mode)]
}

thread_local! {
    static VALUE: Cell<u64> = const { Cell::new(1) };
}

/// `local_get`: read the calling thread's value of an already initialised thread-local.
fn local_get(mode: Mode) -> Case {
    Case::new("local_get", "get", 20_000_000, mode)
        .threadkit(threadkit_side())
        .peer(Contender::new("thread_local!", |n| {
            tight_loop(n, || {
                black_box(VALUE.with(Cell::get));
            })
        }))
        .peer(Contender::new("thread_local::ThreadLocal", |n| {
            let local = ThreadLocal::new();
            tight_loop(n, || {
                black_box(black_box(&local).get_or(|| Cell::new(1u64)).get());
            })
        }))
}

/// The threadkit side: a `Local<Cell<u64>>` with an initializer, its value created by a first
/// access before the timed loop, then read through `with` (the closure form `thread_local!`
/// uses; `get` would clone the same `u64`).
fn threadkit_side() -> Option<Contender> {
    Some(Contender::new("threadkit Local", |n| {
        let local = threadkit::Local::with_init(|| Cell::new(1u64));
        local.with(|_| ());
        tight_loop(n, || {
            black_box(black_box(&local).with(Cell::get));
        })
    }))
}
