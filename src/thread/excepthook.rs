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
//! # The process's panic hook
//!
//! To give the excepthook the panic's location (and a backtrace when `RUST_BACKTRACE` asks for
//! one), threadkit wraps the process's panic hook the first time it starts a thread (or when
//! [`install_panic_hook`] is called):
//! - a panic outside threadkit targets goes to the previous hook, unchanged;
//! - a panic inside a target (a thread's or a Timer's function) is recorded for the excepthook;
//!   the previous hook is called too if the program installed one (a crash reporter set with
//!   `std::panic::set_hook` before threadkit's first thread sees every panic), but not std's
//!   default hook, which would print the panic a second time before the excepthook does. (A
//!   program hook that itself calls std's default hook, as libtest's does, prints std's message
//!   too; set a quiet excepthook, or leave std's default out of that hook, to get one report.)
//!
//! A hook installed *after* threadkit's that calls the previous one (the usual
//! `let prev = std::panic::take_hook(); std::panic::set_hook(Box::new(move |info| { ...;
//! prev(info) }))`) keeps all of this working. One that does not call it replaces threadkit's:
//! the excepthook still runs for every panicking thread, but [`ExceptHookArgs::location`] and
//! [`ExceptHookArgs::backtrace`] are `None`; call [`install_panic_hook`] after installing it to
//! put threadkit's back on top (chaining to yours).

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
    // `take_hook` panics in a panicking thread (a thread started from a `Drop` during
    // unwinding): install at the next start instead.
    if std::thread::panicking() {
        return;
    }
    INSTALL.call_once(install_panic_hook);
}

/// Puts threadkit's panic hook on top of the process's current one, chaining to it.
///
/// threadkit's hook hands a panic outside threadkit targets to the previous hook, unchanged. A
/// panic inside a target (a thread's or a Timer's function) is recorded for the excepthook (its
/// location, and a backtrace when `RUST_BACKTRACE` asks for one); the previous hook is called
/// too if the program installed one (so a crash reporter set with `std::panic::set_hook` sees
/// every panic), but not std's default hook, which would print the panic a second time before
/// the excepthook does. (A program hook that itself calls std's default hook prints std's
/// message too; set a quiet excepthook, or leave std's default out of that hook, to get one
/// report.)
///
/// threadkit does this by itself the first time it starts a thread. A hook installed later
/// that calls the previous one (`let prev = std::panic::take_hook();
/// std::panic::set_hook(Box::new(move |info| { ...; prev(info) }))`) keeps all of this working. Call it after installing a
/// panic hook of your own that does not call the previous hook, so that
/// [`ExceptHookArgs::location`] and [`ExceptHookArgs::backtrace`] are known again (your hook is
/// still called for every panic). Each call adds one layer; calling it more than needed costs a
/// little time per panic and changes nothing else.
///
/// # Panics
///
/// If called while the calling thread is panicking (as `std::panic::take_hook` does).
///
/// # Examples
///
/// ```
/// std::panic::set_hook(Box::new(|info| eprintln!("reported: {info}")));
/// threadkit::install_panic_hook();
/// let h = threadkit::spawn(|| panic!("boom"));
/// # threadkit::set_excepthook(|_| {});
/// assert!(h.join().is_err()); // "reported: ..." and the excepthook's report, with the location
/// # threadkit::reset_excepthook();
/// ```
pub fn install_panic_hook() {
    let previous = panic::take_hook();
    // After `take_hook` std's default hook is in place, so taking it again yields the default:
    // comparing the two trait objects (both zero-sized, so the vtables decide) tells whether the
    // previous hook was std's default. If the comparison ever fails to match, the only effect is
    // std's message printed as well as the excepthook's.
    let default = panic::take_hook();
    let previous_is_default = std::ptr::eq(&*previous, &*default);
    drop(default);
    panic::set_hook(Box::new(move |info| {
        let in_target = IN_TARGET.try_with(Cell::get).unwrap_or(false);
        if in_target {
            let location = info
                .location()
                .map(ToString::to_string)
                .unwrap_or_else(|| "<unknown>".into());
            let backtrace = Backtrace::capture();
            let _ = LAST_PANIC.try_with(|p| *p.borrow_mut() = Some((location, backtrace)));
            if !previous_is_default {
                previous(info);
            }
        } else {
            previous(info);
        }
    }));
}

/// Runs a target, catching a panic that escapes it.
pub(crate) fn run_target(run: impl FnOnce()) -> Result<(), Box<dyn Any + Send>> {
    // A location left by a panic the target caught itself must not be taken for this one's.
    let _ = LAST_PANIC.try_with(|p| p.borrow_mut().take());
    with_in_target(true, || {
        panic::catch_unwind(AssertUnwindSafe(|| __rust_begin_short_backtrace(run)))
    })
}

