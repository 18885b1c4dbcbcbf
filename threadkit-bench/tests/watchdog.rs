//! The benchmark binary never hangs: a case whose threads stop making progress fails under its
//! name, its processes are killed, and the rest of the run goes on.

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn a_stuck_case_fails_by_name_and_the_run_goes_on() {
    let out_dir =
        std::env::temp_dir().join(format!("threadkit-bench-watchdog-{}", std::process::id()));
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_threadkit-bench"))
        .args([
            "--smoke",
            "--include-stuck-case",
            "--stall-timeout",
            "2",
            "--out",
        ])
        .arg(&out_dir)
        // The stuck case runs first, then a case that must still run.
        .args(["watchdog_selftest", "lock_uncontended"])
        .output()
        .expect("run threadkit-bench");
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");

    assert_eq!(out.status.code(), Some(1), "{all}");
    // Named, with the reason, in the progress lines, the table and the summary.
    let failure = stderr
        .lines()
        .find(|l| l.starts_with("watchdog_selftest_stuck"))
        .unwrap_or_else(|| panic!("no progress line for the stuck case\n{all}"));
    assert!(
        failure.contains("FAILED") && failure.contains("no progress for 2 s"),
        "{all}"
    );
    assert!(
        failure.contains("warm-up of two threads waiting for each other"),
        "{all}"
    );
    assert!(
        stderr.contains("1 case(s) failed: watchdog_selftest_stuck"),
        "{all}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("watchdog_selftest_stuck") && l.contains("FAILED")),
        "{all}"
    );
    // The run went on: the next case has figures, in the table and in compare.csv.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("lock_uncontended") && l.contains(" ns")),
        "{all}"
    );
    let csv = std::fs::read_to_string(out_dir.join("compare.csv")).expect("compare.csv");
    assert!(
        csv.lines().any(|l| l.starts_with("lock_uncontended,")),
        "{csv}"
    );
    assert!(!csv.contains("watchdog_selftest_stuck"), "{csv}");
    // Loose: the stall timeout is 2 s; a hang would never get here.
    assert!(elapsed < Duration::from_secs(120), "{elapsed:?}\n{all}");
    let _ = std::fs::remove_dir_all(&out_dir);
}
