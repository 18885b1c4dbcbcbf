//! Python-style log lines with thread names, for the `log` facade (feature `logging`).
//!
//! Python's `logging` puts the thread's name in every line with `%(threadName)s`. This module is
//! a small [`log::Log`] backend that understands the same format strings, so a ported program
//! keeps its Python output:
//!
//! ```
//! use threadkit::logging::{self, log::debug, LevelFilter};
//!
//! logging::basic_config(LevelFilter::Debug, "(%(threadName)-10s) %(message)s")?;
//! debug!("Starting"); // prints "(MainThread) Starting" on standard error
//! # Ok::<(), logging::ConfigError>(())
//! ```
//!
//! The thread name is threadkit's ([`current_thread`](crate::current_thread)), so it follows
//! renames and names foreign threads `Dummy-N`. With another backend, take the name from
//! `threadkit::current_thread().name()` in its format closure; for `env_logger`:
//!
//! ```text
//! env_logger::Builder::new()
//!     .format(|buf, record| {
//!         writeln!(buf, "({:<10}) {}", threadkit::current_thread().name(), record.args())
//!     })
//!     .init();
//! ```
//!
//! and for `tracing`, record it as a field of a span or event
//! (`tracing::info!(thread = %threadkit::current_thread().name(), "Starting")`).
//!
//! # Format strings
//!
//! Every attribute of CPython's `LogRecord` that a Rust `log` record can fill in is supported,
//! with `%`-style flags (`-` left-align, `0` zero-pad, `+`, space), a width, a `.precision` and
//! the conversions `s`, `d` (`i`, `u`) and `f` (`F`), as in `%(relativeCreated)6d`,
//! `%(asctime)s.%(msecs)03d` or `%(threadName)-10s`:
//!
//! | field | value |
//! |---|---|
//! | `threadName`, `thread` | threadkit's thread name; its [`get_ident`](crate::get_ident) |
//! | `message` | the formatted message |
//! | `levelname`, `levelno` | `DEBUG`…`CRITICAL`-style name (`WARN` prints `WARNING`, `TRACE` is 5); 10/20/30/40 |
//! | `name` | the record's target (the module path unless set) |
//! | `asctime` | `2013-02-21 06:37:49,549`, local time |
//! | `created`, `msecs`, `relativeCreated` | seconds since the epoch (float); its milliseconds part; milliseconds since threadkit's logging was first configured |
//! | `pathname`, `filename`, `module`, `lineno` | the source file, its last component, the module path, the line (CPython's `(unknown file)` and 0 when the record has none) |
//! | `process`, `processName`, `taskName` | the process id; `MainProcess`; `None` (no asyncio task) |
//!
//! A field Rust's records cannot fill (`funcName`, `msg`, `args`, `exc_info`, `exc_text`,
//! `stack_info`), a name that is no `LogRecord` attribute, a conversion other than those above,
//! a number conversion of a string field, or a width or precision over 10,000 is rejected when
//! the format is parsed ([`PythonFormat::new`], [`basic_config`]) with a [`FormatError`] naming
//! the field, instead of printing it raw (or padding it without end) at every record.
//!
//! # Without `log` in your Cargo.toml
//!
//! The `log` crate is re-exported as [`threadkit::logging::log`](log), with its
//! [`LevelFilter`] and [`Level`], so a ported program needs no dependency of its own:
//!
//! ```
//! use threadkit::logging::{self, log::debug, LevelFilter};
//!
//! logging::basic_config(LevelFilter::Debug, "%(relativeCreated)6d %(threadName)s %(message)s")?;
//! debug!("Starting");
//! # Ok::<(), threadkit::logging::ConfigError>(())
//! ```

use std::fmt;
use std::io::Write as _;
use std::sync::OnceLock;
use std::time::Instant;

#[doc(no_inline)]
pub use log::{self, Level, LevelFilter, SetLoggerError};
use log::{Log, Metadata, Record};

mod format;

use format::{parse, Piece};

/// A Python `logging` format string threadkit cannot honour: an unknown or unsupported field, a
/// conversion it does not support, or a malformed `%(`.
///
/// # Examples
///
/// ```
/// use threadkit::logging::{PythonFormat, LevelFilter};
///
/// let err = PythonFormat::new(LevelFilter::Info, "%(funcName)s: %(message)s").unwrap_err();
/// assert!(err.to_string().contains("%(funcName)s"), "{err}");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct FormatError {
    /// The offending `%(...)` text.
    field: String,
    reason: String,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unsupported logging format field `{}`: {}",
            self.field, self.reason
        )
    }
}

