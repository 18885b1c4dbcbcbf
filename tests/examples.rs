//! The seed's programs are the acceptance tests: each ported example is run as its own process
//! (as `python threading_x.py` would be) and what it prints, its exit status and its timing are
//! checked against the article. `cargo test` builds the examples before running this.
//!
//! Logging goes to standard error and `print` to standard output, as in Python; the checks read
//! each stream's lines.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// What one run of an example printed.
struct Run {
    stdout: Vec<String>,
    stderr: Vec<String>,
    elapsed: Duration,
}

/// Runs `examples/NAME.rs`'s binary and checks that it exits successfully.
fn run(name: &str) -> Run {
    // target/debug/deps/examples-HASH -> target/debug/examples/NAME
    let exe = std::env::current_exe().unwrap();
    let path: PathBuf = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run the whole suite with `cargo test` so the examples are built",
        path.display()
    );
    let started = Instant::now();
    let out = Command::new(&path).output().unwrap();
    let elapsed = started.elapsed();
    let lines = |b: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(b)
            .lines()
            .map(str::to_string)
            .collect()
    };
    let run = Run {
        stdout: lines(&out.stdout),
        stderr: lines(&out.stderr),
        elapsed,
    };
    assert!(
        out.status.success(),
        "{name} failed: {:?}\nstdout: {:?}\nstderr: {:?}",
        out.status,
        run.stdout,
        run.stderr
    );
    run
}

fn sorted(lines: &[String]) -> Vec<String> {
    let mut v = lines.to_vec();
    v.sort();
    v
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn position(lines: &[String], line: &str) -> usize {
    lines
        .iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("{line:?} not in {lines:?}"))
}

#[test]
fn threading_simple() {
    let r = run("threading_simple");
    assert_eq!(r.stdout, vec!["Worker"; 5]);
}

#[test]
fn threading_simpleargs() {
    let r = run("threading_simpleargs");
    let want: Vec<String> = (0..5).map(|i| format!("Worker: {i}")).collect();
    assert_eq!(sorted(&r.stdout), want);
}

#[test]
fn threading_names() {
    let r = run("threading_names");
    // Lines may interleave (print from three threads); every thread's words are there, and the
    // program waited for its non-daemon threads (about 3 s).
    let text = r.stdout.join("\n");
    for name in ["worker", "Thread-1 (worker)", "my_service"] {
        assert_eq!(
            text.matches(&format!("{name} Starting")).count(),
            1,
            "{text}"
        );
        assert_eq!(
            text.matches(&format!("{name} Exiting")).count(),
            1,
            "{text}"
        );
    }
    assert!(r.elapsed >= Duration::from_millis(2500), "{:?}", r.elapsed);
}

#[test]
fn threading_names_log() {
    let r = run("threading_names_log");
    let want = strings(&[
        "[DEBUG] (worker    ) Starting",
        "[DEBUG] (Thread-1 (worker)) Starting",
        "[DEBUG] (my_service) Starting",
        "[DEBUG] (worker    ) Exiting",
        "[DEBUG] (Thread-1 (worker)) Exiting",
        "[DEBUG] (my_service) Exiting",
    ]);
    assert_eq!(sorted(&r.stderr), sorted(&want));
    // my_service sleeps longest: its "Exiting" comes last.
    assert_eq!(r.stderr.last().unwrap(), "[DEBUG] (my_service) Exiting");
}

#[test]
fn threading_daemon() {
    let r = run("threading_daemon");
    let want = strings(&[
        "(daemon    ) Starting",
        "(non-daemon) Starting",
        "(non-daemon) Exiting",
    ]);
    // The daemon's "Exiting" never appears: the process did not wait for it (2 s).
    assert_eq!(sorted(&r.stderr), sorted(&want));
    assert!(
        position(&r.stderr, "(non-daemon) Starting") < position(&r.stderr, "(non-daemon) Exiting")
    );
    assert!(r.elapsed < Duration::from_millis(1900), "{:?}", r.elapsed);
}

