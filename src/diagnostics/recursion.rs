//! RLock recursion counts for thread dumps.
//!
//! A dump lists the locks each thread holds from the lock-order checker's per-thread lists,
//! which hold an RLock once however many times its owner re-entered it; a waiter's record
//! carries the count, but an RLock nobody waits for has no waiter. So while the checker is
//! armed (the only time those lists exist), an RLock's owner publishes here the count of every
//! RLock it holds more than once: one small per-thread list, written by its thread when a
//! count of 2 or more changes (re-entry, the release of an inner level, a Condition's
//! save/restore), read by dumps. A count of 1 is the absence of an entry, so an RLock entered
//! once (the common case) never comes here, nor does any RLock while the checker is disarmed
//! (one relaxed load of the checker's mode, on the re-entrant paths only).
//!
//! Limits: a thread lists at most [`MAX_ENTRIES`] RLocks held recursively (past that, a dump
//! shows count 1 for the others); a count changed while the checker was disarmed is not seen
//! (the lock-order lists do not see those acquires either).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::identity::Identity;

/// How many recursively held RLocks one thread lists.
const MAX_ENTRIES: usize = 32;

/// One thread's list, written only by its thread without a lock (the re-entrant acquire stays
/// a few nanoseconds), read by dumps: its identifier and `(lock id, count)` entries; an entry
/// with a count below 2 is free (a lock that went back to one level keeps its entry until
/// another lock needs it).
struct Published {
    ident: AtomicU64,
    /// How many entries have ever been used (the writer scans and readers read only those).
    used: AtomicUsize,
    ids: [AtomicU64; MAX_ENTRIES],
    counts: [AtomicUsize; MAX_ENTRIES],
}

/// Every live thread's list (only threads that ever held an RLock recursively while armed).
static LISTS: Mutex<Vec<Arc<Published>>> = Mutex::new(Vec::new());

/// The calling thread's list; leaves [`LISTS`] when the thread exits.
struct Local(Arc<Published>);

impl Drop for Local {
    fn drop(&mut self) {
        lock(&LISTS).retain(|s| !Arc::ptr_eq(s, &self.0));
    }
}

thread_local! {
    static LOCAL: Local = {
        let shared = Arc::new(Published {
            ident: AtomicU64::new(crate::thread::ident::current()),
            used: AtomicUsize::new(0),
            ids: std::array::from_fn(|_| AtomicU64::new(0)),
            counts: std::array::from_fn(|_| AtomicUsize::new(0)),
        });
        lock(&LISTS).push(Arc::clone(&shared));
        Local(shared)
    };
}

/// Nothing panics while holding this mutex; poisoning is ignored.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The calling thread, owner of the RLock `identity`, now holds it `count` times (0 or 1:
/// remove its entry). The caller checked that the lock-order checker is armed.
#[cold]
#[inline(never)]
pub(crate) fn note(identity: &Identity, count: usize) {
    let id = identity.id();
    let _ = LOCAL.try_with(|l| {
        let p = &*l.0;
        let used = p.used.load(Ordering::Relaxed);
        let at = (0..used).find(|&i| p.ids[i].load(Ordering::Relaxed) == id);
        match at {
            // Kept with its count at 1 (read as "not recursive") rather than freed: the next
            // re-entry of the same lock finds its entry at once.
            Some(i) => p.counts[i].store(count, Ordering::Relaxed),
            None if count >= 2 => {
                // A free entry: never used, or a lock's no longer held recursively.
                let free = (0..used)
                    .find(|&i| p.counts[i].load(Ordering::Relaxed) < 2)
                    .or((used < MAX_ENTRIES).then_some(used));
                if let Some(i) = free {
                    // Freed for good first: a reader that sees the old id re-checks it after
                    // the count.
                    p.ids[i].store(0, Ordering::Release);
                    p.counts[i].store(count, Ordering::Relaxed);
                    // A timer worker may act as another thread: the list is that thread's now.
                    p.ident
                        .store(crate::thread::ident::current(), Ordering::Relaxed);
                    p.ids[i].store(id, Ordering::Release);
                    if i == used {
                        p.used.store(used + 1, Ordering::Release);
                    }
                }
            }
            None => {}
        }
    });
}

/// The recursion counts of 2 or more now published: by (thread ident, lock id). A count read
/// while its owner changes it may be a moment old, as any dump is.
pub(crate) fn counts() -> HashMap<(u64, u64), usize> {
    let lists: Vec<Arc<Published>> = lock(&LISTS).clone();
    let mut out = HashMap::new();
    for p in lists {
        let ident = p.ident.load(Ordering::Relaxed);
        for i in 0..p.used.load(Ordering::Acquire) {
            let id = p.ids[i].load(Ordering::Acquire);
            if id == 0 {
                continue;
            }
            let count = p.counts[i].load(Ordering::Relaxed);
            // Still the same lock's entry (not freed and reused while the count was read).
            std::sync::atomic::fence(Ordering::Acquire);
            if p.ids[i].load(Ordering::Relaxed) == id && count >= 2 {
                out.insert((ident, id), count);
            }
        }
    }
    out
}