/// Calls `f`. Its name marks where the short backtrace stops (as std's own marker of that name
/// does for a thread's closure): the frames below it are threadkit's and std's thread start.
#[inline(never)]
fn __rust_begin_short_backtrace(f: impl FnOnce()) {
    f();
    // Not a tail call, so this frame stays on the stack.
    std::hint::black_box(());
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
            out.push_str("stack backtrace:\n");
            if backtrace_full() {
                out.push_str(&bt.to_string());
            } else {
                out.push_str(&short_backtrace(&bt.to_string()));
                out.push_str(
                    "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a \
                     verbose backtrace.\n",
                );
            }
        }
    }
    // One write, so lines from two panicking threads do not interleave.
    let _ = std::io::stderr().write_all(out.as_bytes());
}

/// Whether `RUST_BACKTRACE` (or `RUST_LIB_BACKTRACE`, which std's `Backtrace` reads first) asks
/// for every frame.
fn backtrace_full() -> bool {
    let var = std::env::var_os("RUST_LIB_BACKTRACE").or_else(|| std::env::var_os("RUST_BACKTRACE"));
    var.is_some_and(|v| v == "full")
}

/// std's short backtrace, from a full one as `Backtrace` prints it: the frames after the panic
/// machinery (the last `__rust_end_short_backtrace` frame) up to the target's start (the first
/// `__rust_begin_short_backtrace` frame), renumbered from 0.
///
/// Trailing frames of threadkit's and std's own plumbing between the target and the marker
/// (`FnOnce::call_once`, `Run::run`, the builder's closure) are left out too.
fn short_backtrace(full: &str) -> String {
    // Each frame: its symbol line (`  N: name`) and its `at file:line` lines.
    let mut frames: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in full.lines() {
        match frame_symbol(line) {
            Some(symbol) => frames.push((symbol, Vec::new())),
            None => {
                if let Some((_, at)) = frames.last_mut() {
                    at.push(line);
                }
            }
        }
    }
    let start = frames
        .iter()
        .rposition(|(sym, _)| sym.contains("__rust_end_short_backtrace"))
        .map_or(0, |i| i + 1);
    let mut end = frames[start..]
        .iter()
        .position(|(sym, _)| sym.contains("__rust_begin_short_backtrace"))
        .map_or(frames.len(), |i| start + i);
    while end > start && is_plumbing(frames[end - 1].0) {
        end -= 1;
    }
    let mut out = String::new();
    for (n, (symbol, at)) in frames[start..end].iter().enumerate() {
        out.push_str(&format!("{n:>4}: {symbol}\n"));
        for line in at {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The symbol of a frame's first line (`"  12: name"`), or `None` for another line.
fn frame_symbol(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    let (number, symbol) = trimmed.split_once(": ")?;
    (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())).then_some(symbol)
}

/// Frames that call a target's closure: std's `FnOnce` forwarding and threadkit's own.
fn is_plumbing(symbol: &str) -> bool {
    symbol.starts_with("core::ops::function::FnOnce::call_once")
        || symbol.starts_with("<alloc::boxed::Box<")
        || symbol.contains("threadkit::thread::")
        || symbol.contains("threadkit::timer::")
}

#[cfg(test)]
mod tests {
    use super::short_backtrace;

    #[test]
    fn short_backtrace_keeps_the_panic_and_the_target() {
        let full = "   0: threadkit::thread::excepthook::install_panic_hook::{{closure}}
             at ./src/thread/excepthook.rs:106:29
   1: std::panicking::panic_with_hook
   2: std::sys::backtrace::__rust_end_short_backtrace::<F, !>
             at /rustc/x/library/std/src/sys/backtrace.rs:182:18
   3: __rustc::rust_begin_unwind
   4: core::panicking::panic_fmt
   5: demo::deep
             at ./src/main.rs:2:27
   6: demo::main::{{closure}}
             at ./src/main.rs:4:58
   7: core::ops::function::FnOnce::call_once
   8: <F as threadkit::thread::builder::Run>::run
   9: <alloc::boxed::Box<F,A> as core::ops::function::FnOnce<Args>>::call_once
  10: threadkit::thread::excepthook::__rust_begin_short_backtrace
  11: std::sys::backtrace::__rust_begin_short_backtrace
  12: start_thread
";
        assert_eq!(
            short_backtrace(full),
            "   0: __rustc::rust_begin_unwind
   1: core::panicking::panic_fmt
   2: demo::deep
             at ./src/main.rs:2:27
   3: demo::main::{{closure}}
             at ./src/main.rs:4:58
"
        );
    }
}
