//! What happens when a thread's target panics: Python's `threading.excepthook`.
//!
//! A panic that escapes a target started by threadkit is caught at the top of the thread and
//! handed to the excepthook with the [`Thread`] and the payload. The default hook prints what
//! Python prints for an exception in a thread, in Rust's words:
//!
//! ```text
//! Exception in thread worker:
//! panicked at src/main.rs:7:5:
//! run failed
//! ```
//!
//! To give the hook the panic's location (and a backtrace when `RUST_BACKTRACE` asks for one)
//! without std's panic hook printing the same thing first, threadkit wraps the process's panic
//! hook the first time it starts a thread: panics inside a threadkit target are recorded for the
//! excepthook instead of printed; every other panic goes to the previous hook unchanged.

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Once};

use super::handle::Thread;
use crate::Lock;

/// A replaceable excepthook.
type Hook = Arc<dyn Fn(&ExceptHookArgs<'_>) + Send + Sync + 'static>;

/// The hook in force; `None` means the default.
static HOOK: Lock<Option<Hook>> = Lock::with_value(None);

static INSTALL: Once = Once::new();

thread_local! {
    /// Whether this thread is inside a threadkit target (its panics go to the excepthook).
    static IN_TARGET: Cell<bool> = const { Cell::new(false) };
    /// Where the last panic in this thread's target happened, and its backtrace.
    static LAST_PANIC: RefCell<Option<(String, Backtrace)>> = const { RefCell::new(None) };
}

/// Wraps the process's panic hook once (see the module docs).
pub(crate) fn ensure_installed() {
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let in_target = IN_TARGET.try_with(Cell::get).unwrap_or(false);
            if in_target {
                let location = info
                    .location()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "<unknown>".into());
                let backtrace = Backtrace::capture();
                let _ = LAST_PANIC.try_with(|p| *p.borrow_mut() = Some((location, backtrace)));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs a target, catching a panic that escapes it.
pub(crate) fn run_target(run: Box<dyn FnOnce() + Send>) -> Result<(), Box<dyn Any + Send>> {
    with_in_target(true, || panic::catch_unwind(AssertUnwindSafe(run)))
}

/// Runs `f` with this thread's "inside a target" flag set to `in_target` (restored afterwards,
/// also if `f` unwinds): while set, a panic is recorded for the excepthook instead of printed by
/// std's panic hook.
pub(crate) fn with_in_target<R>(in_target: bool, f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = IN_TARGET.try_with(|c| c.set(self.0));
        }
    }
    // `IN_TARGET` has no destructor, so it is reachable during thread teardown too.
    let _restore = Restore(IN_TARGET.with(|c| c.replace(in_target)));
    f()
}

/// Whether this thread is running a threadkit target (a thread's or a Timer's function) now.
pub(crate) fn in_target() -> bool {
    IN_TARGET.try_with(Cell::get).unwrap_or(false)
}

/// Hands a target's panic to the excepthook.
pub(crate) fn report(thread: &Thread, payload: &(dyn Any + Send)) {
    let (location, backtrace) = LAST_PANIC
        .try_with(|p| p.borrow_mut().take())
        .ok()
        .flatten()
        .map_or((None, None), |(l, b)| (Some(l), Some(b)));
    let args = ExceptHookArgs {
        thread,
        payload,
        location: location.as_deref(),
        backtrace: backtrace.as_ref(),
    };
    let hook = HOOK.acquire().clone();
    // A panicking hook must not take the thread's bookkeeping down with it: report it as Python
    // reports an exception in `threading.excepthook`, then carry on.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| match hook {
        Some(hook) => hook(&args),
        None => default_excepthook(&args),
    }));
    if outcome.is_err() {
        let _ = writeln!(std::io::stderr(), "Exception in threadkit excepthook");
    }
}

/// What the excepthook receives about a thread whose target panicked (Python's
/// `ExceptHookArgs`).
///
/// # Differences from Python
///
/// - A panic has no exception type or traceback object: Python's `exc_type`/`exc_value` are the
///   [`payload`](Self::payload) (with [`message`](Self::message) for string payloads), and
///   `exc_traceback` is the panic's [`location`](Self::location) plus a [`Backtrace`] captured
///   when `RUST_BACKTRACE` asks for one.
/// - `thread` is always set (Python allows `None`). Python's `SystemExit` has no Rust
///   counterpart, so every escaping panic is reported.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
///
/// let seen = Arc::new(Mutex::new(String::new()));
/// let s = Arc::clone(&seen);
/// threadkit::set_excepthook(move |args| {
///     *s.lock().unwrap() = format!("{}: {}", args.thread().name(), args.message().unwrap());
/// });
/// let h = threadkit::Builder::new().name("boom").spawn(|| panic!("run failed")).unwrap();
/// assert!(h.join().is_err());
/// assert_eq!(*seen.lock().unwrap(), "boom: run failed");
/// threadkit::reset_excepthook();
/// ```
pub struct ExceptHookArgs<'a> {
    thread: &'a Thread,
    payload: &'a (dyn Any + Send),
    location: Option<&'a str>,
    backtrace: Option<&'a Backtrace>,
}

