//! `Local`: each thread sees only its own value; every value is dropped exactly once, with the
//! `Local`.
//!
//! Under `--cfg loom` the `Local`'s slot cache and per-thread exit list are loom thread-locals, so
//! each model thread has its own.

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use threadkit::Local;

use crate::support::model;

/// Three threads set, read and take their own values concurrently (first accesses racing on the
/// `Local`'s shared map); none sees another's.
#[test]
fn values_are_per_thread() {
    model(|| {
        let data = Arc::new(Local::<usize>::new());
        let others: Vec<_> = (1..=2)
            .map(|i| {
                let data = Arc::clone(&data);
                thread::spawn(move || {
                    assert_eq!(data.get(), None, "saw another thread's value");
                    data.set(i);
                    assert_eq!(data.get(), Some(i));
                })
            })
            .collect();
        data.set(0);
        assert_eq!(data.get(), Some(0));
        for t in others {
            t.join().unwrap();
        }
        assert_eq!(data.take(), Some(0));
        assert!(!data.has_value());
    });
}

/// Counts drops of the values it is put in.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Every thread's value is dropped with the `Local`, exactly once: three threads create their
/// values concurrently (racing insertions into the shared map), then the `Local` is dropped.
/// Never twice (the count is exact), never leaked (each value holds a loom `Arc`, and loom fails
/// an execution that ends with one alive).
///
/// Under loom, thread exit leaves values to the `Local` (see `ThreadValues::drop` in
/// src/local.rs); the std behaviour, a thread's value dropped by the time its `join` returns, is
/// checked in `tests/local.rs` and `tests/stress.rs`.
#[test]
fn every_value_dropped_once_with_the_local() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let data = {
            let drops = Arc::clone(&drops);
            Arc::new(Local::with_init(move || Counted(Arc::clone(&drops))))
        };
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let data = Arc::clone(&data);
                thread::spawn(move || data.with(|_| ()))
            })
            .collect();
        data.with(|_| ());
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(
            drops.load(Ordering::SeqCst),
            0,
            "a value dropped while its Local lives"
        );
        drop(data);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            3,
            "not every value dropped exactly once"
        );
    });
}
