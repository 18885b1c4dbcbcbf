//! Diagnostics, continued: what a dump says about a Condition waiter taking its lock back (and
//! the deadlock that phase can close), who last woke an Event's or Condition's waiters, the
//! timer service's own waits, and the contention profile's count of every acquisition.
//!
//! Every blocking step has a timeout, so a broken detector fails the test instead of hanging
//! it; every wait that returns is checked against what it is owed (a notify, a set). The tests
//! share the process's wait records, so they run one at a time (SERIAL).
// The thread API is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

mod common;

use common::diag::{serial, until_thread};

use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use threadkit::diagnostics::{self, Report, ThreadSnapshot, ThreadState, WaitKind};
use threadkit::{Builder, Condition, Event, Lock, RLock, Timer};

const T: Duration = Duration::from_secs(5);

fn waiting_on(kind: WaitKind) -> impl Fn(&ThreadSnapshot) -> bool {
    move |t| t.waiting.as_ref().is_some_and(|w| w.kind == kind)
}

/// `file:line` of this file.
fn here(line: u32) -> String {
    format!("{}:{line}", file!())
}

/// A Condition waiter that `notify` has moved onto the lock's queue (the notifier holds the
/// lock) waits for the lock now. "waiter" holds A and waits on the Condition; "notifier" takes
/// the Condition's lock L, notifies (moving the waiter onto L's queue), and then, still holding
/// L, waits 5 s for A: a deadlock through the re-acquire phase, which the finder must report
/// (re-validated), naming L and the Condition, until the notifier's timeout breaks it.
#[test]
fn notified_waiter_moved_onto_the_lock_closes_a_deadlock_cycle() {
    let _s = serial();
    let a = Arc::new(Lock::named("A"));
    let cond = Arc::new(Condition::with_lock_named("ready", Lock::named("L")));
    let wait_line = Arc::new(StdMutex::new(0));
    let waiter = {
        let (a, cond, wait_line) = (Arc::clone(&a), Arc::clone(&cond), Arc::clone(&wait_line));
        Builder::new()
            .name("waiter")
            .spawn(move || {
                let _held = a.acquire();
                let mut g = cond.acquire();
                let (line, notified) = (line!(), cond.wait_timeout(&mut g, T * 4));
                *wait_line.lock().unwrap() = line;
                notified
            })
            .unwrap()
    };
    until_thread("waiter", waiting_on(WaitKind::Condition));
    // Before any notify the waiter waits on the Condition and closes no cycle.
    assert!(diagnostics::find_deadlocks().is_empty());
    let notify_line = Arc::new(StdMutex::new(0));
    let notifier = {
        let (a, cond, notify_line) = (Arc::clone(&a), Arc::clone(&cond), Arc::clone(&notify_line));
        Builder::new()
            .name("notifier")
            .spawn(move || {
                let g = cond.acquire();
                let (line, woken) = (line!(), cond.notify(&g, 1));
                *notify_line.lock().unwrap() = line;
                // Still holding L: the waiter cannot take it back, and holds A.
                let got_a = a.acquire_timeout(T).is_some();
                drop(g);
                (woken, got_a)
            })
            .unwrap()
    };
    until_thread("notifier", |t| t.state == ThreadState::Blocked);
    // Poll (bounded) for the cycle: it exists from the notifier's block on A until its timeout.
    let deadline = Instant::now() + T / 2;
    let found = loop {
        let found = diagnostics::find_deadlocks();
        if !found.is_empty() || Instant::now() > deadline {
            break found;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let dump = diagnostics::dump();
    let waiter_para = dump
        .threads
        .iter()
        .find(|t| &*t.thread.name == "waiter")
        .map(|t| t.to_string())
        .unwrap_or_default();
    assert_eq!(found.len(), 1, "no cycle through the re-acquire:\n{dump}");
    let text = found[0].to_string();
    assert_eq!(found[0].links.len(), 2, "{text}");
    assert!(
        text.contains("\"waiter\"") && text.contains("\"notifier\""),
        "{text}"
    );
    assert!(
        text.contains("waits to re-acquire Lock \"L\"")
            && text.contains("after waiting on Condition \"ready\""),
        "{text}"
    );
    assert!(
        text.contains("waits to acquire Lock \"A\"") && text.contains("held by \"waiter\""),
        "{text}"
    );
    assert!(
        waiter_para.contains("BLOCKED")
            && waiter_para.contains("waiting to re-acquire Lock \"L\"")
            && waiter_para.contains("after waiting on Condition \"ready\"")
            && waiter_para.contains("held by \"notifier\""),
        "{waiter_para}"
    );
    // Structured: the waiter's link is a Lock wait on L after the Condition, with no timeout
    // (taking the lock back has none, whatever the wait's was).
    let w = found[0]
        .links
        .iter()
        .find(|l| &*l.thread.name == "waiter")
        .unwrap();
    assert_eq!(w.kind, WaitKind::Lock);
    assert_eq!(w.object.as_ref().unwrap().name.as_deref(), Some("L"));
    assert_eq!(
        w.reacquiring_after.as_ref().unwrap().name.as_deref(),
        Some("ready")
    );
    assert_eq!(&*w.waits_for.name, "notifier");
    assert!(w.timeout_in.is_none(), "{text}");
    // The notifier times out on A and releases L; the waiter then returns, notified (it was
    // owed exactly the one notify), and nothing stale remains.
    let (woken, got_a) = common::join_or_fail(notifier, "notifier");
    assert_eq!((woken, got_a), (1, false));
    assert!(
        common::join_or_fail(waiter, "waiter"),
        "the waiter was notified"
    );
    assert!(diagnostics::find_deadlocks().is_empty());
    let line = *wait_line.lock().unwrap();
    assert!(
        waiter_para.contains(&format!("at {}", here(line))),
        "the waiter's call site: {waiter_para}"
    );
}

/// A Condition waiter whose wait timed out takes the lock back like a notified one: the dump
/// says so, with the Condition, the lock's holder and the call site of the *wait* (not a line
/// inside threadkit).
#[test]
fn timed_out_waiter_reacquiring_names_the_condition_and_its_call_site() {
    let _s = serial();
    let cond = Arc::new(Condition::with_lock_named("c2", Lock::named("L2")));
    let wait_line = Arc::new(StdMutex::new(0));
    let waiter = {
        let (cond, wait_line) = (Arc::clone(&cond), Arc::clone(&wait_line));
        Builder::new()
            .name("sleeper")
            .spawn(move || {
                let mut g = cond.acquire();
                *wait_line.lock().unwrap() = line!() + 1;
                cond.wait_timeout(&mut g, Duration::from_millis(50))
            })
            .unwrap()
    };
    until_thread("sleeper", waiting_on(WaitKind::Condition));
    // Hold L2 across the waiter's timeout: it must then block taking L2 back.
    let g = cond.acquire();
    let t = until_thread("sleeper", waiting_on(WaitKind::Lock));
    let para = t.to_string();
    drop(g);
    // Nobody notified: the wait owes nothing and reports the timeout.
    assert!(!common::join_or_fail(waiter, "sleeper"));
    let line = *wait_line.lock().unwrap();
    assert!(
        para.contains("waiting to re-acquire Lock \"L2\"")
            && para.contains("after waiting on Condition \"c2\"")
            && para.contains(&format!("at {}", here(line))),
        "{para}"
    );
    let holder = t.waiting.unwrap().holder.expect("held by this thread");
    assert_eq!(holder.thread.ident, threadkit::get_ident());
}

/// Who last woke waiters: a `set()` / `notify()` that woke somebody is recorded (thread and
/// call site) and shown beside the next waiters; one that woke nobody (the one-atomic fast
/// path) is not.
#[test]
fn event_and_condition_show_who_last_woke_waiters() {
    let _s = serial();
    // Event: "first" is woken by "setter"'s set.
    let turn = Arc::new(Event::named("turn"));
    let first = {
        let turn = Arc::clone(&turn);
        Builder::new()
            .name("first")
            .spawn(move || turn.wait_timeout(T))
            .unwrap()
    };
    until_thread("first", waiting_on(WaitKind::Event));
    let setter = {
        let turn = Arc::clone(&turn);
        Builder::new()
            .name("setter")
            .spawn(move || {
                let line = line!() + 1;
                turn.set();
                line
            })
            .unwrap()
    };
    let set_line = common::join_or_fail(setter, "setter");
    assert!(common::join_or_fail(first, "first"), "owed the one set()");
    turn.clear();
    let second = {
        let turn = Arc::clone(&turn);
        Builder::new()
            .name("second")
            .spawn(move || turn.wait_timeout(T))
            .unwrap()
    };
    let t = until_thread("second", waiting_on(WaitKind::Event));
    let para = t.to_string();
    turn.set();
    assert!(common::join_or_fail(second, "second"));
    assert!(
        para.contains("last set by \"setter\" #") && para.contains(&here(set_line)),
        "{para}"
    );
    let last = t.waiting.unwrap().last_signal.expect("last set");
    assert_eq!(&*last.thread.name, "setter");
    assert_eq!(last.site.line(), set_line);

    // Negative control: a set() with nobody waiting is not recorded.
    let quiet = Arc::new(Event::named("quiet"));
    quiet.set();
    quiet.clear();
    let third = {
        let quiet = Arc::clone(&quiet);
        Builder::new()
            .name("third")
            .spawn(move || quiet.wait_timeout(T))
            .unwrap()
    };
    let t = until_thread("third", waiting_on(WaitKind::Event));
    quiet.set();
    assert!(common::join_or_fail(third, "third"));
    assert!(
        t.to_string().contains("no set() has woken a waiter yet"),
        "{t}"
    );
    assert!(t.waiting.unwrap().last_signal.is_none());

    // Condition: "cw1" is woken by "notifier"'s notify; "cw2" then shows it.
    let cv = Arc::new(Condition::with_lock_named("cv", Lock::new()));
    let wait = |name: &str| {
        let cv = Arc::clone(&cv);
        Builder::new()
            .name(name)
            .spawn(move || {
                let mut g = cv.acquire();
                cv.wait_timeout(&mut g, T)
            })
            .unwrap()
    };
    let cw1 = wait("cw1");
    until_thread("cw1", waiting_on(WaitKind::Condition));
    let notifier = {
        let cv = Arc::clone(&cv);
        Builder::new()
            .name("notifier")
            .spawn(move || {
                let g = cv.acquire();
                let line = line!() + 1;
                assert_eq!(cv.notify(&g, 1), 1);
                line
            })
            .unwrap()
    };
    let notify_line = common::join_or_fail(notifier, "notifier");
    assert!(common::join_or_fail(cw1, "cw1"), "owed the one notify");
    let cw2 = wait("cw2");
    let t = until_thread("cw2", waiting_on(WaitKind::Condition));
    let para = t.to_string();
    {
        let g = cv.acquire();
        assert_eq!(cv.notify_all(&g), 1);
    }
    assert!(common::join_or_fail(cw2, "cw2"));
    assert!(
        para.contains("last notified by \"notifier\" #") && para.contains(&here(notify_line)),
        "{para}"
    );
}

/// The waker shown beside an Event's waiter: a live waker by its name now (as everywhere in the
/// dump), one that has ended by the name it had when the Event first saw it wake waiters, and
/// the last waker's site and name when other wakers have come and gone before it (the Event
/// keeps the names of its last two). Every waiter is woken by the next waker in the story (so
/// that the test thread is never the waker shown). Witness: the dump's waker for a waiter after
/// each kind of wake-up, against the identifiers and call sites the wakers reported.
#[test]
fn last_waker_is_named_when_alive_renamed_or_ended() {
    let _s = serial();
    let turn = Arc::new(Event::named("wakers"));
    // A waiter, and the waker its dump shows while it waits.
    let waiter = |name: &str| {
        let turn = Arc::clone(&turn);
        let w = Builder::new()
            .name(name)
            .spawn(move || turn.wait_timeout(T))
            .unwrap();
        let t = until_thread(name, waiting_on(WaitKind::Event));
        (w, t.waiting.unwrap().last_signal)
    };
    let woken = |w: threadkit::JoinHandle<bool>, name: &str| {
        assert!(common::join_or_fail(w, name), "owed a set");
        turn.clear();
    };
    // "before" wakes w1, renames itself "after", and on a word wakes w2 and ends.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (w1, none) = waiter("w1");
    assert!(none.is_none());
    let renamer = {
        let turn = Arc::clone(&turn);
        Builder::new()
            .name("before")
            .spawn(move || {
                let line = line!() + 1;
                turn.set();
                threadkit::current_thread().set_name("after");
                let told = rx.recv_timeout(T);
                turn.set();
                (threadkit::get_ident(), line, told)
            })
            .unwrap()
    };
    woken(w1, "w1");
    while &*renamer.thread().name() != "after" {
        std::thread::yield_now();
    }
    let (w2, last) = waiter("w2");
    let last = last.expect("the renamer's set");
    assert_eq!(&*last.thread.name, "after", "a live waker by its name now");
    tx.send(()).unwrap();
    let (renamer_id, set_line, told) = common::join_or_fail(renamer, "renamer");
    assert!(told.is_ok());
    assert_eq!(last.thread.ident, renamer_id);
    assert_eq!(last.site.line(), set_line);
    woken(w2, "w2");
    // Ended: by the name it had when the Event first saw it wake waiters.
    let (mut w, last) = waiter("w3");
    let last = last.expect("the renamer's second set");
    assert_eq!(
        (last.thread.ident, &*last.thread.name),
        (renamer_id, "before"),
        "an ended waker by its name when it first woke waiters"
    );
    // Three more wakers, each waking the waiter before it and ending: the last one's waiter
    // shows it whole, although "x", "y" and "z" pushed the renamer out of the Event's names.
    let mut wakers = Vec::new();
    for (i, name) in ["x", "y", "z"].into_iter().enumerate() {
        let setter = {
            let turn = Arc::clone(&turn);
            Builder::new()
                .name(name)
                .spawn(move || {
                    let line = line!() + 1;
                    turn.set();
                    (threadkit::get_ident(), line)
                })
                .unwrap()
        };
        wakers.push(common::join_or_fail(setter, name));
        woken(w, "a waiter");
        let (next, last) = waiter(&format!("wx{i}"));
        let last = last.expect("a set");
        assert_eq!((last.thread.ident, &*last.thread.name), (wakers[i].0, name));
        assert_eq!(last.site.line(), wakers[i].1);
        w = next;
    }
    turn.set();
    woken(w, "the last waiter");
}

/// The timer service's threads wait on something with a name: "threadkit timer service", with
/// the next Timer due; an idle pool worker says so. They are internal waits: never a stall,
/// while a Timer's function blocked on a worker is that Timer, and is one.
#[test]
fn timer_service_waits_are_named_and_never_stalls() {
    let _s = serial();
    // Run one Timer so that a pool worker exists and idles.
    let ran = Arc::new(Event::new());
    let first = {
        let ran = Arc::clone(&ran);
        Timer::new(Duration::ZERO, move || ran.set())
    };
    first.start().unwrap();
    assert!(ran.wait_timeout(T));
    assert!(first.join_timeout(T).unwrap());
    let later = Timer::new(Duration::from_secs(60), || {});
    later.set_name("reminder");
    later.start().unwrap();
    let got = Arc::new(StdMutex::new(Vec::new()));
    {
        let got = Arc::clone(&got);
        diagnostics::set_report_hook(move |r: &Report| got.lock().unwrap().push(r.clone()));
    }
    let dog = diagnostics::Watchdog::new()
        .interval(Duration::from_millis(10))
        .stall_threshold(Duration::from_millis(20))
        .dump_with_reports(false)
        .start()
        .unwrap();
    let service = until_thread("threadkit timer service", |t| {
        t.to_string().contains("next \"reminder\"")
    });
    let worker = until_thread("threadkit timer worker", |t| t.waiting.is_some());
    // A Timer whose function blocks (on a worker) stalls like any thread, under its own name.
    let never = Arc::new(Event::named("never-set"));
    let stuck = {
        let never = Arc::clone(&never);
        Timer::new(Duration::ZERO, move || {
            let _ = never.wait_timeout(T);
        })
    };
    stuck.set_name("stuck");
    stuck.start().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !got
        .lock()
        .unwrap()
        .iter()
        .any(|r| matches!(r, Report::Stall(s) if &*s.thread.name == "stuck"))
    {
        assert!(
            Instant::now() < deadline,
            "no stall reported for the blocked Timer"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    dog.stop();
    never.set();
    assert!(stuck.join_timeout(T).unwrap());
    diagnostics::reset_report_hook();
    assert!(later.cancel());
    let service = service.to_string();
    assert!(
        service.contains("waiting on Timer \"threadkit timer service\"")
            && service.contains("1 Timers scheduled, next \"reminder\""),
        "{service}"
    );
    let worker = worker.to_string();
    assert!(
        worker.contains("waiting on Timer \"threadkit timer service\"")
            && worker.contains("idle worker"),
        "{worker}"
    );
    let reports = got.lock().unwrap().clone();
    assert!(
        !reports.iter().any(|r| matches!(r, Report::Stall(s)
            if s.thread.name.starts_with("threadkit timer")
                || s.thread.name.starts_with("<ident"))),
        "{reports:#?}"
    );
}

/// The contention profile counts every Lock and RLock acquisition while it is on (an RLock's
/// re-entries take nothing and are not counted), keeps what exited threads counted, and counts
/// nothing while it is off.
#[test]
fn contention_profile_counts_every_acquisition_only_while_on() {
    let _s = serial();
    diagnostics::reset_contention_profile();
    let cold = Lock::named("cold");
    for _ in 0..100 {
        drop(cold.acquire());
    }
    diagnostics::set_contention_profiling(true);
    let counted = Arc::new(Lock::named("counted"));
    let rlock = RLock::named("reentrant");
    for _ in 0..1000 {
        drop(counted.acquire());
    }
    for _ in 0..10 {
        assert!(counted.try_acquire().is_some());
    }
    for _ in 0..5 {
        let outer = rlock.acquire();
        let inner = rlock.acquire();
        drop((inner, outer));
    }
    // 200 more in a thread that has exited when the profile is read.
    let c2 = Arc::clone(&counted);
    let t = Builder::new()
        .name("counter")
        .spawn(move || {
            for _ in 0..200 {
                drop(c2.acquire());
            }
        })
        .unwrap();
    common::join_or_fail(t, "counter");
    diagnostics::set_contention_profiling(false);
    // Off again: not counted.
    for _ in 0..100 {
        drop(counted.acquire());
    }
    let profile = diagnostics::contention_profile();
    let text = profile.to_string();
    diagnostics::reset_contention_profile();
    assert!(
        text.contains("Lock \"counted\" #") && text.contains(": 1210 acquisitions, 0 contended,"),
        "{text}"
    );
    assert!(
        text.contains("RLock \"reentrant\" #") && text.contains(": 5 acquisitions, 0 contended,"),
        "{text}"
    );
    assert!(!text.contains("\"cold\""), "{text}");
    let by_name = |n: &str| {
        profile
            .objects
            .iter()
            .find(|o| o.object.name.as_deref() == Some(n))
            .unwrap_or_else(|| panic!("{n}:\n{text}"))
    };
    assert_eq!(by_name("counted").acquisitions, 1210);
    assert_eq!(by_name("counted").stats.waits, 0);
    assert_eq!(by_name("reentrant").acquisitions, 5);
}

/// What profiling costs an uncontended acquire+release, and the primitives' sizes (a
/// measurement, not a check: run with
/// `cargo test --release --test diagnostics_state -- --ignored --nocapture profiling_cost`).
#[test]
#[ignore]
fn profiling_cost_and_sizes() {
    let _s = serial();
    let lock = Lock::named("bench");
    let n = 2_000_000u32;
    let mut rows = Vec::new();
    for round in 0..5 {
        for on in [false, true] {
            diagnostics::set_contention_profiling(on);
            let t0 = Instant::now();
            for _ in 0..n {
                drop(std::hint::black_box(&lock).acquire());
            }
            let ns = t0.elapsed().as_nanos() as f64 / f64::from(n);
            diagnostics::set_contention_profiling(false);
            rows.push((round, on, ns));
        }
    }
    diagnostics::reset_contention_profile();
    println!("uncontended Lock acquire+release, ns/op (round, profiling, ns):");
    for (round, on, ns) in &rows {
        println!("  {round} {} {ns:.2}", if *on { "on " } else { "off" });
    }
    println!(
        "sizes: Lock<()> {} RLock {} Condition<Lock> {} Condition {} Event {} Semaphore {} \
         BoundedSemaphore {} Barrier {}",
        std::mem::size_of::<Lock>(),
        std::mem::size_of::<RLock>(),
        std::mem::size_of::<Condition<Lock>>(),
        std::mem::size_of::<Condition>(),
        std::mem::size_of::<Event>(),
        std::mem::size_of::<threadkit::Semaphore>(),
        std::mem::size_of::<threadkit::BoundedSemaphore>(),
        std::mem::size_of::<threadkit::Barrier>(),
    );
}
