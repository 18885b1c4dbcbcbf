use super::*;
use crate::thread::ident;
use std::sync::Arc;

#[test]
fn size_is_five_words() {
    // 8 bytes before diagnostics. State, holder's acquire site, identity (kind and id word,
    // creation site, name pointer).
    assert_eq!(std::mem::size_of::<Lock>(), 40);
}

#[test]
fn data_follows_the_state_word() {
    // The data starts right after the state word, as in parking_lot's `Mutex<T>`, so that a
    // small `T` shares the word's cache line unless the word is in a line's last 8 bytes (with
    // the diagnostics fields between them, a `u64` landed on the next line in 5 of 8
    // placements, and contended locks moved two lines between the CPUs: see the type's layout
    // comment).
    let state = std::mem::offset_of!(Lock<u64>, state);
    assert_eq!(std::mem::offset_of!(Lock<u64>, data), state + 8);
    assert_eq!(std::mem::offset_of!(Lock<u8>, data), state + 8);
    assert_eq!(std::mem::size_of::<Lock<u64>>(), state + 16);
}

#[test]
fn acquire_release_and_locked() {
    let lock = Lock::new();
    assert!(!lock.locked());
    let g = lock.acquire();
    assert!(lock.locked());
    assert_eq!(lock.acquired_by(), Some(ident::current()));
    drop(g);
    assert!(!lock.locked());
    assert_eq!(lock.acquired_by(), None);
}

#[test]
fn release_unlocked_is_an_error_and_changes_nothing() {
    let lock = Lock::new();
    assert_eq!(lock.release(), Err(ReleaseError(())));
    assert!(!lock.locked());
    assert!(lock.try_acquire().is_some());
}

#[test]
fn release_from_another_thread() {
    let lock = Arc::new(Lock::new());
    lock.acquire().forget();
    let l2 = Arc::clone(&lock);
    std::thread::spawn(move || l2.release().unwrap())
        .join()
        .unwrap();
    assert!(!lock.locked());
    assert!(lock.try_acquire().is_some());
}

#[test]
fn guard_sent_to_another_thread_releases_there() {
    let lock = Arc::new(Lock::with_value(1));
    let guard = lock.acquire();
    std::thread::scope(|s| {
        s.spawn(move || {
            assert_eq!(*guard, 1);
            drop(guard);
        });
    });
    assert!(!lock.locked());
}

#[test]
fn counter_under_contention() {
    // Under Miri (an interpreter, with the debug build's holder sites and lock-order checker
    // on every acquire) 40,000 acquires take many minutes and 2,000 about 40 s; 600 still
    // contend (Miri preempts every thread often).
    let per_thread = if cfg!(miri) { 150 } else { 10_000 };
    let lock = Arc::new(Lock::with_value(0u64));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let lock = Arc::clone(&lock);
            std::thread::spawn(move || {
                for _ in 0..per_thread {
                    *lock.acquire() += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*lock.acquire(), 4 * per_thread);
    assert!(!lock.locked());
}

#[test]
fn panic_while_held_releases() {
    let lock = Arc::new(Lock::with_value(0));
    let l2 = Arc::clone(&lock);
    let r = std::thread::spawn(move || {
        let _g = l2.acquire();
        panic!("boom");
    })
    .join();
    assert!(r.is_err());
    assert!(!lock.locked());
    assert_eq!(*lock.acquire(), 0);
}

#[test]
fn debug_shows_state() {
    let lock = Lock::with_value(7);
    assert!(format!("{lock:?}").contains("unlocked"));
    let _g = lock.acquire();
    let s = format!("{lock:?}");
    assert!(s.contains("locked") && s.contains("acquired_by"), "{s}");
}
