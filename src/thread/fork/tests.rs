//! Forks with a thread held where the registry's map does not list it (the test-only pause of
//! `handle/test_hook.rs`): a thread so caught is lost in the child all the same; and with a
//! thread finished before the fork. Each check runs in a forked child with a 10 s alarm: a hang
//! is exit status [`HUNG`], a failed assertion 1.
//!
//! The children of this binary inherit the other unit tests' threads too: they only read
//! atomics of the records these tests made (a lost record is answered before any lock or wait).

use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::thread::handle::test_hook;
use crate::{Builder, StartError, Thread};

/// The fork tests' driver, shared with the integration tests.
#[path = "../../../tests/common/fork.rs"]
#[allow(dead_code)]
mod forked;
use forked::HUNG;

/// Forks, runs `child` in the child with a 10 s alarm, and returns the child's exit status
/// (`HUNG` if the alarm fired; 0 if `child` returned; 1 if it panicked). The child runs atomic
/// reads and joins of lost records, which return before any lock or wait.
fn in_forked_child(child: impl FnOnce()) -> i32 {
    forked::in_forked_child_within(10, child)
}

/// The loose bound of the checks: a join of a lost thread returns at once.
const BOUND: Duration = Duration::from_secs(5);

/// One fork test at a time (a child must not inherit the other test's thread in its gap).
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the child checks of `lost` (and of the forking thread, `me`): a timed join returns at
/// once and says finished (the witness: the time it took, within [`BOUND`]), so do the untimed
/// join and `is_finished`, `is_alive()` is false and the repr says stopped; `me` is alive.
fn lost_in_the_child(lost: &Thread, me: &Thread) {
    let begun = Instant::now();
    let joined = lost.join_timeout(BOUND);
    let took = begun.elapsed();
    assert_eq!(joined, Ok(true), "join_timeout({BOUND:?}) after {took:?}");
    assert!(took < BOUND, "join_timeout took {took:?}");
    assert!(!lost.is_alive(), "{lost:?} alive in the child");
    assert_eq!(lost.join(), Ok(()));
    assert_eq!(lost.join_deadline(Instant::now() + BOUND), Ok(true));
    assert!(lost.is_finished());
    assert!(format!("{lost:?}").contains("stopped"), "{lost:?}");
    assert!(me.is_alive(), "the forking thread {me:?} is not alive");
}

/// A thread is held past leaving the registry, before its `STOPPED` store (so not listed, but
/// still alive as far as its state says), while this thread forks. Witness: the child's exit
/// status (0: every check of [`lost_in_the_child`] held, and the thread's `JoinHandle` said it
/// does not exist there); then the parent's thread goes on, and joins with its result.
///
/// On the old code (main 563aa0c, with only the hook and these tests added): exit 1 (the child's
/// `join_timeout(5s)` returned `Ok(false)` after 5.0 s); with an untimed `join()` first, std's
/// OS join panicked in the child ("threads should not terminate unexpectedly").
#[test]
fn a_thread_caught_mid_exit_is_lost_in_the_child() {
    let _serial = serial();
    let me = crate::current_thread();
    let (in_gap, reached) = mpsc::channel::<()>();
    let (forked, resume) = mpsc::channel::<()>();
    let handle = Builder::new()
        .name("mid-exit")
        .spawn(move || {
            test_hook::at_next_gap(move || {
                in_gap.send(()).unwrap();
                resume.recv().unwrap();
            });
            7
        })
        .unwrap();
    let t = handle.thread().clone();
    reached
        .recv_timeout(Duration::from_secs(60))
        .expect("the thread reached the gap");
    // In the gap: out of the map, not yet stopped.
    assert!(!crate::enumerate().contains(&t), "listed in the gap");
    assert!(t.is_alive(), "{t:?} not alive in the gap");
    assert!(!t.is_finished());

    let handle = Mutex::new(Some(handle));
    let status = in_forked_child(|| {
        lost_in_the_child(&t, &me);
        let handle = handle.lock().unwrap().take().expect("the handle");
        assert!(handle.is_finished());
        let err = handle.join().expect_err("a lost thread has no result");
        assert!(err
            .downcast_ref::<&str>()
            .unwrap()
            .contains("does not exist"));
    });
    forked.send(()).unwrap();
    let handle = handle.lock().unwrap().take().expect("the parent's handle");
    assert_eq!(handle.join().unwrap(), 7);
    assert!(!t.is_alive());
    assert_eq!(status, 0, "the child failed (1) or hung ({HUNG})");
}

