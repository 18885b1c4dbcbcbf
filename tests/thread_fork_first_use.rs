//! A fork by a process whose thread registry was never used: a thread that has only used
//! primitives (so it has an identifier, but threadkit never listed it) forks, and in the child
//! it must stay the same thread, its identifier and the locks it holds with it.
//!
//! One test in its own binary (its own process): any registry call by another test of the same
//! process would set up what this one checks is set up without it.
#![cfg(all(unix, not(loom)))]

mod common;
use common::fork::in_forked_child;

static HELD: threadkit::RLock = threadkit::RLock::new();

/// In the child: the forking thread holds `HELD`; the child's first registry calls (a listing,
/// then `current_thread()`) must leave its identifier alone, so that the RLock is still its own.
fn child() {
    let before = threadkit::get_ident();
    let guard = HELD.acquire();
    let listed = threadkit::enumerate();
    let me = threadkit::current_thread();
    let after = threadkit::get_ident();
    assert_eq!(
        before, after,
        "the child's first registry calls changed its identifier"
    );
    assert_eq!(me.ident(), Some(before));
    // CPython 3.13: in the child, the thread that forked is the main thread.
    assert_eq!(threadkit::main_thread().ident(), Some(before));
    assert_eq!(listed.len(), 1, "the child lists {} threads", listed.len());
    let again = HELD.try_acquire();
    assert!(
        again.is_some(),
        "the RLock the forking thread holds is no longer its own"
    );
    drop(again);
    drop(guard);
}

#[test]
fn a_thread_known_only_by_its_identifier_stays_itself_in_the_child() {
    // Forked from a thread of its own, not the process's main thread (which the harness may run
    // the test on): its identifier is not the main one.
    let status = std::thread::spawn(|| {
        let ident = threadkit::get_ident();
        assert_ne!(ident, 1, "the forking thread has the main identifier");
        in_forked_child(child)
    })
    .join()
    .unwrap();
    assert_eq!(status, 0, "the forked child failed (above)");
}
