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
use threadkit::{Builder, Condition, ConditionLock, Lock, RLock, Semaphore};

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
    let accounts = Arc::new(Lock::named("accounts"));
    let ledger = Arc::new(Lock::named("ledger"));
    let (a, l) = (Arc::clone(&accounts), Arc::clone(&ledger));
    on_thread("alpha", move || {
        let _a = a.acquire();
        let _l = l.acquire();
    });
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
    on_thread("beta", move || {
        let _r = r.acquire();
        let _o = outer.acquire(); // r → outer again: consistent
    });
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
    let a = Lock::named("a");
    let b = Lock::named("b");
    {
        let _a = a.acquire();
        let _b = b.acquire();
    }
    {
        let _b = b.acquire();
        let _a = a.acquire();
    }
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
    let handed = Arc::new(Lock::named("handed"));
    let other = Arc::new(Lock::named("other"));
    // alpha records other → handed.
    let (h, o) = (Arc::clone(&handed), Arc::clone(&other));
    on_thread("alpha", move || {
        let _o = o.acquire();
        let _h = h.acquire();
    });
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
    let accounts = Arc::new(Lock::named("accounts"));
    let ledger = Arc::new(Lock::named("ledger"));
    let (a, l) = (Arc::clone(&accounts), Arc::clone(&ledger));
    on_thread("alpha", move || {
        let _a = a.acquire();
        let _l = l.acquire();
    });
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
    let a = Lock::named("a");
    let b = Lock::named("b");
    {
        let _a = a.acquire();
        let _b = b.acquire();
    }
    {
        let _b = b.acquire();
        let _a = a.acquire();
    }
    diagnostics::reset_report_hook();
    assert_eq!(count(&seen), 1);
    assert!(!side.locked());
}
