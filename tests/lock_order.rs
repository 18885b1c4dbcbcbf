//! The lock-order checker: inversions that never deadlock are reported once, with names,
//! threads and the four call sites; the semantics that others get wrong stay silent. The
//! threads of a scenario run one after another (each joined before the next starts), so no test
//! can hang. The tests share the process's mode, hook and order graph, so they run one at a
//! time (SERIAL).
#![cfg(feature = "lock-order")]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard};
use std::time::Duration;

use threadkit::diagnostics::{self, LockOrderMode, PotentialDeadlock, Report};
use threadkit::{
    BoundedSemaphore, Builder, Condition, ConditionLock, Event, Lock, RLock, Semaphore,
};

static SERIAL: StdMutex<()> = StdMutex::new(());

const T: Duration = Duration::from_secs(5);

type Seen = Arc<StdMutex<Vec<PotentialDeadlock>>>;

/// Serializes the test, arms the checker in `mode` and captures its reports (any other report
/// fails the test: a potential deadlock must never come out as something else).
fn setup(mode: LockOrderMode) -> (MutexGuard<'static, ()>, Seen) {
    let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let seen: Seen = Arc::default();
    let sink = Arc::clone(&seen);
    diagnostics::set_report_hook(move |r: &Report| match r {
        Report::PotentialDeadlock(p) => sink.lock().unwrap().push(p.clone()),
        other => panic!("unexpected report: {other}"),
    });
    diagnostics::reset_lock_order();
    diagnostics::set_lock_order_mode(mode);
    (serial, seen)
}

/// Runs `f` on a thread named `name` and joins it (bounded).
fn on_thread<R: Send + 'static>(name: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let h = Builder::new().name(name).spawn(f).unwrap();
    common::join_or_fail(h, name)
}

fn count(seen: &Seen) -> usize {
    seen.lock().unwrap().len()
}

/// What the scenarios take in an order: a Lock, or a semaphore opted in with `with_lock_order`.
trait Take: Send + Sync + 'static {
    /// Runs `f` holding `self` (a blocking acquire).
    fn holding(&self, f: impl FnOnce());
}

/// `Take` by a blocking `acquire` and its guard.
macro_rules! take_by_acquire {
    ($($t:ty),*) => {$(
        impl Take for $t {
            fn holding(&self, f: impl FnOnce()) {
                let _g = self.acquire();
                f();
            }
        }
    )*};
}

take_by_acquire!(Lock, RLock, Semaphore, BoundedSemaphore);

/// On the calling thread: `a` then `b`, then `b` then `a` (an inversion when armed).
fn both_orders(a: &Lock, b: &Lock) {
    drop((a.acquire(), b.acquire()));
    drop((b.acquire(), a.acquire()));
}

/// Two new locks named `first` and `second`, with the order first → second recorded by a
/// thread named "alpha".
fn recorded_by_alpha(first: &str, second: &str) -> (Arc<Lock>, Arc<Lock>) {
    let (a, b) = (Arc::new(Lock::named(first)), Arc::new(Lock::named(second)));
    in_order("alpha", &a, &b);
    (a, b)
}

/// On a thread named `name` (joined): takes `first`, then `second` while holding it, which
/// records the order first → second.
fn in_order(name: &str, first: &Arc<impl Take>, second: &Arc<impl Take>) {
    let (a, b) = (Arc::clone(first), Arc::clone(second));
    on_thread(name, move || a.holding(|| b.holding(|| ())));
}

fn fl(site: threadkit::diagnostics::Site) -> String {
    format!("{}:{}", site.file(), site.line())
}

fn site(line: u32) -> String {
    format!("{}:{line}", file!())
}

