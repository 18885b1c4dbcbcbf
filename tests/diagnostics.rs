//! Diagnostics: the thread dump. Each kind of wait provoked for real and its text checked
//! against a golden, a dump taken while every other thread is blocked, and the records a dump
//! must not keep (a holder after another thread's release, a wait after its timeout). The
//! deadlock finder is in `diagnostics_deadlocks.rs`, the watchdog and the contention profile in
//! `diagnostics_watchdog.rs`. Every blocking step has a timeout, so a broken dump fails the test
//! instead of hanging it. The tests share the process's wait records, so they run one at a time
//! (SERIAL).
// The thread API is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

mod common;

use common::diag::{serial, until_thread};

use std::sync::Arc;
use std::time::{Duration, Instant};

use threadkit::diagnostics::{self, ThreadSnapshot, ThreadState, WaitKind};
use threadkit::{Barrier, Builder, Condition, Event, Lock, RLock, Semaphore};

const T: Duration = Duration::from_secs(5);

fn blocked(t: &ThreadSnapshot) -> bool {
    t.waiting.is_some()
}

/// Times, ids and tids masked.
fn mask(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '#' || (out.ends_with("tid ")) {
            while chars.peek().is_some_and(|c| c.is_ascii_digit()) {
                chars.next();
            }
            out.push('N');
        }
    }
    // Durations: "1.23s" -> "T".
    let mut masked = String::new();
    const SEP: [char; 6] = [' ', ',', ')', '(', '\n', ';'];
    for word in out.split_inclusive(SEP) {
        let (core, tail) = word.split_at(word.trim_end_matches(SEP).len());
        let is_secs = core.ends_with('s')
            && core[..core.len() - 1].parse::<f64>().is_ok()
            && core.contains('.');
        masked.push_str(if is_secs { "T" } else { core });
        masked.push_str(tail);
    }
    // Call and creation sites: checked against line!() in the ABBA test
    // (diagnostics_deadlocks.rs); masked here.
    let masked = masked.replace(&format!("{}:", file!()), "FILE:");
    let mut out = String::new();
    let mut rest = masked.as_str();
    while let Some(i) = rest.find("FILE:") {
        out.push_str(&rest[..i + 5]);
        rest = rest[i + 5..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push('L');
    }
    out.push_str(rest);
    out
}

