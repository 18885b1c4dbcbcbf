//! Process exit: the process waits for non-daemon threads and abandons daemon ones, however `main`
//! ends (CPython's shutdown order, reference §2 and `ThreadJoinOnShutdown`), and the default
//! excepthook's output (reference §3.11–§3.12).
//!
//! This test has its own `main` (`harness = false` in Cargo.toml): run with no argument it is the
//! driver, which re-runs this same executable once per scenario as a child process and checks what
//! the child printed, its exit status and how long it took; run with a scenario name it *is* that
//! child, so the scenario's `main` really is the process's main thread.

// Under `--cfg loom` the thread API is compiled out (src/lib.rs), so every item here is too, and
// `main` does nothing.
#[cfg(loom)]
fn main() {}

#[cfg(not(loom))]
mod common;

#[cfg(not(loom))]
use common::child::{
    expect_between, expect_status, expect_stderr_contains, expect_stdout, Scenario,
};
#[cfg(not(loom))]
use std::process::Output;
#[cfg(not(loom))]
use std::sync::Arc;
#[cfg(not(loom))]
use std::thread::sleep;
#[cfg(not(loom))]
use std::time::Duration;

#[cfg(not(loom))]
use std::sync::atomic::{AtomicBool, Ordering};

#[cfg(not(loom))]
use threadkit::{current_thread, main_thread, Builder, Event, Local};

