//! The measuring loop: warm-up, trials that alternate threadkit and its peers in one process,
//! and the median / min–max of each contender's trials.
//!
//! A contender is a closure `Fn(iters) -> Measured` that builds its own fixture, times only the
//! operations under test and returns the elapsed time; the harness divides by `iters`. Running
//! the contenders round-robin (rotating which goes first each trial) spreads slow phases of a
//! noisy machine (another process, frequency changes) over all of them instead of one.

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use crate::pin::{self, Placement};

/// What one run of a contender measured.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Measured {
    /// Time spent on the `iters` operations (setup and teardown excluded where possible).
    pub(crate) elapsed: Duration,
    /// Peak resident memory of the process that ran it, for cases that run in a child process.
    pub(crate) peak_rss_kib: Option<u64>,
    /// 99th percentile of how late the timers fired, for the timer case.
    pub(crate) late_p99_ns: Option<u64>,
}

impl From<Duration> for Measured {
    fn from(elapsed: Duration) -> Self {
        Measured {
            elapsed,
            peak_rss_kib: None,
            late_p99_ns: None,
        }
    }
}

type RunFn = Box<dyn Fn(u64) -> Measured>;

/// One implementation of a case: threadkit's, or a peer's.
pub(crate) struct Contender {
    pub(crate) label: &'static str,
    run: RunFn,
}

impl Contender {
    pub(crate) fn new<M: Into<Measured>>(
        label: &'static str,
        run: impl Fn(u64) -> M + 'static,
    ) -> Self {
        Contender {
            label,
            run: Box::new(move |iters| run(iters).into()),
        }
    }
}

/// A benchmark case: the same work done by threadkit and by each peer.
pub(crate) struct Case {
    /// The case name as BENCHMARKS.md and compare.csv write it (with a `/same_cpu` or
    /// `/split_cpus` suffix for the pinned two-thread cases).
    pub(crate) name: String,
    /// What one operation is ("op", "round trip", "item", "timer").
    pub(crate) unit: &'static str,
    /// Operations per trial.
    pub(crate) iters: u64,
    /// Timed trials per contender (after one untimed warm-up run when `warm_up` is set).
    pub(crate) trials: usize,
    pub(crate) warm_up: bool,
    /// `None` until the threadkit primitive exists: the case then runs its peers only and the
    /// table says "not yet measured". Never stand a peer in for it.
    pub(crate) threadkit: Option<Contender>,
    pub(crate) peers: Vec<Contender>,
    /// Why the whole case cannot run here (for example, pinning needs two CPUs).
    pub(crate) skip: Option<String>,
}

/// How long a run is: the full suite, `--quick` (under 3 minutes on 2 cores) or `--smoke`
/// (tiny counts, to prove that everything runs end to end; its figures mean nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Full,
    Quick,
    Smoke,
}

impl Mode {
    /// Operations per trial for a case that does `full` operations per trial in a full run.
    pub(crate) fn count(self, full: u64) -> u64 {
        match self {
            Mode::Full => full,
            Mode::Quick => full / 5,
            Mode::Smoke => (full / 2000).max(64),
        }
    }

    /// Timed trials per contender.
    pub(crate) fn trials(self) -> usize {
        match self {
            Mode::Full => 9,
            Mode::Quick => 5,
            Mode::Smoke => 2,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Quick => "quick",
            Mode::Smoke => "smoke",
        }
    }
}

impl Case {
    /// A case doing `full_iters` operations per trial in a full run, scaled for `mode`.
    pub(crate) fn new(
        name: impl Into<String>,
        unit: &'static str,
        full_iters: u64,
        mode: Mode,
    ) -> Self {
        Case {
            name: name.into(),
            unit,
            iters: mode.count(full_iters),
            trials: mode.trials(),
            warm_up: true,
            threadkit: None,
            peers: Vec::new(),
            skip: None,
        }
    }

    /// A two-thread case pinned as `placement` says; skipped where the CPUs are missing.
    pub(crate) fn pinned(
        name: &str,
        placement: Placement,
        unit: &'static str,
        full_iters: u64,
        mode: Mode,
    ) -> Self {
        let mut case = Case::new(
            format!("{name}/{}", placement.suffix()),
            unit,
            full_iters,
            mode,
        );
        case.skip = placement.unavailable();
        case
    }

