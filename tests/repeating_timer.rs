//! `RepeatingTimer` (issue 13): runs counted by a witness, nothing runs after `cancel`, `join`
//! waits for the run in progress, missed runs are skipped (at most elapsed / interval runs).

// Uses the thread API, which is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::HANG;
use threadkit::{current_thread, Event, RepeatingTimer};

const TICK: Duration = Duration::from_millis(10);

/// Waits (bounded) until `count` reaches `n`.
fn wait_for(count: &AtomicU64, n: u64) {
    let deadline = Instant::now() + HANG;
    while count.load(Ordering::SeqCst) < n {
        assert!(
            Instant::now() < deadline,
            "only {count:?} runs after {HANG:?}"
        );
        std::thread::sleep(Duration::from_millis(1)); // polling a counter, not synchronizing
    }
}

fn counting_timer(count: &Arc<AtomicU64>) -> RepeatingTimer {
    let c = Arc::clone(count);
    let t = RepeatingTimer::new(TICK, move || {
        c.fetch_add(1, Ordering::SeqCst);
    });
    t.set_daemon(true).unwrap();
    t
}

#[test]
fn runs_until_cancelled_and_never_after() {
    let count = Arc::new(AtomicU64::new(0));
    let t = counting_timer(&count);
    t.start().unwrap();
    assert!(t.is_alive());
    wait_for(&count, 3);
    assert!(t.cancel());
    assert!(!t.cancel());
    assert_eq!(t.join_timeout(HANG), Ok(true));
    assert!(!t.is_alive());
    let n = count.load(Ordering::SeqCst);
    assert!(n >= 3);
    assert_eq!(t.runs(), n);
    // Ten more intervals: no run starts after cancel.
    std::thread::sleep(TICK * 10);
    assert_eq!(count.load(Ordering::SeqCst), n);
    assert!(!threadkit::enumerate().contains(t.thread()));
}

#[test]
fn join_waits_for_the_run_in_progress() {
    let count = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let in_run = Arc::new(Event::new());
    let release = Arc::new(Event::new());
    let t = {
        let (count, done, in_run, release) = (
            Arc::clone(&count),
            Arc::clone(&done),
            Arc::clone(&in_run),
            Arc::clone(&release),
        );
        RepeatingTimer::new(TICK, move || {
            if count.fetch_add(1, Ordering::SeqCst) + 1 == 2 {
                in_run.set();
                release.wait();
            }
            done.fetch_add(1, Ordering::SeqCst);
        })
    };
    t.set_daemon(true).unwrap();
    t.start().unwrap();
    assert!(in_run.wait_timeout(HANG));
    assert!(t.cancel()); // during the second run
    assert_eq!(t.join_timeout(Duration::from_millis(50)), Ok(false));
    assert!(t.is_alive());
    release.set();
    assert_eq!(t.join_timeout(HANG), Ok(true));
    // Witness: join returned after the run in progress ended, and no run started after it.
    assert_eq!(done.load(Ordering::SeqCst), 2);
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[test]
fn cancel_from_inside_the_function() {
    let handle: Arc<OnceLock<RepeatingTimer>> = Arc::new(OnceLock::new());
    let names = Arc::new(Mutex::new(Vec::new()));
    let t = {
        let (handle, names) = (Arc::clone(&handle), Arc::clone(&names));
        RepeatingTimer::new(TICK, move || {
            let me = current_thread();
            names.lock().unwrap().push(me.name().to_string());
            let t = handle.get().unwrap();
            assert_eq!(&me, t.thread());
            if t.runs() == 3 {
                assert!(t.cancel());
                assert!(t.join().is_err()); // a run cannot wait for itself
            }
        })
    };
    t.set_name("heartbeat");
    t.set_daemon(true).unwrap();
    handle.set(t.clone()).unwrap();
    t.start().unwrap();
    assert_eq!(t.join_timeout(HANG), Ok(true));
    assert_eq!(t.runs(), 3);
    assert_eq!(*names.lock().unwrap(), ["heartbeat"; 3]);
}

#[test]
fn missed_runs_are_skipped_not_made_up() {
    // Each run's start time, and the end of the slow first run.
    let starts = Arc::new(Mutex::new(Vec::new()));
    let first_end = Arc::new(OnceLock::new());
    let count = Arc::new(AtomicU64::new(0));
    let t = {
        let (starts, first_end, count) = (
            Arc::clone(&starts),
            Arc::clone(&first_end),
            Arc::clone(&count),
        );
        RepeatingTimer::new(TICK, move || {
            starts.lock().unwrap().push(Instant::now());
            if count.fetch_add(1, Ordering::SeqCst) == 0 {
                std::thread::sleep(TICK * 5); // a slow first run: its next ticks are missed
                first_end.set(Instant::now()).unwrap();
            }
        })
    };
    t.set_daemon(true).unwrap();
    t.start().unwrap();
    wait_for(&count, 4);
    t.cancel();
    assert_eq!(t.join_timeout(HANG), Ok(true));
    let starts = starts.lock().unwrap();
    let end = *first_end.get().unwrap();
    // Run 2 is due at the first grid point after the slow run ended (within one TICK of it),
    // run 3 one TICK later, and no run starts early: so run 3 starts at least TICK after the
    // slow run's end, whatever the scheduling noise. Making up the missed ticks in a burst
    // would start runs 2, 3 and 4 at once.
    assert!(starts[1] >= end);
    assert!(
        starts[2] >= end + TICK,
        "run 3 started {:?} after the slow run ended",
        starts[2] - end
    );
}

#[test]
fn cancel_before_start_and_panics() {
    let count = Arc::new(AtomicU64::new(0));
    let t = counting_timer(&count);
    assert!(t.cancel());
    t.start().unwrap();
    assert_eq!(t.join_timeout(HANG), Ok(true));
    assert_eq!(t.runs(), 0);
    assert!(!t.cancel());

    // A panic is reported and ends the repetition.
    static REPORTED: AtomicU64 = AtomicU64::new(0);
    threadkit::set_excepthook(|args| {
        if args.message() == Some("second run failed") {
            REPORTED.fetch_add(1, Ordering::SeqCst);
        }
    });
    let c = Arc::clone(&count);
    let t = RepeatingTimer::new(TICK, move || {
        if c.fetch_add(1, Ordering::SeqCst) == 1 {
            panic!("second run failed");
        }
    });
    t.set_daemon(true).unwrap();
    t.start().unwrap();
    assert_eq!(t.join_timeout(HANG), Ok(true));
    threadkit::reset_excepthook();
    assert_eq!(t.runs(), 2);
    assert_eq!(REPORTED.load(Ordering::SeqCst), 1);
    assert!(!t.cancel());
}

#[test]
#[should_panic(expected = "zero interval")]
fn zero_interval_is_refused() {
    let _ = RepeatingTimer::new(Duration::ZERO, || {});
}
