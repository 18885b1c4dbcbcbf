//! The lock-order checker's modes and reach: panic mode (before blocking, and while
//! unwinding), a report hook that takes locks, semaphores left out or opted in, backtraces per
//! edge, the report's text and the thread dump's held locks. As in tests/lock_order.rs, the
//! threads of a scenario run one after another and the tests run one at a time (SERIAL).
// The thread API is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]
#![cfg(feature = "lock-order")]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use common::lock_order::*;
use threadkit::diagnostics::{self, LockOrderMode, PotentialDeadlock, Report};
use threadkit::{BoundedSemaphore, Builder, Event, Lock, RLock, Semaphore};

fn site(line: u32) -> String {
    format!("{}:{line}", file!())
}

#[test]
fn semaphores_are_not_locks() {
    let (_s, seen) = setup(LockOrderMode::Report);
    let a = Lock::named("a");
    let s = Semaphore::new(1);
    {
        let _a = a.acquire();
        let _p = s.acquire();
    }
    {
        let _p = s.acquire();
        let _a = a.acquire();
    }
    diagnostics::reset_report_hook();
    assert_eq!(count(&seen), 0);
}

#[test]
fn panic_mode_panics_before_blocking_and_leaves_every_lock_free() {
    let (_s, seen) = setup(LockOrderMode::Panic);
    let (accounts, ledger) = recorded_by_alpha("accounts", "ledger");
    let (a, l) = (Arc::clone(&accounts), Arc::clone(&ledger));
    let msg = on_thread("beta", move || {
        let err = catch_unwind(AssertUnwindSafe(|| {
            let _l = l.acquire();
            let _a = a.acquire();
        }))
        .expect_err("the inverted acquire panics");
        err.downcast_ref::<String>().cloned().unwrap_or_default()
    });
    diagnostics::set_lock_order_mode(LockOrderMode::Report);
    diagnostics::reset_report_hook();
    assert!(
        msg.contains("Lock \"accounts\"") && msg.contains("Lock \"ledger\""),
        "{msg}"
    );
    assert!(!accounts.locked() && !ledger.locked());
    assert!(accounts.try_acquire().is_some() && ledger.try_acquire().is_some());
    assert_eq!(count(&seen), 0, "a panic, not a report");
}

/// The environment variable that makes [`child_inverts_in_a_drop_while_unwinding`] run.
const CHILD: &str = "THREADKIT_LOCK_ORDER_TEST_CHILD";

/// In Panic mode, an inverted acquire made by a `Drop` while the thread is already unwinding
/// from another panic cannot panic (a panic during unwinding aborts the process: every test of
/// the binary dies, and the first panic's own test is lost with them): it is reported instead.
/// Run as a child process (an abort cannot be caught).
#[test]
fn panic_mode_reports_an_inversion_made_while_unwinding_instead_of_aborting() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_inverts_in_a_drop_while_unwinding",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success() && stdout.contains("survived with 1 report"),
        "child: {:?}\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
}

/// The child of the test above (does nothing unless run by it).
#[test]
fn child_inverts_in_a_drop_while_unwinding() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let (_s, seen) = setup(LockOrderMode::Panic);
    let (a, b) = (Arc::new(Lock::named("a")), Arc::new(Lock::named("b")));
    record_a_then_b(&a, &b);
    struct InvertOnDrop(Arc<Lock>, Arc<Lock>);
    impl Drop for InvertOnDrop {
        fn drop(&mut self) {
            let _b = self.1.acquire();
            let _a = self.0.acquire(); // b -> a inverts a -> b
        }
    }
    let unwound = catch_unwind(AssertUnwindSafe(|| {
        let _cleanup = InvertOnDrop(Arc::clone(&a), Arc::clone(&b));
        panic!("the test's own failure");
    }));
    assert!(unwound.is_err());
    diagnostics::reset_report_hook();
    println!("survived with {} report", count(&seen));
}

