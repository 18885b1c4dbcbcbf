//! Python's `%`-style format strings for log records: parsing (`%(name)-10s`) and rendering each
//! field as CPython's `%` operator does.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use log::{Level, Record};

use super::FormatError;

/// One part of a parsed format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Piece {
    Text(String),
    Field(Spec),
}

/// A `%(name)[flags][width][.precision]conversion` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Spec {
    field: Field,
    left: bool,
    zero: bool,
    /// `+` or ` `: what to print before a non-negative number.
    sign: Option<char>,
    width: usize,
    precision: Option<usize>,
    conv: Conv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conv {
    Str,
    Int,
    Float,
}

/// The `LogRecord` attributes threadkit can fill in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    ThreadName,
    Thread,
    Message,
    LevelName,
    LevelNo,
    Name,
    AscTime,
    Created,
    Msecs,
    RelativeCreated,
    PathName,
    FileName,
    Module,
    LineNo,
    Process,
    ProcessName,
    TaskName,
}

impl Field {
    fn parse(name: &str) -> Result<Field, &'static str> {
        Ok(match name {
            "threadName" => Field::ThreadName,
            "thread" => Field::Thread,
            "message" => Field::Message,
            "levelname" => Field::LevelName,
            "levelno" => Field::LevelNo,
            "name" => Field::Name,
            "asctime" => Field::AscTime,
            "created" => Field::Created,
            "msecs" => Field::Msecs,
            "relativeCreated" => Field::RelativeCreated,
            "pathname" => Field::PathName,
            "filename" => Field::FileName,
            "module" => Field::Module,
            "lineno" => Field::LineNo,
            "process" => Field::Process,
            "processName" => Field::ProcessName,
            "taskName" => Field::TaskName,
            "funcName" => {
                return Err(
                    "Rust's log records carry no function name (use %(module)s and %(lineno)d)",
                )
            }
            "msg" | "args" => {
                return Err("Rust's log records carry only the formatted message (use %(message)s)")
            }
            "exc_info" | "exc_text" | "stack_info" => {
                return Err(
                    "Rust's log records carry no exception or stack (log the panic's message)",
                )
            }
            _ => return Err("not a LogRecord attribute"),
        })
    }

    /// Whether the value is a string (numbers accept every conversion).
    fn is_text(self) -> bool {
        matches!(
            self,
            Field::ThreadName
                | Field::Message
                | Field::LevelName
                | Field::Name
                | Field::AscTime
                | Field::PathName
                | Field::FileName
                | Field::Module
                | Field::ProcessName
                | Field::TaskName
        )
    }
}

/// A field's value for one record.
enum Value {
    Text(String),
    Int(i64),
    Float(f64),
}

pub(super) fn parse(format: &str) -> Result<Vec<Piece>, FormatError> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = format;
    while let Some(pos) = rest.find('%') {
        text.push_str(&rest[..pos]);
        rest = &rest[pos..];
        if let Some(after) = rest.strip_prefix("%%") {
            text.push('%');
            rest = after;
        } else if rest.starts_with("%(") {
            let (spec, len) = parse_field(rest)?;
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Field(spec));
            rest = &rest[len..];
        } else {
            text.push('%');
            rest = &rest[1..];
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// Parses `%(name)[flags][width][.precision]conv` at the start of `s` (which starts with `%(`);
/// returns the spec and its length.
/// The largest width or precision a format may ask for.
const MAX_WIDTH: usize = 10_000;

fn parse_field(s: &str) -> Result<(Spec, usize), FormatError> {
    let error = |len: usize, reason: &str| FormatError {
        field: s[..len.min(s.len())].to_string(),
        reason: reason.to_string(),
    };
    let Some(close) = s.find(')') else {
        return Err(error(s.len(), "no closing parenthesis"));
    };
    let name = &s[2..close];
    let bytes = s.as_bytes();
    let mut i = close + 1;
    let (mut left, mut zero, mut sign) = (false, false, None);
    while let Some(&b) = bytes.get(i) {
        match b {
            b'-' => left = true,
            b'0' => zero = true,
            b'+' => sign = Some('+'),
            b' ' => sign = sign.or(Some(' ')),
            _ => break,
        }
        i += 1;
    }
    // `None` for no digits; a number above MAX_WIDTH is refused (it would pad or print that
    // many characters at every record: a trillion hangs the first one and exhausts memory).
    let number = |i: &mut usize| -> Result<Option<usize>, FormatError> {
        let start = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        if start == *i {
            return Ok(None);
        }
        match s[start..*i].parse::<usize>() {
            Ok(n) if n <= MAX_WIDTH => Ok(Some(n)),
            _ => Err(error(
                *i,
                "width or precision too large (at most 10000 characters)",
            )),
        }
    };
    let width = number(&mut i)?.unwrap_or(0);
    let precision = if bytes.get(i) == Some(&b'.') {
        i += 1;
        Some(number(&mut i)?.unwrap_or(0))
    } else {
        None
    };
    let Some(conv_char) = s[i..].chars().next() else {
        return Err(error(i, "the conversion (s, d or f) is missing"));
    };
    let len = i + conv_char.len_utf8();
    let conv = match conv_char {
        's' => Conv::Str,
        'd' | 'i' | 'u' => Conv::Int,
        'f' | 'F' => Conv::Float,
        _ => {
            return Err(error(
                len,
                "only the conversions s, d (i, u) and f (F) are supported",
            ))
        }
    };
    let field = Field::parse(name).map_err(|reason| error(len, reason))?;
    if conv != Conv::Str && field.is_text() {
        return Err(error(
            len,
            "a number conversion of a text field (Python raises TypeError at every record; use s)",
        ));
    }
    let spec = Spec {
        field,
        left,
        zero,
        sign,
        width,
        precision,
        conv,
    };
    Ok((spec, len))
}

/// The line `record` becomes under `pieces`; `since_start` is what `relativeCreated` counts.
pub(super) fn line(pieces: &[Piece], record: &Record<'_>, since_start: Duration) -> String {
    // One reading of the wall clock per record, shared by its time fields (as CPython's
    // `LogRecord.created`), and none for formats without them.
    let mut now = None;
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Field(spec) => {
                let value = field(spec.field, record, &mut now, since_start.as_secs_f64());
                render(spec, value, &mut out);
            }
        }
    }
    out
}

