//! threadkit against its peers (std, parking_lot, crossbeam-channel, thread_local and, with
//! `--python`, CPython), side by side in one process. See BENCHMARKS.md at the repository root.
//!
//! ```text
//! cargo run --release -p threadkit-bench                 # full run (~10 minutes on 2 cores)
//! cargo run --release -p threadkit-bench -- --quick      # under 3 minutes
//! cargo run --release -p threadkit-bench -- --smoke      # tiny counts: proves it runs, nothing more
//! cargo run --release -p threadkit-bench -- --python     # add the CPython column
//! cargo run --release -p threadkit-bench -- lock queue   # only cases whose name contains a filter
//! ```
//!
//! Each case runs in a child process under a watchdog (`watchdog.rs`): a case that stops making
//! progress fails under its name and the run goes on; the exit status is then non-zero.

mod cases;
mod harness;
mod pin;
mod python;
mod report;
mod stuck;
mod watchdog;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use harness::Mode;

const USAGE: &str = "\
usage: threadkit-bench [--quick | --smoke] [--python] [--list] [--out DIR] [--stall-timeout SECS]
                       [--in-process] [FILTER...]

  (no flag)   full run: 9 trials per contender, full operation counts
  --quick     5 trials, a fifth of the counts (under 3 minutes on 2 cores)
  --smoke     tiny counts, 2 trials: checks that every case runs; figures mean nothing
  --python    also run python/bench.py (CPython threading/queue) and show its column
  --list      print the case names and exit
  --out DIR   where compare.csv and details.csv go (default: <workspace>/target/threadkit-bench)
  --stall-timeout SECS
              the watchdog: a case with no contender run finishing for SECS fails and is
              killed (default 20 with --smoke, 120 otherwise)
  --in-process
              run the cases in this process, without the watchdog (for profilers: callgrind,
              perf); a stuck case then hangs the run
  --contender SUBSTR
              with --in-process: run only the contender named SUBSTR in the CSVs (`threadkit` is
              threadkit's side alone) or, if none is, those whose label contains SUBSTR (to
              profile one side: `valgrind --tool=callgrind ... --in-process --contender threadkit CASE`)
  --include-stuck-case
              add a case that hangs on purpose (tests the watchdog)
  FILTER      run only the cases whose name contains one of these strings

Exit status: 0 when every case ran, 1 when a case failed (panicked, stuck) or the files could
not be written, 2 for a usage error.";

/// The flag that adds [`cases::stuck`], the watchdog's self-test.
pub(crate) const STUCK_FLAG: &str = "--include-stuck-case";

struct Options {
    mode: Mode,
    python: bool,
    list: bool,
    out: PathBuf,
    stall: Option<Duration>,
    in_process: bool,
    contender: Option<String>,
    include_stuck: bool,
    filters: Vec<String>,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut opts = Options {
        mode: Mode::Full,
        python: false,
        list: false,
        out: default_out_dir(),
        stall: None,
        in_process: false,
        contender: None,
        include_stuck: false,
        filters: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => opts.mode = Mode::Quick,
            "--smoke" => opts.mode = Mode::Smoke,
            "--python" => opts.python = true,
            "--list" => opts.list = true,
            "--out" => opts.out = args.next().ok_or("--out needs a directory")?.into(),
            "--stall-timeout" => {
                let secs = args.next().ok_or("--stall-timeout needs seconds")?;
                let secs: f64 = secs
                    .parse()
                    .ok()
                    .filter(|s: &f64| *s > 0.0 && s.is_finite())
                    .ok_or_else(|| format!("--stall-timeout {secs}: not a positive number"))?;
                opts.stall = Some(Duration::from_secs_f64(secs));
            }
            "--in-process" => opts.in_process = true,
            "--contender" => {
                opts.contender = Some(args.next().ok_or("--contender needs a label")?.clone());
            }
            STUCK_FLAG => opts.include_stuck = true,
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            filter => opts.filters.push(filter.to_owned()),
        }
    }
    if opts.contender.is_some() && !opts.in_process {
        return Err("--contender needs --in-process".into());
    }
    Ok(opts)
}

