//! The CPython column: runs `python/bench.py` (the same cases with `threading` and `queue`) and
//! reads the CSV it writes.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::harness::{Mode, Stats};

/// The script, found next to this crate's sources.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/bench.py");

/// One case as CPython ran it.
#[derive(Clone, Debug)]
pub(crate) struct PyResult {
    pub(crate) case: String,
    pub(crate) iters: u64,
    pub(crate) stats: Stats,
}

/// Runs the script with `python3` (or `$PYTHON`) in `mode` on the cases matching `filters`, and
/// reads back `csv_path`, which it writes.
pub(crate) fn run(
    mode: Mode,
    filters: &[String],
    csv_path: &Path,
) -> Result<Vec<PyResult>, String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let status = Command::new(&python)
        .arg(SCRIPT)
        .args(["--mode", mode.name(), "--out"])
        .arg(csv_path)
        .args(filters)
        .status()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !status.success() {
        return Err(format!("{python} {SCRIPT} failed: {status}"));
    }
    let text = fs::read_to_string(csv_path)
        .map_err(|e| format!("cannot read {}: {e}", csv_path.display()))?;
    parse(&text)
}

/// Parses `case,python_ns,min_ns,max_ns,trials,iters,peak_rss_kib,late_p99_ns`.
fn parse(text: &str) -> Result<Vec<PyResult>, String> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    if header != "case,python_ns,min_ns,max_ns,trials,iters,peak_rss_kib,late_p99_ns" {
        return Err(format!("unexpected header in the CPython CSV: {header:?}"));
    }
    lines
        .filter(|l| !l.is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let bad = || format!("bad line in the CPython CSV: {line:?}");
            if f.len() != 8 {
                return Err(bad());
            }
            let num = |s: &str| s.parse::<f64>().map_err(|_| bad());
            let opt = |s: &str| match s {
                "" => Ok(None),
                s => s.parse::<u64>().map(Some).map_err(|_| bad()),
            };
            Ok(PyResult {
                case: f[0].to_owned(),
                iters: f[5].parse().map_err(|_| bad())?,
                stats: Stats {
                    median_ns: num(f[1])?,
                    min_ns: num(f[2])?,
                    max_ns: num(f[3])?,
                    trials: f[4].parse().map_err(|_| bad())?,
                    peak_rss_kib: opt(f[6])?,
                    late_p99_ns: opt(f[7])?,
                    overlap: None,
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_script_output() {
        let text = "case,python_ns,min_ns,max_ns,trials,iters,peak_rss_kib,late_p99_ns\n\
                    lock_uncontended,77.0,74.0,80.5,5,100000,,\n\
                    timers_10k,180000.0,170000.0,190000.0,3,10000,189640,4200000\n";
        let r = parse(text).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].case, "lock_uncontended");
        assert_eq!(r[0].stats.median_ns, 77.0);
        assert_eq!(r[0].stats.peak_rss_kib, None);
        assert_eq!(r[1].stats.peak_rss_kib, Some(189_640));
        assert_eq!(r[1].stats.late_p99_ns, Some(4_200_000));
        assert!(parse("nope\n").is_err());
    }
}
