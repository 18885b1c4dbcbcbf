//! Schedules 100,000 Timers (CPython would need 100,000 OS threads) and reports what it cost:
//! the time to schedule them, the OS threads and memory used, and how late they fired.
//!
//! ```text
//! cargo run --release --example timers_100k            # 100,000 timers
//! cargo run --release --example timers_100k -- 10000   # another count
//! cargo run --release --example timers_100k -- 10000 --thread-per-timer
//! ```
//!
//! The deadlines are spread evenly over one second, starting one second after scheduling. With
//! `--thread-per-timer` the same schedule runs the way CPython's `Timer` does it (one threadkit
//! `Thread` per timer, waiting on an `Event` with a timeout), for comparison; that needs a few
//! kilobytes of memory and an OS thread per timer, so keep the count modest.
//!
//! Numbers (Linux `/proc/self/status`: `Threads`, `VmRSS`, `VmHWM`) are only indicative on a
//! shared machine.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use threadkit::{Builder, Event, Timer};

const START: Duration = Duration::from_secs(1);
const SPREAD: Duration = Duration::from_secs(1);

/// A field of `/proc/self/status` (the first number on its line), if there is one.
fn status(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn show(value: Option<u64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| v.to_string())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut n = 100_000usize;
    let mut thread_per_timer = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--thread-per-timer" => thread_per_timer = true,
            count => n = count.parse()?,
        }
    }

    let threads_before = status("Threads");
    let rss_before = status("VmRSS");
    // Lateness of each timer in nanoseconds, and how many have fired.
    let lateness: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let fired = Arc::new(AtomicUsize::new(0));
    let all_fired = Arc::new(Event::new());

    let scheduling = Instant::now();
    let mut timers = Vec::with_capacity(if thread_per_timer { 0 } else { n });
    let mut threads = Vec::with_capacity(if thread_per_timer { n } else { 0 });
    for i in 0..n {
        let interval = START + SPREAD.mul_f64(i as f64 / n as f64);
        let due = Instant::now() + interval;
        let (lateness, fired, all_fired) = (
            Arc::clone(&lateness),
            Arc::clone(&fired),
            Arc::clone(&all_fired),
        );
        let function = move || {
            let late = Instant::now().saturating_duration_since(due);
            lateness[i].store(late.as_nanos() as u64, Ordering::Relaxed);
            if fired.fetch_add(1, Ordering::AcqRel) + 1 == lateness.len() {
                all_fired.set();
            }
        };
        if thread_per_timer {
            // What CPython's Timer does: a thread that waits on its `finished` event.
            let finished = Event::new();
            let t = Builder::new().daemon(true).spawn(move || {
                if !finished.wait_timeout(interval) {
                    function();
                }
            })?;
            threads.push(t);
        } else {
            let t = Timer::new(interval, function);
            t.start()?;
            timers.push(t);
        }
    }
    let scheduled_in = scheduling.elapsed();
    let threads_pending = status("Threads");
    let rss_pending = status("VmRSS");

    // Watch the thread count while the timers fire.
    let mut max_threads = threads_pending.unwrap_or(0);
    while !all_fired.wait_timeout(Duration::from_millis(5)) {
        max_threads = max_threads.max(status("Threads").unwrap_or(0));
    }
    for t in &timers {
        t.join()?;
    }
    for t in threads {
        t.join().map_err(|_| "a timer thread panicked")?;
    }

    let mut late: Vec<u64> = lateness.iter().map(|l| l.load(Ordering::Relaxed)).collect();
    late.sort_unstable();
    let pct = |p: f64| Duration::from_nanos(late[((late.len() - 1) as f64 * p) as usize]);
    let mode = if thread_per_timer {
        "thread per timer"
    } else {
        "threadkit Timer"
    };
    println!(
        "{n} timers ({mode}), due {START:?} to {:?} after scheduling",
        START + SPREAD
    );
    println!(
        "scheduled in {:.1} ms ({:.2} us per timer)",
        scheduled_in.as_secs_f64() * 1e3,
        scheduled_in.as_secs_f64() * 1e6 / n as f64
    );
    println!(
        "OS threads: {} before, {} with all timers pending, at most {max_threads} while firing",
        show(threads_before),
        show(threads_pending),
    );
    if let (Some(before), Some(pending)) = (rss_before, rss_pending) {
        let grown = pending.saturating_sub(before);
        println!(
            "memory: VmRSS grew by {:.1} MiB while pending ({} bytes per timer); VmHWM {} kB",
            grown as f64 / 1024.0,
            grown * 1024 / n as u64,
            show(status("VmHWM")),
        );
    }
    println!(
        "lateness: p50 {:?}, p99 {:?}, max {:?}",
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}
