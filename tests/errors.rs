//! Every error's `Debug` names the error and carries CPython's message, so `fn main() ->
//! Result<(), E>` prints `Error: ReleaseError("release unlocked lock")`, not `ReleaseError(())`
//! (issue 13).

// Uses the thread API, which is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

use threadkit::{Barrier, BoundedSemaphore, Lock, RLock, Thread};

fn debug(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

#[test]
fn primitive_errors_debug_with_their_message() {
    assert_eq!(
        debug(Lock::new().release().unwrap_err()),
        r#"ReleaseError("release unlocked lock")"#
    );
    assert_eq!(
        debug(RLock::new().release().unwrap_err()),
        r#"RLockReleaseError("cannot release un-acquired lock")"#
    );
    assert_eq!(
        debug(BoundedSemaphore::new(1).release(1).unwrap_err()),
        r#"OverReleaseError("semaphore released too many times")"#
    );
    let barrier = Barrier::new(2);
    barrier.abort();
    assert_eq!(
        debug(barrier.wait().unwrap_err()),
        r#"BrokenBarrierError("barrier is broken")"#
    );
}

#[test]
fn thread_errors_debug_with_their_message() {
    let t = Thread::new(|| {});
    assert_eq!(
        debug(t.join().unwrap_err()),
        r#"NotStarted("cannot join thread before it is started")"#
    );
    t.start().unwrap();
    assert_eq!(
        debug(t.start().unwrap_err()),
        r#"AlreadyStarted("threads can only be started once")"#
    );
    assert_eq!(
        debug(t.set_daemon(true).unwrap_err()),
        r#"DaemonError("cannot set daemon status of active thread")"#
    );
    t.join().unwrap();
    assert_eq!(
        debug(threadkit::set_stack_size(1).unwrap_err()),
        r#"StackSizeError("size not valid: 1 bytes")"#
    );
}

#[cfg(feature = "logging")]
#[test]
fn logging_errors_debug_with_their_message() {
    let e = threadkit::logging::basic_config(threadkit::logging::LevelFilter::Info, "%(funcName)s")
        .unwrap_err();
    assert!(debug(&e).starts_with("Format(\"unsupported logging format field `%(funcName)s`"));
}
