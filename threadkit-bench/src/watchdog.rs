//! The watchdog: every case runs in a child process (this binary, re-run with
//! `--child-case`), which reports each contender run on its stdout as it finishes. If no report
//! comes for the stall timeout, the case's threads have stopped making progress: the child (and
//! its process group) is killed, the case is reported as failed under its name, and the run goes
//! on with the next case. A child that panics (a contender's own check failed) or exits without
//! finishing fails its case the same way.
//!
//! The protocol, one line per event on the child's stdout:
//!
//! ```text
//! start <contender> <trial|warm>                        about to run
//! run <contender> <trial|warm> <elapsed_ns> <rss|-> <late|-> <overlap|->   finished one run
//! done                                                  every run finished
//! ```

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::harness::{drive, Case, CaseResult, Collector, Measured, Mode, RunReport};

/// The argument that makes this binary run one case for a watchdog and exit.
pub(crate) const CHILD_FLAG: &str = "--child-case";

/// How to re-run this binary for one case.
pub(crate) struct ChildCommand {
    /// Builds the command; [`run_isolated`] adds stdout piping and the process group.
    pub(crate) make: Box<dyn Fn(&Case) -> Command>,
    /// How long the child may go without reporting a finished run.
    pub(crate) stall: Duration,
}

impl ChildCommand {
    /// This binary, re-run as `--child-case MODE NAME [--include-stuck-case]`.
    pub(crate) fn this_binary(mode: Mode, include_stuck: bool, stall: Duration) -> Self {
        ChildCommand {
            make: Box::new(move |case| {
                let exe = std::env::current_exe().expect("path of this benchmark binary");
                let mut cmd = Command::new(exe);
                cmd.args([CHILD_FLAG, mode.name(), &case.name]);
                if include_stuck {
                    cmd.arg(crate::STUCK_FLAG);
                }
                cmd
            }),
            stall,
        }
    }
}

/// One line of the protocol.
#[derive(Debug, PartialEq)]
enum Line {
    Start(usize, Option<usize>),
    Run(RunReport),
    Done,
}

fn fmt_trial(trial: Option<usize>) -> String {
    trial.map_or_else(|| "warm".to_owned(), |t| t.to_string())
}

fn fmt_opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn parse_line(line: &str) -> Option<Line> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let trial = |s: &str| match s {
        "warm" => Some(None),
        t => t.parse().ok().map(Some),
    };
    let opt = |s: &str| match s {
        "-" => Some(None),
        v => v.parse().ok().map(Some),
    };
    match f.as_slice() {
        ["done"] => Some(Line::Done),
        ["start", c, t] => Some(Line::Start(c.parse().ok()?, trial(t)?)),
        ["run", c, t, ns, rss, late, overlap] => Some(Line::Run(RunReport {
            contender: c.parse().ok()?,
            trial: trial(t)?,
            measured: Measured {
                elapsed: Duration::from_nanos(ns.parse().ok()?),
                peak_rss_kib: opt(rss)?,
                late_p99_ns: opt(late)?,
                overlap: match *overlap {
                    "-" => None,
                    v => Some(v.parse().ok()?),
                },
            },
        })),
        _ => None,
    }
}

/// The child: runs the case named `name` and reports each run on stdout.
pub(crate) fn child_main(case: Option<Case>, name: &str) -> ExitCode {
    let Some(case) = case else {
        eprintln!("threadkit-bench: no case named {name:?}");
        return ExitCode::from(2);
    };
    let out = std::io::stdout();
    let say = |line: String| {
        let mut out = out.lock();
        // A parent that has gone away cannot be told anything: stop.
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            std::process::exit(1);
        }
    };
    drive(
        &case,
        |c, t| say(format!("start {c} {}", fmt_trial(t))),
        |r| {
            let m = r.measured;
            say(format!(
                "run {} {} {} {} {} {}",
                r.contender,
                fmt_trial(r.trial),
                m.elapsed.as_nanos(),
                fmt_opt(m.peak_rss_kib),
                fmt_opt(m.late_p99_ns),
                m.overlap
                    .map_or_else(|| "-".to_owned(), |o| format!("{o:.3}"))
            ));
        },
    );
    say("done".into());
    ExitCode::SUCCESS
}

