//! Unit tests of the checker's internals. They run with the `--lib` tests, so under Miri too
//! (`.ci/miri.sh`), on real threads; they share the process with every other unit test, so they
//! count only what concerns their own locks and never replace the report hook.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::time::Duration;

use super::{held, PotentialDeadlock};
use crate::Lock;

/// `(acquiring lock id, closing lock id)` of every report the checker made.
static WITNESS: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());

/// Records a report (called by the checker for each report, before it goes out). Returns
/// whether to keep it quiet: the reports these tests provoke on purpose (locks named
/// `quiet-...`) would fill the other tests' output.
pub(super) fn witness(report: &PotentialDeadlock) -> bool {
    held::lock(&WITNESS).push((report.acquiring.id, report.closing.lock.id));
    report
        .acquiring
        .name
        .as_deref()
        .is_some_and(|n| n.starts_with("quiet-"))
}

/// How many reports the checker made whose acquiring lock is one of `ids`.
fn reports_about(ids: &[u64]) -> usize {
    held::lock(&WITNESS)
        .iter()
        .filter(|(acquiring, _)| ids.contains(acquiring))
        .count()
}

/// Arms the checker if the environment disarmed it (these tests need it; debug builds arm it
/// by default).
fn arm() {
    if super::lock_order_mode() == super::LockOrderMode::Off {
        super::set_lock_order_mode(super::LockOrderMode::Report);
    }
}

fn id(lock: &Lock) -> u64 {
    lock.identity().id()
}

/// Two threads close the same cycle at once: each holds one lock of the pair and, released
/// together by a barrier, acquires the other (timed, so that the real deadlock this is lasts a
/// millisecond). The graph is checked and extended atomically, so exactly one of the two
/// orders is recorded and the other is reported: one report per round, never zero (both
/// recorded, the graph cyclic) or two. Counted through the witness, per round.
#[test]
fn two_threads_closing_one_cycle_at_once_report_it_exactly_once() {
    arm();
    let rounds = if cfg!(miri) { 3 } else { 200 };
    for round in 0..rounds {
        let a = Arc::new(Lock::named(format!("quiet-a-{round}")));
        let b = Arc::new(Lock::named(format!("quiet-b-{round}")));
        let barrier = Arc::new(Barrier::new(2));
        let run = |first: &Arc<Lock>, second: &Arc<Lock>| {
            let (first, second, barrier) =
                (Arc::clone(first), Arc::clone(second), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let _held = first.acquire();
                barrier.wait();
                drop(second.acquire_timeout(Duration::from_millis(1)));
            })
        };
        let (t1, t2) = (run(&a, &b), run(&b, &a));
        t1.join().unwrap();
        t2.join().unwrap();
        let n = reports_about(&[id(&a), id(&b)]);
        assert_eq!(
            n, 1,
            "round {round}: {n} reports of one cycle closed twice at once"
        );
    }
}