#[test]
fn dump_shows_each_kind_of_wait_golden() {
    let _s = serial();
    let lock = Arc::new(Lock::named("accounts"));
    let rlock = Arc::new(RLock::new());
    let sem = Arc::new(Semaphore::named("pool", 0));
    let event = Arc::new(Event::named("config-loaded"));
    let barrier = Arc::new(Barrier::named("stage", 3));
    let cond = Arc::new(Condition::named("not-empty"));
    let jobs = Arc::new(threadkit::queue::Queue::<u32>::named("jobs", 4));
    let release = Arc::new(Event::new());
    let holder_has_it = Arc::new(Event::new());

    let mut handles = Vec::new();
    let spawn =
        |name: &str, f: Box<dyn FnOnce() + Send>| Builder::new().name(name).spawn(f).unwrap();
    {
        let (lock, rlock, release, ready) = (
            Arc::clone(&lock),
            Arc::clone(&rlock),
            Arc::clone(&release),
            Arc::clone(&holder_has_it),
        );
        handles.push(spawn(
            "holder",
            Box::new(move || {
                let _g = lock.acquire(); // HOLDER_LOCK
                let _r1 = rlock.acquire(); // HOLDER_RLOCK
                let _r2 = rlock.acquire();
                ready.set();
                assert!(release.wait_timeout(Duration::from_secs(20)));
            }),
        ));
    }
    assert!(holder_has_it.wait_timeout(T));
    let lock2 = Arc::clone(&lock);
    handles.push(spawn(
        "locker",
        Box::new(move || drop(lock2.acquire_timeout(Duration::from_secs(20)))),
    ));
    let r2 = Arc::clone(&rlock);
    handles.push(spawn(
        "rlocker",
        Box::new(move || drop(r2.acquire_timeout(Duration::from_secs(20)))),
    ));
    let s2 = Arc::clone(&sem);
    handles.push(spawn(
        "sem",
        Box::new(move || drop(s2.acquire_timeout(Duration::from_secs(20)))),
    ));
    let e2 = Arc::clone(&event);
    handles.push(spawn(
        "event",
        Box::new(move || {
            let _ = e2.wait_timeout(Duration::from_secs(20));
        }),
    ));
    let b2 = Arc::clone(&barrier);
    handles.push(spawn(
        "barrier",
        Box::new(move || {
            let _ = b2.wait_timeout(Duration::from_secs(20));
        }),
    ));
    let c2 = Arc::clone(&cond);
    handles.push(spawn(
        "cond",
        Box::new(move || {
            let mut g = c2.acquire();
            let _ = c2.wait_timeout(&mut g, Duration::from_secs(20));
        }),
    ));
    let q2 = Arc::clone(&jobs);
    handles.push(spawn(
        "getter",
        Box::new(move || {
            let _ = q2.get_timeout(Duration::from_secs(20));
        }),
    ));
    for name in [
        "locker", "rlocker", "sem", "event", "barrier", "cond", "getter",
    ] {
        until_thread(name, blocked);
    }
    let dump = diagnostics::dump();
    let para = |name: &str| {
        let t = dump
            .threads
            .iter()
            .find(|t| &*t.thread.name == name)
            .unwrap();
        mask(&t.to_string())
    };
    let holder = para("holder");
    let got: Vec<String> = [
        "locker", "rlocker", "sem", "event", "barrier", "cond", "getter",
    ]
    .iter()
    .map(|n| para(n))
    .collect();
    release.set();
    jobs.put(1).unwrap();
    sem.release(1);
    event.set();
    barrier.abort();
    {
        let g = cond.acquire();
        cond.notify_all(&g);
    }
    for h in handles {
        common::join_or_fail(h, "waiter");
    }
    assert_eq!(format!("{holder}{}", got.join("")), GOLDEN);
}

/// The dump of each kind of wait, times, ids, tids and line numbers masked.
const GOLDEN: &str = r#""holder" #N daemon [tid N] TIMED_WAITING for T (timeout in T)
    waiting on Event@FILE:L #N at FILE:L
        no set() has woken a waiter yet
    holding Lock "accounts" #N, acquired at FILE:L, for T; 1 waiting, the longest for T
    holding RLock@FILE:L #N (count 2), acquired at FILE:L, for T; 1 waiting, the longest for T
"locker" #N daemon [tid N] BLOCKED for T (timeout in T)
    waiting to acquire Lock "accounts" #N (created at FILE:L) at FILE:L
        held by "holder" #N, acquired at FILE:L
"rlocker" #N daemon [tid N] BLOCKED for T (timeout in T)
    waiting to acquire RLock@FILE:L #N at FILE:L
        held by "holder" #N (count 2), acquired at FILE:L
"sem" #N daemon [tid N] TIMED_WAITING for T (timeout in T)
    waiting to acquire Semaphore "pool" #N (created at FILE:L) at FILE:L (value 0)
"event" #N daemon [tid N] TIMED_WAITING for T (timeout in T)
    waiting on Event "config-loaded" #N (created at FILE:L) at FILE:L
        no set() has woken a waiter yet
"barrier" #N daemon [tid N] TIMED_WAITING for T (timeout in T)
    waiting on Barrier "stage" #N (created at FILE:L) at FILE:L (1 of 3 parties waiting)
"cond" #N daemon [tid N] TIMED_WAITING for T (timeout in T)
    waiting on Condition "not-empty" #N (created at FILE:L) at FILE:L
        no notify() has woken a waiter yet
"getter" #N daemon [tid N] TIMED_WAITING for T (timeout in T)
    waiting to get from Queue "jobs" #N (created at FILE:L) at FILE:L (0 items, 0 unfinished tasks)
"#;

