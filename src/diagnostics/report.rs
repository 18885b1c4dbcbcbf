//! Reports and the replaceable hook they go through (default: stderr, as the excepthook prints).

use std::fmt;
use std::sync::{Arc, RwLock};

use super::snapshot::{ThreadRef, WaitInfo};
use super::{Deadlock, ThreadDump};

/// A thread blocked in threadkit longer than the watchdog's threshold, cycle or not (Go's
/// `[semacquire, 12 minutes]`). Lost wake-ups and leaked holders show up here.
#[derive(Clone, Debug)]
pub struct Stall {
    /// The blocked thread.
    pub thread: ThreadRef,
    /// Its wait, with the holder if it waits for a lock.
    pub wait: WaitInfo,
}

impl fmt::Display for Stall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Stall: \"{}\" #{} blocked for {}",
            self.thread.name,
            self.thread.ident,
            super::format::secs(self.wait.waited)
        )?;
        write!(f, "{}", self.wait)
    }
}

/// What the [`Watchdog`](super::Watchdog) reports, through the [report hook](set_report_hook).
///
/// A lock-order report ([`Report::PotentialDeadlock`], sent by the acquiring thread itself) is
/// never confused with [`Report::Deadlock`], which is threads blocked now.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Report {
    /// Threads blocked in a cycle now (each cycle reported once).
    Deadlock(Deadlock),
    /// A thread blocked longer than the threshold (each wait reported once).
    Stall(Stall),
    /// A lock-order inversion: no thread is blocked, but these orders could deadlock (each
    /// cycle reported once; see [`set_lock_order_mode`](super::set_lock_order_mode)).
    PotentialDeadlock(crate::lock_order::PotentialDeadlock),
    /// A full thread dump (the watchdog's `dump_after`, or after a deadlock or stall report).
    Dump(ThreadDump),
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Deadlock(d) => write!(f, "threadkit: {d}"),
            Report::Stall(s) => write!(f, "threadkit: {s}"),
            Report::Dump(d) => write!(f, "{d}"),
            Report::PotentialDeadlock(p) => write!(f, "threadkit: {p}"),
        }
    }
}

type Hook = Arc<dyn Fn(&Report) + Send + Sync>;

static HOOK: RwLock<Option<Hook>> = RwLock::new(None);

/// Replaces the report hook: `hook` receives every report from now on, on the watchdog's
/// thread (lock-order reports: on the thread whose acquire inverted the order, before it
/// blocks), with no threadkit-internal lock held (it may use threadkit primitives itself; the
/// lock-order checker ignores the locks it takes).
///
/// A panic in `hook` does not propagate: it is printed (std's panic hook, then the line
/// `Exception in threadkit report hook`, as Python reports an exception in its excepthook), and
/// the thread that sent the report goes on.
///
/// # Examples
///
/// ```
/// use threadkit::diagnostics::{self, Report};
///
/// diagnostics::set_report_hook(|r: &Report| log_somewhere(&r.to_string()));
/// # fn log_somewhere(_: &str) {}
/// diagnostics::reset_report_hook();
/// ```
pub fn set_report_hook(hook: impl Fn(&Report) + Send + Sync + 'static) {
    *HOOK.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(hook));
}

/// Restores the default report hook, [`default_report_hook`].
///
/// # Examples
///
/// ```
/// threadkit::diagnostics::reset_report_hook();
/// ```
pub fn reset_report_hook() {
    *HOOK.write().unwrap_or_else(|e| e.into_inner()) = None;
}

/// The default hook: prints the report to stderr.
///
/// # Examples
///
/// ```
/// let dump = threadkit::diagnostics::dump();
/// threadkit::diagnostics::default_report_hook(&threadkit::diagnostics::Report::Dump(dump));
/// ```
pub fn default_report_hook(report: &Report) {
    use std::io::Write;
    let text = report.to_string();
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Sends `report` to the current hook (cloned out first: no lock held while it runs).
///
/// A panicking hook is reported as Python reports an exception in `threading.excepthook` (std's
/// panic hook has printed the panic; one more line says where it came from) and goes no further:
/// not out of the user's `acquire()`, not into the watchdog's loop.
pub(crate) fn emit(report: &Report) {
    let hook = HOOK.read().unwrap_or_else(|e| e.into_inner()).clone();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match hook {
        Some(h) => h(report),
        None => default_report_hook(report),
    }));
    if outcome.is_err() {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "Exception in threadkit report hook");
    }
}
