//! `RLock` against `parking_lot::ReentrantMutex`.

use std::hint::black_box;

use crate::harness::{tight_loop, Case, Contender, Mode};

pub(crate) fn cases(mode: Mode) -> Vec<Case> {
    vec![nested(mode)]
}

/// `rlock_nested`: acquire + release by the thread that already holds the lock (the inner
/// `with rlock:` of a recursive call).
fn nested(mode: Mode) -> Case {
    Case::new("rlock_nested", "nested acquire+release", 2_000_000, mode)
        .threadkit(threadkit_side())
        .peer(Contender::new("parking_lot ReentrantMutex", |n| {
            let lock = parking_lot::ReentrantMutex::new(());
            let _outer = lock.lock();
            tight_loop(n, || drop(black_box(&lock).lock()))
        }))
}

/// The threadkit side: the outer level held, then nested acquires whose guards are dropped.
fn threadkit_side() -> Option<Contender> {
    Some(Contender::new("threadkit RLock", |n| {
        let lock = threadkit::RLock::new();
        let _outer = lock.acquire();
        tight_loop(n, || drop(black_box(&lock).acquire()))
    }))
}