#[test]
fn alpha_beta_inversion_reported_once_with_names_threads_and_four_sites() {
    let (_s, seen) = setup(LockOrderMode::Report);
    let accounts = Arc::new(Lock::named("accounts"));
    let ledger = Arc::new(Lock::named("ledger"));
    let (a, l) = (Arc::clone(&accounts), Arc::clone(&ledger));
    let (a1, a2) = on_thread("alpha", move || {
        let (l1, _g1) = (line!(), a.acquire());
        let (l2, _g2) = (line!(), l.acquire());
        (l1, l2)
    });
    assert_eq!(count(&seen), 0, "one order is no inversion");
    let beta = |accounts: Arc<Lock>, ledger: Arc<Lock>| {
        move || {
            let (l1, _g1) = (line!(), ledger.acquire());
            let (l2, _g2) = (line!(), accounts.acquire_timeout(T));
            (l1, l2)
        }
    };
    let (b1, b2) = on_thread("beta", beta(Arc::clone(&accounts), Arc::clone(&ledger)));
    assert!(
        diagnostics::find_deadlocks().is_empty(),
        "nothing is blocked"
    );
    let reports = seen.lock().unwrap().clone();
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let p = &reports[0];
    let text = p.to_string();
    assert_eq!(&*p.thread.name, "beta", "{text}");
    assert_eq!(p.acquiring.name.as_deref(), Some("accounts"), "{text}");
    assert_eq!(fl(p.site), site(b2), "{text}");
    assert!(p.timed);
    assert_eq!(p.held.len(), 1, "{text}");
    assert_eq!(p.held[0].lock.name.as_deref(), Some("ledger"));
    assert_eq!(fl(p.held[0].acquired_at), site(b1));
    assert_eq!(p.closing, p.held[0]);
    assert_eq!(p.chain.len(), 1, "{text}");
    let e = &p.chain[0];
    assert_eq!(e.from.name.as_deref(), Some("accounts"));
    assert_eq!(e.to.name.as_deref(), Some("ledger"));
    assert_eq!(&*e.thread.name, "alpha", "{text}");
    assert_eq!(fl(e.from_site), site(a1));
    assert_eq!(fl(e.to_site), site(a2));
    for needle in [
        "\"beta\"",
        "\"alpha\"",
        "Lock \"accounts\"",
        "Lock \"ledger\"",
        "POTENTIAL DEADLOCK",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    for l in [a1, a2, b1, b2] {
        assert!(text.contains(&site(l)), "{} missing:\n{text}", site(l));
    }
    assert!(!Report::PotentialDeadlock(p.clone())
        .to_string()
        .contains("Deadlock (cycle"));

    // Beta again (a new thread, with an empty edge cache): the cycle was reported already.
    on_thread("beta", beta(Arc::clone(&accounts), Arc::clone(&ledger)));
    assert_eq!(count(&seen), 1, "{:#?}", seen.lock().unwrap());
    diagnostics::reset_report_hook();
}

#[test]
fn three_lock_cycle_across_three_threads_is_one_report_with_the_chain() {
    let (_s, seen) = setup(LockOrderMode::Report);
    let locks: Vec<Arc<Lock>> = ["a", "b", "c"]
        .iter()
        .map(|n| Arc::new(Lock::named(*n)))
        .collect();
    for (i, name) in ["t1", "t2", "t3"].iter().enumerate() {
        let first = Arc::clone(&locks[i]);
        let second = Arc::clone(&locks[(i + 1) % 3]);
        on_thread(name, move || {
            let _f = first.acquire();
            let _s = second.acquire();
        });
    }
    let reports = seen.lock().unwrap().clone();
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let p = &reports[0];
    assert_eq!(&*p.thread.name, "t3");
    assert_eq!(p.acquiring.name.as_deref(), Some("a"));
    let chain: Vec<(String, String, String)> = p
        .chain
        .iter()
        .map(|e| {
            (
                e.from.name.as_deref().unwrap().to_string(),
                e.to.name.as_deref().unwrap().to_string(),
                e.thread.name.to_string(),
            )
        })
        .collect();
    let want = [("a", "b", "t1"), ("b", "c", "t2")].map(|(a, b, t)| (a.into(), b.into(), t.into()));
    assert_eq!(chain, want, "{p}");
    assert!(
        p.to_string()
            .contains("cycle: Lock \"a\" -> Lock \"b\" -> Lock \"c\" -> Lock \"a\""),
        "{p}"
    );
    diagnostics::reset_report_hook();
}

/// Runs the first order on "alpha", then `second` on "beta", and returns the report count.
fn silent_after(second: impl FnOnce(Arc<Lock>, Arc<Lock>) + Send + 'static) -> usize {
    let (_s, seen) = setup(LockOrderMode::Report);
    let (accounts, ledger) = recorded_by_alpha("accounts", "ledger");
    on_thread("beta", move || second(accounts, ledger));
    diagnostics::reset_report_hook();
    count(&seen)
}

#[test]
fn same_order_everywhere_is_silent() {
    let n = silent_after(|accounts, ledger| {
        let _a = accounts.acquire();
        let _l = ledger.acquire();
    });
    assert_eq!(n, 0);
}

#[test]
fn inner_try_acquire_is_silent() {
    let n = silent_after(|accounts, ledger| {
        let _l = ledger.acquire();
        let _a = accounts.try_acquire().expect("free");
    });
    assert_eq!(n, 0);
}

#[test]
fn a_try_acquired_lock_still_orders_later_acquires() {
    // Control for the one above: try_acquire records the lock as held.
    let n = silent_after(|accounts, ledger| {
        let _l = ledger.try_acquire().expect("free");
        let _a = accounts.acquire();
    });
    assert_eq!(n, 1);
}

#[test]
fn rlock_reentry_adds_no_edge() {
    let (_s, seen) = setup(LockOrderMode::Report);
    let outer = Arc::new(Lock::named("outer"));
    let r = Arc::new(RLock::named("r"));
    let (o, r2) = (Arc::clone(&outer), Arc::clone(&r));
    on_thread("alpha", move || {
        let _r1 = r2.acquire();
        let _o = o.acquire(); // r → outer
        let _r2 = r2.acquire(); // re-entry: would be outer → r if it counted
        let _r3 = r2.acquire_timeout(T).unwrap();
    });
    in_order("beta", &r, &outer); // r → outer again: consistent
    diagnostics::reset_report_hook();
    assert_eq!(count(&seen), 0, "{:#?}", seen.lock().unwrap());
}

#[test]
fn condition_wait_while_holding_another_lock_in_consistent_order_is_silent() {
    let (_s, seen) = setup(LockOrderMode::Report);
    let outer = Arc::new(Lock::named("outer"));
    let cond = Arc::new(Condition::with_lock(Lock::named("cond-lock")));
    let (o, c) = (Arc::clone(&outer), Arc::clone(&cond));
    on_thread("alpha", move || {
        let _o = o.acquire();
        let mut g = c.acquire(); // outer → cond-lock
                                 // Releases cond-lock for the wait and re-acquires it while holding outer: no new edge,
                                 // in particular none that a naive checker would add from the wait's re-acquire.
        assert!(!c.wait_timeout(&mut g, Duration::from_millis(20)));
        let _again = o.try_acquire(); // held: None; no effect on the order
    });
    on_thread("beta", move || {
        let _o = outer.acquire();
        let _g = cond.acquire();
    });
    diagnostics::reset_report_hook();
    assert_eq!(count(&seen), 0, "{:#?}", seen.lock().unwrap());
}

/// alpha, then beta: cond's lock, then inner (cond's lock → inner), then a wait on cond: the
/// wait's re-acquire of cond's lock while holding inner must not record inner → cond's lock (a
/// naive checker reports its own thread's orders as a cycle here: nanomsg#711, jemalloc#2718).
fn wait_while_holding_a_later_lock<L>(cond: Condition<L>) -> usize
where
    L: ConditionLock + Send + Sync + 'static,
{
    let (_s, seen) = setup(LockOrderMode::Report);
    let inner = Arc::new(Lock::named("inner"));
    let cond = Arc::new(cond);
    for name in ["alpha", "beta"] {
        let (i, c) = (Arc::clone(&inner), Arc::clone(&cond));
        on_thread(name, move || {
            let mut g = c.acquire();
            let _i = i.acquire();
            assert!(!c.wait_timeout(&mut g, Duration::from_millis(10)));
        });
    }
    diagnostics::reset_report_hook();
    count(&seen)
}

#[test]
fn condition_wait_reacquire_adds_no_edge_from_a_lock_taken_after_it() {
    assert_eq!(
        wait_while_holding_a_later_lock(Condition::with_lock(Lock::named("c"))),
        0
    );
    assert_eq!(
        wait_while_holding_a_later_lock(Condition::with_lock(RLock::named("c"))),
        0
    );
}

#[test]
fn mode_off_is_silent() {
    let (_s, seen) = setup(LockOrderMode::Off);
    both_orders(&Lock::named("a"), &Lock::named("b"));
    diagnostics::set_lock_order_mode(LockOrderMode::Report);
    diagnostics::reset_report_hook();
    assert_eq!(count(&seen), 0);
}

#[test]
fn a_dropped_lock_leaves_the_graph() {
    let (_s, seen) = setup(LockOrderMode::Report);
    let y = Lock::named("y");
    for _ in 0..50 {
        let x = Box::new(Lock::named("x"));
        {
            let _x = x.acquire();
            let _y = y.acquire(); // x → y
        }
        drop(x);
        // A new lock, quite possibly at the same address as the dropped one.
        let x2 = Box::new(Lock::named("x"));
        {
            let _y = y.acquire();
            let _x = x2.acquire(); // y → x2: no cycle with the dropped x
        }
    }
    diagnostics::reset_report_hook();
    assert_eq!(count(&seen), 0, "{:#?}", seen.lock().unwrap());
}

#[test]
fn a_lock_released_by_another_thread_leaves_its_acquirers_held_set() {
    let (_s, seen) = setup(LockOrderMode::Report);
    // alpha records other → handed.
    let (other, handed) = recorded_by_alpha("other", "handed");
    // beta acquires handed, gamma releases it (Python allows it), then beta takes other: beta
    // no longer holds handed, so this is not handed → other.
    let (h, o) = (Arc::clone(&handed), Arc::clone(&other));
    on_thread("beta", move || {
        h.acquire().forget();
        let h2 = Arc::clone(&h);
        on_thread("gamma", move || h2.release().unwrap());
        assert!(!h.locked());
        let _o = o.acquire();
    });
    diagnostics::reset_report_hook();
    assert_eq!(count(&seen), 0, "{:#?}", seen.lock().unwrap());
}

/// A release by another thread queued for the acquirer in one arming concerns that arming's
/// stack only: after a re-arming, the same lock acquired again by the acquirer is held, and
/// orders later acquires (here x → y, which beta then inverts: one report). alpha takes x while
/// the checker is off (so no stack shows it: main's release is queued for alpha, its
/// acquirer), main releases it once the checker is armed, the checker is re-armed, and alpha
/// takes x again.
#[test]
fn a_release_queued_before_a_rearming_does_not_unhold_the_lock_taken_after() {
    use std::sync::mpsc::channel;
    let (_s, seen) = setup(LockOrderMode::Report);
    let (x, y) = (Arc::new(Lock::named("x")), Arc::new(Lock::named("y")));
    let (step_tx, step_rx) = channel::<()>();
    let (go_tx, go_rx) = channel::<()>();
    let (x2, y2) = (Arc::clone(&x), Arc::clone(&y));
    let alpha = Builder::new()
        .name("alpha")
        .spawn(move || {
            drop(Lock::named("z").acquire()); // alpha's held stack exists (armed)
            step_tx.send(()).unwrap();
            go_rx.recv().unwrap(); // checker off
            x2.acquire().forget(); // on no stack
            step_tx.send(()).unwrap();
            go_rx.recv().unwrap(); // armed, x released by main, re-armed
            let _x = x2.acquire(); // held from here on
            let _y = y2.acquire(); // x → y
        })
        .unwrap();
    step_rx.recv().unwrap();
    diagnostics::set_lock_order_mode(LockOrderMode::Off);
    go_tx.send(()).unwrap();
    step_rx.recv().unwrap();
    diagnostics::set_lock_order_mode(LockOrderMode::Report);
    x.release().unwrap(); // queued for alpha, its acquirer
    diagnostics::set_lock_order_mode(LockOrderMode::Off);
    diagnostics::set_lock_order_mode(LockOrderMode::Report);
    go_tx.send(()).unwrap();
    common::join_or_fail(alpha, "alpha");
    in_order("beta", &y, &x);
    diagnostics::reset_report_hook();
    assert_eq!(count(&seen), 1, "{:#?}", seen.lock().unwrap());
}

#[test]
fn per_account_locks_in_a_consistent_order_are_silent() {
    // The documented way to take many same-kind locks: always in one order (here by account
    // number). Instance-level ids make any consistent order silent.
    let (_s, seen) = setup(LockOrderMode::Report);
    let accounts: Arc<Vec<Lock>> = Arc::new(
        (0..8)
            .map(|i| Lock::named(format!("account-{i}")))
            .collect(),
    );
    for t in 0..4 {
        let accounts = Arc::clone(&accounts);
        on_thread(&format!("teller-{t}"), move || {
            for i in 0..8usize {
                let j = (i * 3 + t + 1) % 8;
                if i == j {
                    continue;
                }
                let (lo, hi) = (i.min(j), i.max(j));
                let _a = accounts[lo].acquire();
                let _b = accounts[hi].acquire();
            }
        });
    }
    assert_eq!(count(&seen), 0, "{:#?}", seen.lock().unwrap());
    // Control: one transfer in the source-then-destination order inverts a recorded pair.
    let accounts2 = Arc::clone(&accounts);
    on_thread("careless", move || {
        let _a = accounts2[4].acquire();
        let _b = accounts2[1].acquire();
    });
    diagnostics::reset_report_hook();
    assert_eq!(count(&seen), 1);
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
