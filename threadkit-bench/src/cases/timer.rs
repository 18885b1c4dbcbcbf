//! `Timer` against Python's own design: one sleeping thread per pending timer.
//!
//! Each trial runs in a fresh child process (this binary, re-run with `--child-timers`), so that
//! its peak resident memory (`getrusage` maxrss) belongs to that contender alone. The child
//! schedules `n` timers that each fire between `delay` and 1.5 × `delay` after being scheduled
//! (the same scrambled spread for every contender), waits until every one has fired, and
//! reports the time it took to *schedule* them all, its peak RSS and the 99th percentile of how
//! late the timers fired (issue 4's three measures).

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{Case, Contender, Measured, Mode};

/// The argument that makes this binary run one timer trial and exit.
pub(crate) const CHILD_FLAG: &str = "--child-timers";

/// Timers per trial (the case's name says 10k; smoke runs use fewer).
const TIMERS: u64 = 10_000;

/// One contender: schedules `n` timers, timer `i` due [`interval(i, delay)`](interval) after it
/// is scheduled and calling `firings.fire(i, due)` when it fires; returns, once all are
/// scheduled (not fired), a closure that waits until all have fired.
type Schedule = fn(n: usize, delay: Duration, firings: &Arc<Firings>) -> Box<dyn FnOnce()>;

/// What the timer callbacks record: how late each timer fired.
pub(crate) struct Firings {
    /// Nanoseconds late, per timer; `u64::MAX` until it fires.
    late_ns: Vec<AtomicU64>,
}

impl Firings {
    fn new(n: usize) -> Self {
        Firings {
            late_ns: (0..n).map(|_| AtomicU64::new(u64::MAX)).collect(),
        }
    }

    /// The callback of timer `i`, due at `due`.
    #[inline]
    pub(crate) fn fire(&self, i: usize, due: Instant) {
        let late = Instant::now().saturating_duration_since(due);
        self.late_ns[i].store(late.as_nanos() as u64, Ordering::Relaxed);
    }

    /// The 99th percentile of the lateness, or how many timers never fired.
    fn p99_late_ns(&self) -> Result<u64, usize> {
        let mut late: Vec<u64> = self
            .late_ns
            .iter()
            .map(|l| l.load(Ordering::Relaxed))
            .collect();
        let missing = late.iter().filter(|&&l| l == u64::MAX).count();
        if missing > 0 {
            return Err(missing);
        }
        late.sort_unstable();
        Ok(late[(late.len() * 99).div_ceil(100).saturating_sub(1)])
    }
}

/// The contenders by the name the child is given.
fn contenders() -> Vec<(&'static str, &'static str, Option<Schedule>)> {
    vec![
        ("threadkit", "threadkit Timer", Some(threadkit_timers)),
        ("threads", "thread per timer (std)", Some(thread_per_timer)),
    ]
}

pub(crate) fn cases(mode: Mode) -> Vec<Case> {
    // A delay long enough that every timer is still pending when the last one is scheduled
    // (scheduling 10k threads takes ~0.3 s on the reference machine), so that peak memory is
    // the memory of 10k pending timers.
    let delay = match mode {
        Mode::Full => Duration::from_secs(2),
        Mode::Quick => Duration::from_secs(1),
        Mode::Smoke => Duration::from_millis(50),
    };
    let mut case = Case::new("timers_10k", "timer scheduled", TIMERS, mode);
    case.iters = if mode == Mode::Smoke { 200 } else { TIMERS };
    case.trials = match mode {
        Mode::Full => 5,
        Mode::Quick => 3,
        Mode::Smoke => 1,
    };
    // Every trial is a fresh process: nothing to warm.
    case.warm_up = false;
    for (id, label, schedule) in contenders() {
        let contender = Contender::new(label, move |n| in_child(id, n, delay));
        if id == "threadkit" {
            case = case.threadkit(schedule.map(|_| contender));
        } else {
            case = case.peer(contender);
        }
    }
    vec![case]
}

