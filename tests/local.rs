//! Behaviour of `Local`: CPython's `threading.local` (reference §1.10, §3.15) with Python's value
//! lifetimes (issue 4).

// Uses the thread API, which is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use threadkit::{Event, Local};

/// Counts drops of values created with it.
#[derive(Clone, Default)]
struct Drops(Arc<AtomicUsize>);

impl Drops {
    fn value(&self) -> Tracked {
        Tracked(Arc::clone(&self.0))
    }
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn each_thread_sees_only_its_own_value() {
    // test_threading_local: set in one thread, invisible in another.
    let data = Arc::new(Local::new());
    data.set(1000);
    let d = Arc::clone(&data);
    threadkit::spawn(move || {
        assert_eq!(d.get(), None);
        assert!(!d.has_value());
        d.set(1);
        assert_eq!(d.get(), Some(1));
    })
    .join()
    .unwrap();
    let d = Arc::clone(&data);
    std::thread::spawn(move || assert_eq!(d.get(), None))
        .join()
        .unwrap();
    assert_eq!(data.get(), Some(1000));
}

#[test]
fn a_value_is_absent_until_set_and_after_take() {
    let data: Local<String> = Local::new();
    assert_eq!(data.get(), None);
    assert_eq!(data.take(), None);
    data.set("x".into());
    assert_eq!(data.replace("y".into()).as_deref(), Some("x"));
    assert_eq!(data.take().as_deref(), Some("y"));
    assert!(!data.has_value());
    let err = panic::catch_unwind(AssertUnwindSafe(|| data.with(|_| ()))).unwrap_err();
    assert!(panic_message(&*err).contains("no value in this thread"));
}

#[test]
fn the_initializer_runs_lazily_once_per_thread_that_touches_it() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let data = Arc::new(Local::with_init(move || {
        c.fetch_add(1, Ordering::SeqCst);
        1000
    }));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "lazy: nothing touched it yet"
    );
    assert_eq!(data.get(), Some(1000));
    data.with_mut(|v| *v += 1);
    assert_eq!(data.get(), Some(1001));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "once in the creating thread"
    );

    let handles: Vec<_> = (0..4)
        .map(|i| {
            let data = Arc::clone(&data);
            threadkit::spawn(move || {
                assert_eq!(data.with(|v| *v), 1000);
                data.with_mut(|v| *v = i);
                assert_eq!(data.get(), Some(i));
            })
        })
        .collect();
    // A thread that never touches the Local never runs the initializer.
    threadkit::spawn(|| {}).join().unwrap();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    assert_eq!(data.get(), Some(1001));
}

#[test]
fn a_panicking_initializer_leaves_the_slot_empty_and_the_next_access_retries() {
    let fail = Arc::new(AtomicBool::new(true));
    let f = Arc::clone(&fail);
    let data = Local::with_init(move || {
        if f.swap(false, Ordering::SeqCst) {
            panic!("init failed");
        }
        7
    });
    let err = panic::catch_unwind(AssertUnwindSafe(|| data.get())).unwrap_err();
    assert_eq!(panic_message(&*err), "init failed");
    assert!(!data.has_value());
    assert_eq!(data.get(), Some(7));
}

#[test]
fn a_threads_value_is_dropped_when_the_thread_exits() {
    let drops = Drops::default();
    let data = Arc::new(Local::new());
    for _ in 0..3 {
        let (d, v) = (Arc::clone(&data), drops.value());
        threadkit::spawn(move || d.set(v)).join().unwrap();
    }
    let (d, v) = (Arc::clone(&data), drops.value());
    std::thread::spawn(move || d.set(v)).join().unwrap();
    // Joining waits for thread-local destructors, so the values are gone now.
    assert_eq!(drops.count(), 4);
    drop(data);
    assert_eq!(drops.count(), 4);
}

#[test]
fn local_refs_every_finished_threads_object_is_released() {
    // test_local_refs (n = 20, 50, 100): after all threads are joined, all their objects are dead.
    for n in [20, 50, 100] {
        let drops = Drops::default();
        let data = Arc::new(Local::new());
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let (d, v) = (Arc::clone(&data), drops.value());
                threadkit::spawn(move || d.set(v))
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(drops.count(), n);
        data.set(drops.value()); // a value in the main thread does not keep the others
        assert_eq!(drops.count(), n);
    }
}

#[test]
fn dropping_the_local_drops_every_threads_value() {
    let drops = Drops::default();
    let data = Arc::new(Local::new());
    data.set(drops.value());
    let stored = Arc::new(Barrier::new(4));
    let release = Arc::new(Event::new());
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let (d, v) = (Arc::clone(&data), drops.value());
            let (stored, release) = (Arc::clone(&stored), Arc::clone(&release));
            threadkit::spawn(move || {
                d.set(v);
                drop(d);
                stored.wait();
                release.wait();
            })
        })
        .collect();
    stored.wait();
    assert_eq!(drops.count(), 0);
    drop(data); // the threads are still running
    assert_eq!(drops.count(), 4);
    release.set();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(drops.count(), 4, "nothing dropped twice at thread exit");
}

