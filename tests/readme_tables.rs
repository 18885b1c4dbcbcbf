//! Every row of the README's two tables ("From Python", "From std, parking_lot and crossbeam"),
//! written out as the row says, so that a row naming a signature that does not exist (or an
//! argument order that is not the real one) fails to compile. Each row runs, with a check that it
//! did what the row claims.

// Uses the thread API, which is compiled out under `--cfg loom` (src/lib.rs).
#![cfg(not(loom))]

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use threadkit::queue::{LifoQueue, PriorityQueue, Queue, SimpleQueue};
use threadkit::{
    active_count, current_thread, default_excepthook, enumerate, get_ident, get_native_id,
    main_thread, register_atexit, reset_excepthook, set_excepthook, set_stack_size, Barrier,
    BoundedSemaphore, BrokenBarrierError, Builder, Condition, Event, Local, Lock,
    OwnedSemaphorePermit, RLock, RLockGuard, Run, Semaphore, StartError, Thread, Timer,
};

type R = Result<(), Box<dyn Error>>;

fn f() {}

#[test]
fn from_python_threads() -> R {
    let t = Builder::new().name("w").daemon(true).create(f);
    assert_eq!(&*t.name(), "w");
    let i = 3;
    let t2 = Thread::new(move || assert_eq!(i, 3));
    t2.start()?;
    assert!(matches!(t2.start(), Err(StartError::AlreadyStarted)));
    let h = threadkit::spawn(|| 5);
    let value = h.join().expect("the target panicked");
    assert_eq!(value, 5);
    t2.join()?;
    assert!(t2.join_timeout(Duration::from_secs(1))?);
    t.set_name("x");
    t.set_daemon(true)?;
    assert!(!t.is_alive() && t.ident().is_none() && t.native_id().is_none());

    struct MyThread;
    impl Run for MyThread {
        type Output = ();
        fn run(self) {}
    }
    threadkit::spawn(MyThread).join().expect("run panicked");

    assert_eq!(current_thread().ident(), Some(get_ident()));
    assert_eq!(&*main_thread().name(), "MainThread");
    assert!(!enumerate().is_empty() && active_count() >= 1);
    assert!(get_native_id() > 0);
    let old = set_stack_size(256 * 1024)?;
    set_stack_size(old)?;
    set_excepthook(|_args| {});
    reset_excepthook();
    let _hook: fn(&threadkit::ExceptHookArgs<'_>) = default_excepthook;
    register_atexit(|| {})?;
    let _shutdown: fn() = threadkit::shutdown;
    Ok(())
}

#[test]
fn from_python_locks_and_conditions() -> R {
    let lock = Lock::new();
    {
        let _guard = lock.acquire();
        assert!(lock.try_acquire().is_none());
        assert!(lock.acquire_timeout(Duration::from_millis(1)).is_none());
    }
    lock.acquire().forget();
    lock.release()?;
    assert!(!lock.locked());
    let v = Lock::with_value(1);
    assert_eq!(*v.acquire(), 1);

    let rlock = RLock::new();
    let _g: RLockGuard<'_> = rlock.acquire();
    assert!(std::thread::scope(|s| s.spawn(|| rlock.release()).join().unwrap()).is_err());
    let fields = RLock::with_value(RefCell::new(vec![1]));
    fields.acquire().borrow_mut().push(2);

    let cond = Condition::with_lock(Lock::with_value(0));
    let mut g = cond.acquire();
    assert!(!cond.wait_timeout(&mut g, Duration::from_millis(1)));
    cond.wait_for(&mut g, |v: &mut i32| *v == 0);
    assert!(!cond.wait_for_timeout(&mut g, |v| *v == 1, Duration::from_millis(1)));
    assert_eq!(cond.notify(&g, 2), 0);
    assert_eq!(cond.notify_all(&g), 0);
    Ok(())
}

#[test]
fn from_python_semaphores_events_barriers_timers_locals() -> R {
    let sem = Semaphore::new(1);
    let bounded = BoundedSemaphore::new(1);
    {
        let _permit = sem.acquire();
        assert_eq!(sem.value(), 0);
    }
    sem.release(1);
    assert!(bounded.release(1).is_err());
    let Some(_permit) = sem.acquire_timeout(Duration::from_secs(1)) else {
        panic!("no permit");
    };
    let shared = Arc::new(Semaphore::new(1));
    let owned: OwnedSemaphorePermit = Arc::clone(&shared).acquire_owned();
    assert_eq!(shared.value(), 0);
    drop(owned);

    let e = Event::new();
    e.set();
    e.wait();
    assert!(e.is_set() && e.wait_timeout(Duration::ZERO));
    e.clear();

    let b = Barrier::builder(1)
        .action(|| {})
        .timeout(Duration::from_secs(5))
        .build();
    assert_eq!(b.wait()?.index(), 0);
    b.abort();
    let _: BrokenBarrierError = b.wait().unwrap_err();

    let t = Timer::new(Duration::from_secs(3), f);
    t.set_name("t1");
    t.start()?;
    assert!(t.cancel());

    static DATA: Local<i32> = Local::new();
    DATA.set(1);
    assert_eq!(DATA.get(), Some(1));
    DATA.with(|v| assert_eq!(*v, 1));
    struct MyLocal(Cell<u8>);
    impl MyLocal {
        fn new() -> Self {
            MyLocal(Cell::new(7))
        }
    }
    #[allow(clippy::redundant_closure)] // the README row, as written
    let data = Local::with_init(|| MyLocal::new());
    data.with(|v| assert_eq!(v.0.get(), 7));
    Ok(())
}

#[test]
fn from_python_queues_and_logging() -> R {
    let q = Queue::new(2);
    let _ = (
        LifoQueue::<i32>::new(0),
        PriorityQueue::<i32>::new(0),
        SimpleQueue::<i32>::new(),
    );
    q.put(1)?;
    q.try_put(2)?;
    assert_eq!(q.get()?, 1);
    assert_eq!(q.get_timeout(Duration::from_secs(1))?, 2);
    q.task_done()?;
    q.task_done()?;
    q.join();
    q.shutdown();
    let q2 = Queue::<i32>::new(0);
    q2.shutdown_immediate();
    #[cfg(feature = "logging")]
    {
        use threadkit::logging::LevelFilter;
        // Installs the process's logger: no other test in this file logs.
        threadkit::logging::basic_config(LevelFilter::Debug, "(%(threadName)-10s) %(message)s")?;
    }
    Ok(())
}

#[test]
fn from_std_parking_lot_crossbeam() -> R {
    let m = Lock::with_value(5);
    let m2: Lock<i32> = 5.into();
    assert_eq!(*m.acquire(), *m2.acquire());
    assert!(m.try_acquire().is_some());
    assert!(m.acquire_timeout(Duration::from_millis(1)).is_some());
    #[derive(Default)]
    struct S {
        a: Lock<u8>,
    }
    assert_eq!(*S::default().a.acquire(), 0);
    let r = RLock::with_value(Cell::new(1));
    assert_eq!(r.acquire().get(), 1);

    let cond = Condition::with_lock(Lock::with_value(true));
    let mut g = cond.acquire();
    let ready = |v: &mut bool| *v;
    cond.wait_for(&mut g, |v| ready(v));
    assert!(!cond.wait_timeout(&mut g, Duration::from_millis(1)));
    assert_eq!(cond.notify(&g, 1) + cond.notify_all(&g), 0);
    drop(g);

    let sem = Arc::new(Semaphore::new(0));
    sem.release(1);
    drop(Arc::clone(&sem).acquire_owned());
    assert!(Barrier::new(1).wait()?.is_leader());

    let q: Arc<Queue<i32>> = Arc::new(Queue::new(0));
    q.put(1)?;
    assert_eq!(q.get()?, 1);
    assert!(q.get_timeout(Duration::from_millis(1)).is_err());
    q.shutdown();
    assert_eq!(threadkit::spawn(|| 1).join().expect("panicked"), 1);
    let _l: Local<i32> = Local::new();
    let lock = Lock::new();
    assert!(std::panic::catch_unwind(|| drop(lock.acquire())).is_ok());
    Ok(())
}
