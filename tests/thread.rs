//! Thread objects, the registry and the module functions: the portable behaviours of CPython's
//! `test_threading.ThreadTests`, `ThreadingExceptionTests` and `ExceptHookTests` (reference §1.1,
//! §1.2, §3.8, §3.11, §3.12), ported. Process-exit behaviour is in `tests/exit.rs`.
//!
//! Tests in this file share one process (and so one registry and one name counter) and run in
//! parallel: every assertion is about the test's own threads. Test threads are not started by
//! threadkit, so in them `current_thread()` is a daemon `Dummy-N`; threads they create inherit
//! that daemon flag unless told otherwise.

// Uses the thread API, which is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use threadkit::{
    current_thread, enumerate, get_ident, get_native_id, main_thread, Builder, Event, JoinError,
    StartError, Thread,
};

/// Waits (bounded) until `cond` holds; for states that settle asynchronously.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn func() {}

#[test]
fn names_given_automatic_and_from_the_target() {
    assert_eq!(
        &*Builder::new().name("myname1").create(|| {}).name(),
        "myname1"
    );

    let plain = Thread::new(|| {});
    let n: usize = plain.name()["Thread-".len()..].parse().unwrap();
    assert!(n >= 1);

    // An empty name means "choose one", as Python's `name=""`.
    let empty = Builder::new().name("").create(|| {});
    assert!(empty.name().starts_with("Thread-"));

    // A named function adds " (func)" (CPython 3.10+); a closure does not.
    let named = Thread::new(func);
    assert!(named.name().starts_with("Thread-"), "{}", named.name());
    assert!(named.name().ends_with(" (func)"), "{}", named.name());
    assert!(!plain.name().contains('('));

    // An explicit name wins over the target's.
    assert_eq!(
        &*Builder::new().name("explicit").create(func).name(),
        "explicit"
    );
}

