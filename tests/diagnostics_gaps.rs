//! Diagnostics gaps closed after review: the contention profile forgets dropped objects into
//! their creation site's entry (bounded memory, totals kept); a stall made of slices is reported
//! once; a join published
//! by a binding closes a deadlock cycle. The tests share the process's diagnostics state, so
//! they run one at a time (SERIAL); every blocking step has a timeout.
// The thread API is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

mod common;

use common::diag::{serial, until_thread};

use std::sync::{mpsc, Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use threadkit::diagnostics::{self, Report, WaitKind};
use threadkit::{Builder, Event, Lock, Semaphore};

const T: Duration = Duration::from_secs(10);

/// A Lock made at one creation site, and that site's line.
#[rustfmt::skip]
fn per_request_lock() -> (Lock, u32) { (Lock::new(), line!()) }

/// An Event made at one creation site, and that site's line.
#[rustfmt::skip]
fn per_request_event() -> (Event, u32) { (Event::new(), line!()) }

/// The entries of the profile whose objects were created at `line` of this file.
fn entries_at(
    profile: &diagnostics::ContentionProfile,
    line: u32,
) -> Vec<diagnostics::ObjectContention> {
    profile
        .objects
        .iter()
        .filter(|o| {
            o.object
                .created_at
                .is_some_and(|s| s.to_string() == format!("{}:{line}", file!()))
        })
        .cloned()
        .collect()
}

/// Profiled objects that are dropped leave the profile: 1000 Locks made, acquired and dropped
/// at one site are one entry (not 1000), which keeps their 1000 acquisitions; three Events
/// waited on (each wait charged) and dropped keep their exact wait totals in their site's
/// entry; a live object of the same site stays an entry of its own. Witness: the number of
/// entries per creation site, and the totals before and after the drops.
#[test]
fn dropped_objects_fold_into_their_creation_site() {
    let _s = serial();
    diagnostics::reset_contention_profile();
    diagnostics::set_contention_profiling(true);
    let (live, lock_line) = per_request_lock();
    drop(live.acquire());
    for _ in 0..1000 {
        let (l, _) = per_request_lock();
        drop(l.acquire());
    }
    let event_line = per_request_event().1;
    // Three Events, each waited on by a thread until set: three charged waits.
    let events: Vec<Arc<Event>> = (0..3).map(|_| Arc::new(per_request_event().0)).collect();
    for (i, e) in events.iter().enumerate() {
        let e2 = Arc::clone(e);
        let name = format!("fold-waiter-{i}");
        let t = Builder::new()
            .name(&name)
            .spawn(move || e2.wait_timeout(T))
            .unwrap();
        until_thread(&name, |t| t.waiting.is_some());
        e.set();
        assert!(t.join().unwrap(), "owed the set");
    }
    let before = diagnostics::contention_profile();
    let waited: Duration = entries_at(&before, event_line)
        .iter()
        .map(|o| o.stats.total)
        .sum();
    assert_eq!(entries_at(&before, event_line).len(), 3);
    drop(events);
    let after = diagnostics::contention_profile();
    diagnostics::set_contention_profiling(false);
    diagnostics::reset_contention_profile();
    let locks = entries_at(&after, lock_line);
    assert_eq!(
        locks.len(),
        2,
        "one entry for the live Lock, one for the 1000 dropped ones:\n{after}"
    );
    let acquisitions: u64 = locks.iter().map(|o| o.acquisitions).sum();
    assert_eq!(acquisitions, 1001, "{after}");
    let group = locks.iter().find(|o| o.object.id == 0).expect("the group");
    assert_eq!(group.dropped, 1000);
    assert_eq!(group.acquisitions, 1000);
    let events = entries_at(&after, event_line);
    assert_eq!(events.len(), 1, "{after}");
    assert_eq!(events[0].stats.waits, 3);
    assert_eq!(
        events[0].stats.total, waited,
        "the dropped Events' waits are kept"
    );
    assert_eq!(events[0].dropped, 3);
    let text = after.to_string();
    assert!(text.contains("(3 dropped): 3 waits"), "{text}");
}

/// A wait made of slices (`as_one_wait`, as a Python main thread waits so that Ctrl-C can
/// interrupt it) that stalls is reported once, also when a watchdog check falls between two
/// slices, where the thread is briefly not blocked. Witness: the Stall reports for that wait,
/// with a check made for certain during the gap (a repeating dump report after the gap began)
/// and checks made after the wait is published again.
#[test]
fn a_stall_made_of_slices_is_reported_once_across_a_gap() {
    let _s = serial();
    let reports: Arc<StdMutex<Vec<Report>>> = Arc::default();
    let r2 = Arc::clone(&reports);
    diagnostics::set_report_hook(move |r| r2.lock().unwrap().push(r.clone()));
    let interval = Duration::from_millis(20);
    let dog = diagnostics::Watchdog::new()
        .interval(interval)
        .stall_threshold(Duration::from_millis(40))
        .deadlocks(false)
        .dump_with_reports(false)
        .dump_after(interval)
        .repeat(true)
        .start()
        .unwrap();
    let sem = Arc::new(Semaphore::named("sliced", 0));
    let (gap_tx, gap_rx) = mpsc::channel::<()>();
    let (resume_tx, resume_rx) = mpsc::channel::<()>();
    let s2 = Arc::clone(&sem);
    let sliced = Builder::new()
        .name("sliced-waiter")
        .spawn(move || {
            diagnostics::as_one_wait(None, || {
                let _first = s2.acquire_timeout(T).expect("owed the first release"); // first slice
                gap_tx.send(()).unwrap();
                resume_rx.recv().unwrap(); // the gap: not blocked in threadkit
                let _second = s2.acquire_timeout(T).expect("owed the second release");
                // the same wait
            })
        })
        .unwrap();
    let stalls = || -> Vec<(u64, u64)> {
        reports
            .lock()
            .unwrap()
            .iter()
            .filter_map(|r| match r {
                Report::Stall(s) if &*s.thread.name == "sliced-waiter" => {
                    Some((s.thread.ident, s.wait.seq))
                }
                _ => None,
            })
            .collect()
    };
    let dumps = || {
        reports
            .lock()
            .unwrap()
            .iter()
            .filter(|r| matches!(r, Report::Dump(_)))
            .count()
    };
    let deadline = Instant::now() + T;
    while stalls().is_empty() {
        assert!(Instant::now() < deadline, "the stall was never reported");
        std::thread::sleep(Duration::from_millis(5));
    }
    sem.release(1);
    gap_rx.recv_timeout(T).unwrap();
    // Two checks complete while the thread is in the gap (each ends with a dump report).
    let seen = dumps();
    while dumps() < seen + 2 {
        assert!(Instant::now() < deadline, "the watchdog stopped checking");
        std::thread::sleep(Duration::from_millis(5));
    }
    resume_tx.send(()).unwrap();
    until_thread("sliced-waiter", |t| t.waiting.is_some());
    // Two checks complete while it is blocked again.
    let seen = dumps();
    while dumps() < seen + 2 {
        assert!(Instant::now() < deadline, "the watchdog stopped checking");
        std::thread::sleep(Duration::from_millis(5));
    }
    sem.release(1);
    common::join_or_fail(sliced, "sliced-waiter");
    dog.stop();
    diagnostics::reset_report_hook();
    let got = stalls();
    assert_eq!(
        got.len(),
        1,
        "one wait, reported {} times: {got:?}",
        got.len()
    );
}

/// A join published with `waiting_to_join` (a binding's join that waits outside threadkit) is
/// a wait-for edge: "main" holds a lock and joins "worker", which waits for that lock; the
/// deadlock finder reports the cycle with the join edge, and the dump says "waiting to join".
/// Witness: the cycle's links, and the worker's timed acquire failing (owed nothing: the lock
/// was held all along).
#[test]
fn a_published_join_closes_a_deadlock_cycle() {
    let _s = serial();
    let lock = Arc::new(Lock::named("held by the joiner"));
    let held = lock.acquire();
    let (tx, rx) = mpsc::channel();
    let l2 = Arc::clone(&lock);
    let worker = Builder::new()
        .name("join-target")
        .spawn(move || {
            tx.send(threadkit::get_ident()).unwrap();
            l2.acquire_timeout(Duration::from_secs(2)).is_some()
        })
        .unwrap();
    let ident = rx.recv_timeout(T).unwrap();
    until_thread("join-target", |t| t.waiting.is_some());
    let join_line = line!() + 1;
    let waiting = diagnostics::waiting_to_join(ident, None);
    let cycles = diagnostics::find_deadlocks();
    let text = diagnostics::dump().to_string();
    drop(waiting);
    assert_eq!(cycles.len(), 1, "{text}");
    let kinds: Vec<WaitKind> = cycles[0].links.iter().map(|l| l.kind).collect();
    assert!(
        kinds.contains(&WaitKind::Join) && kinds.contains(&WaitKind::Lock),
        "{}",
        cycles[0]
    );
    assert!(
        text.contains(&format!(
            "waiting to join \"join-target\" #{ident} at {}:{join_line}",
            file!()
        )),
        "{text}"
    );
    let got = worker.join().unwrap();
    drop(held);
    assert!(!got, "the lock was held for the whole acquire");
    assert!(diagnostics::find_deadlocks().is_empty());
}

/// A binding's Condition re-acquire marked with `reacquiring_after` reads as one in a dump:
/// "waiting to re-acquire <lock> after waiting on <condition>". Witness: the waiter's
/// `reacquiring_after` and the dump's line, then the mark gone with its guard (the thread's
/// next wait is a plain acquire).
#[test]
fn a_marked_reacquire_names_what_the_thread_waited_on() {
    let _s = serial();
    let lock = Arc::new(Lock::named("binding lock"));
    let condition = Arc::new(Event::named("binding condition"));
    let held = lock.acquire();
    let (l2, c2) = (Arc::clone(&lock), Arc::clone(&condition));
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<bool>();
    let waiter = Builder::new()
        .name("reacquirer")
        .spawn(move || {
            let marked = diagnostics::reacquiring_after(&*c2, || l2.acquire_timeout(T).is_some());
            done_tx.send(marked).unwrap();
            go_rx.recv().unwrap();
            l2.acquire_timeout(T).is_some()
        })
        .unwrap();
    let t = until_thread("reacquirer", |t| t.waiting.is_some());
    let w = t.waiting.clone().unwrap();
    assert_eq!(
        w.reacquiring_after.as_ref().and_then(|o| o.name.as_deref()),
        Some("binding condition")
    );
    assert!(
        t.to_string()
            .contains("waiting to re-acquire Lock \"binding lock\""),
        "{t}"
    );
    drop(held);
    assert!(done_rx.recv_timeout(T).unwrap(), "owed the lock");
    // The mark went with its guard: the next wait is a plain acquire.
    let held = lock.acquire();
    go_tx.send(()).unwrap();
    let t = until_thread("reacquirer", |t| t.waiting.is_some());
    assert!(t.waiting.unwrap().reacquiring_after.is_none());
    drop(held);
    assert!(
        common::join_or_fail(waiter, "reacquirer"),
        "owed the lock again"
    );
}
