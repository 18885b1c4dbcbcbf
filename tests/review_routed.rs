//! Failing tests for review findings in files other helpers own (see
//! /work/notes/review-findings.md), written by the reviewer; un-ignored as their fixes landed
//! (branch `fixes`).
#![cfg(all(feature = "lock-order", not(loom)))]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use threadkit::diagnostics::{self, LockOrderMode, Report};
use threadkit::{Builder, Lock};

/// The tests share the process's report hook and lock-order mode: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Finding R3 (src/lock_order/mod.rs `check`, src/diagnostics/report.rs `emit`): a report hook
/// that panics once leaves the thread's checker `busy` for ever, so every later inversion on that
/// thread goes unreported. Witness: the count of reports after the panicking one.
#[test]
fn a_panicking_report_hook_does_not_switch_the_checker_off_for_the_thread() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
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
    assert_eq!(reports.load(Ordering::SeqCst), 1);
    let (c, d) = (Arc::new(Lock::named("c")), Arc::new(Lock::named("d")));
    inversion(&c, &d);
    diagnostics::reset_report_hook();
    assert_eq!(
        reports.load(Ordering::SeqCst),
        2,
        "the second inversion on this thread was never checked"
    );
    // The hook's panic is reported (a line on stderr, as for a panicking excepthook), not
    // thrown out of the user's acquire().
    assert!(first.is_ok(), "the hook's panic came out of acquire()");
}

/// Finding R4 (src/lock_order/mod.rs held stack per OS thread + src/timer/service.rs `run_job`):
/// a Timer function that returns holding a `Lock` (released later by another thread, as Python
/// allows) leaves it on the timer *worker's* held stack; the release is queued under the Timer's
/// ident, which the worker never has again. The next Timer run on that worker "holds" it too, and
/// a correct program gets a POTENTIAL DEADLOCK report. Witness: reports (none may come).
#[test]
fn a_lock_left_held_by_one_timer_is_not_held_by_the_next() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let reports = count_potential_deadlocks();
    let (l, m) = (Arc::new(Lock::named("l")), Arc::new(Lock::named("m")));
    // Timer 1 takes `l` and returns holding it; this thread releases it afterwards.
    let l1 = Arc::clone(&l);
    run_timer(move || l1.acquire().forget());
    l.release().unwrap();
    // Timer 2 (on the same, only, worker) takes `m`: it holds nothing else.
    let m2 = Arc::clone(&m);
    run_timer(move || drop(m2.acquire()));
    // `m` then `l` here: no order was ever recorded the other way.
    {
        let _m = m.acquire();
        let _l = l.acquire();
    }
    assert_eq!(
        reports.load(Ordering::SeqCst),
        0,
        "a spurious potential deadlock"
    );
}

/// Finding R4, as ported onto the published per-thread stacks (branch lockorder12): a Timer that
/// returns holding a `Lock` nobody releases yet must not leave it on the timer worker's stack,
/// or the next Timer run on that worker "holds" it and records an order it never took
/// (`l → m`), and a correct program that later takes `m` then `l` gets a POTENTIAL DEADLOCK
/// report. Witness: reports (none may come).
#[test]
fn a_lock_a_timer_returned_holding_is_not_held_by_the_next_timer_while_still_locked() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    use std::time::Duration;
    let reports = count_potential_deadlocks();
    let (l, m) = (Arc::new(Lock::named("l2")), Arc::new(Lock::named("m2")));
    // Timer 1 takes `l` and returns holding it; it stays locked until the end.
    let l1 = Arc::clone(&l);
    run_timer(move || l1.acquire().forget());
    // Timer 2 takes `m`: it holds nothing else, whichever worker runs it.
    let m2 = Arc::clone(&m);
    run_timer(move || drop(m2.acquire()));
    // `m` then `l` here (timed: `l` is still locked, the acquire gives up; the check comes
    // first): no order was ever recorded the other way.
    {
        let _m = m.acquire();
        assert!(l.acquire_timeout(Duration::from_millis(10)).is_none());
    }
    l.release().unwrap();
    diagnostics::reset_report_hook();
    assert_eq!(
        reports.load(Ordering::SeqCst),
        0,
        "a spurious potential deadlock"
    );
}

/// Arms the checker in Report mode with a hook that prints and counts potential deadlocks.
fn count_potential_deadlocks() -> Arc<AtomicUsize> {
    let reports = Arc::new(AtomicUsize::new(0));
    let sink = Arc::clone(&reports);
    diagnostics::set_report_hook(move |r: &Report| {
        if let Report::PotentialDeadlock(p) = r {
            eprintln!("{p}");
            sink.fetch_add(1, Ordering::SeqCst);
        }
    });
    diagnostics::set_lock_order_mode(LockOrderMode::Report);
    reports
}

/// Runs `f` as a Timer due at once, and waits for it to finish.
fn run_timer(f: impl FnOnce() + Send + 'static) {
    let t = threadkit::Timer::new(std::time::Duration::ZERO, f);
    t.set_daemon(true).unwrap();
    t.start().unwrap();
    assert_eq!(t.join_timeout(common::HANG), Ok(true));
}