impl<'a> ExceptHookArgs<'a> {
    /// The thread whose target panicked (Python's `args.thread`).
    ///
    /// # Examples
    ///
    /// ```
    /// threadkit::set_excepthook(|args| eprintln!("{} failed", args.thread().name()));
    /// # threadkit::reset_excepthook();
    /// ```
    pub fn thread(&self) -> &'a Thread {
        self.thread
    }

    /// The panic payload, the value given to `panic!` (Python's `args.exc_value`).
    ///
    /// # Examples
    ///
    /// ```
    /// threadkit::set_excepthook(|args| {
    ///     if let Some(code) = args.payload().downcast_ref::<i32>() {
    ///         eprintln!("failed with code {code}");
    ///     }
    /// });
    /// # threadkit::reset_excepthook();
    /// ```
    pub fn payload(&self) -> &'a (dyn Any + Send) {
        self.payload
    }

    /// The panic message, if the payload is a string (as it is for `panic!("...")`).
    ///
    /// # Examples
    ///
    /// ```
    /// threadkit::set_excepthook(|args| eprintln!("{}", args.message().unwrap_or("?")));
    /// # threadkit::reset_excepthook();
    /// ```
    pub fn message(&self) -> Option<&'a str> {
        if let Some(s) = self.payload.downcast_ref::<&'static str>() {
            Some(s)
        } else {
            self.payload.downcast_ref::<String>().map(String::as_str)
        }
    }

    /// Where the panic happened, as `file:line:column`, when known.
    ///
    /// # Examples
    ///
    /// ```
    /// threadkit::set_excepthook(|args| eprintln!("at {}", args.location().unwrap_or("?")));
    /// # threadkit::reset_excepthook();
    /// ```
    pub fn location(&self) -> Option<&'a str> {
        self.location
    }

    /// The backtrace captured at the panic; it is only resolved when `RUST_BACKTRACE` (or
    /// `RUST_LIB_BACKTRACE`) asks for one.
    ///
    /// # Examples
    ///
    /// ```
    /// threadkit::set_excepthook(|args| {
    ///     if let Some(bt) = args.backtrace() {
    ///         eprintln!("{bt}");
    ///     }
    /// });
    /// # threadkit::reset_excepthook();
    /// ```
    pub fn backtrace(&self) -> Option<&'a Backtrace> {
        self.backtrace
    }
}

impl fmt::Debug for ExceptHookArgs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExceptHookArgs")
            .field("thread", self.thread)
            .field("message", &self.message())
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// Replaces the excepthook: `hook` is called, in the dying thread, for every panic that escapes
/// the target of a thread threadkit started (Python's `threading.excepthook = hook`).
///
/// # Examples
///
/// ```
/// threadkit::set_excepthook(|args| eprintln!("{} failed", args.thread().name()));
/// threadkit::reset_excepthook();
/// ```
pub fn set_excepthook(hook: impl Fn(&ExceptHookArgs<'_>) + Send + Sync + 'static) {
    *HOOK.acquire() = Some(Arc::new(hook));
}

/// Restores the default excepthook (Python's `threading.excepthook = threading.__excepthook__`).
///
/// # Examples
///
/// ```
/// threadkit::reset_excepthook();
/// ```
pub fn reset_excepthook() {
    *HOOK.acquire() = None;
}

/// The default excepthook (Python's `threading.__excepthook__`): writes
/// `Exception in thread NAME:`, the panic's location and message, and the backtrace if one was
/// captured, to standard error.
///
/// # Examples
///
/// ```
/// // A custom hook that adds a line and then does what the default does.
/// threadkit::set_excepthook(|args| {
///     eprintln!("custom hook:");
///     threadkit::default_excepthook(args);
/// });
/// threadkit::reset_excepthook();
/// ```
pub fn default_excepthook(args: &ExceptHookArgs<'_>) {
    let mut out = format!("Exception in thread {}:\n", args.thread.name());
    match args.location {
        Some(loc) => out.push_str(&format!("panicked at {loc}:\n")),
        None => out.push_str("panicked:\n"),
    }
    out.push_str(args.message().unwrap_or("Box<dyn Any>"));
    out.push('\n');
    if let Some(bt) = args.backtrace {
        if bt.status() == BacktraceStatus::Captured {
            out.push_str(&format!("stack backtrace:\n{bt}"));
        }
    }
    // One write, so lines from two panicking threads do not interleave.
    let _ = std::io::stderr().write_all(out.as_bytes());
}
