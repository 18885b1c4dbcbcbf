//! Diagnostics switched on to watch a running process: the watchdog (a stall reported once and
//! only past its threshold, plain contention never called a deadlock, a report hook that uses
//! threadkit itself, endless intervals) and the contention profile (charged to the holder's
//! site, empty while off). These are the tests that turn process-wide switches (the report
//! hook, `set_contention_profiling`) on and back off, so they are kept together in this file and
//! run one at a time (SERIAL). Every blocking step has a timeout.
// The thread API is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

mod common;

use common::diag::{serial, until_thread};

use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use threadkit::diagnostics::{self, Report, ThreadState};
use threadkit::{Barrier, Builder, Event, Lock};

const T: Duration = Duration::from_secs(5);

/// Collects reports from the hook for the duration of a test.
fn capture_reports() -> Arc<StdMutex<Vec<Report>>> {
    let got = Arc::new(StdMutex::new(Vec::new()));
    let sink = Arc::clone(&got);
    diagnostics::set_report_hook(move |r: &Report| sink.lock().unwrap().push(r.clone()));
    got
}

/// A holder keeps `lock` for `hold` while "waiter" waits for it, with a watchdog checking
/// every 20 ms for deadlocks and for stalls over `threshold`. Returns the reports.
fn contention_under_watchdog(hold: Duration, threshold: Duration) -> Vec<Report> {
    let lock = Arc::new(Lock::named("busy"));
    let got = capture_reports();
    let dog = diagnostics::Watchdog::new()
        .interval(Duration::from_millis(20))
        .stall_threshold(threshold)
        .dump_with_reports(false)
        .start()
        .unwrap();
    let g = lock.acquire();
    let l2 = Arc::clone(&lock);
    let waiter = Builder::new()
        .name("waiter")
        .spawn(move || l2.acquire_timeout(T).is_some())
        .unwrap();
    until_thread("waiter", |t| t.state == ThreadState::Blocked);
    let start = Instant::now();
    // The holder keeps the lock `hold`: a deliberate critical section, not synchronization.
    std::thread::sleep(hold);
    assert!(diagnostics::find_deadlocks().is_empty());
    drop(g);
    assert!(common::join_or_fail(waiter, "waiter"));
    // Let the watchdog run at least two more checks after the wait ended.
    std::thread::sleep(Duration::from_millis(60));
    dog.stop();
    diagnostics::reset_report_hook();
    assert!(start.elapsed() >= hold);
    let reports = got.lock().unwrap().clone();
    reports
}

