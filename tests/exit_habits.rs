//! Issue 13, in child processes: ending a process whose non-daemon worker never finishes
//! (`exit_now`, `set_exit_timeout`), and how threadkit's panic hook composes with the program's
//! own (an earlier hook is chained, a later one keeps the location) and prints std's short
//! backtrace.
//!
//! As tests/exit.rs: `harness = false`; run with no argument it is the driver, which re-runs this
//! executable once per scenario (`--scenario NAME`, with the scenario's environment) and checks
//! what the child printed, its exit status and how long it took.

#[cfg(loom)]
fn main() {}

#[cfg(not(loom))]
mod common;

#[cfg(not(loom))]
use common::child::{
    expect_between, expect_status, expect_stderr_contains, expect_stderr_lacks, expect_stdout,
    Scenario,
};
#[cfg(not(loom))]
use std::process::Output;
#[cfg(not(loom))]
use std::sync::Arc;
#[cfg(not(loom))]
use std::time::Duration;

#[cfg(not(loom))]
use threadkit::queue::Queue;
#[cfg(not(loom))]
use threadkit::{main_thread, Builder, Event, Local};

/// The line threadkit writes when the exit timeout runs out.
#[cfg(not(loom))]
const NOT_WAITED: &str =
    "for non-daemon threads; not waiting for 1 still running: Thread(stuck, started";

