//! The table on stdout and the CSV files under `target/threadkit-bench/`.
//!
//! * `compare.csv`: `case,threadkit_ns,peer,peer_ns,ratio`, one row per case and peer (and per
//!   case with a CPython figure, peer `CPython`, when `--python` ran). Medians in ns per
//!   operation; `ratio = threadkit_ns / peer_ns` (below 1.0: threadkit is faster). Both
//!   `threadkit_ns` and `ratio` are empty while the threadkit side is not written yet.
//! * `details.csv`: every contender's median, min, max, trial count, operations per trial and,
//!   for the timer case, peak RSS.
//!
//! A failed case (panicked, or stuck and killed by the watchdog) has no figures: it is in neither
//! CSV; the table shows it as FAILED with the reason, and the run's exit status is non-zero.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

use crate::harness::{CaseResult, Stats};
use crate::python::PyResult;

/// The label of the CPython rows.
pub(crate) const PYTHON_LABEL: &str = "CPython";

/// What the table shows where the threadkit side is still a TODO.
const NOT_YET: &str = "not yet measured";

/// `12.3 ns`, `1.49 µs`, `2.10 ms`.
pub(crate) fn fmt_ns(ns: f64) -> String {
    if ns < 10.0 {
        format!("{ns:.2} ns")
    } else if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

fn fmt_stats(s: &Stats) -> String {
    format!(
        "{} [{}–{}]",
        fmt_ns(s.median_ns),
        fmt_ns(s.min_ns),
        fmt_ns(s.max_ns)
    )
}

/// Peak RSS and p99 lateness, for the notes of the timer case.
fn extras(note: &mut Vec<String>, who: &str, s: &Stats) {
    if let Some(kib) = s.peak_rss_kib {
        note.push(format!("{who} peak RSS {:.1} MiB", kib as f64 / 1024.0));
    }
    if let Some(ns) = s.late_p99_ns {
        note.push(format!("{who} p99 late {}", fmt_ns(ns as f64)));
    }
    if let Some(o) = s.overlap {
        note.push(format!("{who} threads overlapped {o:.1}×"));
    }
}

/// One row of compare.csv.
struct Row<'a> {
    case: &'a str,
    threadkit: Option<f64>,
    peer: &'a str,
    peer_ns: f64,
}

fn rows<'a>(results: &'a [CaseResult], python: &'a [PyResult]) -> Vec<Row<'a>> {
    let mut rows = Vec::new();
    for r in results {
        let threadkit = r.threadkit.as_ref().map(|s| s.median_ns);
        for (peer, s) in &r.peers {
            rows.push(Row {
                case: &r.name,
                threadkit,
                peer,
                peer_ns: s.median_ns,
            });
        }
        if let Some(py) = python.iter().find(|p| p.case == r.name) {
            rows.push(Row {
                case: &r.name,
                threadkit,
                peer: PYTHON_LABEL,
                peer_ns: py.stats.median_ns,
            });
        }
    }
    rows
}

/// The contents of compare.csv.
pub(crate) fn compare_csv(results: &[CaseResult], python: &[PyResult]) -> String {
    let mut out = String::from("case,threadkit_ns,peer,peer_ns,ratio\n");
    for row in rows(results, python) {
        let (tk, ratio) = match row.threadkit {
            Some(tk) => (format!("{tk:.3}"), format!("{:.3}", tk / row.peer_ns)),
            None => (String::new(), String::new()),
        };
        let _ = writeln!(
            out,
            "{},{tk},{},{:.3},{ratio}",
            row.case,
            csv_field(row.peer),
            row.peer_ns
        );
    }
    out
}