    /// The threadkit side, or `None` while the primitive does not exist yet.
    pub(crate) fn threadkit(mut self, contender: Option<Contender>) -> Self {
        self.threadkit = contender;
        self
    }

    pub(crate) fn peer(mut self, contender: Contender) -> Self {
        self.peers.push(contender);
        self
    }

    /// Rounds the operation count down to a multiple of `n` (operations split over `n` threads).
    pub(crate) fn divisible_by(mut self, n: u64) -> Self {
        self.iters = (self.iters / n).max(1) * n;
        self
    }
}

/// Median and spread of one contender's trials, in nanoseconds per operation.
#[derive(Clone, Debug)]
pub(crate) struct Stats {
    pub(crate) median_ns: f64,
    pub(crate) min_ns: f64,
    pub(crate) max_ns: f64,
    pub(crate) trials: usize,
    /// Median peak RSS over the trials, where the case measures it.
    pub(crate) peak_rss_kib: Option<u64>,
    /// Median over the trials of the p99 timer lateness, where the case measures it.
    pub(crate) late_p99_ns: Option<u64>,
}

impl Stats {
    fn from_samples(ns: &mut [f64], rss: &mut [u64], late: &mut [u64]) -> Stats {
        ns.sort_by(f64::total_cmp);
        Stats {
            median_ns: median(ns),
            min_ns: ns[0],
            max_ns: ns[ns.len() - 1],
            trials: ns.len(),
            peak_rss_kib: median_low(rss),
            late_p99_ns: median_low(late),
        }
    }
}

/// The lower median of `values` (sorted in place), `None` if there are none.
fn median_low(values: &mut [u64]) -> Option<u64> {
    values.sort_unstable();
    (!values.is_empty()).then(|| values[(values.len() - 1) / 2])
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// What a case produced.
#[derive(Debug)]
pub(crate) struct CaseResult {
    pub(crate) name: String,
    pub(crate) unit: &'static str,
    pub(crate) iters: u64,
    /// `None`: the threadkit side is not written yet.
    pub(crate) threadkit: Option<Stats>,
    pub(crate) peers: Vec<(&'static str, Stats)>,
    pub(crate) skip: Option<String>,
}

/// Runs every contender of `case`: one warm-up each, then `case.trials` rounds in which each
/// contender runs once, the first one rotating from round to round.
pub(crate) fn run_case(case: &Case) -> CaseResult {
    let mut result = CaseResult {
        name: case.name.clone(),
        unit: case.unit,
        iters: case.iters,
        threadkit: None,
        peers: Vec::new(),
        skip: case.skip.clone(),
    };
    if case.skip.is_some() {
        return result;
    }
    let contenders: Vec<&Contender> = case.threadkit.iter().chain(&case.peers).collect();
    if case.warm_up {
        for c in &contenders {
            (c.run)(case.iters);
        }
    }
    let mut ns: Vec<Vec<f64>> = vec![Vec::with_capacity(case.trials); contenders.len()];
    let mut rss: Vec<Vec<u64>> = vec![Vec::new(); contenders.len()];
    let mut late: Vec<Vec<u64>> = vec![Vec::new(); contenders.len()];
    for trial in 0..case.trials {
        for k in 0..contenders.len() {
            let i = (trial + k) % contenders.len();
            let m = (contenders[i].run)(case.iters);
            ns[i].push(m.elapsed.as_nanos() as f64 / case.iters as f64);
            rss[i].extend(m.peak_rss_kib);
            late[i].extend(m.late_p99_ns);
        }
    }
    let mut stats =
        (0..contenders.len()).map(|i| Stats::from_samples(&mut ns[i], &mut rss[i], &mut late[i]));
    if case.threadkit.is_some() {
        result.threadkit = stats.next();
    }
    result.peers = case.peers.iter().map(|p| p.label).zip(stats).collect();
    result
}

// ----- building blocks the cases share ---------------------------------------------------------

/// Times `iters` calls of `op` on the calling thread.
#[inline]
pub(crate) fn tight_loop(iters: u64, mut op: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        op();
    }
    start.elapsed()
}

/// Times `threads` threads that each call `op` `iters / threads` times, all released together by
/// a barrier; wall time from the release until the last thread finishes (thread start-up and
/// exit are outside the timed region, the join of finished threads inside it).
pub(crate) fn contended(threads: usize, iters: u64, op: impl Fn() + Sync) -> Duration {
    let per_thread = iters / threads as u64;
    let start = Barrier::new(threads + 1);
    thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    for _ in 0..per_thread {
                        op();
                    }
                })
            })
            .collect();
        start.wait();
        let t = Instant::now();
        for w in workers {
            w.join().expect("benchmark thread panicked");
        }
        t.elapsed()
    })
}