#[cfg(not(loom))]
const SCENARIOS: &[Scenario] = &[
    Scenario {
        // A worker blocked for good in `q.get()`; with a timeout, `main` returning ends the
        // process after the callbacks, naming the worker (old code: hangs, killed at the limit).
        name: "timeout_main_returns",
        env: &[],
        child: || {
            threadkit::set_exit_timeout(Some(Duration::from_millis(300)));
            start_stuck_worker();
            threadkit::register_atexit(|| println!("callback")).unwrap();
            println!("main returns");
        },
        check: |out, elapsed| {
            expect_stdout(out, "main returns\ncallback\n")?;
            expect_stderr_contains(out, NOT_WAITED)?;
            expect_status(out, 0)?;
            expect_between(elapsed, 0.2, 30.0)
        },
    },
    Scenario {
        name: "timeout_process_exit",
        env: &[],
        child: || {
            threadkit::set_exit_timeout(Some(Duration::from_millis(300)));
            start_stuck_worker();
            std::process::exit(3);
        },
        check: |out, _| {
            expect_stderr_contains(out, NOT_WAITED)?;
            expect_status(out, 3)
        },
    },
    Scenario {
        name: "timeout_main_panics",
        env: &[],
        child: || {
            threadkit::set_exit_timeout(Some(Duration::from_millis(300)));
            start_stuck_worker();
            panic!("main failed");
        },
        check: |out, _| {
            expect_stderr_contains(out, "main failed")?;
            expect_stderr_contains(out, NOT_WAITED)?;
            expect_status(out, 101)
        },
    },
    Scenario {
        // The bound is a bound: a thread that finishes within it is still waited for.
        name: "timeout_waits_for_finishing_threads",
        env: &[],
        child: || {
            threadkit::set_exit_timeout(Some(Duration::from_secs(60)));
            Builder::new()
                .daemon(false)
                .spawn(|| {
                    std::thread::sleep(Duration::from_millis(200));
                    println!("worker done");
                })
                .unwrap();
        },
        check: |out, _| {
            expect_stdout(out, "worker done\n")?;
            expect_stderr_lacks(out, "not waiting")?;
            expect_status(out, 0)
        },
    },
    Scenario {
        name: "timeout_zero_does_not_wait",
        env: &[],
        child: || {
            threadkit::set_exit_timeout(Some(Duration::ZERO));
            Builder::new()
                .name("stuck")
                .daemon(false)
                .spawn(|| {
                    std::thread::sleep(Duration::from_secs(60));
                    println!("worker done");
                })
                .unwrap();
        },
        check: |out, elapsed| {
            expect_stdout(out, "")?;
            expect_stderr_contains(out, NOT_WAITED)?;
            expect_status(out, 0)?;
            expect_between(elapsed, 0.0, 30.0)
        },
    },
    Scenario {
        // Python's `os._exit`: no callbacks, no wait, no destructors, the status given.
        name: "exit_now_from_main",
        env: &[],
        child: || {
            static VALUE: Local<Noisy> = Local::new();
            VALUE.set(Noisy("value dropped"));
            start_stuck_worker();
            threadkit::register_atexit(|| println!("callback")).unwrap();
            println!("before exit_now");
            threadkit::exit_now(4);
        },
        check: |out, elapsed| {
            expect_stdout(out, "before exit_now\n")?;
            expect_status(out, 4)?;
            expect_between(elapsed, 0.0, 30.0)
        },
    },
    Scenario {
        name: "exit_now_from_worker",
        env: &[],
        child: || {
            start_stuck_worker();
            Builder::new()
                .daemon(false)
                .spawn(|| threadkit::exit_now(6))
                .unwrap();
            Event::new().wait();
        },
        check: |out, _| expect_status(out, 6),
    },
    Scenario {
        // While main waits in the exit sequence for a stuck worker, another thread's `exit_now`
        // ends the process with its own status (a second `std::process::exit` would lose it).
        name: "exit_now_while_main_exits",
        env: &[],
        child: || {
            start_stuck_worker();
            Builder::new()
                .daemon(false)
                .spawn(|| {
                    main_thread().join().unwrap();
                    threadkit::exit_now(9);
                })
                .unwrap();
            println!("main returns");
        },
        check: |out, _| {
            expect_stdout(out, "main returns\n")?;
            expect_status(out, 9)
        },
    },
    Scenario {
        // src/thread/exit_guard.rs still notices a second `exit` parked by std while main waits
        // with a (long) timeout.
        name: "timeout_keeps_lost_exit_detection",
        env: &[],
        child: || {
            threadkit::set_exit_timeout(Some(Duration::from_secs(600)));
            start_stuck_worker();
            Builder::new()
                .daemon(false)
                .spawn(|| {
                    main_thread().join().unwrap();
                    std::process::exit(5);
                })
                .unwrap();
            println!("main returns");
        },
        check: |out, elapsed| {
            expect_stdout(out, "main returns\n")?;
            expect_stderr_contains(out, "called std::process::exit while thread \"MainThread\"")?;
            expect_status(out, 0)?;
            expect_between(elapsed, 0.0, 30.0)
        },
    },
    Scenario {
        // A crash reporter installed before threadkit sees panics in threadkit threads, and the
        // excepthook still reports them with their location.
        name: "earlier_hook_is_chained",
        env: &[],
        child: || {
            std::panic::set_hook(Box::new(|info| {
                eprintln!("crash reporter: {}", message(info.payload()));
            }));
            let h = Builder::new()
                .name("w")
                .spawn(|| panic!("run failed"))
                .unwrap();
            assert!(h.join().is_err());
            let _ = std::thread::spawn(|| panic!("std thread failed")).join();
        },
        check: |out, _| {
            expect_stderr_contains(out, "crash reporter: run failed\n")?;
            expect_stderr_contains(
                out,
                "Exception in thread w:\npanicked at tests/exit_habits.rs",
            )?;
            expect_stderr_contains(out, "crash reporter: std thread failed\n")?;
            expect_status(out, 0)
        },
    },
    Scenario {
        // With no hook of the program's own, std's default hook is not called for a target's
        // panic: the excepthook's report is the only one.
        name: "default_hook_not_doubled",
        env: &[],
        child: || {
            let h = Builder::new()
                .name("w")
                .spawn(|| panic!("run failed"))
                .unwrap();
            assert!(h.join().is_err());
        },
        check: |out, _| {
            expect_stderr_contains(out, "Exception in thread w:\n")?;
            expect_stderr_lacks(out, "thread 'w' panicked")?;
            expect_status(out, 0)
        },
    },
    Scenario {
        // A later hook that chains (the take_hook pattern) keeps the location and backtrace.
        name: "later_chaining_hook_keeps_location",
        env: &[("RUST_BACKTRACE", "1")],
        child: || {
            threadkit::spawn(|| {}).join().unwrap(); // threadkit's hook is installed
            let prev = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                eprintln!("later hook");
                prev(info);
            }));
            report_locations(2);
        },
        check: |out, _| {
            expect_stdout(out, "location true, backtrace true\n".repeat(2).as_str())?;
            expect_stderr_contains(out, "later hook\n")?;
            expect_status(out, 0)
        },
    },
    Scenario {
        // A later hook that does not chain: `install_panic_hook` puts threadkit's back on top,
        // and the later hook is still called.
        name: "later_replacing_hook_then_install",
        env: &[("RUST_BACKTRACE", "1")],
        child: || {
            threadkit::spawn(|| {}).join().unwrap();
            std::panic::set_hook(Box::new(|_| eprintln!("later hook")));
            report_locations(1);
            threadkit::install_panic_hook();
            report_locations(1);
        },
        check: |out, _| {
            expect_stdout(
                out,
                "location false, backtrace false\nlocation true, backtrace true\n",
            )?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            if stderr.matches("later hook\n").count() != 2 {
                return Err(format!("stderr {stderr:?}: expected the later hook twice"));
            }
            expect_status(out, 0)
        },
    },
    Scenario {
        // RUST_BACKTRACE=1: std's short form, the panic's and the target's frames only.
        name: "short_backtrace",
        env: &[("RUST_BACKTRACE", "1")],
        child: panic_deep_in_thread,
        check: |out, _| {
            expect_stderr_contains(out, "stack backtrace:\n   0: ")?;
            expect_stderr_contains(out, "deep_user_function")?;
            expect_stderr_contains(out, "note: Some details are omitted")?;
            expect_stderr_lacks(out, "std::panicking::")?;
            expect_stderr_lacks(out, "threadkit::thread::")?;
            expect_stderr_lacks(out, "start_thread")?;
            let frames = frame_count(out);
            if !(1..=8).contains(&frames) {
                return Err(format!(
                    "{frames} frames: {:?}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            expect_status(out, 0)
        },
    },
    Scenario {
        name: "full_backtrace",
        env: &[("RUST_BACKTRACE", "full")],
        child: panic_deep_in_thread,
        check: |out, _| {
            expect_stderr_contains(out, "deep_user_function")?;
            expect_stderr_contains(out, "threadkit::thread::")?;
            expect_stderr_lacks(out, "note: Some details are omitted")?;
            expect_status(out, 0)
        },
    },
];

/// Starts the non-daemon thread "stuck", blocked for good in `q.get()`.
#[cfg(not(loom))]
fn start_stuck_worker() {
    let q: Arc<Queue<u32>> = Arc::new(Queue::new(0));
    Builder::new()
        .name("stuck")
        .daemon(false)
        .spawn(move || {
            let _ = q.get();
            println!("stuck worker got an item");
        })
        .unwrap();
}

/// Runs `n` panicking threads one after another, printing whether the excepthook got a location
/// and a backtrace for each.
#[cfg(not(loom))]
fn report_locations(n: usize) {
    threadkit::set_excepthook(|args| {
        println!(
            "location {}, backtrace {}",
            args.location().is_some(),
            args.backtrace().is_some()
        );
    });
    for _ in 0..n {
        assert!(threadkit::spawn(|| panic!("boom")).join().is_err());
    }
}

#[cfg(not(loom))]
#[inline(never)]
fn deep_user_function() {
    panic!("run failed");
}

#[cfg(not(loom))]
fn panic_deep_in_thread() {
    let h = Builder::new().name("w").spawn(deep_user_function).unwrap();
    assert!(h.join().is_err());
}

/// How many frames the backtrace on stderr has.
#[cfg(not(loom))]
fn frame_count(out: &Output) -> usize {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            t.split_once(": ")
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .count()
}

#[cfg(not(loom))]
fn message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else {
        payload.downcast_ref::<String>().map_or("?", String::as_str)
    }
}

/// Prints a line when dropped.
#[cfg(not(loom))]
struct Noisy(&'static str);

#[cfg(not(loom))]
impl Drop for Noisy {
    fn drop(&mut self) {
        println!("{}", self.0);
    }
}

#[cfg(not(loom))]
fn main() {
    common::child::main("exit_habits", SCENARIOS);
}