#[test]
fn threading_daemon_join() {
    let r = run("threading_daemon_join");
    assert_eq!(r.stderr.len(), 4, "{:?}", r.stderr);
    assert_eq!(r.stderr[3], "(daemon    ) Exiting");
    assert!(r.elapsed >= Duration::from_millis(1500), "{:?}", r.elapsed);
}

#[test]
fn threading_daemon_join_timeout() {
    let r = run("threading_daemon_join_timeout");
    assert_eq!(r.stdout, vec!["d.is_alive() true"]);
    assert!(!r.stderr.contains(&"(daemon    ) Exiting".to_string()));
    assert!(r.elapsed >= Duration::from_millis(800), "{:?}", r.elapsed);
}

#[test]
fn threading_enumerate() {
    let r = run("threading_enumerate");
    let names = [
        "Thread-1 (worker)",
        "Thread-2 (worker)",
        "Thread-3 (worker)",
    ];
    for name in names {
        let sleeping = r
            .stderr
            .iter()
            .filter(|l| l.starts_with(&format!("({name}) sleeping ")))
            .count();
        assert_eq!(sleeping, 1, "{:?}", r.stderr);
        position(&r.stderr, &format!("({name}) ending"));
        position(&r.stderr, &format!("(MainThread) joining {name}"));
    }
    assert_eq!(r.stderr.len(), 9, "{:?}", r.stderr);
}

#[test]
fn threading_subclass() {
    let r = run("threading_subclass");
    let want: BTreeSet<String> = (1..=5)
        .map(|i| format!("({:<10}) running", format!("Thread-{i}")))
        .collect();
    assert_eq!(r.stderr.iter().cloned().collect::<BTreeSet<_>>(), want);
}

#[test]
fn threading_subclass_args() {
    let r = run("threading_subclass_args");
    assert_eq!(r.stderr.len(), 5);
    for i in 0..5 {
        let line = format!("running with ({i},) and {{'a': 'A', 'b': 'B'}}");
        assert!(
            r.stderr.iter().any(|l| l.ends_with(&line)),
            "{:?}",
            r.stderr
        );
    }
}

#[test]
fn logging_backends_carry_threadkit_names() {
    for (example, level) in [("logging_env_logger", ""), ("logging_tracing", "INFO ")] {
        let r = run(example);
        let want: Vec<String> = [
            "(MainThread) L starting the worker",
            "(worker    ) L Starting",
            "(renamed   ) L Exiting under a new name",
            "(MainThread) L done",
        ]
        .iter()
        .map(|l| l.replace("L ", level))
        .collect();
        assert_eq!(r.stderr, want, "{example}");
    }
}

#[test]
fn threading_event() {
    let r = run("threading_event");
    let want = strings(&[
        "(block     ) wait_for_event starting",
        "(non-block ) wait_for_event_timeout starting",
        "(MainThread) Waiting before calling Event.set()",
        "(non-block ) event set: false",
        "(non-block ) doing other work",
        "(non-block ) wait_for_event_timeout starting",
        "(MainThread) Event is set",
        "(block     ) event set: true",
        "(non-block ) event set: true",
        "(non-block ) processing event",
    ]);
    assert_eq!(sorted(&r.stderr), sorted(&want));
    // The timed-out wait comes before the set; both waiters report true only after it.
    let set = position(&r.stderr, "(MainThread) Waiting before calling Event.set()");
    assert!(position(&r.stderr, "(non-block ) event set: false") > set);
    assert!(position(&r.stderr, "(non-block ) processing event") > set);
    assert!(r.elapsed >= Duration::from_millis(2500), "{:?}", r.elapsed);
}