#[test]
fn thread_and_dummy_names_share_one_counter() {
    let number = |name: &str, prefix: &str| -> usize {
        name[prefix.len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let first = number(&Thread::new(|| {}).name(), "Thread-");
    let dummy = std::thread::spawn(|| current_thread().name().to_string())
        .join()
        .unwrap();
    let second = number(&Thread::new(|| {}).name(), "Thread-");
    let d = number(&dummy, "Dummy-");
    assert!(first < d && d < second, "{first} < {d} < {second}");
}

#[test]
fn rename_before_and_after_start() {
    let t = Builder::new().name("before").create(|| {});
    t.set_name("renamed");
    assert_eq!(&*t.name(), "renamed");

    let go = Arc::new(Event::new());
    let seen = Arc::new(Mutex::new(String::new()));
    let t = Builder::new()
        .name("old")
        .spawn({
            let (go, seen) = (Arc::clone(&go), Arc::clone(&seen));
            move || {
                go.wait();
                *seen.lock().unwrap() = current_thread().name().to_string();
                current_thread().set_name("self-renamed");
            }
        })
        .unwrap();
    t.thread().set_name("new");
    go.set();
    let thread = t.thread().clone();
    t.join().unwrap();
    assert_eq!(*seen.lock().unwrap(), "new");
    assert_eq!(&*thread.name(), "self-renamed");
}

#[cfg(target_os = "linux")]
#[test]
fn os_thread_name_follows_and_is_truncated() {
    fn os_name() -> String {
        let tid = get_native_id();
        std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
            .unwrap()
            .trim_end()
            .to_string()
    }
    let h = Builder::new()
        .name("a-rather-long-thread-name")
        .spawn(|| {
            let first = os_name();
            current_thread().set_name("short");
            (first, os_name())
        })
        .unwrap();
    let (first, second) = h.join().unwrap();
    assert_eq!(first, "a-rather-long-t"); // 15 bytes, the Linux limit
    assert_eq!(second, "short");
}

#[test]
fn daemon_flag_is_inherited_and_fixed_at_start() {
    // Created from a test thread (a daemon Dummy): daemon by default.
    assert!(Thread::new(|| {}).is_daemon());
    // Explicit settings win.
    assert!(!Builder::new().daemon(false).create(|| {}).is_daemon());
    // Created inside a non-daemon thread: non-daemon; inside a daemon thread: daemon.
    let inner = Builder::new()
        .daemon(false)
        .spawn(|| Thread::new(|| {}).is_daemon())
        .unwrap();
    assert!(!inner.join().unwrap());
    let inner = Builder::new()
        .daemon(true)
        .spawn(|| Thread::new(|| {}).is_daemon())
        .unwrap();
    assert!(inner.join().unwrap());

    let t = Thread::new(|| {});
    t.set_daemon(false).unwrap();
    assert!(!t.is_daemon());
    t.set_daemon(true).unwrap();
    t.start().unwrap();
    let err = t.set_daemon(false).unwrap_err();
    assert_eq!(err.to_string(), "cannot set daemon status of active thread");
    assert!(t.is_daemon());
    t.join().unwrap();
}

#[test]
fn start_twice_is_an_error() {
    let t = Thread::new(|| {});
    t.start().unwrap();
    let err = t.start().unwrap_err();
    assert!(matches!(err, StartError::AlreadyStarted));
    assert_eq!(err.to_string(), "threads can only be started once");
    t.join().unwrap();
    assert!(matches!(t.start(), Err(StartError::AlreadyStarted)));
    assert!(matches!(
        main_thread().start(),
        Err(StartError::AlreadyStarted)
    ));
    assert!(matches!(
        current_thread().start(),
        Err(StartError::AlreadyStarted)
    ));
}

#[test]
fn join_errors() {
    let t = Thread::new(|| {});
    assert_eq!(t.join(), Err(JoinError::NotStarted));
    assert_eq!(
        t.join_timeout(Duration::from_millis(1)),
        Err(JoinError::NotStarted)
    );
    assert_eq!(
        JoinError::NotStarted.to_string(),
        "cannot join thread before it is started"
    );

    // A test thread is a foreign (dummy) thread.
    assert_eq!(current_thread().join(), Err(JoinError::Dummy));
    assert_eq!(JoinError::Dummy.to_string(), "cannot join a dummy thread");

    let h = threadkit::spawn(|| current_thread().join());
    assert_eq!(h.join().unwrap(), Err(JoinError::CurrentThread));
    assert_eq!(
        JoinError::CurrentThread.to_string(),
        "cannot join current thread"
    );
}

#[test]
fn start_returns_a_running_registered_thread() {
    let go = Arc::new(Event::new());
    let t = Thread::new({
        let go = Arc::clone(&go);
        move || go.wait()
    });
    assert_eq!(t.ident(), None);
    assert_eq!(t.native_id(), None);
    assert!(!t.is_alive());
    t.start().unwrap();
    assert!(t.is_alive());
    assert!(t.ident().is_some());
    assert!(t.native_id().is_some());
    assert!(enumerate().contains(&t));
    go.set();
    t.join().unwrap();
    assert!(!t.is_alive());
    assert!(!enumerate().contains(&t));
    // The identifier stays available after the thread ended.
    assert!(t.ident().is_some());
}

#[test]
fn idents_and_native_ids_are_distinct_and_match_inside() {
    let go = Arc::new(Event::new());
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let go = Arc::clone(&go);
            threadkit::spawn(move || {
                go.wait();
                let me = current_thread();
                assert_eq!(me.ident(), Some(get_ident()));
                assert_eq!(me.native_id(), Some(get_native_id()));
            })
        })
        .collect();
    let mut idents: Vec<_> = handles.iter().map(|h| h.thread().ident()).collect();
    let mut natives: Vec<_> = handles.iter().map(|h| h.thread().native_id()).collect();
    idents.push(main_thread().ident());
    natives.push(main_thread().native_id());
    idents.sort();
    idents.dedup();
    natives.sort();
    natives.dedup();
    assert_eq!(idents.len(), 11);
    assert_eq!(natives.len(), 11);
    assert!(natives.iter().all(Option::is_some));
    go.set();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn join_from_many_threads_at_once() {
    for n in 2..12 {
        let go = Arc::new(Event::new());
        let target = Thread::new({
            let go = Arc::clone(&go);
            move || go.wait()
        });
        target.start().unwrap();
        let joiners: Vec<_> = (0..n)
            .map(|_| {
                let target = target.clone();
                threadkit::spawn(move || target.join())
            })
            .collect();
        go.set();
        for j in joiners {
            assert_eq!(j.join().unwrap(), Ok(()));
        }
        assert!(!target.is_alive());
    }
}

#[test]
fn join_with_timeout() {
    let go = Arc::new(Event::new());
    let t = Thread::new({
        let go = Arc::clone(&go);
        move || go.wait()
    });
    t.start().unwrap();
    let started = Instant::now();
    assert_eq!(t.join_timeout(Duration::from_millis(100)), Ok(false));
    assert!(started.elapsed() >= Duration::from_millis(60));
    assert!(t.is_alive());
    go.set();
    assert_eq!(t.join_timeout(Duration::from_secs(30)), Ok(true));
    assert!(!t.is_alive());
    // Joining a finished thread returns at once, any number of times.
    assert_eq!(t.join_timeout(Duration::ZERO), Ok(true));
    t.join().unwrap();
}

#[test]
fn a_joined_thread_is_never_enumerated() {
    for _ in 0..100 {
        let t = Thread::new(|| {});
        t.start().unwrap();
        t.join().unwrap();
        assert!(!enumerate().contains(&t));
    }
}

/// The excepthook is process-wide: tests that set it take turns.
static EXCEPTHOOK_TURN: Mutex<()> = Mutex::new(());

#[test]
fn join_handle_returns_value_or_panic() {
    let _turn = EXCEPTHOOK_TURN.lock().unwrap_or_else(|e| e.into_inner());
    threadkit::set_excepthook(|_| {});
    let h = threadkit::spawn(|| 40 + 2);
    assert_eq!(h.join().unwrap(), 42);

    let h = Builder::new()
        .name("join-handle-panics")
        .spawn(|| -> i32 { panic!("run failed") })
        .unwrap();
    let payload = h.join().unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"run failed"));

    let go = Arc::new(Event::new());
    let h = threadkit::spawn({
        let go = Arc::clone(&go);
        move || {
            go.wait();
            "late"
        }
    });
    let h = h.join_timeout(Duration::from_millis(20)).unwrap_err();
    assert!(!h.is_finished());
    go.set();
    assert_eq!(h.join().unwrap(), "late");
    threadkit::reset_excepthook();
}