impl fmt::Debug for FormatError {
    /// The message, so that `main() -> Result` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FormatError")
            .field(&self.to_string())
            .finish()
    }
}

impl std::error::Error for FormatError {}

/// The error [`basic_config`] returns.
#[non_exhaustive]
pub enum ConfigError {
    /// The format string asks for something threadkit cannot print.
    Format(FormatError),
    /// A `log` backend is installed already (Python's `basicConfig` would do nothing).
    AlreadyInstalled(SetLoggerError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Format(e) => e.fmt(f),
            ConfigError::AlreadyInstalled(e) => e.fmt(f),
        }
    }
}

impl fmt::Debug for ConfigError {
    /// The variant and its message, so that `main() -> Result` prints the message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let variant = match self {
            ConfigError::Format(_) => "Format",
            ConfigError::AlreadyInstalled(_) => "AlreadyInstalled",
        };
        f.debug_tuple(variant).field(&self.to_string()).finish()
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Format(e) => Some(e),
            ConfigError::AlreadyInstalled(e) => Some(e),
        }
    }
}

impl From<FormatError> for ConfigError {
    fn from(e: FormatError) -> Self {
        ConfigError::Format(e)
    }
}

impl From<SetLoggerError> for ConfigError {
    fn from(e: SetLoggerError) -> Self {
        ConfigError::AlreadyInstalled(e)
    }
}

/// A [`log::Log`] backend that writes each record to standard error in a Python `logging`
/// format.
///
/// # Differences from Python
///
/// - Only `%`-style format strings (no `{}` or `$` styles), with the fields and conversions
///   listed in the [module docs](self); anything else is a [`FormatError`] at construction
///   (Python fails at the first record). A `%` not followed by `(` prints as written.
/// - Levels are `log`'s: `WARN` prints as `WARNING` and `TRACE` (level number 5) has no Python
///   twin. `%(name)s` is the record's target (the module path by default), not a logger name;
///   `%(module)s` is the module path, not the file's stem.
/// - `%(asctime)s` is local time from the C library; there is no `datefmt`.
///   `%(relativeCreated)d` counts from the first time a `PythonFormat` was made in the process
///   (Python: from the import of `logging`).
///
/// # Examples
///
/// ```
/// use threadkit::logging::{log, PythonFormat};
///
/// let logger = PythonFormat::new(log::LevelFilter::Info, "[%(levelname)s] %(message)s")?;
/// let line = logger.format(
///     &log::Record::builder()
///         .level(log::Level::Info)
///         .args(format_args!("ready"))
///         .build(),
/// );
/// assert_eq!(line, "[INFO] ready");
/// # Ok::<(), threadkit::logging::FormatError>(())
/// ```
#[derive(Debug)]
pub struct PythonFormat {
    level: LevelFilter,
    pieces: Vec<Piece>,
}

impl PythonFormat {
    /// A logger for records up to `level`, formatted by the Python format string `format`.
    ///
    /// # Errors
    ///
    /// [`FormatError`] for a field or conversion threadkit cannot print (see the
    /// [module docs](self)).
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::logging::{LevelFilter, PythonFormat};
    ///
    /// assert!(PythonFormat::new(LevelFilter::Debug, "%(process)d %(message)s").is_ok());
    /// assert!(PythonFormat::new(LevelFilter::Debug, "%(threadNam)s").is_err()); // typo
    /// ```
    pub fn new(level: LevelFilter, format: &str) -> Result<Self, FormatError> {
        start_time();
        Ok(PythonFormat {
            level,
            pieces: parse(format)?,
        })
    }

    /// The line `record` becomes, without the trailing newline.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::logging::{log, PythonFormat};
    ///
    /// let logger = PythonFormat::new(log::LevelFilter::Debug, "(%(threadName)-10s) %(message)s")?;
    /// let line = logger.format(&log::Record::builder().args(format_args!("hi")).build());
    /// assert_eq!(line, "(MainThread) hi");
    /// # Ok::<(), threadkit::logging::FormatError>(())
    /// ```
    pub fn format(&self, record: &Record<'_>) -> String {
        format::line(&self.pieces, record, start_time().elapsed())
    }
}

