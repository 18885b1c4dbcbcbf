//! Diagnostics: the deadlock finder, each cycle provoked for real: an ABBA between two named
//! Locks (one cycle, the names and the four call sites, then nothing once the timeouts break
//! it) and a cycle through a join. Every blocking step has a timeout, so a broken finder fails
//! the test instead of hanging it. The tests share the process's wait-for graph, so they run one
//! at a time (SERIAL).
// The thread API is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

mod common;

use common::diag::{serial, until_thread};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use threadkit::diagnostics::{self, ThreadState, WaitKind};
use threadkit::{Barrier, Builder, Event, Lock};

const T: Duration = Duration::from_secs(5);

/// Spins (yielding) until `go` is set, for at most 10 s: alive, but blocked in nothing threadkit
/// can see.
fn stay_until(go: &AtomicBool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !go.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::yield_now();
    }
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
