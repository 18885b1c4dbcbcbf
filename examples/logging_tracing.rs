//! `tracing` with `tracing-subscriber`, each line carrying threadkit's thread name (which follows a
//! rename; `with_thread_names(true)` would show std's name, fixed at thread start).
//!
//! Output:
//! ```text
//! (MainThread) INFO starting the worker
//! (worker    ) INFO Starting
//! (renamed   ) INFO Exiting under a new name
//! (MainThread) INFO done
//! ```

use std::fmt;

use threadkit::{current_thread, Builder};
use tracing::{info, Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// `(threadName) LEVEL message`, Python's `(%(threadName)-10s) %(levelname)s %(message)s`.
struct ThreadNameFormat;

impl<S, N> FormatEvent<S, N> for ThreadNameFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let name = current_thread().name();
        write!(writer, "({name:<10}) {} ", event.metadata().level())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .event_format(ThreadNameFormat)
        .with_writer(std::io::stderr)
        .init();

    info!("starting the worker");
    let h = Builder::new().name("worker").spawn(|| {
        info!("Starting");
        current_thread().set_name("renamed");
        info!("Exiting under a new name");
    })?;
    if h.join().is_err() {
        return Err("the worker panicked".into());
    }
    info!("done");
    Ok(())
}
