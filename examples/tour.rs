//! The tour of the seed article: runs each ported PyMOTW `threading` program in turn, under a
//! header naming the article's section, each as its own process (so daemon threads and the
//! exit-time join behave exactly as when the program runs alone).
//!
//! ```text
//! cargo run --release --example tour            # every program
//! cargo run --release --example tour -- lock    # only programs whose name contains "lock"
//! ```

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// The article's sections, in order, with the programs each one shows.
const TOUR: &[(&str, &[&str])] = &[
    (
        "Thread Objects",
        &["threading_simple", "threading_simpleargs"],
    ),
    (
        "Determining the Current Thread",
        &["threading_names", "threading_names_log"],
    ),
    (
        "Daemon vs. Non-Daemon Threads",
        &[
            "threading_daemon",
            "threading_daemon_join",
            "threading_daemon_join_timeout",
        ],
    ),
    ("Enumerating All Threads", &["threading_enumerate"]),
    (
        "Subclassing Thread",
        &["threading_subclass", "threading_subclass_args"],
    ),
    ("Timer Threads", &["threading_timer"]),
    ("Signaling Between Threads", &["threading_event"]),
    (
        "Controlling Access to Resources",
        &["threading_lock", "threading_lock_noblock"],
    ),
    (
        "Re-entrant Locks",
        &["threading_lock_reacquire", "threading_rlock"],
    ),
    ("Locks as Context Managers", &["threading_lock_with"]),
    ("Synchronizing Threads", &["threading_condition"]),
    (
        "Limiting Concurrent Access to Resources",
        &["threading_semaphore"],
    ),
    (
        "Thread-specific Data",
        &["threading_local", "threading_local_defaults"],
    ),
    ("See also: Queue", &["queue_workers"]),
    // Beyond the article: what threadkit adds.
    ("Debugging a hung program", &["deadlock_dump"]),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let filter = std::env::args().nth(1).unwrap_or_default();
    let dir = examples_dir()?;
    build_examples()?;

    let mut failed = Vec::new();
    for (section, programs) in TOUR {
        let programs: Vec<_> = programs.iter().filter(|p| p.contains(&filter)).collect();
        if programs.is_empty() {
            continue;
        }
        println!("\n=== {section} ===");
        for program in programs {
            let exe = dir.join(program);
            if section.starts_with("Debugging") {
                println!("\n$ {program}");
            } else {
                println!("\n$ {program}   (ported {program}.py)");
            }
            if !exe.exists() {
                println!("(not ported yet)");
                continue;
            }
            let started = Instant::now();
            let status = Command::new(&exe).status()?;
            println!(
                "[{program}: {status}, {:.1} s]",
                started.elapsed().as_secs_f64()
            );
            if !status.success() {
                failed.push(*program);
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failed: {}", failed.join(", ")).into())
    }
}

/// The directory the example binaries are built into (this program's own).
fn examples_dir() -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe.parent().map(PathBuf::from).unwrap_or_default())
}

/// Builds every example with the same profile as this one, so the tour runs current code.
fn build_examples() -> Result<(), Box<dyn std::error::Error>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--examples"]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let status = cmd.status()?;
    if !status.success() {
        return Err(format!("building the examples failed: {status}").into());
    }
    Ok(())
}
