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
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Measured {
    /// Time spent on the `iters` operations (setup and teardown excluded where possible).
    pub(crate) elapsed: Duration,
    /// Peak resident memory of the process that ran it, for cases that run in a child process.
    pub(crate) peak_rss_kib: Option<u64>,
    /// 99th percentile of how late the timers fired, for the timer case.
    pub(crate) late_p99_ns: Option<u64>,
    /// For [`contended`]: the sum of the workers' own times over the span they covered together.
    /// N means all N workers were inside their timed loop for the whole span; 1.0 means one at a
    /// time on average (one after another: nothing contended); below 1.0, the span is mostly
    /// gaps between workers that started late (short runs on a busy machine).
    pub(crate) overlap: Option<f64>,
}

impl From<Duration> for Measured {
    fn from(elapsed: Duration) -> Self {
        Measured {
            elapsed,
            peak_rss_kib: None,
            late_p99_ns: None,
            overlap: None,
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
    /// Median over the trials of [`Measured::overlap`], where the case measures it.
    pub(crate) overlap: Option<f64>,
}

impl Stats {
    #[cfg(test)]
    fn from_samples(ns: &mut [f64], rss: &mut [u64], late: &mut [u64]) -> Stats {
        Stats::with_overlap(ns, rss, late, &mut [])
    }

    fn with_overlap(
        ns: &mut [f64],
        rss: &mut [u64],
        late: &mut [u64],
        overlap: &mut [f64],
    ) -> Stats {
        ns.sort_by(f64::total_cmp);
        overlap.sort_by(f64::total_cmp);
        Stats {
            median_ns: median(ns),
            min_ns: ns[0],
            max_ns: ns[ns.len() - 1],
            trials: ns.len(),
            peak_rss_kib: median_low(rss),
            late_p99_ns: median_low(late),
            overlap: (!overlap.is_empty()).then(|| median(overlap)),
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
    /// Why the case failed (a contender panicked, or the watchdog found it stuck); its figures
    /// are then empty.
    pub(crate) failed: Option<String>,
}

impl CaseResult {
    fn empty(case: &Case) -> Self {
        CaseResult {
            name: case.name.clone(),
            unit: case.unit,
            iters: case.iters,
            threadkit: None,
            peers: Vec::new(),
            skip: case.skip.clone(),
            failed: None,
        }
    }

    /// The result of a case that did not finish.
    pub(crate) fn failed(case: &Case, why: String) -> Self {
        CaseResult {
            failed: Some(why),
            ..CaseResult::empty(case)
        }
    }
}

/// One run of one contender, as [`drive`] reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RunReport {
    /// Index into [`Case::contenders`].
    pub(crate) contender: usize,
    /// `None` for the warm-up run.
    pub(crate) trial: Option<usize>,
    pub(crate) measured: Measured,
}

impl Case {
    /// threadkit's side first (if written), then the peers: the order [`RunReport::contender`]
    /// indexes.
    pub(crate) fn contenders(&self) -> Vec<&Contender> {
        self.threadkit.iter().chain(&self.peers).collect()
    }

    /// Drops the contenders whose label `keep` rejects (to profile one of them alone).
    fn keep_contenders(&mut self, keep: impl Fn(&str) -> bool) {
        self.threadkit = self.threadkit.take().filter(|c| keep(c.label));
        self.peers.retain(|c| keep(c.label));
    }

    /// Keeps the contenders that `--contender SUBSTR` names: the one whose name in the CSVs
    /// (`threadkit` for threadkit's side, the label for a peer) is `only`, if there is one;
    /// otherwise every contender whose label contains `only`. So `--contender threadkit` profiles
    /// threadkit's side alone, not also the peers labelled "threadkit SimpleQueue" or "threadkit
    /// put+get" (whose counts a per-operation figure would otherwise add up).
    pub(crate) fn keep_named(&mut self, only: &str) {
        if only == "threadkit" && self.threadkit.is_some() {
            self.peers.clear();
        } else if self.peers.iter().any(|c| c.label == only) {
            self.threadkit = None;
            self.peers.retain(|c| c.label == only);
        } else {
            self.keep_contenders(|label| label.contains(only));
        }
    }

    /// The label of contender `contender` (in [`Case::contenders`] order).
    pub(crate) fn label(&self, contender: usize) -> &'static str {
        self.contenders().get(contender).map_or("?", |c| c.label)
    }
}

/// Runs every contender of `case`: one warm-up each, then `case.trials` rounds in which each
/// contender runs once, the first one rotating from round to round. `before` is called before
/// each run (the watchdog's child names what is about to run), `after` with what it measured.
pub(crate) fn drive(
    case: &Case,
    mut before: impl FnMut(usize, Option<usize>),
    mut after: impl FnMut(RunReport),
) {
    if case.skip.is_some() {
        return;
    }
    let contenders = case.contenders();
    let mut run = |contender: usize, trial: Option<usize>| {
        before(contender, trial);
        let measured = (contenders[contender].run)(case.iters);
        after(RunReport {
            contender,
            trial,
            measured,
        });
    };
    if case.warm_up {
        for i in 0..contenders.len() {
            run(i, None);
        }
    }
    for trial in 0..case.trials {
        for k in 0..contenders.len() {
            run((trial + k) % contenders.len(), Some(trial));
        }
    }
}

/// Turns the [`RunReport`]s of one case into its [`CaseResult`] (warm-up runs are ignored).
pub(crate) struct Collector<'a> {
    case: &'a Case,
    ns: Vec<Vec<f64>>,
    rss: Vec<Vec<u64>>,
    late: Vec<Vec<u64>>,
    overlap: Vec<Vec<f64>>,
}

impl<'a> Collector<'a> {
    pub(crate) fn new(case: &'a Case) -> Self {
        let n = case.contenders().len();
        Collector {
            case,
            ns: vec![Vec::with_capacity(case.trials); n],
            rss: vec![Vec::new(); n],
            late: vec![Vec::new(); n],
            overlap: vec![Vec::new(); n],
        }
    }

