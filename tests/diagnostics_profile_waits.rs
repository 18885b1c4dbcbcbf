//! The contention profile's charge of a woken wait that is not a lock's: an Event wait is
//! charged to the Event, once, with the time it waited (the wait record is read back from the
//! waiting thread's slot for the charge). The profile is process-wide: one test at a time.
// The thread API is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

mod common;

use common::diag::{serial, until_thread};

use std::sync::Arc;
use std::time::Duration;

use threadkit::diagnostics::{self, WaitKind};
use threadkit::{Builder, Event};

const T: Duration = Duration::from_secs(5);

#[test]
fn woken_event_wait_is_charged_once_with_its_duration() {
    let _s = serial();
    diagnostics::reset_contention_profile();
    diagnostics::set_contention_profiling(true);
    let event = Arc::new(Event::named("profiled-event"));
    let e = Arc::clone(&event);
    let waiter = Builder::new()
        .name("event-waiter")
        .spawn(move || e.wait_timeout(T))
        .unwrap();
    until_thread("event-waiter", |t| {
        t.waiting
            .as_ref()
            .is_some_and(|w| w.kind == WaitKind::Event)
    });
    // The waiter is parked: it is charged at least this long.
    std::thread::sleep(Duration::from_millis(60));
    event.set();
    // The witness: the wait returned because of the set (not its timeout).
    assert!(common::join_or_fail(waiter, "event-waiter"));
    diagnostics::set_contention_profiling(false);
    let profile = diagnostics::contention_profile();
    let charged = profile
        .objects
        .iter()
        .find(|o| o.object.name.as_deref() == Some("profiled-event"))
        .unwrap_or_else(|| panic!("the Event's wait was not charged:\n{profile}"));
    assert_eq!(charged.stats.waits, 1, "{profile}");
    assert!(charged.stats.max >= Duration::from_millis(40), "{profile}");
    assert!(charged.stats.max < T, "{profile}");
    diagnostics::reset_contention_profile();
}