#[test]
fn a_new_thread_never_sees_a_finished_threads_value() {
    // The `thread_local` crate reuses the slots of exited threads; Python's local does not.
    let inits = Arc::new(AtomicUsize::new(0));
    let i = Arc::clone(&inits);
    let with_init = Arc::new(Local::with_init(move || {
        i.fetch_add(1, Ordering::SeqCst);
        0
    }));
    let plain = Arc::new(Local::new());
    for n in 0..20 {
        let (w, p) = (Arc::clone(&with_init), Arc::clone(&plain));
        threadkit::spawn(move || {
            assert_eq!(p.get(), None);
            p.set(42);
            assert_eq!(w.get(), Some(0));
            w.with_mut(|v| *v = 42);
        })
        .join()
        .unwrap();
        assert_eq!(inits.load(Ordering::SeqCst), n + 1);
    }
}

#[test]
fn a_local_created_later_starts_empty() {
    // test_derived_cycle_dealloc: a Local made after others were dropped has no stale values.
    for _ in 0..50 {
        let old = Local::new();
        old.set(1);
        drop(old);
        let new: Local<i32> = Local::new();
        assert_eq!(new.get(), None);
        std::thread::spawn(move || assert_eq!(new.get(), None))
            .join()
            .unwrap();
    }
}

#[test]
fn derived_each_thread_reads_back_its_own_value() {
    // test_derived: an initializer that lets other threads run must not mix threads up.
    let data = Arc::new(Local::with_init(|| {
        std::thread::yield_now();
        std::thread::sleep(std::time::Duration::from_millis(1));
        0usize
    }));
    let handles: Vec<_> = (0..10)
        .map(|i| {
            let d = Arc::clone(&data);
            threadkit::spawn(move || {
                d.with_mut(|v| *v = i);
                std::thread::yield_now();
                d.get()
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), Some(i));
    }
}

#[test]
fn borrow_rules_are_enforced_per_thread() {
    let data = Local::with_init(|| vec![1]);
    data.with(|outer| data.with(|inner| assert_eq!(outer, inner)));
    let attempts: [&dyn Fn(); 4] = [
        &|| data.with(|_| data.set(vec![])),
        &|| data.with(|_| data.with_mut(|_| ())),
        &|| data.with_mut(|_| data.with(|_| ())),
        &|| data.with(|_| drop(data.take())),
    ];
    for attempt in attempts {
        let err = panic::catch_unwind(AssertUnwindSafe(attempt)).unwrap_err();
        assert!(panic_message(&*err).contains("already borrowed"));
    }
    // Nothing was left borrowed by the panics.
    data.with_mut(|v| v.push(2));
    assert_eq!(data.get(), Some(vec![1, 2]));
}

#[test]
fn an_initializer_reaching_its_own_local_panics_instead_of_recursing() {
    static SELF_REF: Local<u32> = Local::with_init(|| SELF_REF.get().unwrap_or(0) + 1);
    let err = panic::catch_unwind(|| SELF_REF.get()).unwrap_err();
    assert!(panic_message(&*err).contains("already borrowed"));
    assert!(!SELF_REF.has_value());
}

#[test]
fn many_locals_and_nested_access() {
    let locals: Vec<Local<Cell<usize>, _>> = (0..100)
        .map(|i| Local::with_init(move || Cell::new(i)))
        .collect();
    // Nested access across different Locals, beyond the per-thread cache size.
    locals[0].with(|a| {
        locals[99].with(|b| {
            a.set(a.get() + b.get());
        })
    });
    assert_eq!(locals[0].with(Cell::get), 99);
    for (i, l) in locals.iter().enumerate().skip(1) {
        assert_eq!(l.with(Cell::get), i);
    }
}

#[test]
fn a_value_whose_drop_uses_other_locals_at_thread_exit() {
    static OTHER: Local<Cell<u32>> = Local::with_init(|| Cell::new(0));
    static LOG: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    struct UsesOther;
    impl Drop for UsesOther {
        fn drop(&mut self) {
            OTHER.with(|c| c.set(c.get() + 1));
            LOG.lock().unwrap().push(OTHER.with(Cell::get));
        }
    }
    static FIRST: Local<UsesOther> = Local::new();
    threadkit::spawn(|| {
        OTHER.with(|c| c.set(10));
        FIRST.set(UsesOther);
    })
    .join()
    .unwrap();
    assert_eq!(*LOG.lock().unwrap(), [11]);
}

#[test]
fn creating_and_dropping_locals_while_threads_exit() {
    // test_threading_local_clear_race: no crash, no leak of the wrong value.
    let stop = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&stop);
    let churn = std::thread::spawn(move || {
        while !s.load(Ordering::SeqCst) {
            let l = Arc::new(Local::new());
            let l2 = Arc::clone(&l);
            std::thread::spawn(move || l2.set(vec![0u8; 16]))
                .join()
                .unwrap();
            assert_eq!(l.get(), None);
        }
    });
    for _ in 0..1000 {
        let l = Local::new();
        l.set(1u64);
        assert_eq!(l.get(), Some(1));
    }
    stop.store(true, Ordering::SeqCst);
    churn.join().unwrap();
}