#[test]
fn a_hook_that_takes_locks_is_not_checked_against_the_acquire_it_reports() {
    let (_s, seen) = setup(LockOrderMode::Report);
    let side = Arc::new(Lock::named("hook-side"));
    let sink = Arc::clone(&seen);
    let side2 = Arc::clone(&side);
    diagnostics::set_report_hook(move |r: &Report| {
        let _g = side2.acquire();
        if let Report::PotentialDeadlock(p) = r {
            sink.lock().unwrap().push(p.clone());
        }
    });
    both_orders(&Lock::named("a"), &Lock::named("b"));
    diagnostics::reset_report_hook();
    assert_eq!(count(&seen), 1);
    assert!(!side.locked());
}

#[test]
fn an_opted_in_semaphore_takes_part_in_the_order() {
    let (_s, seen) = setup(LockOrderMode::Report);
    let index = Arc::new(Lock::named("index"));
    let disk = Arc::new(Semaphore::named("disk", 1).with_lock_order());
    in_order("alpha", &disk, &index);
    assert_eq!(count(&seen), 0);
    let (i, d) = (Arc::clone(&index), Arc::clone(&disk));
    let line = on_thread("beta", move || {
        let _i = i.acquire();
        let (line, _d) = (line!(), d.acquire_timeout(T)); // index → disk: inverted
        line
    });
    let reports = seen.lock().unwrap().clone();
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let p = &reports[0];
    assert_eq!(p.acquiring.kind, diagnostics::ObjectKind::Semaphore, "{p}");
    assert_eq!(p.acquiring.name.as_deref(), Some("disk"));
    assert_eq!(fl(p.site), site(line), "{p}");
    assert_eq!(p.held[0].lock.name.as_deref(), Some("index"));
    assert_eq!(p.chain[0].from.name.as_deref(), Some("disk"));
    assert_eq!(&*p.chain[0].thread.name, "alpha");
    assert!(p.to_string().contains("Semaphore \"disk\""), "{p}");

    // A BoundedSemaphore opts in the same way; a try_acquire records it as held.
    let bounded = Arc::new(BoundedSemaphore::named("tape", 1).with_lock_order());
    in_order("gamma", &index, &bounded);
    on_thread("delta", move || {
        let _b = bounded.try_acquire().expect("free");
        let _i = index.acquire(); // tape → index: inverted
    });
    diagnostics::reset_report_hook();
    assert_eq!(count(&seen), 2, "{:#?}", seen.lock().unwrap());
}

#[test]
fn an_opted_in_semaphore_released_by_another_thread_leaves_the_holders_list() {
    let (_s, seen) = setup(LockOrderMode::Report);
    let index = Arc::new(Lock::named("index"));
    let disk = Arc::new(Semaphore::named("disk", 1).with_lock_order());
    in_order("alpha", &index, &disk);
    // beta takes disk; gamma gives it back (a semaphore's release may come from anyone); then
    // beta takes index: beta no longer holds disk, so this is not disk → index.
    let (i, d) = (Arc::clone(&index), Arc::clone(&disk));
    on_thread("beta", move || {
        d.acquire().forget();
        let d2 = Arc::clone(&d);
        on_thread("gamma", move || d2.release(1));
        let _i = i.acquire();
    });
    assert_eq!(count(&seen), 0, "{:#?}", seen.lock().unwrap());
    // Control: kept by beta, the same acquire inverts the order.
    in_order("beta", &disk, &index);
    diagnostics::reset_report_hook();
    assert_eq!(count(&seen), 1);
}

#[test]
fn backtraces_per_edge_only_when_switched_on() {
    let run = |tag: &str| -> PotentialDeadlock {
        let (_s, seen) = setup(LockOrderMode::Report);
        let a = Arc::new(Lock::named(format!("{tag}-a")));
        let b = Arc::new(Lock::named(format!("{tag}-b")));
        let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
        on_thread("alpha", move || record_a_then_b(&a2, &b2));
        in_order("beta", &b, &a);
        diagnostics::reset_report_hook();
        let reports = seen.lock().unwrap().clone();
        assert_eq!(reports.len(), 1, "{reports:#?}");
        reports.into_iter().next().unwrap()
    };
    assert!(
        !diagnostics::lock_order_backtraces()
            || std::env::var_os("THREADKIT_LOCK_ORDER_BACKTRACE").is_some()
    );
    diagnostics::set_lock_order_backtraces(false);
    let off = run("plain");
    assert!(off.chain[0].backtrace.is_none());
    assert!(
        !off.to_string().contains("order first recorded at"),
        "{off}"
    );

    diagnostics::set_lock_order_backtraces(true);
    let on = run("traced");
    diagnostics::set_lock_order_backtraces(false);
    assert!(on.chain[0].backtrace.is_some());
    let text = on.to_string();
    // Printed under the edge it belongs to, with the frame of the function that took the
    // order (debug info is on in test builds).
    let edge = text.find("first by \"alpha\"").expect("edge line");
    let bt = text
        .find("      order first recorded at:")
        .expect("backtrace header");
    assert!(bt > edge, "{text}");
    assert!(text[bt..].contains("record_a_then_b"), "{text}");
}