/// A release by another thread is queued for the lock's acquirer while it lives, and goes away
/// with it; a release aimed at a thread that has already exited is not kept at all.
#[test]
fn releases_aimed_at_an_exited_thread_are_not_kept() {
    arm();
    let lock = Arc::new(Lock::named("handed-over"));
    // Control: the acquirer is alive, so the release waits in its queue.
    let (held_tx, held_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let l = Arc::clone(&lock);
    let holder = std::thread::spawn(move || {
        l.acquire().forget();
        held_tx.send(crate::thread::ident::current()).unwrap();
        go_rx.recv().unwrap();
    });
    let ident = held_rx.recv().unwrap();
    lock.release().unwrap();
    assert_eq!(held::queued_for(ident), 1, "queued for the live acquirer");
    go_tx.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(held::queued_for(ident), 0, "gone with the acquirer");
    // The acquirer exits first, holding the lock; the release comes afterwards.
    let l = Arc::clone(&lock);
    let ident = std::thread::spawn(move || {
        l.acquire().forget();
        crate::thread::ident::current()
    })
    .join()
    .unwrap();
    lock.release().unwrap();
    assert_eq!(held::queued_for(ident), 0, "aimed at a thread that exited");
}

/// The published stack read while its owner keeps pushing and popping: every copy a reader
/// keeps is one the owner had at some moment (its own locks in order, each with the site it
/// was acquired at), never torn between two pushes into the same slot. Miri checks the atomics'
/// use as well.
#[test]
fn a_reader_never_keeps_a_torn_copy_of_a_held_stack() {
    arm();
    let rounds = if cfg!(miri) { 20 } else { 20_000 };
    let locks: Arc<Vec<Lock>> =
        Arc::new((0..3).map(|i| Lock::named(format!("stack-{i}"))).collect());
    let ids: Vec<u64> = locks.iter().map(id).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let (owner_tx, owner_rx) = mpsc::channel();
    let (l, s) = (Arc::clone(&locks), Arc::clone(&stop));
    let owner = std::thread::spawn(move || {
        let (mut lines, mut sent) = ([0u32; 3], false);
        for i in 0..rounds {
            let (l0, _a) = (line!(), l[0].acquire());
            // Slot 1 alternates between two locks, each acquired on its own line.
            let (l1, l2);
            if i % 2 == 0 {
                let (n, _b) = (line!(), l[1].acquire());
                (l1, l2) = (n, lines[2]);
            } else {
                let (n, _c) = (line!(), l[2].acquire());
                (l1, l2) = (lines[1], n);
            }
            lines = [l0, l1, l2];
            if i == 1 && !sent {
                owner_tx
                    .send((crate::thread::ident::current(), lines))
                    .unwrap();
                sent = true;
            }
        }
        s.store(true, Ordering::Relaxed);
    });
    let (ident, lines) = owner_rx.recv().unwrap();
    while !stop.load(Ordering::Relaxed) {
        for (t, held) in super::held_locks().unwrap_or_default() {
            if t != ident {
                continue;
            }
            let got: Vec<(u64, u32)> = held
                .iter()
                .map(|h| (h.object.id, h.acquired_at.line()))
                .collect();
            let want: Vec<Vec<(u64, u32)>> = vec![
                vec![],
                vec![(ids[0], lines[0])],
                vec![(ids[0], lines[0]), (ids[1], lines[1])],
                vec![(ids[0], lines[0]), (ids[2], lines[2])],
            ];
            assert!(want.contains(&got), "torn copy {got:?}; stacks: {want:?}");
        }
        std::thread::yield_now();
    }
    owner.join().unwrap();
}

/// The sequence lock itself, at full speed: an owner pushes and pops two different entries into
/// the same slot as fast as it can while a reader copies the stack. A copy that mixes the two
/// (one entry's id with the other's site) must never be kept.
#[test]
fn a_reader_never_keeps_a_torn_entry() {
    use std::panic::Location;
    let rounds = if cfg!(miri) { 50 } else { 2_000_000 };
    let sites: [&'static Location<'static>; 2] = [Location::caller(), {
        #[track_caller]
        fn here() -> &'static Location<'static> {
            Location::caller()
        }
        here()
    }];
    let shared = held::Shared::register();
    let stop = Arc::new(AtomicBool::new(false));
    let (s, st) = (Arc::clone(&shared), Arc::clone(&stop));
    let owner = std::thread::spawn(move || {
        for i in 0..rounds {
            let id = 1 + (i & 1) as u64;
            s.push(held::Held {
                id,
                site: crate::site::Site::from_location(sites[i & 1]),
                since: id,
            });
            assert!(s.remove_newest(id));
        }
        st.store(true, Ordering::Relaxed);
    });
    let mut copies = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if let Some(held) = shared.snapshot() {
            for h in &held {
                let want = sites[(h.id - 1) as usize];
                assert!(
                    h.site.as_ptr() == crate::site::Site::from_location(want).as_ptr()
                        && h.since == h.id,
                    "torn entry: id {} with site {} and since {}",
                    h.id,
                    h.site,
                    h.since
                );
            }
            copies += 1;
        }
    }
    owner.join().unwrap();
    shared.unregister();
    assert!(copies > 0);
}

/// A release by another thread that lands after the acquirer has taken the lock but before it
/// has pushed it (the window for which `release_elsewhere` queues the release for the acquirer)
/// takes the lock off the acquirer's stack: it must not stay "held" there for ever (spurious
/// orders from it, and dumps listing it). Driven step by step: the acquire (`fast`) has another
/// thread release the lock before it returns. Both for a lock the checker has met before and
/// for a lock's very first acquire (not yet registered in the graph when it is released).
#[test]
fn a_release_by_another_thread_racing_the_acquirers_push_is_not_lost() {
    use std::panic::Location;
    arm();
    for met_before in [true, false] {
        let lock = Arc::new(Lock::named(format!("window-{met_before}")));
        let l = Arc::clone(&lock);
        let left = std::thread::spawn(move || {
            if met_before {
                drop(l.acquire());
            }
            let me = crate::thread::ident::current();
            let got = super::ordered_acquire(
                l.identity(),
                Location::caller(),
                false,
                || {
                    // Taken by this thread; another one releases it before this one pushes.
                    let other = Arc::clone(&l);
                    std::thread::spawn(move || {
                        super::releasing(
                            other.identity(),
                            Some(me),
                            crate::thread::ident::current(),
                        );
                    })
                    .join()
                    .unwrap();
                    true
                },
                || unreachable!("the fast path takes it"),
            );
            assert!(got);
            let id = id(&l);
            super::LOCAL.with(|x| x.shared.entries().iter().filter(|h| h.id == id).count())
        })
        .join()
        .unwrap();
        assert_eq!(
            left, 0,
            "met before: {met_before}: a lock another thread released is still on its acquirer's stack"
        );
    }
}
