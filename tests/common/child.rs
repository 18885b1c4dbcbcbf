//! The child-process tests (tests/exit.rs, tests/exit_habits.rs): a test executable with its own
//! `main` (`harness = false`) that is both the driver and, run again as `--scenario NAME` (with
//! the scenario's environment), the child; and the checks of what a child printed, its status
//! and how long it took.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// One scenario: its name, the environment the child runs with, what the child does (as the
/// process's `main`), and what the driver checks.
pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    pub(crate) env: &'static [(&'static str, &'static str)],
    pub(crate) child: fn(),
    pub(crate) check: fn(&Output, Duration) -> Result<(), String>,
}

/// The whole `main` of a child-process test executable named `test`: with `--scenario NAME` it
/// runs that scenario's child; otherwise it is the driver, running every scenario (or those whose
/// names contain a filter argument) as child processes at once, printing libtest-like lines, and
/// exiting with status 1 if any failed.
pub(crate) fn main(test: &str, scenarios: &'static [Scenario]) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // libtest-style flags (`--nocapture`, `--quiet`, filters from `cargo test -- x`) are not
    // scenario names; a child gets exactly `--scenario NAME`.
    if args.first().map(String::as_str) == Some("--scenario") {
        let scenario = scenarios
            .iter()
            .find(|s| s.name == args[1])
            .expect("known scenario");
        (scenario.child)();
        return;
    }
    let filter: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let exe = std::env::current_exe().expect("own path");
    let chosen: Vec<&'static Scenario> = scenarios
        .iter()
        .filter(|s| filter.is_empty() || filter.iter().any(|f| s.name.contains(f.as_str())))
        .collect();
    // The scenarios are independent processes: run them all at once.
    let running: Vec<_> = chosen
        .iter()
        .map(|&s| {
            let exe = exe.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                (run_child(&exe, s.name, s.env), started.elapsed())
            })
        })
        .collect();
    let mut failed = 0;
    println!("\nrunning {} tests", chosen.len());
    for (scenario, run) in chosen.iter().zip(running) {
        let (out, elapsed) = run.join().expect("scenario runner");
        let outcome = match out {
            Some(out) => (scenario.check)(&out, elapsed),
            None => Err(format!(
                "still running after {CHILD_LIMIT:?} (hung); killed"
            )),
        };
        match outcome {
            Ok(()) => println!("test {test}::{} ... ok", scenario.name),
            Err(why) => {
                failed += 1;
                println!("test {test}::{} ... FAILED\n    {why}", scenario.name);
            }
        }
    }
    println!("\n{} passed, {} failed", chosen.len() - failed, failed);
    if failed > 0 {
        std::process::exit(1);
    }
}

pub(crate) fn expect_stdout(out: &Output, want: &str) -> Result<(), String> {
    let got = String::from_utf8_lossy(&out.stdout);
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "stdout {got:?}, expected {want:?}; stderr {:?}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

pub(crate) fn expect_stderr_contains(out: &Output, want: &str) -> Result<(), String> {
    let got = String::from_utf8_lossy(&out.stderr);
    if got.contains(want) {
        Ok(())
    } else {
        Err(format!("stderr {got:?} lacks {want:?}"))
    }
}

pub(crate) fn expect_stderr_lacks(out: &Output, unwanted: &str) -> Result<(), String> {
    let got = String::from_utf8_lossy(&out.stderr);
    if got.contains(unwanted) {
        Err(format!("stderr {got:?} contains {unwanted:?}"))
    } else {
        Ok(())
    }
}

pub(crate) fn expect_status(out: &Output, code: i32) -> Result<(), String> {
    if out.status.code() == Some(code) {
        Ok(())
    } else {
        Err(format!(
            "exit status {:?}, expected {code}; stderr {:?}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

pub(crate) fn expect_between(elapsed: Duration, lo: f64, hi: f64) -> Result<(), String> {
    let s = elapsed.as_secs_f64();
    if (lo..hi).contains(&s) {
        Ok(())
    } else {
        Err(format!("took {s:.2} s, expected {lo}..{hi} s"))
    }
}

/// How long a scenario may run before the driver calls it hung and kills it.
pub(crate) const CHILD_LIMIT: Duration = Duration::from_secs(60);

/// Runs one scenario as a child process; `None` if it was still running after [`CHILD_LIMIT`].
pub(crate) fn run_child(exe: &std::path::Path, name: &str, env: &[(&str, &str)]) -> Option<Output> {
    let mut cmd = Command::new(exe);
    cmd.args(["--scenario", name])
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        cmd.env(key, value);
    }
    let mut child = cmd.spawn().expect("run the scenario");
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    // Drain both pipes on their own threads so a chatty child never blocks on a full pipe.
    let out = std::thread::spawn(move || read_all(&mut stdout));
    let err = std::thread::spawn(move || read_all(&mut stderr));
    let deadline = Instant::now() + CHILD_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the scenario") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        // Polling a child process (no portable blocking wait with a timeout in std).
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    status.map(|status| Output {
        status,
        stdout,
        stderr,
    })
}

pub(crate) fn read_all(r: &mut impl std::io::Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.read_to_end(&mut v);
    v
}