/// Alpha's half of the backtrace test: named so that its frame can be found.
#[inline(never)]
fn record_a_then_b(a: &Lock, b: &Lock) {
    let _a = a.acquire();
    let _b = b.acquire();
}

#[test]
fn three_lock_cycle_report_text_has_one_column_per_thread() {
    let (_s, seen) = setup(LockOrderMode::Report);
    let locks: Vec<Arc<Lock>> = ["a", "b", "c"]
        .iter()
        .map(|n| Arc::new(Lock::named(*n)))
        .collect();
    let mut lines = Vec::new();
    for (i, name) in ["t1", "t2", "t3"].iter().enumerate() {
        let first = Arc::clone(&locks[i]);
        let second = Arc::clone(&locks[(i + 1) % 3]);
        lines.push(on_thread(name, move || {
            let (l1, _f) = (line!(), first.acquire());
            let (l2, _s) = (line!(), second.acquire());
            (l1, l2)
        }));
    }
    diagnostics::reset_report_hook();
    let reports = seen.lock().unwrap().clone();
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let p = &reports[0];
    let text = p.to_string();
    let who = |t: &threadkit::diagnostics::ThreadRef| format!("\"{}\" #{}", t.name, t.ident);
    let step = |lock: &str, line: u32| format!("lock(Lock \"{lock}\") at {}", site(line));
    let (t3, t1, t2) = (
        who(&p.thread),
        who(&p.chain[0].thread),
        who(&p.chain[1].thread),
    );
    assert!(t1.starts_with("\"t1\"") && t2.starts_with("\"t2\"") && t3.starts_with("\"t3\""));
    let e = String::new;
    let want: Vec<Vec<String>> = vec![
        vec![t3, t1, t2],
        vec!["----".into(), "----".into(), "----".into()],
        // Each takes its first lock...
        vec![step("c", lines[2].0), e(), e()],
        vec![e(), step("a", lines[0].0), e()],
        vec![e(), e(), step("b", lines[1].0)],
        // ...then each waits for its second, which the next one holds.
        vec![e(), step("b", lines[0].1), e()],
        vec![e(), e(), step("c", lines[1].1)],
        vec![step("a", lines[2].1), e(), e()],
    ];
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("  possible interleaving (3 threads"))
        .skip(1)
        .take_while(|l| !l.contains("POTENTIAL DEADLOCK"))
        .collect();
    let cells: Vec<Vec<String>> = table
        .iter()
        .map(|l| l.split('|').map(|c| c.trim().to_string()).collect())
        .collect();
    assert_eq!(cells, want, "{text}");
    // The columns line up: every separator at the same offsets.
    let bars = |l: &str| l.match_indices('|').map(|(i, _)| i).collect::<Vec<_>>();
    assert!(table.iter().all(|l| bars(l) == bars(table[0])), "{text}");
    assert!(
        text.contains("cycle: Lock \"a\" -> Lock \"b\" -> Lock \"c\" -> Lock \"a\""),
        "{text}"
    );
}

