//! The timer service's worker pool, on private services with short timings (issue 10, defect 2).
//!
//! Each test leaks its own [`Service`] (its threads live as long as the test process), so the
//! pool starts empty and no other test's timers run on it. Nothing here sleeps in place of
//! synchronization: waits are for an observable condition (a counter in the service, a message),
//! with a generous bound that turns a hang into a failure. They run under Miri too (the race test
//! with fewer rounds): the pool's hand-off is where its threads share the most.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::service::{Config, Service, Snapshot};
use super::Timer;

/// How long a test waits for something that should take milliseconds, before calling it a hang.
const PATIENCE: Duration = Duration::from_secs(20);

fn timer(svc: &'static Service, interval: Duration, f: impl FnOnce() + Send + 'static) -> Timer {
    let t = Timer::on_service(svc, interval, Box::new(f));
    t.set_daemon(true).unwrap();
    t
}

/// Polls the service until `cond` holds of its bookkeeping (fails the test after [`PATIENCE`]).
fn wait_for(svc: &Service, what: &str, cond: impl Fn(&Snapshot) -> bool) -> Snapshot {
    let start = Instant::now();
    loop {
        let snap = svc.snapshot();
        if cond(&snap) {
            return snap;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "{what}: never happened: {snap:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The idle-list invariant: every idle entry is a distinct worker, no worker is both idle and
/// handed a job, and there are no more idle workers than workers.
fn assert_idle_list_sound(snap: &Snapshot) {
    let distinct: HashSet<u64> = snap.idle.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        snap.idle.len(),
        "a worker is registered as idle more than once: {snap:?}"
    );
    assert!(
        snap.idle.len() <= snap.workers,
        "more idle entries than workers: {snap:?}"
    );
    let handed: HashSet<u64> = snap.handed.iter().copied().collect();
    assert_eq!(
        handed.len(),
        snap.handed.len(),
        "two jobs handed to one worker: {snap:?}"
    );
    assert!(
        handed.is_disjoint(&distinct),
        "a worker is idle with a job handed to it: {snap:?}"
    );
    assert!(
        snap.ready == 0 || snap.idle.is_empty(),
        "a due job waits while a worker idles: {snap:?}"
    );
}

/// Runs one Timer on `svc` and waits for it: the pool then has (at least) one worker.
fn warm_up(svc: &'static Service) {
    let ran = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&ran);
    let t = timer(svc, Duration::ZERO, move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    t.start().unwrap();
    assert_eq!(t.join_timeout(PATIENCE), Ok(true));
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}

fn short_retirement() -> Config {
    Config::retiring_after(Duration::from_millis(10))
}

/// The last worker idles past its retirement timeout several times (it stays: the pool keeps
/// one worker) and must still be in the idle list exactly once.
#[test]
fn timer_pool_last_worker_is_idle_once_after_idling_past_retirement() {
    let svc = Service::leak(short_retirement());
    warm_up(svc);
    let snap = wait_for(svc, "three idle timeouts", |s| s.idle_timeouts >= 3);
    assert_eq!(snap.workers, 1, "the last worker never retires");
    assert_idle_list_sound(&snap);
    assert_eq!(snap.idle.len(), 1, "{snap:?}");
}

/// After the pool's only worker has idled past retirement, a Timer whose function blocks until a
/// later Timer has run must not deadlock: the pool grows (as a thread per Timer never blocks).
/// Witness: the later Timer's message, received by the blocked function.
#[test]
fn timer_blocked_function_does_not_hold_up_a_later_timer_after_an_idle_period() {
    let svc = Service::leak(short_retirement());
    warm_up(svc);
    wait_for(svc, "an idle timeout", |s| s.idle_timeouts >= 2);

    let (tx, rx) = mpsc::channel::<&'static str>();
    let (got_tx, got_rx) = mpsc::channel();
    let waiter = timer(svc, Duration::ZERO, move || {
        // Bounded, so that a stalled pool fails the test instead of hanging the process.
        got_tx.send(rx.recv_timeout(PATIENCE / 2)).unwrap();
    });
    let setter = timer(svc, Duration::from_millis(5), move || {
        tx.send("from the later timer").unwrap();
    });
    waiter.start().unwrap();
    setter.start().unwrap();
    let got = got_rx
        .recv_timeout(PATIENCE)
        .expect("the blocked function returned");
    assert_eq!(
        got,
        Ok("from the later timer"),
        "the later Timer never ran while the first one blocked: {:?}",
        svc.snapshot()
    );
    assert_eq!(waiter.join_timeout(PATIENCE), Ok(true));
    assert_eq!(setter.join_timeout(PATIENCE), Ok(true));
}

/// Holds workers whose idle wait has just returned without a notification (a timeout), before
/// they take the service lock, until opened; counts them.
struct Gate {
    state: std::sync::Mutex<(bool, usize)>,
    changed: std::sync::Condvar,
}

impl Gate {
    fn leak() -> &'static Gate {
        Box::leak(Box::new(Gate {
            state: std::sync::Mutex::new((false, 0)),
            changed: std::sync::Condvar::new(),
        }))
    }

    fn hold(&self, notified: bool) {
        if notified {
            return;
        }
        let mut st = self.state.lock().unwrap();
        if st.0 {
            return;
        }
        st.1 += 1;
        self.changed.notify_all();
        while !st.0 {
            st = self.changed.wait(st).unwrap();
        }
    }

    fn wait_held(&self, n: usize) {
        let st = self.state.lock().unwrap();
        let (st, timeout) = self
            .changed
            .wait_timeout_while(st, PATIENCE, |st| st.1 < n)
            .unwrap();
        assert!(!timeout.timed_out(), "only {} workers held", st.1);
    }

    fn open(&self) {
        self.state.lock().unwrap().0 = true;
        self.changed.notify_all();
    }
}

/// The race of an idle timeout with a hand-off, made deterministic: all workers of a pool of two
/// (or more, if the pool grew further on a slow machine) time out and are held just after their
/// wait returns, before they take the service lock; then the service hands a Timer to one of
/// them, and only then do they go on. The one handed the Timer must run it (witness count) and
/// stay listed once; the others retire.
#[test]
fn timer_pool_hand_off_landing_just_after_an_idle_timeout_lists_the_worker_once() {
    let gate = Gate::leak();
    let svc = Service::leak(Config {
        idle_wait_returned: Some(Box::leak(Box::new(move |n| gate.hold(n)))),
        ..Config::retiring_after(Duration::from_millis(50))
    });
    // Two workers: two Timers that block until both run (so the pool grew to two).
    let running = Arc::new(AtomicUsize::new(0));
    let mut releases = Vec::new();
    let blockers: Vec<Timer> = (0..2)
        .map(|_| {
            let (release, released) = mpsc::channel::<()>();
            releases.push(release);
            let running = Arc::clone(&running);
            timer(svc, Duration::ZERO, move || {
                running.fetch_add(1, Ordering::SeqCst);
                released.recv_timeout(PATIENCE).unwrap();
            })
        })
        .collect();
    for t in &blockers {
        t.start().unwrap();
    }
    let start = Instant::now();
    while running.load(Ordering::SeqCst) < 2 {
        assert!(
            start.elapsed() < PATIENCE,
            "the pool never grew to two workers"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    for release in releases {
        release.send(()).unwrap();
    }
    for t in &blockers {
        assert_eq!(t.join_timeout(PATIENCE), Ok(true));
    }
    // Every idle worker times out and is held before it takes the lock.
    let workers = svc.snapshot().workers;
    assert!(workers >= 2);
    gate.wait_held(workers);
    let snap = svc.snapshot();
    assert_eq!(
        (snap.workers, snap.idle.len()),
        (workers, workers),
        "{snap:?}"
    );

    // The service hands a Timer to one of them meanwhile.
    let ran = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&ran);
    let t = timer(svc, Duration::ZERO, move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    t.start().unwrap();
    wait_for(svc, "the hand-off", |s| {
        s.idle.len() == workers - 1 && s.ready + s.handed.len() == 1
    });
    gate.open();
    assert_eq!(t.join_timeout(PATIENCE), Ok(true));
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    // Settled: the others retired (one idle timeout each), and the one left has idled past
    // retirement twice since (once only if it also counted the held timeout).
    let snap = wait_for(svc, "the pool settles", |s| {
        s.workers == 1 && s.idle_timeouts > workers as u64
    });
    assert_idle_list_sound(&snap);
    assert_eq!(snap.idle.len(), 1, "{snap:?}");
}

/// Hand-offs racing idle timeouts: with a 1 ms retirement timeout, bursts of Timers arrive just
/// as workers time out and retire. A blocked Timer holds one worker for the whole test, so no
/// idle worker is ever the last one: a duplicate can only come from the race itself. Every Timer
/// must run exactly once (a witness count), every join must return, and the idle list must stay
/// sound after every burst.
#[test]
fn timer_pool_hand_off_racing_idle_timeout_keeps_the_pool_sound() {
    let svc = Service::leak(Config {
        stall: Duration::from_millis(1),
        ..Config::retiring_after(Duration::from_millis(1))
    });
    let (release, blocked) = mpsc::channel::<()>();
    let blocker = timer(svc, Duration::ZERO, move || {
        let _ = blocked.recv_timeout(PATIENCE * 3);
    });
    blocker.start().unwrap();
    wait_for(svc, "the blocker runs", |s| s.workers == 1 && s.ready == 0);

    let mut rng = fastrand::Rng::with_seed(10);
    let ran = Arc::new(AtomicUsize::new(0));
    let mut expected = 0;
    for round in 0..rounds() {
        let n = rng.usize(1..6);
        let timers: Vec<Timer> = (0..n)
            .map(|_| {
                let ran = Arc::clone(&ran);
                let interval = Duration::from_micros(rng.u64(0..2500));
                timer(svc, interval, move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in &timers {
            t.start().unwrap();
        }
        expected += n;
        for t in &timers {
            assert_eq!(
                t.join_timeout(PATIENCE),
                Ok(true),
                "round {round}: a due Timer never ran: {:?}",
                svc.snapshot()
            );
        }
        assert_eq!(ran.load(Ordering::SeqCst), expected);
        assert_idle_list_sound(&svc.snapshot());
        // Land the next burst anywhere around the workers' idle timeouts.
        std::thread::sleep(Duration::from_micros(rng.u64(0..2500)));
        assert_idle_list_sound(&svc.snapshot());
    }
    release.send(()).unwrap();
    assert_eq!(blocker.join_timeout(PATIENCE), Ok(true));
}

/// Rounds of the race test: `THREADKIT_POOL_ROUNDS`, or 1,000 (20 under Miri, which interprets
/// every step).
fn rounds() -> usize {
    std::env::var("THREADKIT_POOL_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if cfg!(miri) { 20 } else { 1000 })
}