#[cfg(not(loom))]
const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "main_returns",
        env: &[],
        child: || {
            start_sleeper("non-daemon", false, 300, "non-daemon done");
            start_sleeper("daemon", true, 60_000, "daemon done");
            println!("main done");
        },
        check: |out, elapsed| {
            expect_stdout(out, "main done\nnon-daemon done\n")?;
            expect_status(out, 0)?;
            expect_between(elapsed, 0.2, 30.0)
        },
    },
    Scenario {
        name: "process_exit",
        env: &[],
        child: || {
            start_sleeper("non-daemon", false, 300, "non-daemon done");
            start_sleeper("daemon", true, 60_000, "daemon done");
            println!("main calls exit");
            std::process::exit(3);
        },
        check: |out, _| {
            expect_stdout(out, "main calls exit\nnon-daemon done\n")?;
            expect_status(out, 3)
        },
    },
    Scenario {
        name: "main_panics",
        env: &[],
        child: || {
            start_sleeper("non-daemon", false, 300, "non-daemon done");
            panic!("main failed");
        },
        check: |out, _| {
            expect_stdout(out, "non-daemon done\n")?;
            expect_stderr_contains(out, "main failed")?;
            expect_status(out, 101)
        },
    },
    Scenario {
        // test_thread_from_thread: a thread started by a thread started by main is waited for.
        name: "thread_from_thread",
        env: &[],
        child: || {
            spawn_non_daemon(None, || {
                start_sleeper("t2", false, 50, "OK");
            });
        },
        check: |out, _| {
            expect_stdout(out, "OK\n")?;
            expect_status(out, 0)
        },
    },
    Scenario {
        // test_1_join_on_shutdown: a thread joining the main thread wakes when main is done.
        name: "join_main_thread",
        env: &[],
        child: || {
            spawn_non_daemon(None, || {
                main_thread().join().unwrap();
                println!("end of thread");
            });
            sleep(Duration::from_millis(50));
            println!("end of main");
        },
        check: |out, _| {
            expect_stdout(out, "end of main\nend of thread\n")?;
            expect_status(out, 0)
        },
    },
    Scenario {
        // register_atexit callbacks run last-first, before the non-daemon threads are joined.
        name: "atexit_order",
        env: &[],
        child: || {
            let release = Arc::new(Event::new());
            let r = Arc::clone(&release);
            spawn_non_daemon(None, move || {
                r.wait();
                println!("thread done");
            });
            threadkit::register_atexit(move || {
                println!("atexit 1");
                release.set();
            })
            .unwrap();
            threadkit::register_atexit(|| println!("atexit 2")).unwrap();
        },
        check: |out, _| {
            expect_stdout(out, "atexit 2\natexit 1\nthread done\n")?;
            expect_status(out, 0)
        },
    },
    Scenario {
        // A non-daemon worker calls exit: it waits for the other non-daemon threads, not itself.
        name: "exit_from_worker",
        env: &[],
        child: || {
            start_sleeper("other", false, 300, "other done");
            spawn_non_daemon(None, || {
                println!("worker calls exit");
                std::process::exit(7);
            });
            // Main blocks forever; the worker's exit ends the process.
            Event::new().wait();
        },
        check: |out, _| {
            expect_stdout(out, "worker calls exit\nother done\n")?;
            expect_status(out, 7)
        },
    },
    Scenario {
        name: "explicit_shutdown",
        env: &[],
        child: || {
            start_sleeper("non-daemon", false, 100, "non-daemon done");
            threadkit::shutdown();
            println!("after shutdown");
        },
        check: |out, _| {
            expect_stdout(out, "non-daemon done\nafter shutdown\n")?;
            expect_status(out, 0)
        },
    },
    Scenario {
        // test_excepthook / test_print_exception: the default hook names the thread.
        name: "default_excepthook",
        env: &[],
        child: || {
            let t = Builder::new()
                .name("excepthook thread")
                .create(|| panic!("run failed"));
            t.start().unwrap();
            t.join().unwrap();
            println!("end of main thread");
        },
        check: |out, _| {
            expect_stdout(out, "end of main thread\n")?;
            expect_stderr_contains(out, "Exception in thread excepthook thread:\n")?;
            expect_stderr_contains(out, "panicked at ")?;
            expect_stderr_contains(out, "run failed\n")?;
            expect_status(out, 0)
        },
    },
    Scenario {
        // test_custom_excepthook / test_original_excepthook: a replaced hook replaces the output.
        name: "custom_excepthook",
        env: &[],
        child: || {
            threadkit::set_excepthook(|args| {
                eprintln!("Running a thread failed: {}", args.message().unwrap());
            });
            let t = threadkit::Thread::new(|| panic!("boom"));
            t.start().unwrap();
            t.join().unwrap();
        },
        check: |out, _| {
            let stderr = String::from_utf8_lossy(&out.stderr);
            if stderr != "Running a thread failed: boom\n" {
                return Err(format!("stderr was {stderr:?}"));
            }
            expect_status(out, 0)
        },
    },
    Scenario {
        // A panic outside threadkit targets still goes to std's panic hook.
        name: "foreign_panic_untouched",
        env: &[],
        child: || {
            threadkit::spawn(|| {}).join().unwrap(); // installs threadkit's hooks
            let _ = std::thread::Builder::new()
                .name("std-thread".into())
                .spawn(|| panic!("plain std panic"))
                .unwrap()
                .join();
        },
        check: |out, _| {
            expect_stderr_contains(out, "thread 'std-thread'")?;
            expect_stderr_contains(out, "panicked at")?;
            expect_stderr_contains(out, "plain std panic")?;
            expect_status(out, 0)
        },
    },
    Scenario {
        // Issue 10, defect 4: the exit sequence runs with the main thread's `Local` values
        // intact; they are dropped after it (witness: the value's `Drop` prints and sets a flag,
        // which the non-daemon thread joined at exit reads).
        name: "atexit_sees_main_locals",
        env: &[],
        child: || {
            static MAIN_VALUE: Local<Noisy> = Local::new();
            MAIN_VALUE.set(Noisy("main value dropped", Some(&MAIN_DROPPED)));
            let release = Arc::new(Event::new());
            let r = Arc::clone(&release);
            spawn_non_daemon(None, move || {
                r.wait();
                let dropped = MAIN_DROPPED.load(Ordering::SeqCst);
                println!("worker: main value dropped = {dropped}");
            });
            threadkit::register_atexit(move || {
                let name = current_thread().name();
                println!("callback in {name}: has value = {}", MAIN_VALUE.has_value());
                release.set();
            })
            .unwrap();
        },
        check: |out, _| {
            expect_stdout(
                out,
                "callback in MainThread: has value = true\n\
                 worker: main value dropped = false\n\
                 main value dropped\n",
            )?;
            expect_status(out, 0)
        },
    },
    Scenario {
        // Issue 10, defect 4: a worker that calls `exit` runs the callbacks as itself, with its
        // own `Local` values intact.
        name: "atexit_in_exiting_worker",
        env: &[],
        child: || {
            static WORKER_VALUE: Local<Noisy> = Local::new();
            threadkit::register_atexit(|| {
                let name = current_thread().name();
                println!(
                    "callback in {name}: has value = {}",
                    WORKER_VALUE.has_value()
                );
            })
            .unwrap();
            spawn_non_daemon(Some("exiter"), || {
                WORKER_VALUE.set(Noisy("worker value dropped", None));
                std::process::exit(7);
            });
            Event::new().wait();
        },
        check: |out, _| {
            expect_stdout(
                out,
                "callback in exiter: has value = true\nworker value dropped\n",
            )?;
            expect_status(out, 7)
        },
    },
    Scenario {
        // The same for a worker that never used a `Local`.
        name: "atexit_in_exiting_worker_without_locals",
        env: &[],
        child: || {
            threadkit::register_atexit(|| println!("callback in {}", current_thread().name()))
                .unwrap();
            spawn_non_daemon(Some("exiter"), || std::process::exit(7));
            Event::new().wait();
        },
        check: |out, _| {
            expect_stdout(out, "callback in exiter\n")?;
            expect_status(out, 7)
        },
    },
    Scenario {
        // Issue 10, defect 7: a non-daemon thread joins the main thread (so the main thread is
        // in the exit sequence, waiting for it) and then calls `exit`: the process must end at
        // once. std parks that second `exit` for good and drops its status (only the first
        // thread to exit, here `main` by returning, may call the C library's `exit`), so the
        // status is main's, and threadkit says so on stderr.
        name: "exit_while_main_exits",
        env: &[],
        child: || {
            spawn_exit_after_main(5);
            println!("main returns");
        },
        check: check_lost_exit,
    },
    Scenario {
        // The same while main waits for *another* non-daemon thread, one that never finishes:
        // the parked `exit` still ends the process.
        name: "exit_while_main_waits_for_another",
        env: &[],
        child: || {
            spawn_non_daemon(Some("blocker"), || Event::new().wait());
            spawn_exit_after_main(5);
            println!("main returns");
        },
        check: check_lost_exit,
    },
    Scenario {
        // The reverse order: a worker exits first, and main returns while the worker's exit
        // sequence waits for another non-daemon thread. std parks main's exit, which asks for
        // nothing more: the worker still waits for the other thread, and its status stands.
        name: "main_returns_while_worker_exits",
        env: &[],
        child: || {
            let main_may_return = Arc::new(Event::new());
            let m = Arc::clone(&main_may_return);
            threadkit::register_atexit(move || {
                println!("callback");
                m.set();
            })
            .unwrap();
            start_sleeper("other", false, 300, "other done");
            spawn_non_daemon(None, || std::process::exit(7));
            main_may_return.wait();
        },
        check: |out, _| {
            expect_stdout(out, "callback\nother done\n")?;
            expect_status(out, 7)
        },
    },
    Scenario {
        // The same with an explicit `shutdown()` in main (std's exit guard is free then).
        name: "exit_during_explicit_shutdown",
        env: &[],
        child: || {
            spawn_exit_after_main(5);
            threadkit::shutdown();
            println!("shutdown returned");
        },
        check: |out, _| {
            expect_stdout(out, "worker calls exit\n")?;
            expect_status(out, 5)
        },
    },
    Scenario {
        // Issue 10, defect 8: a `Local` value whose `Drop` panics when its thread exits is
        // reported to the excepthook (with the thread) instead of aborting the process.
        name: "local_drop_panics_in_thread",
        env: &[],
        child: || {
            static BAD: Local<PanicsOnDrop> = Local::new();
            static GOOD: Local<Noisy> = Local::new();
            let t = Builder::new().name("bad drop").create(|| {
                GOOD.set(Noisy("other value dropped", None));
                BAD.set(PanicsOnDrop);
            });
            t.start().unwrap();
            t.join().unwrap();
            println!("after join");
            let h = Builder::new()
                .name("bad drop 2")
                .spawn(|| BAD.set(PanicsOnDrop))
                .unwrap();
            println!("handle result ok = {}", h.join().is_ok());
        },
        check: |out, _| {
            expect_stdout(
                out,
                "other value dropped\nafter join\nhandle result ok = true\n",
            )?;
            expect_stderr_contains(out, "Exception in thread bad drop:\npanicked at ")?;
            expect_stderr_contains(out, "Exception in thread bad drop 2:\npanicked at ")?;
            expect_stderr_contains(out, "value panicked on drop\n")?;
            expect_status(out, 0)
        },
    },
    Scenario {
        // The same for a thread threadkit did not start (its values drop in its thread-local
        // teardown).
        name: "local_drop_panics_in_foreign_thread",
        env: &[],
        child: || {
            static BAD: Local<PanicsOnDrop> = Local::new();
            threadkit::spawn(|| {}).join().unwrap();
            std::thread::spawn(|| BAD.set(PanicsOnDrop)).join().unwrap();
            println!("after join");
        },
        check: |out, _| {
            expect_stdout(out, "after join\n")?;
            expect_stderr_contains(out, "Exception in thread Dummy-")?;
            expect_stderr_contains(out, "value panicked on drop\n")?;
            expect_status(out, 0)
        },
    },
    Scenario {
        // The same for the main thread's values, dropped at process exit.
        name: "local_drop_panics_in_main",
        env: &[],
        child: || {
            static BAD: Local<PanicsOnDrop> = Local::new();
            threadkit::spawn(|| {}).join().unwrap();
            BAD.set(PanicsOnDrop);
            println!("main returns");
        },
        check: |out, _| {
            expect_stdout(out, "main returns\n")?;
            expect_stderr_contains(out, "Exception in thread MainThread:\npanicked at ")?;
            expect_stderr_contains(out, "value panicked on drop\n")?;
            expect_status(out, 0)
        },
    },
];