/// Another thread's `start()` is held after its claim, before the thread's entry in the
/// registry (so not listed, and not alive: `STARTING`), while this thread forks. Witness: the
/// child's exit status (0: every check of [`lost_in_the_child`] held, and a second `start()`
/// in the child failed and left the thread lost); then the parent's start goes on, and the
/// thread runs and joins.
///
/// On the old code (main 563aa0c, with only the hook and these tests added): exit 1 (the child's
/// `join_timeout(5s)` returned `Ok(false)` after 5.0 s); with an untimed `join()` first, the
/// child hung (exit 3: the alarm).
#[test]
fn a_thread_caught_between_claim_and_registry_is_lost_in_the_child() {
    let _serial = serial();
    let me = crate::current_thread();
    let (ran, did_run) = mpsc::channel::<u32>();
    let t = Builder::new()
        .name("mid-start")
        .create(move || ran.send(7).unwrap());
    let (in_gap, reached) = mpsc::channel::<()>();
    let (forked, resume) = mpsc::channel::<()>();
    let starter = std::thread::spawn({
        let t = t.clone();
        move || {
            test_hook::at_next_gap(move || {
                in_gap.send(()).unwrap();
                resume.recv().unwrap();
            });
            t.start()
        }
    });
    reached
        .recv_timeout(Duration::from_secs(60))
        .expect("the start reached the gap");
    // In the gap: claimed (an identifier, a second start refused), not listed, not running.
    assert!(t.ident().is_some());
    assert!(!crate::enumerate().contains(&t), "listed in the gap");
    assert!(!t.is_alive());

    let status = in_forked_child(|| {
        lost_in_the_child(&t, &me);
        assert!(matches!(t.start(), Err(StartError::AlreadyStarted)));
        assert!(!t.is_alive(), "a second start made it alive");
        assert_eq!(t.join_timeout(BOUND), Ok(true));
    });
    forked.send(()).unwrap();
    starter.join().unwrap().expect("the parent's start");
    t.join().unwrap();
    assert_eq!(did_run.recv().unwrap(), 7);
    assert_eq!(status, 0, "the child failed (1) or hung ({HUNG})");
}

/// A thread that finished before the fork (its finished mark set, its OS thread not joined) is
/// lost in the child too: its joins return at once without the OS join (which would wait for
/// ever for a thread still in its thread-local teardown at the fork), yet its `JoinHandle`
/// still returns the result it left before it finished. Witness: the value (7) in the child.
///
/// Passes on the old code too (main 563aa0c: the thread was not marked, its join reaped it);
/// it guards the finished test in `JoinHandle::take`: without it (every lost thread's handle an
/// `Err`), the child failed (exit 1: "a finished thread's result").
#[test]
fn a_thread_finished_before_the_fork_keeps_its_result_in_the_child() {
    let _serial = serial();
    let me = crate::current_thread();
    let handle = Builder::new().name("finished").spawn(|| 7).unwrap();
    let t = handle.thread().clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !handle.is_finished() {
        assert!(Instant::now() < deadline, "{t:?} never finished");
        std::thread::yield_now();
    }
    let handle = Mutex::new(Some(handle));
    let status = in_forked_child(|| {
        lost_in_the_child(&t, &me);
        let handle = handle.lock().unwrap().take().expect("the handle");
        assert_eq!(handle.join().expect("a finished thread's result"), 7);
    });
    let handle = handle.lock().unwrap().take().expect("the parent's handle");
    assert_eq!(handle.join().unwrap(), 7);
    assert_eq!(status, 0, "the child failed (1) or hung ({HUNG})");
}
