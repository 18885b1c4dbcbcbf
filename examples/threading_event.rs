//! threading_event.py: signaling between threads with an `Event`.
//!
//! The "block" thread waits for the event with no timeout; the "non-block" thread waits two
//! seconds at a time and does other work in between; the main thread sets the event after three
//! seconds.
//!
//! Python output (3.13; Rust prints `true`/`false` where Python prints `True`/`False`):
//! ```text
//! (block     ) wait_for_event starting
//! (non-block ) wait_for_event_timeout starting
//! (MainThread) Waiting before calling Event.set()
//! (non-block ) event set: false
//! (non-block ) doing other work
//! (non-block ) wait_for_event_timeout starting
//! (MainThread) Event is set
//! (block     ) event set: true
//! (non-block ) event set: true
//! (non-block ) processing event
//! ```

use std::sync::Arc;
use std::thread::sleep;
use std::time::Duration;

use log::debug;
use threadkit::{Builder, Event};

/// Wait for the event to be set before doing anything.
fn wait_for_event(e: &Event) {
    debug!("wait_for_event starting");
    // `wait()` returns only once the event is set (Python's `e.wait()` returns True here).
    e.wait();
    debug!("event set: {}", e.is_set());
}

/// Wait `t` at a time, doing other work in between, until the event is set.
fn wait_for_event_timeout(e: &Event, t: Duration) {
    while !e.is_set() {
        debug!("wait_for_event_timeout starting");
        let event_is_set = e.wait_timeout(t);
        debug!("event set: {event_is_set}");
        if event_is_set {
            debug!("processing event");
        } else {
            debug!("doing other work");
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    threadkit::logging::basic_config(log::LevelFilter::Debug, "(%(threadName)-10s) %(message)s")?;

    let e = Arc::new(Event::new());
    let t1 = Builder::new().name("block").create({
        let e = Arc::clone(&e);
        move || wait_for_event(&e)
    });
    t1.start()?;

    let t2 = Builder::new().name("non-block").create({
        let e = Arc::clone(&e);
        move || wait_for_event_timeout(&e, Duration::from_secs(2))
    });
    t2.start()?;

    debug!("Waiting before calling Event.set()");
    sleep(Duration::from_secs(3));
    e.set();
    debug!("Event is set");
    Ok(())
}