#[test]
fn threading_semaphore() {
    let r = run("threading_semaphore");
    // "2026-11-24 17:26:51,336 (0 ) Running: ['0', '1']": check the timestamp's shape, then that
    // never more than two names are running at once.
    assert_eq!(r.stderr.len(), 12, "{:?}", r.stderr);
    for line in &r.stderr {
        let (stamp, rest) = line.split_at(23);
        assert_eq!(stamp.as_bytes()[4], b'-', "{line}");
        assert_eq!(stamp.as_bytes()[19], b',', "{line}");
        assert!(rest.starts_with(" ("), "{line}");
        if let Some(list) = rest.split("Running: ").nth(1) {
            assert!(
                list.matches('\'').count() <= 4,
                "more than two running: {line}"
            );
        }
    }
    let waiting = r
        .stderr
        .iter()
        .filter(|l| l.ends_with("Waiting to join the pool"))
        .count();
    assert_eq!(waiting, 4);
    assert!(r.stderr.last().unwrap().ends_with("Running: []"));
}

#[test]
fn queue_workers() {
    let r = run("queue_workers");
    let jobs: Vec<&String> = r
        .stderr
        .iter()
        .filter(|l| l.contains(") Processing job "))
        .collect();
    assert_eq!(jobs.len(), 6, "{:?}", r.stderr);
    for l in &jobs {
        assert!(l.starts_with("(worker-"), "{l}");
    }
    // join() returned only after every job's task_done.
    let done = position(&r.stderr, "(MainThread) All jobs done");
    assert!(
        r.stderr[..done]
            .iter()
            .filter(|l| l.contains("Processing job"))
            .count()
            == 6
    );
}

#[test]
fn threading_timer() {
    let r = run("threading_timer");
    assert_eq!(
        r.stderr,
        strings(&[
            "(MainThread) starting timers",
            "(MainThread) waiting before canceling t2",
            "(MainThread) canceling t2",
            "(MainThread) done",
            "(t1        ) worker running",
        ])
    );
    // t1 fires about 3 s after start, after main is done: the process waited for it.
    assert!(r.elapsed >= Duration::from_millis(2500), "{:?}", r.elapsed);
}

#[test]
fn threading_local() {
    let r = run("threading_local");
    assert_eq!(r.stderr.len(), 6, "{:?}", r.stderr);
    assert_eq!(r.stderr[0], "(MainThread) No value yet");
    assert_eq!(r.stderr[1], "(MainThread) value=1000");
    for name in ["Thread-1", "Thread-2"] {
        let mine: Vec<&String> = r
            .stderr
            .iter()
            .filter(|l| l.starts_with(&format!("({name:<10})")))
            .collect();
        assert_eq!(mine.len(), 2, "{:?}", r.stderr);
        assert!(mine[0].ends_with("No value yet"));
        let v: u32 = mine[1].rsplit('=').next().unwrap().parse().unwrap();
        assert!((1..=100).contains(&v));
    }
}

#[test]
fn threading_local_defaults() {
    let r = run("threading_local_defaults");
    assert_eq!(r.stderr.len(), 8, "{:?}", r.stderr);
    let init: Vec<&String> = r
        .stderr
        .iter()
        .filter(|l| l.contains(") Initializing <MyLocal object at 0x"))
        .collect();
    // The initializer ran once in each of the three threads, on the same object.
    assert_eq!(init.len(), 3);
    let addr = |l: &str| l.rsplit(' ').next().unwrap().to_string();
    assert!(init.iter().all(|l| addr(l) == addr(init[0])));
    assert_eq!(
        r.stderr
            .iter()
            .filter(|l| l.ends_with(") value=1000"))
            .count(),
        3
    );
}

#[test]
fn threading_lock() {
    let r = run("threading_lock");
    assert_eq!(r.stderr.last().unwrap(), "(MainThread) Counter: 4");
    for name in ["Thread-1", "Thread-2"] {
        let prefix = format!("({name:<10}) ");
        let mine: Vec<&str> = r
            .stderr
            .iter()
            .filter_map(|l| l.strip_prefix(&prefix))
            .collect();
        let acquired = mine.iter().filter(|l| **l == "Acquired lock").count();
        assert_eq!(acquired, 2, "{mine:?}");
        assert_eq!(mine.last(), Some(&"Done"));
    }
}

