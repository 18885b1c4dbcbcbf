//! Noticing a thread that std has parked for good in `std::process::exit`.
//!
//! On Linux, std lets only one thread run the C library's `exit` (rust-lang/rust#126600): the
//! first thread to return from `main` or call `std::process::exit` goes on; any other thread that
//! calls `std::process::exit` afterwards is parked in `pause()` until the process ends, and the
//! status it passed is dropped. If the first thread is waiting in threadkit's exit sequence for a
//! non-daemon thread that made such a call, neither can go on: the process would hang. The exit
//! sequence therefore waits with [`join_unless_exit_requested`], which returns as soon as some
//! thread threadkit knows is parked in `pause()`, and then lets the process end.
//!
//! The kernel tells which system call a thread is blocked in (`/proc/self/task/TID/syscall`);
//! std's parked thread is in `pause` (on architectures without that system call, glibc's
//! `pause()` is `ppoll(NULL, 0, NULL, NULL)`). A thread blocked in `pause()` for another reason
//! (waiting for a signal) while the process exits is taken for one parked by std.

use std::time::{Duration, Instant};

use super::handle::{Kind, Thread};
use super::registry;

/// The first and the longest pause between checks while waiting for a thread at exit.
const FIRST_CHECK: Duration = Duration::from_millis(10);
const LONGEST_CHECK: Duration = Duration::from_millis(500);

/// How a wait for a thread at exit ended.
pub(crate) enum ExitWait {
    /// The thread finished.
    Finished,
    /// The deadline (from [`set_exit_timeout`](crate::set_exit_timeout)) passed first.
    TimedOut,
    /// This thread (one threadkit knows) is parked in `std::process::exit`.
    ExitRequested(Thread),
}

/// Waits until `thread` has finished, until `deadline` (if any) has passed, or until a thread
/// threadkit knows (started by it, or that called `current_thread()`; other than the caller and
/// the main thread) is parked in `std::process::exit`, whichever comes first.
pub(crate) fn join_unless_exit_requested(thread: &Thread, deadline: Option<Instant>) -> ExitWait {
    if !cfg!(target_os = "linux") {
        return match deadline {
            None => {
                let _ = thread.join();
                ExitWait::Finished
            }
            Some(d) if thread.join_deadline(d) == Ok(true) => ExitWait::Finished,
            Some(_) => ExitWait::TimedOut,
        };
    }
    let mut check = FIRST_CHECK;
    loop {
        let step = match deadline {
            Some(d) => check.min(d.saturating_duration_since(Instant::now())),
            None => check,
        };
        // The thread is not the caller and was started (it is in the registry), so the only
        // answers are "finished" and "timed out".
        if thread.join_timeout(step) != Ok(false) {
            return ExitWait::Finished;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return ExitWait::TimedOut;
        }
        // Polling: std gives no notice of a parked exit, so the kernel is asked now and then,
        // less often the longer the wait (at most every 0.5 s).
        //
        // Not the main thread: it is parked there when it returns from `main` while another
        // thread is exiting, which asks for nothing more than that exit does (the exit sequence,
        // then the end of the process), so the exit sequence goes on.
        if let Some(parked) = registry::snapshot()
            .into_iter()
            .find(|t| !t.is_current() && t.inner.kind != Kind::Main && in_pause(t))
        {
            return ExitWait::ExitRequested(parked);
        }
        check = (check * 2).min(LONGEST_CHECK);
    }
}

/// Says on standard error that `parked`'s call to `std::process::exit` ends the process with the
/// first exit's status, not its own.
pub(crate) fn report_lost_exit(parked: &Thread) {
    use std::io::Write;
    let line = format!(
        "threadkit: thread {:?} called std::process::exit while thread {:?} was already exiting \
         the process; std keeps only the first exit's status, so the process ends now with \
         that status, without waiting for more threads\n",
        parked.name(),
        registry::current().name(),
    );
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Whether `thread` is blocked in `pause()`.
fn in_pause(thread: &Thread) -> bool {
    let Some(tid) = thread.native_id() else {
        return false;
    };
    match std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")) {
        Ok(line) => is_pause(&line),
        Err(_) => false,
    }
}

/// Whether a `/proc/.../syscall` line (`NR ARG1 ... ARG6 SP PC`, or `running`, or `-1 SP PC`)
/// says the thread is blocked in glibc's `pause()`.
#[cfg(target_os = "linux")]
fn is_pause(line: &str) -> bool {
    let mut fields = line.split_whitespace();
    let Some(Ok(nr)) = fields.next().map(str::parse::<libc::c_long>) else {
        return false;
    };
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    {
        let _ = fields;
        nr == libc::SYS_pause
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
    {
        nr == libc::SYS_ppoll && fields.take(3).all(|arg| arg == "0x0")
    }
}

#[cfg(not(target_os = "linux"))]
fn is_pause(_line: &str) -> bool {
    false
}

#[cfg(all(test, target_os = "linux", target_arch = "x86_64"))]
mod tests {
    use super::is_pause;

    #[test]
    fn reads_the_kernels_syscall_line() {
        assert!(is_pause(
            "34 0x0 0x0 0x2 0x7f57f6037fa0 0x0 0x0 0x7f57f5aeeac0 0x7f57f60f1df2"
        ));
        assert!(!is_pause("202 0x7f1 0x80 0x0 0x0 0x0 0x0 0x7ffd 0x7f9d"));
        assert!(!is_pause("running"));
        assert!(!is_pause("-1 0x7ffd 0x7f9d"));
        assert!(!is_pause(""));
    }
}