#[test]
fn excepthook_receives_thread_and_payload_and_registry_is_clean() {
    let _turn = EXCEPTHOOK_TURN.lock().unwrap_or_else(|e| e.into_inner());
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let seen: Arc<Mutex<Vec<(String, String, bool)>>> = Arc::default();
    let s = Arc::clone(&seen);
    // The hook is process-wide: only record this test's thread.
    threadkit::set_excepthook(move |args| {
        if &*args.thread().name() == "excepthook thread" {
            CALLS.fetch_add(1, Ordering::SeqCst);
            s.lock().unwrap().push((
                args.thread().name().to_string(),
                args.message().unwrap_or_default().to_string(),
                args.location().is_some_and(|l| l.contains("thread.rs")),
            ));
        }
    });
    let t = Builder::new()
        .name("excepthook thread")
        .create(|| panic!("run failed"));
    t.start().unwrap();
    t.join().unwrap();
    threadkit::reset_excepthook();
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    assert_eq!(
        seen.lock().unwrap()[0],
        ("excepthook thread".into(), "run failed".into(), true)
    );
    assert!(!enumerate().contains(&t));
    assert!(!t.is_alive());
}

#[test]
fn foreign_threads_are_dummies_until_they_exit() {
    let (tx, rx) = std::sync::mpsc::channel();
    let go = Arc::new(Event::new());
    let h = std::thread::spawn({
        let go = Arc::clone(&go);
        move || {
            let me = current_thread();
            assert_eq!(me, current_thread()); // the same record each time
            tx.send(me).unwrap();
            go.wait();
        }
    });
    let dummy = rx.recv().unwrap();
    assert!(dummy.name().starts_with("Dummy-"));
    assert!(dummy.is_daemon());
    assert!(dummy.is_alive());
    assert!(format!("{dummy:?}").starts_with("DummyThread(Dummy-"));
    assert!(enumerate().contains(&dummy));
    assert_eq!(dummy.join(), Err(JoinError::Dummy));
    go.set();
    h.join().unwrap();
    eventually("the dummy leaves the registry", || {
        !enumerate().contains(&dummy)
    });
    assert!(!dummy.is_alive());
}

