//! Diagnostics: the thread dump, the deadlock finder, the watchdog and the contention profile,
//! each provoked for real. Every blocking step has a timeout, so a broken detector fails the
//! test instead of hanging it. The tests share the process's wait-for graph, so they run one at
//! a time (SERIAL).

mod common;

use common::diag::{serial, until_thread};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use threadkit::diagnostics::{self, Report, ThreadSnapshot, ThreadState, WaitKind};
use threadkit::{Barrier, Builder, Condition, Event, Lock, RLock, Semaphore};

const T: Duration = Duration::from_secs(5);

/// Spins (yielding) until `go` is set, for at most 10 s: alive, but blocked in nothing threadkit
/// can see.
fn stay_until(go: &AtomicBool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !go.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::yield_now();
    }
}

fn blocked(t: &ThreadSnapshot) -> bool {
    t.waiting.is_some()
}

fn site(file: &str, line: u32) -> String {
    format!("{file}:{line}")
}

#[test]
fn abba_is_one_cycle_with_names_and_four_sites_then_nothing() {
    let _s = serial();
    let accounts = Arc::new(Lock::named("accounts"));
    let ledger = Arc::new(Lock::named("ledger"));
    let both_hold = Arc::new(Barrier::new(3));
    let lines = Arc::new(StdMutex::new([0u32; 4]));

    let go = Arc::new(AtomicBool::new(false));
    // Two different bodies, so the four call sites differ.
    let alpha = {
        let (b, lines, go) = (Arc::clone(&both_hold), Arc::clone(&lines), Arc::clone(&go));
        let (accounts, ledger) = (Arc::clone(&accounts), Arc::clone(&ledger));
        Builder::new()
            .name("alpha")
            .spawn(move || {
                let (l1, g1) = (line!(), accounts.acquire());
                b.wait_timeout(T).expect("barrier");
                let (l2, got) = (line!(), ledger.acquire_timeout(T));
                lines.lock().unwrap()[0..2].copy_from_slice(&[l1, l2]);
                drop(g1);
                drop(got);
                // Stay alive, not blocked in threadkit, until the test has looked (bounded).
                stay_until(&go);
                true
            })
            .unwrap()
    };
    let beta = {
        let (b, lines, go) = (Arc::clone(&both_hold), Arc::clone(&lines), Arc::clone(&go));
        let (accounts, ledger) = (Arc::clone(&accounts), Arc::clone(&ledger));
        Builder::new()
            .name("beta")
            .spawn(move || {
                let (l1, g1) = (line!(), ledger.acquire());
                b.wait_timeout(T).expect("barrier");
                let (l2, got) = (line!(), accounts.acquire_timeout(T));
                lines.lock().unwrap()[2..4].copy_from_slice(&[l1, l2]);
                drop(g1);
                drop(got);
                // Stay alive, not blocked in threadkit, until the test has looked (bounded).
                stay_until(&go);
                true
            })
            .unwrap()
    };
    both_hold.wait_timeout(T).expect("barrier");
    until_thread("alpha", |t| t.state == ThreadState::Blocked);
    until_thread("beta", |t| t.state == ThreadState::Blocked);

    let found = diagnostics::find_deadlocks();
    assert_eq!(
        found.len(),
        1,
        "{found:#?}\n{:#?}",
        diagnostics::dump()
            .threads
            .iter()
            .find(|t| &*t.thread.name == "alpha")
    );
    let cycle = &found[0];
    let text = cycle.to_string();
    // After the timeouts, with both threads still alive (not blocked in threadkit): no stale
    // wait, no stale cycle.
    until_thread("alpha", |t| t.waiting.is_none() && t.holding.is_empty());
    until_thread("beta", |t| t.waiting.is_none() && t.holding.is_empty());
    assert!(diagnostics::find_deadlocks().is_empty());
    go.store(true, Ordering::SeqCst);
    common::join_or_fail(alpha, "alpha");
    common::join_or_fail(beta, "beta");
    let [a1, a2, b1, b2] = *lines.lock().unwrap();
    assert!(a1 != b1 && a2 != b2 && a1 != a2, "four distinct sites");
    let file = file!();
    assert_eq!(cycle.links.len(), 2, "{text}");
    for (name, waits_for, lock, wait_line, holder_line) in [
        ("alpha", "beta", "ledger", a2, b1),
        ("beta", "alpha", "accounts", b2, a1),
    ] {
        let l = cycle
            .links
            .iter()
            .find(|l| &*l.thread.name == name)
            .unwrap_or_else(|| panic!("{name} not in the cycle:\n{text}"));
        assert_eq!(&*l.waits_for.name, waits_for, "{text}");
        assert_eq!(l.kind, WaitKind::Lock);
        let obj = l.object.as_ref().expect("a lock");
        assert_eq!(obj.name.as_deref(), Some(lock));
        assert_eq!(
            (l.waiting_at.file(), l.waiting_at.line()),
            (file, wait_line)
        );
        let held = l.held_since.expect("holder's site");
        assert_eq!((held.file(), held.line()), (file, holder_line));
        assert!(text.contains(&site(file, wait_line)), "{text}");
        assert!(text.contains(&site(file, holder_line)), "{text}");
        assert!(l.timeout_in.is_some());
    }
    assert!(
        text.contains("\"alpha\"") && text.contains("\"beta\""),
        "{text}"
    );
    assert!(
        text.contains("Lock \"accounts\"") && text.contains("Lock \"ledger\""),
        "{text}"
    );

    assert!(diagnostics::find_deadlocks().is_empty());
    let dump = diagnostics::dump();
    assert!(
        dump.threads
            .iter()
            .all(|t| &*t.thread.name != "alpha" && &*t.thread.name != "beta"),
        "{dump}"
    );
}