/// What threadkit writes to stderr when a second `std::process::exit` is parked by std.
#[cfg(not(loom))]
const LOST_EXIT: &str = "called std::process::exit while thread \"MainThread\" was already exiting";

/// Set when the main thread's value in `atexit_sees_main_locals` is dropped.
#[cfg(not(loom))]
static MAIN_DROPPED: AtomicBool = AtomicBool::new(false);

/// Prints a line (and sets a flag) when dropped.
#[cfg(not(loom))]
struct Noisy(&'static str, Option<&'static AtomicBool>);

#[cfg(not(loom))]
impl Drop for Noisy {
    fn drop(&mut self) {
        if let Some(flag) = self.1 {
            flag.store(true, Ordering::SeqCst);
        }
        println!("{}", self.0);
    }
}

/// Panics when dropped.
#[cfg(not(loom))]
struct PanicsOnDrop;

#[cfg(not(loom))]
impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("value panicked on drop");
    }
}

/// Starts a non-daemon thread that joins the main thread (returning once main is in the exit
/// sequence) and then calls `std::process::exit(status)`.
#[cfg(not(loom))]
fn spawn_exit_after_main(status: i32) {
    spawn_non_daemon(None, move || {
        main_thread().join().unwrap();
        println!("worker calls exit");
        std::process::exit(status);
    });
}