impl Log for PythonFormat {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let mut line = self.format(record);
            line.push('\n');
            // One write per line keeps lines from different threads whole.
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// Installs a [`PythonFormat`] logger as the `log` backend, like Python's
/// `logging.basicConfig(level=..., format=...)`.
///
/// # Errors
///
/// [`ConfigError::Format`] if the format asks for a field or conversion threadkit cannot print
/// (nothing is installed), [`ConfigError::AlreadyInstalled`] if a `log` backend is already
/// installed.
///
/// # Examples
///
/// ```
/// use threadkit::logging::{self, log, LevelFilter};
///
/// logging::basic_config(LevelFilter::Debug, "(%(threadName)-10s) %(message)s")?;
/// log::debug!("Starting");
/// # Ok::<(), logging::ConfigError>(())
/// ```
pub fn basic_config(level: LevelFilter, format: &str) -> Result<(), ConfigError> {
    log::set_boxed_logger(Box::new(PythonFormat::new(level, format)?))?;
    log::set_max_level(level);
    Ok(())
}

/// When `relativeCreated` counts from: the first `PythonFormat`.
fn start_time() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn record_line(format: &str, record: &Record<'_>) -> String {
        PythonFormat::new(LevelFilter::Trace, format)
            .unwrap()
            .format(record)
    }

    #[test]
    fn pads_like_python() {
        let line = record_line(
            "[%(levelname)s] (%(levelno)-4s) %(message)s|%(name)4s|%%",
            &Record::builder()
                .level(Level::Debug)
                .target("ab")
                .args(format_args!("Starting"))
                .build(),
        );
        assert_eq!(line, "[DEBUG] (10  ) Starting|  ab|%");
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads the wall clock, which Miri's isolation refuses")]
    fn the_fields_a_rust_record_can_fill() {
        let record = Record::builder()
            .level(Level::Warn)
            .file(Some("src/bin/tool.rs"))
            .line(Some(42))
            .module_path(Some("tool::net"))
            .args(format_args!("m"))
            .build();
        let pid = std::process::id();
        assert_eq!(
            record_line(
                "%(filename)s|%(pathname)s|%(lineno)4d|%(module)s|%(process)d|%(processName)s|%(taskName)s",
                &record
            ),
            format!("tool.rs|src/bin/tool.rs|  42|tool::net|{pid}|MainProcess|None")
        );
        // CPython's fallbacks when the record has no location.
        let bare = Record::builder().args(format_args!("m")).build();
        assert_eq!(
            record_line("%(filename)s %(lineno)d", &bare),
            "(unknown file) 0"
        );
        // Times: created is seconds since the epoch, msecs its milliseconds, relativeCreated
        // milliseconds since the first PythonFormat; all from one clock reading.
        let line = record_line("%(created)f %(msecs)03d %(relativeCreated)6d", &bare);
        let parts: Vec<&str> = line.split(' ').filter(|p| !p.is_empty()).collect();
        let created: f64 = parts[0].parse().unwrap();
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!((now - created).abs() < 60.0, "{line}");
        assert_eq!(parts[1].len(), 3, "{line}");
        assert!(parts[1].parse::<u32>().unwrap() < 1000, "{line}");
        assert!(parts[2].parse::<u64>().is_ok(), "{line}");
        assert!(line.len() >= "1.000000 000      0".len(), "{line}");
    }

    #[test]
    fn unknown_and_unsupported_fields_are_rejected_by_name() {
        for (format, needle) in [
            ("%(funcName)s", "function name"),
            ("%(msg)s", "formatted message"),
            ("%(exc_info)s", "exception"),
            ("%(threadNam)s", "not a LogRecord attribute"),
            ("%(message)r", "conversions"),
            ("%(message)", "conversion"),
            ("%(message", "closing parenthesis"),
            ("%(threadName)d", "text field"),
        ] {
            let err = parse(&format!("x {format} y")).unwrap_err();
            let shown = err.to_string();
            assert!(shown.contains(format), "{format}: {shown}");
            assert!(shown.contains(needle), "{format}: {shown}");
        }
        let err = basic_config(LevelFilter::Info, "%(funcName)s").unwrap_err();
        assert!(matches!(err, ConfigError::Format(_)), "{err:?}");
    }
}