/// Runs `main_side` on the calling thread and `other_side` on a second thread, both pinned as
/// `placement` says and released together; times `main_side`. The calling thread's CPU mask is
/// restored afterwards.
pub(crate) fn two_threads(
    placement: Option<Placement>,
    main_side: impl FnOnce(),
    other_side: impl FnOnce() + Send,
) -> Duration {
    let cpus = placement.map(|p| p.cpus().expect("case skipped when CPUs are missing"));
    let start = Barrier::new(2);
    thread::scope(|s| {
        let start = &start;
        s.spawn(move || {
            let _pin = cpus.map(|(_, b)| pin::pin_current(b));
            start.wait();
            other_side();
        });
        let _pin = cpus.map(|(a, _)| pin::pin_current(a));
        start.wait();
        let t = Instant::now();
        main_side();
        t.elapsed()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_take_median_and_spread() {
        let s = Stats::from_samples(&mut [3.0, 1.0, 2.0], &mut [], &mut []);
        assert_eq!(
            (s.median_ns, s.min_ns, s.max_ns, s.trials),
            (2.0, 1.0, 3.0, 3)
        );
        assert_eq!((s.peak_rss_kib, s.late_p99_ns), (None, None));
        let s = Stats::from_samples(&mut [4.0, 1.0, 2.0, 3.0], &mut [10, 30, 20], &mut [5, 1]);
        assert_eq!(s.median_ns, 2.5);
        assert_eq!((s.peak_rss_kib, s.late_p99_ns), (Some(20), Some(1)));
    }

    #[test]
    fn run_case_alternates_and_keeps_threadkit_apart() {
        use std::cell::RefCell;
        use std::rc::Rc;
        let order = Rc::new(RefCell::new(Vec::new()));
        let contender = |label: &'static str, ns: u64| {
            let order = Rc::clone(&order);
            Contender::new(label, move |iters| {
                order.borrow_mut().push(label);
                Duration::from_nanos(ns * iters)
            })
        };
        let case = Case {
            name: "x".into(),
            unit: "op",
            iters: 10,
            trials: 2,
            warm_up: true,
            threadkit: Some(contender("tk", 2)),
            peers: vec![contender("a", 4), contender("b", 8)],
            skip: None,
        };
        let r = run_case(&case);
        assert_eq!(r.threadkit.unwrap().median_ns, 2.0);
        let peers: Vec<_> = r.peers.iter().map(|(l, s)| (*l, s.median_ns)).collect();
        assert_eq!(peers, [("a", 4.0), ("b", 8.0)]);
        // Warm-up in order, then round 0 from tk, round 1 from a.
        assert_eq!(
            *order.borrow(),
            ["tk", "a", "b", "tk", "a", "b", "a", "b", "tk"]
        );
    }

    #[test]
    fn missing_threadkit_side_is_reported_as_missing() {
        let case = Case {
            name: "x".into(),
            unit: "op",
            iters: 1,
            trials: 1,
            warm_up: false,
            threadkit: None,
            peers: vec![Contender::new("a", |_| Duration::from_nanos(5))],
            skip: None,
        };
        let r = run_case(&case);
        assert!(r.threadkit.is_none());
        assert_eq!(r.peers[0].1.median_ns, 5.0);
    }

    #[test]
    fn contended_runs_every_operation() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let n = AtomicU64::new(0);
        contended(4, 1000, || {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.into_inner(), 1000);
    }
}