    pub(crate) fn add(&mut self, r: RunReport) {
        if r.trial.is_none() || r.contender >= self.ns.len() {
            return;
        }
        let i = r.contender;
        let m = r.measured;
        self.ns[i].push(m.elapsed.as_nanos() as f64 / self.case.iters as f64);
        self.rss[i].extend(m.peak_rss_kib);
        self.late[i].extend(m.late_p99_ns);
        self.overlap[i].extend(m.overlap);
    }

    pub(crate) fn finish(mut self) -> CaseResult {
        let mut result = CaseResult::empty(self.case);
        if self.case.skip.is_some() {
            return result;
        }
        if let Some(i) = self.ns.iter().position(Vec::is_empty) {
            result.failed = Some(format!("{} ran no trial", self.case.label(i)));
            return result;
        }
        let mut stats = (0..self.ns.len()).map(|i| {
            Stats::with_overlap(
                &mut self.ns[i],
                &mut self.rss[i],
                &mut self.late[i],
                &mut self.overlap[i],
            )
        });
        if self.case.threadkit.is_some() {
            result.threadkit = stats.next();
        }
        result.peers = self.case.peers.iter().map(|p| p.label).zip(stats).collect();
        result
    }
}

/// Runs `case` in this process (no watchdog: see `watchdog::run_isolated` for that).
pub(crate) fn run_case(case: &Case) -> CaseResult {
    let mut collector = Collector::new(case);
    drive(case, |_, _| (), |r| collector.add(r));
    collector.finish()
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

/// The span of time during which a group of threads did the work: from the earliest start to
/// the latest end, each taken by the thread itself. On 2 CPUs with more busy threads than CPUs,
/// a coordinating thread (the one that spawned the workers) may not run again until they are
/// all done, so its own clock says nothing about when the work began; the workers' clocks do.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub(crate) start: Instant,
    pub(crate) end: Instant,
}

impl Span {
    /// Runs `work` on the calling thread, timed by the calling thread.
    #[inline]
    pub(crate) fn time<R>(work: impl FnOnce() -> R) -> (Span, R) {
        let start = Instant::now();
        let r = work();
        let end = Instant::now();
        (Span { start, end }, r)
    }

    /// From the first start to the last end of `spans`.
    ///
    /// # Panics
    ///
    /// If `spans` is empty.
    pub(crate) fn union(spans: impl IntoIterator<Item = Span>) -> Duration {
        let mut spans = spans.into_iter();
        let first = spans.next().expect("no thread reported a span");
        let (start, end) = spans.fold((first.start, first.end), |(s, e), x| {
            (s.min(x.start), e.max(x.end))
        });
        end - start
    }
}

/// Times `threads` threads that each call `op` `iters / threads` times, all released together by
/// a barrier. The time is the workers' own: from the first worker's start (just after the
/// barrier) to the last worker's end (thread start-up, exit and join are outside it). Also
/// reports how much the workers overlapped ([`Measured::overlap`]): on a busy machine they may
/// run one after another, and then nothing was contended.
pub(crate) fn contended(threads: usize, iters: u64, op: impl Fn() + Sync) -> Measured {
    let per_thread = iters / threads as u64;
    let start = Barrier::new(threads);
    thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    Span::time(|| {
                        for _ in 0..per_thread {
                            op();
                        }
                    })
                    .0
                })
            })
            .collect();
        let spans: Vec<Span> = workers
            .into_iter()
            .map(|w| w.join().expect("benchmark thread panicked"))
            .collect();
        let elapsed = Span::union(spans.iter().copied());
        let busy: Duration = spans.iter().map(|s| s.end - s.start).sum();
        Measured {
            overlap: Some(busy.as_secs_f64() / elapsed.as_secs_f64().max(1e-12)),
            ..Measured::from(elapsed)
        }
    })
}

