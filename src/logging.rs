//! Python-style log lines with thread names, for the `log` facade (feature `logging`).
//!
//! Python's `logging` puts the thread's name in every line with `%(threadName)s`. This module is
//! a small [`log::Log`] backend that understands the same format strings, so a ported program
//! keeps its Python output:
//!
//! ```
//! use log::debug;
//!
//! threadkit::logging::basic_config(log::LevelFilter::Debug, "(%(threadName)-10s) %(message)s");
//! debug!("Starting"); // prints "(MainThread) Starting" on standard error
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
//! Supported fields: `threadName`, `thread` (the [`get_ident`](crate::get_ident) value),
//! `message`, `levelname`, `levelno`, `name` (the log target), `asctime`
//! (`2013-02-21 06:37:49,549`, local time), `module`, `lineno`, and `%%`; each may carry a width
//! and `-` for left alignment, as in `%(threadName)-10s`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::SystemTime;

use log::{Level, LevelFilter, Log, Metadata, Record, SetLoggerError};

/// One part of a parsed format string.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field {
        name: String,
        width: usize,
        left: bool,
    },
}

/// A [`log::Log`] backend that writes each record to standard error in a Python `logging`
/// format.
///
/// # Differences from Python
///
/// - Only `%(name)s`-style fields with an optional width and `-` are understood (no `{}` or `$`
///   styles, no precision); the supported fields are listed in the [module docs](self).
/// - Levels are `log`'s: `WARN` prints as `WARNING` and `TRACE` (level number 5) has no Python
///   twin. `%(name)s` is the record's target (the module path by default), not a logger name.
/// - `%(asctime)s` is local time from the C library; there is no `datefmt`.
///
/// # Examples
///
/// ```
/// use threadkit::logging::PythonFormat;
///
/// let logger = PythonFormat::new(log::LevelFilter::Info, "[%(levelname)s] %(message)s");
/// let line = logger.format(
///     &log::Record::builder()
///         .level(log::Level::Info)
///         .args(format_args!("ready"))
///         .build(),
/// );
/// assert_eq!(line, "[INFO] ready");
/// ```
#[derive(Debug)]
pub struct PythonFormat {
    level: LevelFilter,
    pieces: Vec<Piece>,
}

impl PythonFormat {
    /// A logger for records up to `level`, formatted by the Python format string `format`.
    ///
    /// Unknown `%(...)` fields print as written, so a typo shows up in the output.
    ///
    /// # Examples
    ///
    /// ```
    /// let logger = threadkit::logging::PythonFormat::new(log::LevelFilter::Debug, "%(message)s");
    /// # let _ = logger;
    /// ```
    pub fn new(level: LevelFilter, format: &str) -> Self {
        PythonFormat {
            level,
            pieces: parse(format),
        }
    }

    /// The line `record` becomes, without the trailing newline.
    ///
    /// # Examples
    ///
    /// ```
    /// let logger = threadkit::logging::PythonFormat::new(
    ///     log::LevelFilter::Debug,
    ///     "(%(threadName)-10s) %(message)s",
    /// );
    /// let line = logger.format(&log::Record::builder().args(format_args!("hi")).build());
    /// assert_eq!(line, "(MainThread) hi");
    /// ```
    pub fn format(&self, record: &Record<'_>) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Field { name, width, left } => {
                    let value = field(name, record);
                    let pad = width.saturating_sub(value.chars().count());
                    if *left {
                        out.push_str(&value);
                        out.extend(std::iter::repeat(' ').take(pad));
                    } else {
                        out.extend(std::iter::repeat(' ').take(pad));
                        out.push_str(&value);
                    }
                }
            }
        }
        out
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
/// [`SetLoggerError`] if a `log` backend is already installed.
///
/// # Examples
///
/// ```
/// threadkit::logging::basic_config(log::LevelFilter::Debug, "(%(threadName)-10s) %(message)s")
///     .unwrap();
/// log::debug!("Starting");
/// ```
pub fn basic_config(level: LevelFilter, format: &str) -> Result<(), SetLoggerError> {
    log::set_boxed_logger(Box::new(PythonFormat::new(level, format)))?;
    log::set_max_level(level);
    Ok(())
}