#[test]
fn lock_released_by_another_thread_leaves_no_stale_holder() {
    let _s = serial();
    let lock = Arc::new(Lock::named("handed"));
    lock.acquire().forget();
    // Another thread releases it (Python allows this).
    let l2 = Arc::clone(&lock);
    common::join_or_fail(
        Builder::new()
            .name("releaser")
            .spawn(move || l2.release().unwrap())
            .unwrap(),
        "releaser",
    );
    // A third thread now takes it and holds it while "waiter" waits: the holder shown must be
    // the third thread, never the first acquirer.
    let taken = Arc::new(Event::new());
    let done = Arc::new(Event::new());
    let taker = {
        let (l, taken, done) = (Arc::clone(&lock), Arc::clone(&taken), Arc::clone(&done));
        Builder::new()
            .name("taker")
            .spawn(move || {
                let _g = l.acquire();
                taken.set();
                assert!(done.wait_timeout(T));
            })
            .unwrap()
    };
    assert!(taken.wait_timeout(T));
    let l3 = Arc::clone(&lock);
    let waiter = Builder::new()
        .name("waiter")
        .spawn(move || l3.acquire_timeout(T).is_some())
        .unwrap();
    let w = until_thread("waiter", |t| t.state == ThreadState::Blocked);
    let holder = w.waiting.unwrap().holder.expect("holder");
    assert_eq!(&*holder.thread.name, "taker");
    let dump = diagnostics::dump();
    let me = dump
        .threads
        .iter()
        .find(|t| t.thread.ident == threadkit::get_ident())
        .unwrap();
    assert!(me.holding.is_empty(), "{dump}");
    done.set();
    assert!(common::join_or_fail(waiter, "waiter"));
    common::join_or_fail(taker, "taker");
    // Released and never re-taken: nobody is shown holding it, nobody waiting.
    let dump = diagnostics::dump();
    assert!(
        dump.threads
            .iter()
            .all(|t| t.holding.is_empty() && t.waiting.is_none() || is_foreign(t.thread.ident)),
        "{dump}"
    );
}

#[test]
fn timed_out_wait_leaves_no_stale_record() {
    let _s = serial();
    let lock = Lock::named("never-free");
    let sem = Semaphore::named("empty", 0);
    let event = Event::named("never-set");
    let _g = lock.acquire();
    assert!(lock.acquire_timeout(Duration::from_millis(30)).is_none());
    assert!(sem.acquire_timeout(Duration::from_millis(30)).is_none());
    assert!(!event.wait_timeout(Duration::from_millis(30)));
    // Registered (a test harness thread is foreign until it asks), so the dump lists it.
    let me = threadkit::current_thread().ident().unwrap();
    let dump = diagnostics::dump();
    let t = dump.threads.iter().find(|t| t.thread.ident == me).unwrap();
    assert!(t.waiting.is_none(), "{dump}");
    assert_eq!(t.state, ThreadState::Runnable);
    // And from another thread, after its timeout.
    let h = Builder::new()
        .name("timer-outer")
        .spawn(|| {
            let e = Event::new();
            e.wait_timeout(Duration::from_millis(30))
        })
        .unwrap();
    assert!(!common::join_or_fail(h, "timer-outer"));
    let dump = diagnostics::dump();
    assert!(
        dump.threads
            .iter()
            .all(|t| &*t.thread.name != "timer-outer"),
        "{dump}"
    );
}

