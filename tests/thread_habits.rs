//! Issue 13: scoped threads are threadkit threads, foreign threads keep std's name, and
//! `Thread`, `Timer` and `Local` cross `catch_unwind`.

// Uses the thread API, which is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe, RefUnwindSafe, UnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier as StdBarrier, Mutex};
use std::time::Duration;

use threadkit::{current_thread, enumerate, Builder, Local, Thread, Timer};

#[test]
fn scoped_threads_borrow_without_arc() {
    let mut slots = vec![0usize; 8];
    let input: Vec<usize> = (1..=8).collect();
    threadkit::scope(|s| {
        for (slot, x) in slots.iter_mut().zip(&input) {
            s.spawn(move || *slot = x * 10);
        }
    });
    // Witness: every slot written by its own thread, all done when `scope` returns.
    assert_eq!(slots, [10, 20, 30, 40, 50, 60, 70, 80]);
}

#[test]
fn scoped_threads_are_named_registered_threads() {
    let hold = StdBarrier::new(3);
    threadkit::scope(|s| {
        let named = Builder::new()
            .name("scoped-worker")
            .spawn_scoped(s, || {
                hold.wait();
                hold.wait();
                current_thread()
            })
            .unwrap();
        let plain = s.spawn(|| {
            hold.wait();
            hold.wait();
            current_thread().name().to_string()
        });
        hold.wait(); // both are running
        let listed = enumerate();
        assert!(listed.contains(named.thread()));
        assert!(listed.contains(plain.thread()));
        assert!(named.thread().is_alive());
        assert!(named.thread().ident().is_some());
        // The creating test thread is a foreign (daemon) thread: its flag is inherited.
        assert!(named.thread().is_daemon());
        hold.wait();
        let inside = named.join().unwrap();
        assert_eq!(&*inside.name(), "scoped-worker");
        let plain_thread = plain.thread().clone();
        assert_eq!(plain.join().unwrap(), plain_thread.name().to_string());
        assert!(plain_thread.name().starts_with("Thread-"));
        // Joined: finished and no longer listed.
        assert!(!inside.is_alive());
        assert!(!enumerate().contains(&inside));
    });
}

/// A function target gets CPython's " (name)" suffix, as for `Builder::spawn`.
#[test]
fn scoped_function_target_name() {
    fn compute() -> String {
        current_thread().name().to_string()
    }
    let name = threadkit::scope(|s| s.spawn(compute).join().unwrap());
    assert!(
        name.starts_with("Thread-") && name.ends_with(" (compute)"),
        "{name}"
    );
}

#[test]
fn scoped_daemon_flag_and_nested_spawns() {
    let count = AtomicUsize::new(0);
    threadkit::scope(|s| {
        let h = Builder::new()
            .daemon(true)
            .spawn_scoped(s, || {
                // A scoped thread spawns into the same scope, borrowing the same data.
                s.spawn(|| count.fetch_add(1, Ordering::SeqCst));
                count.fetch_add(1, Ordering::SeqCst);
                current_thread().is_daemon()
            })
            .unwrap();
        assert!(h.join().unwrap());
    });
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

/// One test owns the process-wide excepthook in this binary.
#[test]
fn scoped_panics_go_to_the_excepthook_and_the_scope() {
    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    threadkit::set_excepthook(|args| {
        let name = args.thread().name();
        if name.starts_with("scoped-panic") {
            SEEN.lock().unwrap().push(format!(
                "{name}: {} at {}",
                args.message().unwrap_or("?"),
                args.location().is_some()
            ));
        }
    });
    // Joined: the handle gets the payload, the scope returns normally.
    let joined = threadkit::scope(|s| {
        Builder::new()
            .name("scoped-panic-1")
            .spawn_scoped(s, || -> u8 { panic!("first") })
            .unwrap()
            .join()
    });
    assert_eq!(joined.unwrap_err().downcast_ref::<&str>(), Some(&"first"));
    // Not joined: the scope panics once every thread has finished, as std's does.
    let r = catch_unwind(|| {
        threadkit::scope(|s| {
            Builder::new()
                .name("scoped-panic-2")
                .spawn_scoped(s, || panic!("second"))
                .unwrap();
        });
    });
    assert!(r.is_err());
    threadkit::reset_excepthook();
    assert_eq!(
        *SEEN.lock().unwrap(),
        [
            "scoped-panic-1: first at true",
            "scoped-panic-2: second at true"
        ]
    );
}

#[test]
fn scoped_thread_locals_are_dropped_before_join_returns() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct Counted;
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
    static VALUE: Local<Counted> = Local::new();
    threadkit::scope(|s| {
        let h = s.spawn(|| VALUE.set(Counted));
        let t = h.thread().clone();
        assert_eq!(t.join_timeout(common::HANG), Ok(true));
        assert!(h.is_finished());
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
        h.join().unwrap();
    });
}

#[test]
fn foreign_threads_keep_std_names() {
    let named = std::thread::Builder::new()
        .name("rayon-worker-3".into())
        .spawn(|| {
            let me = current_thread();
            (me.name().to_string(), me.is_daemon(), format!("{me:?}"))
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(named.0, "rayon-worker-3");
    assert!(named.1);
    assert!(
        named
            .2
            .starts_with("DummyThread(rayon-worker-3, started daemon"),
        "{}",
        named.2
    );
    // A name longer than the OS's 15 bytes is kept whole (std's name, not the OS's).
    let long = std::thread::Builder::new()
        .name("tokio-runtime-worker".into())
        .spawn(|| current_thread().name().to_string())
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(long, "tokio-runtime-worker");
    let unnamed = std::thread::spawn(|| current_thread().name().to_string())
        .join()
        .unwrap();
    assert!(unnamed.starts_with("Dummy-"), "{unnamed}");
}

fn unwind_safe<T: UnwindSafe + RefUnwindSafe>() {}

#[test]
fn thread_timer_local_cross_catch_unwind() {
    unwind_safe::<Thread>();
    unwind_safe::<Timer>();
    fn owned_unwind_safe<T: UnwindSafe>() {}
    owned_unwind_safe::<Local<u32>>();

    let t = Thread::new(|| {});
    let timer = Timer::new(Duration::from_secs(3600), || {});
    timer.set_daemon(true).unwrap();
    static VALUE: Local<u32> = Local::new();
    let r = catch_unwind(|| {
        t.start().unwrap();
        timer.start().unwrap();
        VALUE.set(5);
        panic!("inside");
    });
    assert!(r.is_err());
    // Witnesses: both usable after the panic.
    t.join().unwrap();
    assert!(!t.is_alive());
    assert!(timer.cancel());
    assert_eq!(VALUE.get(), Some(5));
    // An owned Local moves in.
    let local = Local::<u32>::new();
    let r = catch_unwind(move || {
        local.set(1);
        local.get()
    });
    assert_eq!(r.unwrap(), Some(1));
    // Queues (not PriorityQueue: a panicking `Ord` may leave its order unspecified).
    unwind_safe::<threadkit::queue::Queue<u32>>();
    unwind_safe::<threadkit::queue::LifoQueue<u32>>();
    unwind_safe::<threadkit::queue::SimpleQueue<u32>>();
    let q = threadkit::queue::Queue::new(1);
    let r = catch_unwind(|| {
        q.put(7).unwrap();
        panic!("inside");
    });
    assert!(r.is_err());
    assert_eq!(q.try_get().ok(), Some(7)); // the item went in whole, the queue is usable
    let borrowed = Local::<u32>::new();
    let r = catch_unwind(AssertUnwindSafe(|| borrowed.set(2)));
    assert!(r.is_ok());
}
