//! `kill -QUIT <pid>` prints a thread dump to stderr (feature `signal`), tested on a child
//! process: this test binary runs itself again as the child (`THREADKIT_SIGNAL_CHILD=1`).
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use threadkit::{Builder, Event, Lock};

/// The child: a named thread holds a named lock, the main thread waits for it (3 s), with the
/// dump handler installed; prints "ready" once everything is in place.
fn child() {
    let _dump = threadkit::diagnostics::dump_on_signal(signal_hook::consts::SIGQUIT).unwrap();
    let lock = Arc::new(Lock::named("held"));
    let holding = Arc::new(Event::new());
    let (l, h) = (Arc::clone(&lock), Arc::clone(&holding));
    let holder = Builder::new()
        .name("sleeper")
        .spawn(move || {
            let _g = l.acquire();
            h.set();
            // Keep it while main waits: a deliberate critical section, bounded.
            std::thread::sleep(Duration::from_secs(3));
        })
        .unwrap();
    assert!(holding.wait_timeout(Duration::from_secs(5)));
    println!("ready");
    let got = lock.acquire_timeout(Duration::from_secs(10)).is_some();
    holder.join().unwrap();
    println!("child done: {got}");
}

#[test]
fn sigquit_prints_a_dump_of_the_child() {
    if std::env::var_os("THREADKIT_SIGNAL_CHILD").is_some() {
        child();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut c = Command::new(exe)
        .args([
            "--exact",
            "sigquit_prints_a_dump_of_the_child",
            "--nocapture",
        ])
        .env("THREADKIT_SIGNAL_CHILD", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(c.stdout.take().unwrap());
    let started = Instant::now();
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "child ended before ready"
        );
        if line.trim() == "ready" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20));
    }
    // Main is (about to be) blocked on "held": send the signal as a user would.
    let status = Command::new("kill")
        .args(["-QUIT", &c.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let mut err = String::new();
    c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = c.wait().unwrap();
    assert!(status.success(), "{status:?}\n{err}");
    assert!(rest.contains("child done"), "{rest}");
    assert!(err.contains("threadkit thread dump"), "{err}");
    assert!(err.contains("\"sleeper\""), "{err}");
    assert!(err.contains("Lock \"held\""), "{err}");
}