#[test]
fn main_thread_record() {
    let main = main_thread();
    assert_eq!(&*main.name(), "MainThread");
    assert_eq!(main.ident(), Some(1));
    assert!(!main.is_daemon());
    assert!(main.is_alive());
    assert_ne!(main, current_thread()); // tests run on harness threads
    assert_eq!(enumerate()[0], main);
    assert!(format!("{main:?}").starts_with("MainThread(MainThread, started 1"));
}

#[test]
fn active_count_counts_enumerate() {
    // Other tests start threads concurrently, so compare with a bounded retry.
    eventually("active_count() == enumerate().len()", || {
        threadkit::active_count() == enumerate().len()
    });
}

#[test]
fn debug_looks_like_cpython_repr() {
    let t = Builder::new().name("repr").daemon(false).create(|| {});
    assert_eq!(format!("{t:?}"), "Thread(repr, initial)");
    t.set_daemon(true).unwrap();
    assert_eq!(format!("{t:?}"), "Thread(repr, initial daemon)");

    let go = Arc::new(Event::new());
    let t = Builder::new().name("repr2").daemon(false).create({
        let go = Arc::clone(&go);
        move || go.wait()
    });
    t.start().unwrap();
    let id = t.ident().unwrap();
    assert_eq!(format!("{t:?}"), format!("Thread(repr2, started {id})"));
    go.set();
    // "stopped" appears on its own once the thread ends, without join.
    eventually("repr shows stopped", || {
        format!("{t:?}") == format!("Thread(repr2, stopped {id})")
    });
    t.join().unwrap();
}

#[test]
fn stack_size_setting() {
    assert_eq!(
        threadkit::set_stack_size(1000).unwrap_err().to_string(),
        "size not valid: 1000 bytes"
    );
    // A small explicit stack still runs a thread; a large one too.
    for size in [64 * 1024, 1024 * 1024] {
        let h = Builder::new().stack_size(size).spawn(|| 7).unwrap();
        assert_eq!(h.join().unwrap(), 7);
    }
}

#[test]
fn run_trait_objects_reach_their_thread() {
    struct Named;
    impl threadkit::Run for Named {
        type Output = String;
        fn run(self) -> String {
            current_thread().name().to_string()
        }
    }
    let h = Builder::new().name("runner").spawn(Named).unwrap();
    assert_eq!(h.join().unwrap(), "runner");
    // A Run type gets a plain "Thread-N" name, as a Python subclass without a target does.
    assert!(!Thread::new(Named).name().contains('('));
}

#[test]
fn many_threads_started_and_joined_leave_no_trace() {
    let before: Vec<_> = enumerate();
    let threads: Vec<_> = (0..200)
        .map(|i| {
            let t = Thread::new(move || i * 2);
            t.start().unwrap();
            t
        })
        .collect();
    for t in &threads {
        t.join().unwrap();
    }
    let after = enumerate();
    for t in &threads {
        assert!(!after.contains(t));
    }
    // Nothing of ours is left behind (other tests may add their own threads meanwhile).
    assert!(after
        .iter()
        .all(|t| before.contains(t) || !threads.contains(t)));
}