fn parse(format: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = format;
    while let Some(pos) = rest.find('%') {
        text.push_str(&rest[..pos]);
        rest = &rest[pos..];
        if let Some(after) = rest.strip_prefix("%%") {
            text.push('%');
            rest = after;
            continue;
        }
        match parse_field(rest) {
            Some((piece, len)) => {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(piece);
                rest = &rest[len..];
            }
            None => {
                text.push('%');
                rest = &rest[1..];
            }
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

/// Parses `%(name)[-][width](s|d)` at the start of `s`; returns the piece and its length.
fn parse_field(s: &str) -> Option<(Piece, usize)> {
    let inner = s.strip_prefix("%(")?;
    let close = inner.find(')')?;
    let name = &inner[..close];
    let spec = &inner[close + 1..];
    let left = spec.starts_with('-');
    let digits_start = usize::from(left);
    let digits: String = spec[digits_start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let conv_at = digits_start + digits.len();
    let conv = spec[conv_at..].chars().next()?;
    if conv != 's' && conv != 'd' {
        return None;
    }
    let width = digits.parse().unwrap_or(0);
    let len = 2 + close + 1 + conv_at + 1;
    Some((
        Piece::Field {
            name: name.to_string(),
            width,
            left,
        },
        len,
    ))
}

fn field(name: &str, record: &Record<'_>) -> String {
    match name {
        "threadName" => crate::thread::with_current_name(str::to_string),
        "thread" => crate::get_ident().to_string(),
        "message" => record.args().to_string(),
        "levelname" => match record.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARNING",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }
        .to_string(),
        "levelno" => match record.level() {
            Level::Error => "40",
            Level::Warn => "30",
            Level::Info => "20",
            Level::Debug => "10",
            Level::Trace => "5",
        }
        .to_string(),
        "name" => record.target().to_string(),
        "module" => record.module_path().unwrap_or("").to_string(),
        "lineno" => record.line().map(|l| l.to_string()).unwrap_or_default(),
        "asctime" => asctime(SystemTime::now()),
        other => format!("%({other})"),
    }
}

/// `YYYY-MM-DD HH:MM:SS,mmm` in local time (UTC where the local offset is unknown).
fn asctime(now: SystemTime) -> String {
    let since = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs() as i64 + local_offset_secs(since.as_secs() as i64);
    let millis = since.subsec_millis();
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut s = String::with_capacity(23);
    let _ = write!(
        s,
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02},{millis:03}",
        tod / 3600,
        tod % 3600 / 60,
        tod % 60
    );
    s
}

/// The local UTC offset at `t` (seconds since the epoch), from the C library.
fn local_offset_secs(t: i64) -> i64 {
    #[cfg(unix)]
    {
        let time = t as libc::time_t;
        // SAFETY: `tm` is plain data that localtime_r fills in; both pointers are valid for the
        // call, and localtime_r is the thread-safe variant.
        unsafe {
            let mut tm: libc::tm = std::mem::zeroed();
            if libc::localtime_r(&time, &mut tm).is_null() {
                return 0;
            }
            tm.tm_gmtoff
        }
    }
    #[cfg(not(unix))]
    {
        let _ = t;
        0
    }
}

/// Days since 1970-01-01 to a (year, month, day) civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_python_formats() {
        assert_eq!(
            parse("(%(threadName)-10s) %(message)s"),
            vec![
                Piece::Text("(".into()),
                Piece::Field {
                    name: "threadName".into(),
                    width: 10,
                    left: true
                },
                Piece::Text(") ".into()),
                Piece::Field {
                    name: "message".into(),
                    width: 0,
                    left: false
                },
            ]
        );
        assert_eq!(parse("100%% %x"), vec![Piece::Text("100% %x".into())]);
    }

    #[test]
    fn pads_like_python() {
        let l = PythonFormat::new(
            LevelFilter::Debug,
            "[%(levelname)s] (%(levelno)-4s) %(message)s|%(name)4s|%%",
        );
        let line = l.format(
            &Record::builder()
                .level(Level::Debug)
                .target("ab")
                .args(format_args!("Starting"))
                .build(),
        );
        assert_eq!(line, "[DEBUG] (10  ) Starting|  ab|%");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(15_757), (2013, 2, 21));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
