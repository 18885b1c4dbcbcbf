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

/// TODO(rlock): the threadkit side, once `threadkit::RLock` is merged; until then the case runs
/// its peer only and the table says "not yet measured". It will read, with the RLock API:
/// `let lock = threadkit::RLock::new(); let _outer = lock.acquire();
///  tight_loop(n, || drop(black_box(&lock).acquire()))`.
fn threadkit_side() -> Option<Contender> {
    None
}
