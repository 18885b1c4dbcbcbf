//! The lock-order checker: inversions that never deadlock are reported once, with names,
//! threads and the four call sites; the semantics that others get wrong stay silent. The
//! threads of a scenario run one after another (each joined before the next starts), so no test
//! can hang. The tests share the process's mode, hook and order graph, so they run one at a
//! time (SERIAL).
// The thread API is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]
#![cfg(feature = "lock-order")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::lock_order::*;
use threadkit::diagnostics::{self, LockOrderMode, Report};
use threadkit::{Builder, Condition, ConditionLock, Lock, RLock};

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