#[test]
fn join_cycle_is_found_with_the_join_edge() {
    let _s = serial();
    let l = Arc::new(Lock::named("L"));
    let l_held = Arc::new(Event::new());
    // T2 waits for T1 to hold L, then waits (5 s) for L.
    let t2 = {
        let (l, held) = (Arc::clone(&l), Arc::clone(&l_held));
        Builder::new()
            .name("t2")
            .spawn(move || {
                assert!(held.wait_timeout(T));
                l.acquire_timeout(T).is_some()
            })
            .unwrap()
    };
    let t2_thread = t2.thread().clone();
    // T1 holds L and joins T2.
    let t1 = {
        let (l, held) = (Arc::clone(&l), Arc::clone(&l_held));
        Builder::new()
            .name("t1")
            .spawn(move || {
                let _g = l.acquire();
                held.set();
                t2_thread.join_timeout(T * 2).unwrap()
            })
            .unwrap()
    };
    until_thread("t1", |t| {
        t.waiting.as_ref().is_some_and(|w| w.kind == WaitKind::Join)
    });
    until_thread("t2", |t| t.state == ThreadState::Blocked);
    let found = diagnostics::find_deadlocks();
    assert_eq!(found.len(), 1, "{found:#?}");
    let text = found[0].to_string();
    let join = found[0]
        .links
        .iter()
        .find(|l| &*l.thread.name == "t1")
        .expect("t1 in cycle");
    assert_eq!(join.kind, WaitKind::Join, "{text}");
    assert_eq!(&*join.waits_for.name, "t2");
    assert!(join.object.is_none());
    assert!(text.contains("waits to join \"t2\""), "{text}");
    let lock = found[0]
        .links
        .iter()
        .find(|l| &*l.thread.name == "t2")
        .unwrap();
    assert_eq!(&*lock.waits_for.name, "t1", "{text}");
    // T2 times out on L and ends; T1's join returns.
    assert!(!common::join_or_fail(t2, "t2"));
    assert!(common::join_or_fail(t1, "t1"));
    assert!(diagnostics::find_deadlocks().is_empty());
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
    // Call and creation sites: checked against line!() in the ABBA test; masked here.
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

/// Whether `ident` is a live thread threadkit did not start (other tests' libtest threads).
fn is_foreign(ident: u64) -> bool {
    threadkit::enumerate()
        .iter()
        .any(|t| t.ident() == Some(ident) && format!("{t:?}").starts_with("DummyThread("))
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
