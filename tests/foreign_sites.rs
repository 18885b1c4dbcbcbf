//! Foreign call sites (`diagnostics::Site::foreign`, `with_call_site`,
//! `Diagnosable::set_created_at`): what a language binding uses so that its users read their
//! own source lines in dumps, deadlock reports and lock-order reports, never the binding's Rust.
//! Every blocking step has a timeout. The tests share the process's diagnostics switches, so
//! they run one at a time (SERIAL).
// The thread API is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

use std::sync::{Arc, Mutex as StdMutex, MutexGuard};
use std::time::{Duration, Instant};

use threadkit::diagnostics::{self, Diagnosable, LockOrderMode, Report, Site};
use threadkit::{Builder, Event, Lock};

static SERIAL: StdMutex<()> = StdMutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A dump taken while "py-waiter" waits (under the foreign call site `app.py:21`) for a Lock
/// created at `app.py:13` and acquired by "py-holder" at `app.py:19` names only those sites.
#[test]
fn dump_shows_foreign_creation_wait_and_holder_sites() {
    let _s = serial();
    diagnostics::set_holder_sites(true);
    let lock = Arc::new(Lock::new());
    lock.set_created_at(Site::foreign("app.py", 13));
    assert_eq!(lock.object_info().label(), "Lock@app.py:13");
    let held = Arc::new(Event::new());
    let done = Arc::new(Event::new());
    let holder = {
        let (lock, held, done) = (Arc::clone(&lock), Arc::clone(&held), Arc::clone(&done));
        Builder::new()
            .name("py-holder")
            .spawn(move || {
                let g = diagnostics::with_call_site(Site::foreign("app.py", 19), || lock.acquire());
                held.set();
                assert!(done.wait_timeout(Duration::from_secs(10)));
                drop(g);
            })
            .unwrap()
    };
    assert!(held.wait_timeout(Duration::from_secs(10)));
    let waiter = {
        let lock = Arc::clone(&lock);
        Builder::new()
            .name("py-waiter")
            .spawn(move || {
                diagnostics::with_call_site(Site::foreign("app.py", 21), || {
                    lock.acquire_timeout(Duration::from_secs(10)).is_some()
                })
            })
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let wait = loop {
        let dump = diagnostics::dump();
        let found = dump
            .threads
            .iter()
            .find(|t| &*t.thread.name == "py-waiter")
            .and_then(|t| t.waiting.clone());
        if let Some(w) = found {
            let text = dump.to_string();
            assert!(text.contains("Lock@app.py:13"), "{text}");
            assert!(text.contains("at app.py:21"), "{text}");
            assert!(text.contains("acquired at app.py:19"), "{text}");
            break w;
        }
        assert!(
            Instant::now() < deadline,
            "py-waiter never blocked:\n{dump}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(wait.site, Site::foreign("app.py", 21));
    assert!(wait.site.is_foreign());
    assert_eq!(
        wait.object.unwrap().created_at,
        Some(Site::foreign("app.py", 13))
    );
    let holder_info = wait.holder.expect("a holder");
    assert_eq!(&*holder_info.thread.name, "py-holder");
    assert_eq!(holder_info.acquired_at, Some(Site::foreign("app.py", 19)));
    done.set();
    holder.join().unwrap();
    assert!(waiter.join().unwrap());
    // Outside `with_call_site`, the Rust caller's own location again.
    let here = Site::caller();
    let _g = lock.acquire();
    assert_ne!(here, Site::foreign("app.py", 19));
}

/// The lock-order checker's report names the foreign sites of both orders.
#[test]
fn lock_order_report_uses_foreign_sites() {
    let _s = serial();
    let seen = Arc::new(StdMutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    diagnostics::set_report_hook(move |r: &Report| {
        if let Report::PotentialDeadlock(p) = r {
            sink.lock().unwrap().push(p.to_string());
        }
    });
    diagnostics::set_lock_order_mode(LockOrderMode::Report);
    let a = Lock::new();
    let b = Lock::new();
    a.set_created_at(Site::foreign("bank.py", 1));
    b.set_created_at(Site::foreign("bank.py", 2));
    let at =
        |line, f: &mut dyn FnMut()| diagnostics::with_call_site(Site::foreign("bank.py", line), f);
    {
        let mut ga = None;
        let mut gb = None;
        at(10, &mut || ga = Some(a.acquire()));
        at(11, &mut || gb = Some(b.acquire()));
    }
    {
        let mut gb = None;
        let mut ga = None;
        at(20, &mut || gb = Some(b.acquire()));
        at(21, &mut || ga = Some(a.acquire()));
    }
    diagnostics::set_lock_order_mode(LockOrderMode::Off);
    diagnostics::reset_report_hook();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let text = &seen[0];
    for expect in [
        "is acquiring Lock@bank.py:1",
        "at bank.py:21",
        "Lock@bank.py:2 #",
        "acquired at bank.py:20",
        "holding the first (acquired at bank.py:10), acquiring at bank.py:11",
    ] {
        assert!(text.contains(expect), "{expect:?} not in:\n{text}");
    }
    assert!(!text.contains(".rs:"), "{text}");
}
