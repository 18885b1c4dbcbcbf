//! A thread dump on a signal (`kill -QUIT <pid>`), as the JVM prints one (feature `signal`).
//!
//! The signal handler is `signal-hook`'s: it only writes a byte to a self-pipe, which is
//! async-signal-safe. A dedicated thread (`threadkit-signal-dump`, a plain std thread) reads the
//! pipe and formats the dump there, never in the handler: the constraint that kept Python's
//! `faulthandler` from printing names for a decade does not apply to it.

use std::io;

use signal_hook::iterator::{Handle, Signals};

use super::report::{emit, Report};

/// Prints a thread dump through the [report hook](super::set_report_hook) (default: stderr)
/// each time the process receives `signal` (`signal_hook::consts::SIGQUIT`, as the JVM, or
/// `SIGUSR1`), until the returned handle is dropped.
///
/// Registering replaces the signal's default action (SIGQUIT would otherwise end the process
/// with a core dump) for as long as the handle lives.
///
/// # Errors
///
/// The signal cannot be handled (`SIGKILL`, `SIGSTOP`, a signal `signal-hook` forbids, such as
/// `SIGSEGV`, or a number that is no signal: [`io::ErrorKind::InvalidInput`]), or the OS could
/// not create the thread.
///
/// # Examples
///
/// ```
/// use threadkit::diagnostics::dump_on_signal;
///
/// let _dump_on_quit = dump_on_signal(signal_hook::consts::SIGQUIT).unwrap();
/// // `kill -QUIT <pid>` now prints a thread dump to stderr.
/// ```
pub fn dump_on_signal(signal: i32) -> io::Result<SignalDump> {
    // signal-hook panics for these (and the panic, inside its registration, aborts the process):
    // its forbidden signals, and numbers outside its table.
    if !(1..128).contains(&signal) || signal_hook::consts::FORBIDDEN.contains(&signal) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {signal} cannot be handled (no dump on it)"),
        ));
    }
    let mut signals = Signals::new([signal])?;
    let handle = signals.handle();
    let thread = std::thread::Builder::new()
        .name("threadkit-signal-dump".into())
        .spawn(move || {
            for _ in signals.forever() {
                emit(&Report::Dump(super::dump()));
            }
        })?;
    Ok(SignalDump {
        handle,
        thread: Some(thread),
    })
}

/// Keeps [`dump_on_signal`]'s handler installed; dropping it removes the handler and ends the
/// dump thread.
#[derive(Debug)]
pub struct SignalDump {
    handle: Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SignalDump {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