/// The contents of details.csv.
pub(crate) fn details_csv(results: &[CaseResult], python: &[PyResult]) -> String {
    let mut out = String::from(
        "case,contender,unit,iters,trials,median_ns,min_ns,max_ns,peak_rss_kib,late_p99_ns,overlap\n",
    );
    let mut line = |case: &str, who: &str, unit: &str, iters: u64, s: &Stats| {
        let rss = s.peak_rss_kib.map(|k| k.to_string()).unwrap_or_default();
        let late = s.late_p99_ns.map(|k| k.to_string()).unwrap_or_default();
        let overlap = s.overlap.map(|o| format!("{o:.2}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "{case},{},{unit},{iters},{},{:.3},{:.3},{:.3},{rss},{late},{overlap}",
            csv_field(who),
            s.trials,
            s.median_ns,
            s.min_ns,
            s.max_ns
        );
    };
    for r in results {
        if let Some(s) = &r.threadkit {
            line(&r.name, "threadkit", r.unit, r.iters, s);
        }
        for (peer, s) in &r.peers {
            line(&r.name, peer, r.unit, r.iters, s);
        }
    }
    for p in python {
        line(&p.case, PYTHON_LABEL, "", p.iters, &p.stats);
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The table printed at the end of a run: per case, threadkit's median [min–max] beside each
/// peer's, the ratio, and the CPython figure when there is one.
pub(crate) fn table(results: &[CaseResult], python: &[PyResult]) -> String {
    let show_python = !python.is_empty();
    let mut header = vec![
        "case",
        "threadkit",
        "peer",
        "peer median [min–max]",
        "ratio",
    ];
    if show_python {
        header.push("CPython");
    }
    header.push("note");
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for r in results {
        let py_result = python.iter().find(|p| p.case == r.name);
        let py = py_result.map(|p| fmt_stats(&p.stats)).unwrap_or_default();
        let unfinished = match (&r.failed, &r.skip) {
            (Some(why), _) => Some(("FAILED", why)),
            (None, Some(why)) => Some(("skipped", why)),
            (None, None) => None,
        };
        if let Some((what, why)) = unfinished {
            let mut line = vec![r.name.clone(), what.into(), String::new(), String::new()];
            line.push(String::new());
            if show_python {
                line.push(py);
            }
            line.push(why.clone());
            lines.push(line);
            continue;
        }
        let tk = r.threadkit.as_ref().map_or(NOT_YET.to_owned(), fmt_stats);
        for (i, (peer, s)) in r.peers.iter().enumerate() {
            let first = i == 0;
            let ratio = r
                .threadkit
                .as_ref()
                .map(|t| format!("{:.2}", t.median_ns / s.median_ns))
                .unwrap_or_default();
            let mut line = vec![
                if first { r.name.clone() } else { String::new() },
                if first { tk.clone() } else { String::new() },
                peer.to_string(),
                fmt_stats(s),
                ratio,
            ];
            if show_python {
                line.push(if first { py.clone() } else { String::new() });
            }
            let mut note = Vec::new();
            if first {
                note.push(format!("per {}", r.unit));
                if let Some(t) = &r.threadkit {
                    extras(&mut note, "threadkit", t);
                }
            }
            extras(&mut note, "peer", s);
            if let Some(p) = py_result.filter(|_| first) {
                extras(&mut note, PYTHON_LABEL, &p.stats);
            }
            line.push(note.join("; "));
            lines.push(line);
        }
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in &lines {
        for (c, cell) in line.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            out.push_str(cell);
            out.push_str(&" ".repeat(pad + 2));
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    out
}

/// Writes compare.csv and details.csv into `dir`.
pub(crate) fn write_files(
    dir: &Path,
    results: &[CaseResult],
    python: &[PyResult],
) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join("compare.csv"), compare_csv(results, python))?;
    fs::write(dir.join("details.csv"), details_csv(results, python))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(median_ns: f64) -> Stats {
        Stats {
            median_ns,
            min_ns: median_ns,
            max_ns: median_ns,
            trials: 1,
            peak_rss_kib: None,
            late_p99_ns: None,
            overlap: None,
        }
    }

    fn result(name: &str, tk: Option<f64>) -> CaseResult {
        CaseResult {
            name: name.into(),
            unit: "op",
            iters: 10,
            threadkit: tk.map(stats),
            peers: vec![
                ("std Mutex", stats(20.0)),
                ("parking_lot, 0.13", stats(10.0)),
            ],
            skip: None,
            failed: None,
        }
    }

    #[test]
    fn compare_csv_has_the_agreed_shape() {
        let py = [PyResult {
            case: "a".into(),
            iters: 5,
            stats: stats(80.0),
        }];
        let csv = compare_csv(&[result("a", Some(10.0)), result("b", None)], &py);
        let expected = "case,threadkit_ns,peer,peer_ns,ratio\n\
            a,10.000,std Mutex,20.000,0.500\n\
            a,10.000,\"parking_lot, 0.13\",10.000,1.000\n\
            a,10.000,CPython,80.000,0.125\n\
            b,,std Mutex,20.000,\n\
            b,,\"parking_lot, 0.13\",10.000,\n";
        assert_eq!(csv, expected);
    }

    #[test]
    fn table_says_what_is_not_measured() {
        let t = table(&[result("b", None)], &[]);
        assert!(t.contains(NOT_YET), "{t}");
        assert!(!t.contains("CPython"), "{t}");
    }

    #[test]
    fn table_names_a_failed_case_and_why() {
        let mut r = result("stuck_case", None);
        r.peers.clear();
        r.failed = Some("stuck: no progress for 20 s".into());
        let t = table(&[r, result("a", Some(10.0))], &[]);
        let line = t.lines().find(|l| l.starts_with("stuck_case")).unwrap();
        assert!(
            line.contains("FAILED") && line.contains("no progress"),
            "{t}"
        );
        assert!(t.lines().any(|l| l.starts_with("a ")), "{t}");
    }

    #[test]
    fn units_scale() {
        assert_eq!(fmt_ns(0.333), "0.33 ns");
        assert_eq!(fmt_ns(12.34), "12.3 ns");
        assert_eq!(fmt_ns(1490.0), "1.49 µs");
        assert_eq!(fmt_ns(2_100_000.0), "2.10 ms");
    }
}