/// The outcome of a second `exit` parked by std while main exits: the process ends at once, with
/// main's status, and threadkit says why on stderr.
#[cfg(not(loom))]
fn check_lost_exit(out: &Output, elapsed: Duration) -> Result<(), String> {
    expect_stdout(out, "main returns\nworker calls exit\n")?;
    expect_stderr_contains(out, LOST_EXIT)?;
    expect_status(out, 0)?;
    expect_between(elapsed, 0.0, 30.0)
}

/// Starts a non-daemon thread (named `name`, else `Thread-N`) running `body`.
#[cfg(not(loom))]
fn spawn_non_daemon(name: Option<&str>, body: impl FnOnce() + Send + 'static) {
    let builder = Builder::new().daemon(false);
    let builder = match name {
        Some(name) => builder.name(name),
        None => builder,
    };
    builder.spawn(body).unwrap();
}

/// Starts a thread that sleeps `ms` and then prints `line`.
#[cfg(not(loom))]
fn start_sleeper(name: &str, daemon: bool, ms: u64, line: &'static str) {
    Builder::new()
        .name(name)
        .daemon(daemon)
        .spawn(move || {
            sleep(Duration::from_millis(ms));
            println!("{line}");
        })
        .unwrap();
}

#[cfg(not(loom))]
fn main() {
    common::child::main("exit", SCENARIOS);
}