#[test]
fn dump_taken_while_every_other_thread_is_blocked() {
    let _s = serial();
    let a = Arc::new(Lock::named("A"));
    let b = Arc::new(Lock::named("B"));
    let both = Arc::new(Barrier::new(2));
    let spawn = |name: &str, first: Arc<Lock>, second: Arc<Lock>| {
        let both = Arc::clone(&both);
        Builder::new()
            .name(name)
            .spawn(move || {
                let _g = first.acquire();
                both.wait_timeout(T).unwrap();
                second.acquire_timeout(T).is_some()
            })
            .unwrap()
    };
    let x = spawn("x", Arc::clone(&a), Arc::clone(&b));
    let y = spawn("y", Arc::clone(&b), Arc::clone(&a));
    until_thread("x", |t| t.state == ThreadState::Blocked);
    until_thread("y", |t| t.state == ThreadState::Blocked);
    // The dumper runs while x and y are deadlocked and this thread is blocked joining it.
    let me = threadkit::get_ident();
    let dumper = Builder::new()
        .name("dumper")
        .spawn(move || {
            // Wait (bounded) until the test thread is blocked joining this one.
            let deadline = Instant::now() + T;
            loop {
                let d = diagnostics::dump();
                let joining = d.threads.iter().any(|t| {
                    t.thread.ident == me
                        && t.waiting.as_ref().is_some_and(|w| w.kind == WaitKind::Join)
                });
                if joining || Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let start = Instant::now();
            let d = diagnostics::dump();
            (start.elapsed(), d)
        })
        .unwrap();
    let (took, dump) = common::join_or_fail(dumper, "dumper");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(dump.deadlocks.len(), 1, "{dump}");
    let mine = dump.threads.iter().find(|t| t.thread.ident == me).unwrap();
    let w = mine.waiting.as_ref().expect("this thread is joining");
    assert_eq!(w.kind, WaitKind::Join);
    assert_eq!(&*w.joining.as_ref().unwrap().name, "dumper");
    common::join_or_fail(x, "x");
    common::join_or_fail(y, "y");
}

/// How long a dump of 1,000 blocked threads takes (a measurement, not a check: run with
/// `cargo test --release --test diagnostics -- --ignored --nocapture dump_of_1000`).
#[test]
#[ignore]
fn dump_of_1000_threads() {
    let _s = serial();
    let locks: Vec<Arc<Lock>> = (0..10)
        .map(|i| Arc::new(Lock::named(format!("shard-{i}"))))
        .collect();
    let guards: Vec<_> = locks.iter().map(|l| l.acquire()).collect();
    let mut handles = Vec::new();
    for i in 0..1000 {
        let l = Arc::clone(&locks[i % 10]);
        handles.push(
            Builder::new()
                .name(format!("worker-{i}"))
                .stack_size(64 * 1024)
                .spawn(move || l.acquire_timeout(Duration::from_secs(60)).is_some())
                .unwrap(),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while diagnostics::dump()
        .threads
        .iter()
        .filter(|t| t.state == ThreadState::Blocked)
        .count()
        < 1000
    {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut times = Vec::new();
    let mut text_len = 0;
    for _ in 0..5 {
        let t0 = Instant::now();
        let d = diagnostics::dump();
        let taken = t0.elapsed();
        let t1 = Instant::now();
        text_len = d.to_string().len();
        let formatted = t1.elapsed();
        times.push((taken, formatted));
        assert!(d.threads.len() >= 1000);
    }
    let t0 = Instant::now();
    let found = diagnostics::find_deadlocks();
    let finder = t0.elapsed();
    assert!(found.is_empty());
    println!("dump of 1,000 blocked threads (5 runs): snapshot, formatting ({text_len} bytes):");
    for (taken, formatted) in &times {
        println!("  {taken:?}, {formatted:?}");
    }
    println!("find_deadlocks with 1,000 blocked threads: {finder:?}");
    drop(guards);
    for h in handles {
        assert!(common::join_or_fail(h, "worker"));
    }
}

/// Whether `ident` is a live thread threadkit did not start (other tests' libtest threads).
fn is_foreign(ident: u64) -> bool {
    threadkit::enumerate()
        .iter()
        .any(|t| t.ident() == Some(ident) && format!("{t:?}").starts_with("DummyThread("))
}

/// `dump_on_signal` with a signal it cannot handle returns the error its docs promise: it used
/// to panic (inside `signal-hook`, which panics for the signals it forbids and for numbers out
/// of its range), and from Python that is a `PanicException` at start-up.
#[test]
#[cfg(all(feature = "signal", unix))]
fn dump_on_signal_refuses_unhandleable_signals_with_an_error() {
    use signal_hook::consts::{SIGKILL, SIGSEGV, SIGSTOP};
    for signal in [SIGKILL, SIGSTOP, SIGSEGV, -1, 1000] {
        let outcome = std::panic::catch_unwind(|| diagnostics::dump_on_signal(signal).is_err());
        assert!(
            matches!(outcome, Ok(true)),
            "signal {signal}: {}",
            if outcome.is_err() {
                "panicked"
            } else {
                "accepted"
            }
        );
    }
}