#[test]
fn is_send_and_sync_for_send_values_and_usable_in_statics() {
    fn assert_sync<T: Send + Sync>() {}
    assert_sync::<Local<Cell<u8>>>(); // Cell is Send but not Sync: fine, never shared
    static DATA: Local<Vec<u8>> = Local::new();
    DATA.set(vec![1]);
    assert_eq!(format!("{DATA:?}"), "Local { value: Some([1]) }");
    let fresh: Local<u8> = Local::default();
    assert_eq!(format!("{fresh:?}"), "Local { value: None }");
    assert_eq!(fresh.get(), Some(0));
}

/// A value that takes a while to drop (to widen the window between "the thread's target
/// returned" and "its values are dropped"), then counts the drop.
struct SlowTracked(Arc<AtomicUsize>);

impl Drop for SlowTracked {
    fn drop(&mut self) {
        // Not synchronization: the assertion below holds however long this takes; the pause only
        // makes a join that returns too early (before the drop) very likely to be seen doing so.
        std::thread::sleep(std::time::Duration::from_millis(20));
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn every_join_returns_after_the_threads_values_are_dropped() {
    // Issue 10, defect 3. Witness: the value's `Drop` counts; every joiner (untimed and timed,
    // through `Thread` and `JoinHandle`), when its join returns, must be owed that drop.
    static VALUE: Local<SlowTracked> = Local::new();
    static CHAINED: Local<SlowTracked> = Local::new();
    /// Sets a value in `CHAINED` while `VALUE`'s value is dropped (a value created by another
    /// value's drop is dropped at the same thread exit).
    struct SetsChained(Arc<AtomicUsize>);
    impl Drop for SetsChained {
        fn drop(&mut self) {
            CHAINED.set(SlowTracked(Arc::clone(&self.0)));
        }
    }
    static FIRST: Local<SetsChained> = Local::new();

    for round in 0..5 {
        let drops = Arc::new(AtomicUsize::new(0));
        let go = Arc::new(Event::new());
        let (d, g) = (Arc::clone(&drops), Arc::clone(&go));
        let handle = threadkit::Builder::new()
            .spawn(move || {
                VALUE.set(SlowTracked(Arc::clone(&d)));
                FIRST.set(SetsChained(d));
                g.wait();
            })
            .unwrap();
        let thread = handle.thread().clone();
        let timeout = std::time::Duration::from_secs(60);
        let joiners: Vec<(&str, std::thread::JoinHandle<usize>)> = (0..6)
            .map(|i| {
                let (t, d) = (thread.clone(), Arc::clone(&drops));
                let kind = [
                    "join",
                    "join",
                    "join",
                    "join_timeout",
                    "join_timeout",
                    "join_deadline",
                ][i];
                let h = std::thread::spawn(move || {
                    match kind {
                        "join" => t.join().unwrap(),
                        "join_timeout" => assert!(t.join_timeout(timeout).unwrap()),
                        _ => assert!(t
                            .join_deadline(std::time::Instant::now() + timeout)
                            .unwrap()),
                    }
                    d.load(Ordering::SeqCst)
                });
                (kind, h)
            })
            .collect();
        go.set();
        let result = if round % 2 == 0 {
            handle.join()
        } else {
            handle.join_timeout(timeout).expect("finished")
        };
        result.unwrap();
        let mut seen = vec![("JoinHandle", drops.load(Ordering::SeqCst))];
        assert!(!thread.is_alive());
        seen.extend(
            joiners
                .into_iter()
                .map(|(kind, h)| (kind, h.join().unwrap())),
        );
        assert!(
            seen.iter().all(|&(_, n)| n == 2),
            "round {round}: drops seen by each joiner when its join returned: {seen:?}"
        );
    }
}

#[test]
fn a_handle_is_finished_only_once_the_threads_values_are_dropped() {
    // Issue 10, defect 3, through `JoinHandle::is_finished`: it says `join` would return at once,
    // so it must not say so before the values are dropped. Witness: the drop count.
    static VALUE: Local<SlowTracked> = Local::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = Arc::clone(&drops);
    let handle = threadkit::spawn(move || VALUE.set(SlowTracked(d)));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    // Polling the flag is the behaviour under test.
    while !handle.is_finished() {
        assert!(std::time::Instant::now() < deadline, "never finished");
        std::thread::yield_now();
    }
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "finished before its value was dropped"
    );
    handle.join().unwrap();
}
