//! Failing tests for review findings in files other helpers own (see
//! /work/notes/review-findings.md). Each is `#[ignore]`d until its fix lands, so that CI stays
//! green: run them with `cargo test --test review_routed -- --ignored`.
#![cfg(all(feature = "lock-order", not(loom)))]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use threadkit::diagnostics::{self, LockOrderMode, Report};
use threadkit::{Builder, Lock};

/// Finding R3 (src/lock_order/mod.rs `check`, src/diagnostics/report.rs `emit`): a report hook
/// that panics once leaves the thread's checker `busy` for ever, so every later inversion on that
/// thread goes unreported. Witness: the count of reports after the panicking one.
#[test]
#[ignore = "routed finding R3: fails until lock_order::check resets `busy` on unwind"]
fn a_panicking_report_hook_does_not_switch_the_checker_off_for_the_thread() {
    let reports = Arc::new(AtomicUsize::new(0));
    let panic_next = Arc::new(AtomicBool::new(true));
    {
        let (reports, panic_next) = (Arc::clone(&reports), Arc::clone(&panic_next));
        diagnostics::set_report_hook(move |r: &Report| {
            if let Report::PotentialDeadlock(_) = r {
                reports.fetch_add(1, Ordering::SeqCst);
                if panic_next.swap(false, Ordering::SeqCst) {
                    panic!("report hook failed");
                }
            }
        });
    }
    diagnostics::set_lock_order_mode(LockOrderMode::Report);
    let inversion = |a: &Arc<Lock>, b: &Arc<Lock>| {
        let (a2, b2) = (Arc::clone(a), Arc::clone(b));
        let h = Builder::new()
            .spawn(move || {
                let _a = a2.acquire();
                let _b = b2.acquire();
            })
            .unwrap();
        common::join_or_fail(h, "first order");
        let _b = b.acquire();
        let _a = a.acquire(); // inverts: reported
    };
    let (a, b) = (Arc::new(Lock::named("a")), Arc::new(Lock::named("b")));
    let first = catch_unwind(AssertUnwindSafe(|| inversion(&a, &b)));
    assert!(first.is_err(), "the hook's panic comes out of acquire()");
    assert_eq!(reports.load(Ordering::SeqCst), 1);
    let (c, d) = (Arc::new(Lock::named("c")), Arc::new(Lock::named("d")));
    inversion(&c, &d);
    assert_eq!(
        reports.load(Ordering::SeqCst),
        2,
        "the second inversion on this thread was never checked"
    );
}