#[test]
fn plain_contention_is_not_a_deadlock_and_a_stall_only_below_the_threshold() {
    let _s = serial();
    let hold = Duration::from_millis(300);
    // Threshold above the hold: nothing at all.
    let quiet = contention_under_watchdog(hold, Duration::from_secs(3));
    assert!(quiet.is_empty(), "{quiet:#?}");
    // Threshold below it: exactly one stall (reported once per wait), no deadlock.
    let loud = contention_under_watchdog(hold, Duration::from_millis(100));
    assert!(
        !loud.iter().any(|r| matches!(r, Report::Deadlock(_))),
        "{loud:#?}"
    );
    let stalls: Vec<_> = loud
        .iter()
        .filter_map(|r| match r {
            Report::Stall(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(stalls.len(), 1, "{loud:#?}");
    let s = stalls[0];
    assert_eq!(&*s.thread.name, "waiter");
    assert!(s.wait.waited >= Duration::from_millis(100));
    let holder = s.wait.holder.as_ref().expect("holder");
    // The holder is this test's thread (foreign threads keep std's name, libtest's test name).
    assert_eq!(holder.thread.ident, threadkit::get_ident());
    let text = s.to_string();
    assert!(
        text.contains("Stall: \"waiter\"") && text.contains("Lock \"busy\""),
        "{text}"
    );
}

#[test]
fn contention_profile_charges_the_holders_site_and_stays_zero_when_off() {
    let _s = serial();
    diagnostics::reset_contention_profile();
    let run = |profiling: bool| -> (u32, diagnostics::ContentionProfile) {
        diagnostics::set_contention_profiling(profiling);
        let lock_name = if profiling { "hot-on" } else { "hot-off" };
        let lock = Arc::new(Lock::named(lock_name));
        let holding = Arc::new(Barrier::new(2));
        let (l, b) = (Arc::clone(&lock), Arc::clone(&holding));
        let holder_line = Arc::new(StdMutex::new(0));
        let hl = Arc::clone(&holder_line);
        let holder = Builder::new()
            .name("holder")
            .spawn(move || {
                let (line, g) = (line!(), l.acquire());
                *hl.lock().unwrap() = line;
                b.wait_timeout(T).unwrap();
                // Keep the lock until the waiter is seen parked on it (bounded), so the wait
                // below is charged in full even when the waiter is descheduled after the barrier.
                let deadline = Instant::now() + T;
                while Instant::now() < deadline
                    && !diagnostics::dump().threads.iter().any(|t| {
                        t.waiting.as_ref().is_some_and(|w| {
                            w.object.as_ref().and_then(|o| o.name.as_deref()) == Some(lock_name)
                        })
                    })
                {
                    std::thread::sleep(Duration::from_millis(2));
                }
                // The critical section the waiter is charged to: held >= 50 ms.
                std::thread::sleep(Duration::from_millis(60));
                drop(g);
            })
            .unwrap();
        holding.wait_timeout(T).unwrap();
        let got = lock.acquire_timeout(T).is_some();
        assert!(got);
        common::join_or_fail(holder, "holder");
        diagnostics::set_contention_profiling(false);
        let line = *holder_line.lock().unwrap();
        (line, diagnostics::contention_profile())
    };
    let (_, off) = run(false);
    assert!(off.objects.is_empty(), "{off}");
    let (line, on) = run(true);
    let hot = on
        .objects
        .iter()
        .find(|o| o.object.name.as_deref() == Some("hot-on"))
        .unwrap_or_else(|| panic!("{on}"));
    // Two acquisitions (the holder's, the waiter's), one of them contended.
    assert_eq!((hot.acquisitions, hot.stats.waits), (2, 1), "{on}");
    assert!(hot.stats.max >= Duration::from_millis(40), "{on}");
    let top = &hot.holder_sites[0];
    let site = top.site.expect("holder site");
    assert_eq!((site.file(), site.line()), (file!(), line), "{on}");
    assert!(top.stats.total >= Duration::from_millis(40));
    let folded = on.folded();
    let expect = "Lock \"hot-on\" #";
    let line_text = folded
        .lines()
        .find(|l| l.starts_with(expect))
        .unwrap_or_else(|| panic!("{folded}"));
    assert!(
        line_text.contains(&format!(
            ";held at {}:{line};waited at {}:",
            file!(),
            file!()
        )),
        "{line_text}"
    );
    let micros: u64 = line_text.rsplit_once(' ').unwrap().1.parse().unwrap();
    assert!(micros >= 40_000, "{line_text}");
    assert!(!on
        .objects
        .iter()
        .any(|o| o.object.name.as_deref() == Some("hot-off")));
    diagnostics::reset_contention_profile();
}

/// A report hook may use threadkit primitives itself (the watchdog holds no internal lock while
/// it runs): here it takes a named Lock and sets an Event for every report.
#[test]
fn report_hook_may_use_threadkit_primitives() {
    let _s = serial();
    let log = Arc::new(Lock::named_with_value("hook-log", Vec::<String>::new()));
    let reported = Arc::new(Event::named("reported"));
    {
        let (log, reported) = (Arc::clone(&log), Arc::clone(&reported));
        diagnostics::set_report_hook(move |r: &Report| {
            if let Report::Stall(s) = r {
                log.acquire().push(s.thread.name.to_string());
                reported.set();
            }
        });
    }
    let dog = diagnostics::Watchdog::new()
        .interval(Duration::from_millis(10))
        .stall_threshold(Duration::from_millis(20))
        .dump_with_reports(false)
        .start()
        .unwrap();
    let never = Arc::new(Event::named("never-set"));
    let n2 = Arc::clone(&never);
    let sleeper = Builder::new()
        .name("stalled")
        .spawn(move || n2.wait_timeout(Duration::from_secs(2)))
        .unwrap();
    assert!(reported.wait_timeout(T), "no stall reported");
    dog.stop();
    diagnostics::reset_report_hook();
    never.set();
    assert!(common::join_or_fail(sleeper, "stalled"));
    let names = log.acquire().clone();
    assert!(names.iter().any(|n| n == "stalled"), "{names:?}");
}

/// A watchdog given a time too far away to compute as an `Instant` (`Duration::MAX`: "never")
/// still works: its thread used to die at once on the overflow (`Instant + Duration` panics),
/// silently, with `start` long returned `Ok`. An infinite interval still dumps when due; a dump
/// due never still leaves the stalls reported.
#[test]
fn a_watchdog_with_an_endless_interval_or_dump_time_still_watches() {
    let _s = serial();
    let (tx, rx) = std::sync::mpsc::channel::<&'static str>();
    let tx = StdMutex::new(tx);
    diagnostics::set_report_hook(move |r: &Report| {
        let what = match r {
            Report::Dump(_) => "dump",
            Report::Stall(s) if &*s.thread.name == "stalled" => "stall",
            _ => return,
        };
        let _ = tx.lock().unwrap().send(what);
    });
    let wait_for = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(got) if got == what => return true,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        false
    };
    let dumper = diagnostics::Watchdog::new()
        .interval(Duration::MAX)
        .deadlocks(false)
        .dump_after(Duration::from_millis(20))
        .start()
        .unwrap();
    let dumped = wait_for("dump");
    dumper.stop();
    let never = Arc::new(Event::named("never-set"));
    let n2 = Arc::clone(&never);
    let sleeper = Builder::new()
        .name("stalled")
        .spawn(move || n2.wait_timeout(Duration::from_secs(3)))
        .unwrap();
    let watcher = diagnostics::Watchdog::new()
        .interval(Duration::from_millis(10))
        .stall_threshold(Duration::from_millis(20))
        .dump_after(Duration::MAX)
        .dump_with_reports(false)
        .start()
        .unwrap();
    let stalled = wait_for("stall");
    watcher.stop();
    diagnostics::reset_report_hook();
    never.set();
    assert!(common::join_or_fail(sleeper, "stalled"), "owed the set");
    assert!(
        dumped,
        "an endless interval: the dump due after 20 ms never came"
    );
    assert!(
        stalled,
        "an endless dump time: the stall was never reported"
    );
}
