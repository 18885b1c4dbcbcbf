//! Helpers shared by the models.

use loom::model::Builder;

/// The preemption bound used when `LOOM_MAX_PREEMPTIONS` is not set: 2, what tokio and
/// crossbeam use in CI (most bugs need at most 2 preemptions; 3 costs several times more).
const DEFAULT_PREEMPTIONS: usize = 2;

/// Explores `f` over every interleaving within the preemption bound.
///
/// `LOOM_MAX_PREEMPTIONS`, `LOOM_MAX_BRANCHES`, `LOOM_LOG`, `LOOM_LOCATION` and the other loom
/// variables are honoured (loom reads them in `Builder::new`).
pub(crate) fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(DEFAULT_PREEMPTIONS);
    }
    builder.check(f);
}

/// Runs the model twice: once with the waiting layer never asking for fairness (woken waiters
/// compete again), once with every unpark asking for it (hand-off paths, e.g. `Lock` handing
/// itself straight to the woken waiter). The real backend mixes both about every 0.5 ms.
pub(crate) fn model_fair_and_unfair<F>(f: F)
where
    F: Fn() + Sync + Send + Clone + 'static,
{
    for fair in [false, true] {
        let f = f.clone();
        model(move || {
            threadkit::__loom::set_fair_unpark(fair);
            f();
        });
    }
}

/// Asserts that no thread is left parked in the waiting layer (call after joining every thread).
pub(crate) fn assert_nobody_parked() {
    assert_eq!(
        threadkit::__loom::parked_threads(),
        0,
        "a thread is still parked after all joins"
    );
}

/// Yields until `n` threads are parked in the waiting layer, so that what the model does next
/// happens to threads already asleep (CPython's `wait_threads_blocked`, without the sleep).
pub(crate) fn wait_until_parked(n: usize) {
    while threadkit::__loom::parked_threads() < n {
        loom::thread::yield_now();
    }
}
