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
use std::sync::{Arc, Mutex, MutexGuard};

use crate::identity::Identity;

/// How many recursively held RLocks one thread lists.
const MAX_ENTRIES: usize = 32;

/// One thread's list: its identifier and `(lock id, count >= 2)` pairs.
struct Published {
    ident: u64,
    counts: Vec<(u64, usize)>,
}

type Shared = Arc<Mutex<Published>>;

/// Every live thread's list (only threads that ever held an RLock recursively while armed).
static LISTS: Mutex<Vec<Shared>> = Mutex::new(Vec::new());

/// The calling thread's list; leaves [`LISTS`] when the thread exits.
struct Local(Shared);

impl Drop for Local {
    fn drop(&mut self) {
        lock(&LISTS).retain(|s| !Arc::ptr_eq(s, &self.0));
    }
}

thread_local! {
    static LOCAL: Local = {
        let shared = Arc::new(Mutex::new(Published {
            ident: crate::thread::ident::current(),
            counts: Vec::new(),
        }));
        lock(&LISTS).push(Arc::clone(&shared));
        Local(shared)
    };
}

/// Nothing panics while holding these mutexes; poisoning is ignored.
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
        let mut p = lock(&l.0);
        // A timer worker may act as another thread: the list is that thread's now.
        p.ident = crate::thread::ident::current();
        let at = p.counts.iter().position(|e| e.0 == id);
        match (at, count >= 2) {
            (Some(i), true) => p.counts[i].1 = count,
            (Some(i), false) => {
                p.counts.swap_remove(i);
            }
            (None, true) if p.counts.len() < MAX_ENTRIES => p.counts.push((id, count)),
            (None, _) => {}
        }
    });
}

/// The recursion counts of 2 or more now published: by (thread ident, lock id).
pub(crate) fn counts() -> HashMap<(u64, u64), usize> {
    let lists: Vec<Shared> = lock(&LISTS).clone();
    let mut out = HashMap::new();
    for l in lists {
        let p = lock(&l);
        for &(id, count) in &p.counts {
            out.insert((p.ident, id), count);
        }
    }
    out
}
