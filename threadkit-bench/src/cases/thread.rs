//! Thread creation and the current-thread lookup, against `std::thread`.

use std::hint::black_box;

use crate::harness::{tight_loop, Case, Contender, Mode};

pub(crate) fn cases(mode: Mode) -> Vec<Case> {
    vec![spawn_join(mode), current_thread(mode)]
}

/// `spawn_join`: start a thread with an empty body and join it (Python's
/// `Thread(target=f).start(); t.join()`).
fn spawn_join(mode: Mode) -> Case {
    Case::new("spawn_join", "spawn+join", 2_000, mode)
        .threadkit(Some(Contender::new("threadkit spawn", |n| {
            tight_loop(n, || {
                threadkit::spawn(|| black_box(())).join().unwrap();
            })
        })))
        .peer(Contender::new("std thread::spawn", |n| {
            tight_loop(n, || std::thread::spawn(|| black_box(())).join().unwrap())
        }))
}

/// `current_thread`: the calling thread's handle (Python's `current_thread()`), taken and
/// dropped.
fn current_thread(mode: Mode) -> Case {
    Case::new("current_thread", "call", 2_000_000, mode)
        .threadkit(Some(Contender::new("threadkit current_thread", |n| {
            tight_loop(n, || drop(black_box(threadkit::current_thread())))
        })))
        .peer(Contender::new("std thread::current", |n| {
            tight_loop(n, || drop(black_box(std::thread::current())))
        }))
}