/// Runs one trial in a child process and reads back what it measured.
fn in_child(id: &str, n: u64, delay: Duration) -> Measured {
    let exe = std::env::current_exe().expect("path of this benchmark binary");
    let out = Command::new(exe)
        .args([
            CHILD_FLAG,
            id,
            &n.to_string(),
            &delay.as_millis().to_string(),
        ])
        .output()
        .expect("cannot run the timer child process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "timer child `{id}` failed ({}): {}{}",
        out.status,
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut fields = stdout.split_whitespace().map(|f| f.parse::<u64>());
    match (fields.next(), fields.next()) {
        (Some(Ok(ns)), Some(Ok(rss))) => Measured {
            elapsed: Duration::from_nanos(ns),
            peak_rss_kib: Some(rss),
            late_p99_ns: fields.next().and_then(Result::ok),
            overlap: None,
        },
        _ => panic!("timer child `{id}` printed {stdout:?}"),
    }
}

/// The child: `--child-timers ID N DELAY_MS`; prints `SCHEDULE_NS PEAK_RSS_KIB P99_LATE_NS`.
pub(crate) fn child_main(args: &[String]) -> Result<(), String> {
    let [id, n, delay_ms] = args else {
        return Err(format!("usage: {CHILD_FLAG} ID N DELAY_MS"));
    };
    let n: usize = n.parse().map_err(|e| format!("N: {e}"))?;
    let delay = Duration::from_millis(delay_ms.parse().map_err(|e| format!("DELAY_MS: {e}"))?);
    let schedule = contenders()
        .into_iter()
        .find(|(name, _, _)| name == id)
        .and_then(|(_, _, schedule)| schedule)
        .ok_or_else(|| format!("no timer contender {id:?}"))?;
    let firings = Arc::new(Firings::new(n));
    let start = Instant::now();
    let wait_all = schedule(n, delay, &firings);
    let scheduled = start.elapsed();
    wait_all();
    let p99 = firings
        .p99_late_ns()
        .map_err(|missing| format!("{missing} of {n} timers did not fire"))?;
    println!("{} {} {p99}", scheduled.as_nanos(), peak_rss_kib());
    Ok(())
}

/// How long timer `i` waits: `delay` plus up to half of `delay` again, spread in a scrambled
/// order (a multiplicative hash of `i`), so that the deadlines arrive out of order as real
/// timers' do (a constant interval would hand a timer heap its best case: every deadline
/// later than the last). Both contenders and the CPython twin use this same formula.
fn interval(i: usize, delay: Duration) -> Duration {
    let frac = (i as u64).wrapping_mul(0x9E37_79B9) & 0xFFFF_FFFF; // of 2^32
    let half_ns = delay.as_nanos() as u64 / 2;
    delay + Duration::from_nanos(((half_ns as u128 * frac as u128) >> 32) as u64)
}

/// Python's `threading.Timer`: a thread per timer that sleeps, then runs the callback.
fn thread_per_timer(n: usize, delay: Duration, firings: &Arc<Firings>) -> Box<dyn FnOnce()> {
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let firings = Arc::clone(firings);
            let due = Instant::now() + interval(i, delay);
            thread::spawn(move || {
                thread::sleep(due.saturating_duration_since(Instant::now()));
                firings.fire(i, due);
            })
        })
        .collect();
    Box::new(move || threads.into_iter().for_each(|t| t.join().unwrap()))
}

/// threadkit's `Timer`: `n` Timers started one after the other (no OS thread each: a timer
/// service and a small worker pool); waits for all of them with `join`.
fn threadkit_timers(n: usize, delay: Duration, firings: &Arc<Firings>) -> Box<dyn FnOnce()> {
    let timers: Vec<_> = (0..n)
        .map(|i| {
            let firings = Arc::clone(firings);
            let interval = interval(i, delay);
            let due = Instant::now() + interval;
            let timer = threadkit::Timer::new(interval, move || firings.fire(i, due));
            timer.start().expect("cannot start a Timer");
            timer
        })
        .collect();
    Box::new(move || timers.iter().for_each(|t| t.join().unwrap()))
}

/// Peak resident set size of this process, in KiB (Linux reports `ru_maxrss` in KiB).
fn peak_rss_kib() -> u64 {
    // SAFETY: all-zero is a valid `rusage`; getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer to a `rusage`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc == 0 {
        usage.ru_maxrss as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p99_lateness_and_missing_timers() {
        let f = Firings::new(200);
        let due = Instant::now();
        for i in 0..200 {
            f.fire(i, due);
        }
        // Everything fired after `due`: a p99 exists and is at most the time since.
        assert!(f.p99_late_ns().unwrap() <= due.elapsed().as_nanos() as u64);
        let g = Firings::new(3);
        g.fire(0, Instant::now());
        assert_eq!(g.p99_late_ns(), Err(2));
    }

    #[test]
    fn thread_per_timer_fires_every_timer() {
        let f = Arc::new(Firings::new(20));
        thread_per_timer(20, Duration::from_millis(1), &f)();
        assert!(f.p99_late_ns().is_ok());
    }

    #[test]
    fn threadkit_timers_fire_every_timer() {
        let f = Arc::new(Firings::new(20));
        threadkit_timers(20, Duration::from_millis(1), &f)();
        assert!(f.p99_late_ns().is_ok());
    }

    #[test]
    fn intervals_spread_over_half_a_delay_out_of_order() {
        let delay = Duration::from_secs(2);
        let all: Vec<Duration> = (0..10_000).map(|i| interval(i, delay)).collect();
        assert!(all.iter().all(|d| *d >= delay && *d < delay * 3 / 2));
        let (min, max) = (all.iter().min().unwrap(), all.iter().max().unwrap());
        assert!(*min < delay + delay / 100 && *max > delay * 3 / 2 - delay / 100);
        // Scrambled: many consecutive pairs go down, not a sorted sequence.
        let descents = all.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(descents > 1000, "{descents}");
        // The same values as python/bench.py's interval_ns (checked there by hand).
        assert_eq!(interval(0, delay), delay);
        assert_eq!(interval(1, delay).as_nanos(), 2_000_000_000 + 618_033_988);
    }
}