#[test]
fn threading_lock_noblock() {
    let r = run("threading_lock_noblock");
    // The LockHolder is a daemon looping forever: the program ends when the Worker is done (the
    // holder may still log a line while the process exits).
    let last = r
        .stderr
        .iter()
        .find(|l| l.starts_with("(Worker    ) Done after "))
        .unwrap_or_else(|| panic!("no Done line: {:?}", r.stderr));
    let n: usize = last
        .strip_prefix("(Worker    ) Done after ")
        .and_then(|rest| rest.strip_suffix(" iterations"))
        .unwrap_or_else(|| panic!("{last}"))
        .parse()
        .unwrap();
    let acquired = r
        .stderr
        .iter()
        .filter(|l| l.ends_with(": Acquired"))
        .count();
    assert_eq!(acquired, 3, "{:?}", r.stderr);
    assert!(n >= 3);
    assert_eq!(
        r.stderr
            .iter()
            .filter(|l| l.contains(": Not acquired"))
            .count(),
        n - 3
    );
}

#[test]
fn threading_lock_reacquire_and_rlock() {
    let r = run("threading_lock_reacquire");
    assert_eq!(
        r.stdout,
        strings(&["First try : true", "Second try: false"])
    );
    let r = run("threading_rlock");
    assert_eq!(r.stdout, strings(&["First try : true", "Second try: true"]));
}

#[test]
fn threading_lock_with() {
    let r = run("threading_lock_with");
    assert_eq!(
        sorted(&r.stderr),
        strings(&[
            "(Thread-1  ) Lock acquired via with",
            "(Thread-2  ) Lock acquired directly",
        ])
    );
}

#[test]
fn threading_condition() {
    let r = run("threading_condition");
    let messages: Vec<&str> = r.stderr.iter().map(|l| &l[24..]).collect();
    assert_eq!(
        messages[..4],
        [
            "(c1) Starting consumer thread",
            "(c2) Starting consumer thread",
            "(p ) Starting producer thread",
            "(p ) Making resource available",
        ]
    );
    let mut rest = messages[4..].to_vec();
    rest.sort_unstable();
    assert_eq!(
        rest,
        [
            "(c1) Resource is available to consumer",
            "(c2) Resource is available to consumer",
        ]
    );
    assert!(r.elapsed >= Duration::from_millis(3500), "{:?}", r.elapsed);
}

#[test]
fn deadlock_dump() {
    let r = run("deadlock_dump");
    // The watchdog reports the cycle once, then a dump that contains it again.
    let reports: Vec<_> = r
        .stderr
        .iter()
        .filter(|l| l.starts_with("threadkit: Deadlock (cycle of 2 threads):"))
        .collect();
    assert_eq!(reports.len(), 1, "{:#?}", r.stderr);
    let text = r.stderr.join("\n");
    for needle in [
        "\"alpha\" #",
        "waits to acquire Lock \"ledger\"",
        "waits to acquire Lock \"accounts\"",
        "held by \"beta\"",
        "held by \"alpha\"",
        "threadkit thread dump (3 threads, 1 deadlock)",
        "waiting to join \"alpha\"",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    // Four distinct call sites in the report: two acquires and two holders' acquires.
    let sites: BTreeSet<&str> = r.stderr[..6]
        .iter()
        .filter_map(|l| l.split("deadlock_dump.rs:").nth(1))
        .map(|s| s.split(|c: char| !c.is_ascii_digit()).next().unwrap())
        .collect();
    assert_eq!(sites.len(), 4, "{:#?}", r.stderr);
    assert_eq!(
        r.stdout.last().map(String::as_str),
        Some("done: the timeouts broke the deadlock")
    );
}