fn field(
    field: Field,
    record: &Record<'_>,
    now: &mut Option<SystemTime>,
    since_start: f64,
) -> Value {
    let mut now = || *now.get_or_insert_with(SystemTime::now);
    let since_epoch = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let text = |s: &str| Value::Text(s.to_string());
    match field {
        Field::ThreadName => Value::Text(crate::thread::with_current_name(str::to_string)),
        Field::Thread => Value::Int(crate::get_ident() as i64),
        Field::Message => Value::Text(record.args().to_string()),
        Field::LevelName => text(match record.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARNING",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }),
        Field::LevelNo => Value::Int(match record.level() {
            Level::Error => 40,
            Level::Warn => 30,
            Level::Info => 20,
            Level::Debug => 10,
            Level::Trace => 5,
        }),
        Field::Name => text(record.target()),
        Field::AscTime => Value::Text(asctime(now())),
        Field::Created => Value::Float(since_epoch(now()).as_secs_f64()),
        Field::Msecs => Value::Float(f64::from(since_epoch(now()).subsec_millis())),
        Field::RelativeCreated => Value::Float(since_start * 1000.0),
        Field::PathName => text(record.file().unwrap_or("(unknown file)")),
        Field::FileName => text(
            record
                .file()
                .map(|f| f.rsplit(['/', '\\']).next().unwrap_or(f))
                .unwrap_or("(unknown file)"),
        ),
        Field::Module => text(record.module_path().unwrap_or("")),
        Field::LineNo => Value::Int(record.line().map_or(0, i64::from)),
        Field::Process => Value::Int(i64::from(std::process::id())),
        Field::ProcessName => text("MainProcess"),
        Field::TaskName => text("None"),
    }
}

/// Appends `value` as Python's `%` operator would format it with `spec`.
fn render(spec: &Spec, value: Value, out: &mut String) {
    let (body, numeric) = match (spec.conv, value) {
        (_, Value::Text(mut t)) => {
            if let Some(p) = spec.precision {
                if let Some((at, _)) = t.char_indices().nth(p) {
                    t.truncate(at);
                }
            }
            (t, false)
        }
        (Conv::Str, Value::Int(n)) => (n.to_string(), false),
        (Conv::Str, Value::Float(x)) => (python_float_str(x), false),
        (Conv::Int, Value::Int(n)) => (int_digits(n, spec), true),
        // Python's `%d` of a float truncates towards zero.
        (Conv::Int, Value::Float(x)) => (int_digits(x.trunc() as i64, spec), true),
        (Conv::Float, Value::Int(n)) => (float_digits(n as f64, spec), true),
        (Conv::Float, Value::Float(x)) => (float_digits(x, spec), true),
    };
    let pad = spec.width.saturating_sub(body.chars().count());
    if spec.left {
        out.push_str(&body);
        push_n(out, ' ', pad);
    } else if spec.zero && numeric {
        // Zeros go between the sign and the digits: `%05d` of -42 is `-0042`.
        let (sign, digits) = match body.chars().next() {
            Some(c @ ('-' | '+' | ' ')) => body.split_at(c.len_utf8()),
            _ => ("", body.as_str()),
        };
        out.push_str(sign);
        push_n(out, '0', pad);
        out.push_str(digits);
    } else {
        push_n(out, ' ', pad);
        out.push_str(&body);
    }
}

/// `n` copies of `c` (not `repeat_n`, Rust 1.82: the library builds with older toolchains).
fn push_n(out: &mut String, c: char, n: usize) {
    for _ in 0..n {
        out.push(c);
    }
}

fn int_digits(n: i64, spec: &Spec) -> String {
    let digits = format!(
        "{:0width$}",
        n.unsigned_abs(),
        width = spec.precision.unwrap_or(0)
    );
    signed(n < 0, digits, spec)
}

fn float_digits(x: f64, spec: &Spec) -> String {
    let digits = format!("{:.*}", spec.precision.unwrap_or(6), x.abs());
    signed(x.is_sign_negative() && x != 0.0, digits, spec)
}

fn signed(negative: bool, digits: String, spec: &Spec) -> String {
    match (negative, spec.sign) {
        (true, _) => format!("-{digits}"),
        (false, Some(sign)) => format!("{sign}{digits}"),
        (false, None) => digits,
    }
}

/// Python's `str(float)`: the shortest repr, with `.0` on whole numbers.
fn python_float_str(x: f64) -> String {
    let s = x.to_string();
    if x.is_finite() && !s.contains(['.', 'e']) {
        s + ".0"
    } else {
        s
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
            // `c_long`: 32 bits on a 32-bit target.
            #[allow(clippy::useless_conversion)]
            i64::from(tm.tm_gmtoff)
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

    fn spec_of(format: &str) -> Spec {
        match parse(format).unwrap().as_slice() {
            [Piece::Field(spec)] => spec.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_python_formats() {
        let pieces = parse("(%(threadName)-10s) %(message)s").unwrap();
        assert_eq!(pieces.len(), 4);
        assert_eq!(pieces[0], Piece::Text("(".into()));
        let name = spec_of("%(threadName)-10s");
        assert_eq!(
            (name.field, name.left, name.width),
            (Field::ThreadName, true, 10)
        );
        assert_eq!(pieces[1], Piece::Field(name));
        assert_eq!(
            parse("100%% %x").unwrap(),
            vec![Piece::Text("100% %x".into())]
        );
    }

    /// Each expected string is what CPython 3 prints for `format % {'v': value}`.
    #[test]
    fn numbers_and_strings_format_as_python_percent() {
        let cases: &[(&str, Value, &str)] = &[
            ("%(v)05d", Value::Int(-42), "-0042"),
            ("%(v)-6d", Value::Int(42), "42    "),
            ("%(v)+d", Value::Int(7), "+7"),
            ("%(v) d", Value::Int(7), " 7"),
            ("%(v)6d", Value::Float(1234.9), "  1234"),
            ("%(v)03d", Value::Float(5.0), "005"),
            ("%(v)s", Value::Float(1_700_000_000.0), "1700000000.0"),
            ("%(v)s", Value::Float(549.0), "549.0"),
            ("%(v)s", Value::Float(0.25), "0.25"),
            ("%(v).2f", Value::Float(1.23456), "1.23"),
            ("%(v)08.3f", Value::Float(-1.23456), "-001.235"),
            ("%(v)f", Value::Int(2), "2.000000"),
            ("%(v).3s", Value::Text("abcdef".into()), "abc"),
            ("%(v)-5.2s", Value::Text("abc".into()), "ab   "),
            ("%(v)5s", Value::Text("ab".into()), "   ab"),
            ("%(v).4d", Value::Int(42), "0042"),
            ("%(v)s", Value::Int(7), "7"),
        ];
        for (format, value, expected) in cases {
            // Any numeric field parses the flags; the value is supplied directly.
            let spec = spec_of(&format.replace("(v)", "(lineno)"));
            let value = match value {
                Value::Text(t) => Value::Text(t.clone()),
                Value::Int(n) => Value::Int(*n),
                Value::Float(x) => Value::Float(*x),
            };
            let mut out = String::new();
            render(&spec, value, &mut out);
            assert_eq!(&out, expected, "{format}");
        }
    }

    /// A width or precision too large to be meant is refused when the format is parsed: one of
    /// a trillion columns aborted the process at the first record (the padding's allocation
    /// fails), and one past `usize` was silently read as none.
    #[test]
    fn absurd_widths_and_precisions_are_rejected_by_name() {
        for format in [
            "%(message)1000000000000s",
            "%(message).1000000000000s",
            "%(created)99999999999999999999999f",
            "%(created)10.99999999999999999999999f",
        ] {
            let err = parse(format).expect_err(format).to_string();
            // Named up to the number (the conversion character is not read).
            let named = &format[..format.len() - 1];
            assert!(err.contains(named) && err.contains("too large"), "{err}");
        }
        // Large but sane ones are Python's.
        assert_eq!(spec_of("%(message)300s").width, 300);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(15_757), (2013, 2, 21));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