#[test]
fn dump_lists_every_lock_a_thread_holds_with_site_and_time() {
    let (_s, _seen) = setup(LockOrderMode::Report);
    diagnostics::set_holder_sites(true);
    let ledger = Arc::new(Lock::named("ledger"));
    let journal = Arc::new(RLock::named("journal"));
    let disk = Arc::new(Semaphore::named("disk", 1).with_lock_order());
    let spare = Arc::new(Lock::named("spare"));
    let ready = Arc::new(Event::new());
    let release = Arc::new(Event::new());
    let keeper = {
        let (l, j, d, s) = (
            Arc::clone(&ledger),
            Arc::clone(&journal),
            Arc::clone(&disk),
            Arc::clone(&spare),
        );
        let (ready, release) = (Arc::clone(&ready), Arc::clone(&release));
        Builder::new()
            .name("keeper")
            .spawn(move || {
                let (l1, _l) = (line!(), l.acquire());
                let (l2, _j) = (line!(), j.acquire());
                let _j2 = j.acquire(); // re-entry: no second entry
                let (l3, _d) = (line!(), d.acquire());
                let (l4, _s) = (line!(), s.try_acquire().expect("free"));
                ready.set();
                assert!(release.wait_timeout(T));
                [l1, l2, l3, l4]
            })
            .unwrap()
    };
    assert!(ready.wait_timeout(T));
    let (mine, _m) = (line!(), spare.acquire_timeout(Duration::ZERO)); // held by keeper: None
    assert!(_m.is_none());
    let main_lock = Lock::named("main-held");
    let (main_line, _g) = (line!(), main_lock.acquire());
    let _ = mine;

    let dump = diagnostics::dump();
    assert!(dump.held_complete);
    let text = dump.to_string();
    assert!(!text.contains("(held locks: only those"), "{text}");
    let keeper_snap = dump
        .threads
        .iter()
        .find(|t| &*t.thread.name == "keeper")
        .expect("keeper in the dump")
        .clone();
    let me = dump
        .threads
        .iter()
        .find(|t| t.thread.ident == threadkit::get_ident())
        .expect("main in the dump")
        .clone();
    diagnostics::set_lock_order_mode(LockOrderMode::Off);
    let disarmed = diagnostics::dump();
    diagnostics::set_lock_order_mode(LockOrderMode::Report);
    release.set();
    let lines = common::join_or_fail(keeper, "keeper");

    let held: Vec<(String, Option<&str>, String, bool, usize)> = keeper_snap
        .holding
        .iter()
        .map(|h| {
            (
                h.object.kind.as_str().to_string(),
                h.object.name.as_deref(),
                fl(h.acquired_at.expect("site")),
                h.held_for.is_some(),
                h.waiters,
            )
        })
        .collect();
    let want: Vec<(String, Option<&str>, String, bool, usize)> = [
        ("Lock", "ledger", lines[0]),
        ("RLock", "journal", lines[1]),
        ("Semaphore", "disk", lines[2]),
        ("Lock", "spare", lines[3]),
    ]
    .iter()
    .map(|&(k, n, l)| (k.to_string(), Some(n), site(l), true, 0))
    .collect();
    assert_eq!(held, want, "{text}");
    let para = keeper_snap.to_string();
    for (i, (kind, name)) in [
        ("Lock", "ledger"),
        ("RLock", "journal"),
        ("Semaphore", "disk"),
        ("Lock", "spare"),
    ]
    .iter()
    .enumerate()
    {
        let id = keeper_snap.holding[i].object.id;
        let head = format!(
            "    holding {kind} \"{name}\" #{id}, acquired at {}, for ",
            site(lines[i])
        );
        assert!(
            para.lines()
                .any(|l| l.starts_with(&head) && l.ends_with('s')),
            "{head:?} missing:\n{para}"
        );
    }
    assert!(
        me.holding
            .iter()
            .any(|h| h.object.name.as_deref() == Some("main-held")
                && h.acquired_at.map(fl) == Some(site(main_line))),
        "{text}"
    );
    // Disarmed, only what waiters show is known, and the dump says so.
    assert!(!disarmed.held_complete);
    let keeper_off = disarmed
        .threads
        .iter()
        .find(|t| &*t.thread.name == "keeper")
        .expect("keeper");
    assert!(keeper_off.holding.is_empty(), "{disarmed}");
    assert!(
        disarmed.to_string().contains(
            "(held locks: only those a thread waits for; arm the lock-order checker to list every \
             lock held"
        ),
        "{disarmed}"
    );
}