/// Kills the child's whole process group (it may have children of its own: the timer case's).
fn kill(child: &mut Child) {
    #[cfg(unix)]
    {
        // SAFETY: kill(2) with the negated id of the process group the child leads (it was
        // spawned with `process_group(0)`), and a valid signal; it touches no memory of ours.
        unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `case` in a child process under the watchdog. Never hangs: a child that reports nothing
/// for `cmd.stall` is killed and the case fails with a message naming it and what was running.
pub(crate) fn run_isolated(case: &Case, cmd: &ChildCommand) -> CaseResult {
    if case.skip.is_some() {
        return Collector::new(case).finish();
    }
    let mut command = (cmd.make)(case);
    command.stdin(Stdio::null()).stdout(Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return CaseResult::failed(case, format!("cannot start the child process: {e}")),
    };
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    // The reader ends when the child's stdout closes (it exits or is killed).
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut collector = Collector::new(case);
    let mut running: Option<(usize, Option<usize>)> = None;
    let doing = |running: Option<(usize, Option<usize>)>| match running {
        Some((c, None)) => format!("in the warm-up of {}", case.label(c)),
        Some((c, Some(t))) => format!("in trial {} of {}", t + 1, case.label(c)),
        None => "before its first run".to_owned(),
    };
    loop {
        match rx.recv_timeout(cmd.stall) {
            Ok(line) => match parse_line(&line) {
                Some(Line::Start(c, t)) => running = Some((c, t)),
                Some(Line::Run(r)) => {
                    collector.add(r);
                    running = None;
                }
                Some(Line::Done) => break,
                // Anything else a case prints is passed on, not trusted.
                None => println!("{line}"),
            },
            Err(mpsc::RecvTimeoutError::Timeout) => {
                kill(&mut child);
                return CaseResult::failed(
                    case,
                    format!(
                        "stuck: no progress for {} s {} (killed by the watchdog)",
                        cmd.stall.as_secs_f64(),
                        doing(running)
                    ),
                );
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child
                    .wait()
                    .map_or_else(|e| e.to_string(), |s| s.to_string());
                return CaseResult::failed(
                    case,
                    format!("the child process ended {} ({status})", doing(running)),
                );
            }
        }
    }
    // Every run is over, but the child must still exit, and its exit can hang too (threadkit
    // waits at exit for non-daemon threads a contender left behind): the same stall bound holds.
    match wait_bounded(&mut child, cmd.stall) {
        Some(Ok(status)) if status.success() => collector.finish(),
        Some(Ok(status)) => CaseResult::failed(case, format!("the child process failed: {status}")),
        Some(Err(e)) => CaseResult::failed(case, format!("cannot wait for the child process: {e}")),
        None => {
            kill(&mut child);
            CaseResult::failed(
                case,
                format!(
                    "stuck: the child process did not exit within {} s of its last run \
                     (killed by the watchdog)",
                    cmd.stall.as_secs_f64()
                ),
            )
        }
    }
}

/// Waits at most `limit` for `child` to exit; `None` if it is still running then.
fn wait_bounded(
    child: &mut Child,
    limit: Duration,
) -> Option<std::io::Result<std::process::ExitStatus>> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(Ok(status)),
            Ok(None) if std::time::Instant::now() < deadline => {
                // Polling a child process (std has no blocking wait with a timeout).
                thread::sleep(Duration::from_millis(5));
            }
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::Contender;
    use std::time::Instant;

    fn case() -> Case {
        Case {
            name: "fake".into(),
            unit: "op",
            iters: 10,
            trials: 2,
            warm_up: true,
            threadkit: Some(Contender::new("tk", |_| Duration::ZERO)),
            peers: vec![Contender::new("peer", |_| Duration::ZERO)],
            skip: None,
        }
    }

    /// A "child" that is a shell script printing `script`'s lines.
    fn shell(script: &'static str, stall: Duration) -> ChildCommand {
        ChildCommand {
            make: Box::new(move |_| {
                let mut c = Command::new("sh");
                c.args(["-c", script]);
                c
            }),
            stall,
        }
    }

    #[test]
    fn protocol_round_trips() {
        assert_eq!(parse_line("done"), Some(Line::Done));
        assert_eq!(parse_line("start 1 warm"), Some(Line::Start(1, None)));
        let r = parse_line("run 1 3 500 - 7 2.5").unwrap();
        let Line::Run(r) = r else { panic!() };
        assert_eq!((r.contender, r.trial), (1, Some(3)));
        assert_eq!(r.measured.elapsed, Duration::from_nanos(500));
        assert_eq!(
            (r.measured.peak_rss_kib, r.measured.late_p99_ns),
            (None, Some(7))
        );
        assert_eq!(parse_line("run 1 3 x - - -"), None);
        assert_eq!(parse_line("hello"), None);
    }

    #[test]
    fn a_finished_child_gives_its_figures() {
        let cmd = shell(
            "echo run 0 warm 1 - - -; echo run 1 warm 1 - - -; \
             echo run 0 0 20 - - -; echo run 1 0 40 - - -; echo run 1 1 60 - - -; echo run 0 1 40 - - -; \
             echo done",
            Duration::from_secs(60),
        );
        let r = run_isolated(&case(), &cmd);
        assert_eq!(r.failed, None);
        assert_eq!(r.threadkit.unwrap().median_ns, 3.0);
        assert_eq!(r.peers[0].1.median_ns, 5.0);
    }

    /// The watchdog itself: a child that stops reporting is killed after the stall timeout and
    /// the case fails, naming what was running; the call returns although the child would have
    /// slept for ten minutes.
    #[test]
    fn a_stuck_child_is_killed_and_named() {
        let cmd = shell(
            "echo run 0 warm 1 - - -; echo start 1 warm; exec sleep 600",
            Duration::from_millis(500),
        );
        let t = Instant::now();
        let r = run_isolated(&case(), &cmd);
        let why = r.failed.expect("a stuck case must fail");
        assert!(
            why.contains("stuck") && why.contains("warm-up of peer"),
            "{why}"
        );
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "the watchdog did not fire"
        );
        assert!(r.threadkit.is_none() && r.peers.is_empty());
    }

    /// A child that reports every run and `done`, then hangs in its exit (threadkit waiting for
    /// a non-daemon thread a contender left blocked): the case fails by name, bounded by the
    /// stall timeout, instead of hanging the whole run.
    #[test]
    fn a_child_that_hangs_after_its_last_run_is_killed_and_named() {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let cmd = shell(
                "echo run 0 0 1 - - -; echo run 1 0 1 - - -; echo done; exec sleep 120",
                Duration::from_millis(500),
            );
            tx.send(run_isolated(&case(), &cmd).failed)
        });
        let failed = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("run_isolated waited for the hung child without a bound");
        let why = failed.expect("a child that never exits must fail its case");
        assert!(why.contains("did not exit"), "{why}");
    }

    #[test]
    fn a_child_that_dies_or_stops_early_fails_its_case() {
        let r = run_isolated(
            &case(),
            &shell("echo start 0 0; exit 101", Duration::from_secs(60)),
        );
        let why = r.failed.unwrap();
        assert!(
            why.contains("trial 1 of tk") && why.contains("101"),
            "{why}"
        );
        let r = run_isolated(
            &case(),
            &shell("echo run 0 0 1 - - -; echo done", Duration::from_secs(60)),
        );
        assert!(r.failed.unwrap().contains("peer ran no trial"));
    }
}