/// `<workspace root>/target/threadkit-bench`, wherever the binary is run from.
fn default_out_dir() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .parent()
        .unwrap_or(crate_dir)
        .join("target")
        .join("threadkit-bench")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(cases::timer::CHILD_FLAG) {
        return match cases::timer::child_main(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    if args.first().map(String::as_str) == Some(watchdog::CHILD_FLAG) {
        return child_case(&args[1..]);
    }
    let opts = match parse_args(&args) {
        Ok(opts) => opts,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("threadkit-bench: {e}");
            }
            eprintln!("{USAGE}");
            return if e.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    // Read the CPU mask before any case pins the main thread.
    pin::allowed_cpus();

    let selected = |name: &str| {
        opts.filters.is_empty() || opts.filters.iter().any(|f| name.contains(f.as_str()))
    };
    let mut cases: Vec<_> = case_list(opts.mode, opts.include_stuck)
        .into_iter()
        .filter(|c| selected(&c.name))
        .collect();
    if let Some(only) = &opts.contender {
        for case in &mut cases {
            case.keep_named(only);
        }
    }
    if opts.list {
        for c in &cases {
            println!("{}", c.name);
        }
        return ExitCode::SUCCESS;
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run with --release for figures that mean anything");
    }
    let about = machine(opts.mode);
    println!("{about}");

    let stall = opts.stall.unwrap_or(match opts.mode {
        Mode::Smoke => Duration::from_secs(20),
        Mode::Quick | Mode::Full => Duration::from_secs(120),
    });
    let child = watchdog::ChildCommand::this_binary(opts.mode, opts.include_stuck, stall);
    let started = Instant::now();
    let mut results = Vec::new();
    for case in &cases {
        eprint!("{:<30} ", case.name);
        let t = Instant::now();
        let r = if opts.in_process {
            harness::run_case(case)
        } else {
            watchdog::run_isolated(case, &child)
        };
        eprint!("{:6.1} s", t.elapsed().as_secs_f64());
        match &r.failed {
            Some(why) => eprintln!("  FAILED: {why}"),
            None => eprintln!(),
        }
        results.push(r);
    }
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| r.failed.is_some())
        .map(|r| r.name.as_str())
        .collect();

    let python = if opts.python {
        match python::run(opts.mode, &opts.filters, &opts.out.join("python.csv")) {
            Ok(py) => py,
            Err(e) => {
                eprintln!("threadkit-bench: the CPython column is missing: {e}");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };

    println!("\n{}", report::table(&results, &python));
    println!("total {:.1} s", started.elapsed().as_secs_f64());
    let about = format!("{about}\nload after: {}", load_average());
    println!("load after: {}", load_average());
    let written = report::write_files(&opts.out, &results, &python)
        .and_then(|()| std::fs::write(opts.out.join("machine.txt"), &about));
    match written {
        Ok(()) if failed.is_empty() => {
            println!("wrote {}", opts.out.join("compare.csv").display());
            ExitCode::SUCCESS
        }
        Ok(()) => {
            println!("wrote {}", opts.out.join("compare.csv").display());
            eprintln!(
                "threadkit-bench: {} case(s) failed: {}",
                failed.len(),
                failed.join(", ")
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!(
                "threadkit-bench: cannot write to {}: {e}",
                opts.out.display()
            );
            ExitCode::FAILURE
        }
    }
}

/// Every case; with `include_stuck`, the watchdog's self-test case first.
fn case_list(mode: Mode, include_stuck: bool) -> Vec<harness::Case> {
    let mut all = cases::all(mode);
    if include_stuck {
        all.insert(0, stuck::case(mode));
    }
    all
}

/// `--child-case MODE NAME [--include-stuck-case]`: run one case for the watchdog.
fn child_case(args: &[String]) -> ExitCode {
    let mode = match args.first().map(String::as_str) {
        Some("full") => Mode::Full,
        Some("quick") => Mode::Quick,
        Some("smoke") => Mode::Smoke,
        other => {
            eprintln!(
                "threadkit-bench: {}: bad mode {other:?}",
                watchdog::CHILD_FLAG
            );
            return ExitCode::from(2);
        }
    };
    let name = args.get(1).map_or("", String::as_str);
    let include_stuck = args.get(2).map(String::as_str) == Some(STUCK_FLAG);
    pin::allowed_cpus();
    let case = case_list(mode, include_stuck)
        .into_iter()
        .find(|c| c.name == name);
    watchdog::child_main(case, name)
}

/// The machine, toolchain and date, for the top of the table and BENCHMARKS.md.
fn machine(mode: Mode) -> String {
    let run = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "?".into())
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "?".into());
    format!(
        "threadkit-bench ({} run)\ndate:    {}\nmachine: {cpu}; CPUs allowed: {:?}\nkernel:  {}\nrustc:   {}\npeers:   parking_lot 0.13, crossbeam-channel 0.5, thread_local 1.1, std\nload:    {} (1, 5, 15 min; other processes on these CPUs make every figure noisier)",
        mode.name(),
        run("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        pin::allowed_cpus(),
        run("uname", &["-sr"]),
        run("rustc", &["--version"]),
        load_average(),
    )
}

/// The 1, 5 and 15 minute load averages (Linux), or "?".
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn flags_and_filters() {
        let o = parse_args(&args("--quick --python lock queue --out /tmp/x")).unwrap();
        assert_eq!(o.mode, Mode::Quick);
        assert!(o.python && !o.list);
        assert_eq!(o.filters, ["lock", "queue"]);
        assert_eq!(o.out, PathBuf::from("/tmp/x"));
        assert_eq!(parse_args(&[]).unwrap().mode, Mode::Full);
        assert!(parse_args(&args("--bogus")).is_err());
        assert!(parse_args(&args("--out")).is_err());
        let o = parse_args(&args(
            "--smoke --stall-timeout 2.5 --in-process --include-stuck-case",
        ))
        .unwrap();
        assert_eq!(o.stall, Some(Duration::from_millis(2500)));
        assert!(o.in_process && o.include_stuck);
        assert!(parse_args(&args("--stall-timeout 0")).is_err());
        assert!(parse_args(&args("--stall-timeout x")).is_err());
        assert!(parse_args(&args("--contender tk")).is_err());
        let o = parse_args(&args("--in-process --contender tk")).unwrap();
        assert_eq!(o.contender.as_deref(), Some("tk"));
    }
}