/// Runs `main_side` on the calling thread and `other_side` on a second thread, both pinned as
/// `placement` says and released together; the time is the two threads' own, from the first
/// one's start to the last one's end. The calling thread's CPU mask is restored afterwards.
pub(crate) fn two_threads(
    placement: Option<Placement>,
    main_side: impl FnOnce(),
    other_side: impl FnOnce() + Send,
) -> Duration {
    let cpus = placement.map(|p| p.cpus().expect("case skipped when CPUs are missing"));
    let start = Barrier::new(2);
    thread::scope(|s| {
        let start = &start;
        let other = s.spawn(move || {
            let _pin = cpus.map(|(_, b)| pin::pin_current(b));
            start.wait();
            Span::time(other_side).0
        });
        let _pin = cpus.map(|(a, _)| pin::pin_current(a));
        start.wait();
        let (main, ()) = Span::time(main_side);
        let other = other.join().expect("benchmark thread panicked");
        Span::union([main, other])
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
    fn the_overlap_of_contended_runs_reaches_the_stats() {
        let case = Case {
            name: "x".into(),
            unit: "op",
            iters: 8,
            trials: 3,
            warm_up: false,
            threadkit: Some(Contender::new("tk", |n| {
                contended(2, n, || thread::sleep(Duration::from_millis(1)))
            })),
            peers: vec![Contender::new("a", |_| Duration::from_nanos(5))],
            skip: None,
        };
        let r = run_case(&case);
        let overlap = r.threadkit.unwrap().overlap.expect("overlap measured");
        assert!(overlap > 0.0 && overlap <= 2.0 + 1e-9, "{overlap}");
        assert_eq!(r.peers[0].1.overlap, None);
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
    fn a_contender_named_exactly_is_profiled_alone() {
        let case = || Case {
            name: "x".into(),
            unit: "op",
            iters: 1,
            trials: 1,
            warm_up: false,
            threadkit: Some(Contender::new("threadkit Queue(0)", |_| Duration::ZERO)),
            peers: [
                "threadkit SimpleQueue",
                "crossbeam unbounded",
                "crossbeam bounded(1)",
            ]
            .map(|l| Contender::new(l, |_| Duration::ZERO))
            .into(),
            skip: None,
        };
        let labels = |only: &str| {
            let mut c = case();
            c.keep_named(only);
            c.contenders().iter().map(|c| c.label).collect::<Vec<_>>()
        };
        // The CSVs' name of threadkit's side, not every label that contains it.
        assert_eq!(labels("threadkit"), ["threadkit Queue(0)"]);
        assert_eq!(labels("threadkit SimpleQueue"), ["threadkit SimpleQueue"]);
        assert_eq!(labels("crossbeam unbounded"), ["crossbeam unbounded"]);
        // No exact name: every label that contains it.
        assert_eq!(
            labels("crossbeam"),
            ["crossbeam unbounded", "crossbeam bounded(1)"]
        );
        assert_eq!(labels("Simple"), ["threadkit SimpleQueue"]);
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

    #[test]
    fn span_is_first_start_to_last_end() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let s = |a, b| Span {
            start: t0 + ms(a),
            end: t0 + ms(b),
        };
        assert_eq!(Span::union([s(5, 10), s(1, 3), s(4, 20)]), ms(19));
    }

    /// The time is the workers' own and covers their work (a stand-in op that takes 10 ms; two
    /// per thread), whenever the spawning thread gets to run.
    #[test]
    fn contended_and_two_threads_time_the_work() {
        let ms = Duration::from_millis;
        let m = contended(2, 4, || thread::sleep(ms(10)));
        assert!(m.elapsed >= ms(20), "{m:?}");
        let overlap = m.overlap.unwrap();
        // At most both threads all along; less than 1 if one started late (a busy machine).
        assert!(overlap > 0.0 && overlap <= 2.0 + 1e-9, "{m:?}");
        let d = two_threads(None, || thread::sleep(ms(5)), || thread::sleep(ms(20)));
        assert!(d >= ms(20), "{d:?}");
    }
}
