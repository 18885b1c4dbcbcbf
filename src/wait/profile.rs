//! The contention profile's counters: charged by the primitives and the waiting layer, read by
//! `src/diagnostics/profile.rs`.
//!
//! Off by default ([`TRACK_PROFILING`]). When on:
//! - every Lock (and RLock) acquisition is counted ([`acquired`]); when off, that costs nothing
//!   beyond the one relaxed load of the tracking switches the acquire makes anyway;
//! - a Lock acquisition that found the lock held (the acquire's slow path: it spun or parked) is
//!   a *contended* acquisition, charged with the time it took to the object and to the site
//!   where the holder had acquired the lock when it began: the critical section that kept it
//!   waiting (Go's "charge the delay to the holder" idea, with the acquire site standing in for
//!   the unlock stack) ([`contention_start`]);
//! - any other wait that parks and is woken (Event, Semaphore, Condition, Barrier, queue, join)
//!   is charged to its object when it ends ([`charge`]).
//!
//! The counters are per thread (a mutex only the profile's reader ever contends), so profiling
//! does not make threads that use different locks wait for each other; an exiting thread's
//! counters are merged into a table of retired ones.

use crate::site::Site;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::atomic::AtomicPtr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::record::{tracking, Record, Target, TRACK_PROFILING};
use crate::identity::{Identity, ObjectInfo};

/// Per object: acquisitions, contended acquisitions (or completed waits), total and longest
/// wait.
#[derive(Clone, Debug, Default)]
pub(crate) struct Counts {
    /// Acquisitions (Lock and RLock only).
    pub(crate) acquisitions: u64,
    /// Contended acquisitions (a lock), or waits that parked and were woken (anything else).
    pub(crate) waits: u64,
    pub(crate) total: Duration,
    pub(crate) max: Duration,
}

impl Counts {
    fn add(&mut self, d: Duration) {
        self.waits += 1;
        self.total += d;
        self.max = self.max.max(d);
    }

    fn merge(&mut self, o: &Counts) {
        self.acquisitions += o.acquisitions;
        self.waits += o.waits;
        self.total += o.total;
        self.max = self.max.max(o.max);
    }
}

/// A `Location` compared by value (file, line, column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SiteKey(pub(crate) Site);

/// The key of a (object, holder's acquire site, waiter's call site) triple.
pub(crate) type PairKey = (u64, Option<SiteKey>, SiteKey);

/// The counters: by object id, and by (object id, holder's acquire site, waiter's call site).
#[derive(Clone, Default)]
pub(crate) struct Table {
    pub(crate) objects: HashMap<u64, (ObjectInfo, Counts)>,
    pub(crate) pairs: HashMap<PairKey, Counts>,
}

impl Table {
    fn object(&mut self, identity: &Identity) -> &mut Counts {
        let id = identity.id();
        &mut self
            .objects
            .entry(id)
            .or_insert_with(|| (identity.describe(), Counts::default()))
            .1
    }

    fn wait(&mut self, identity: &Identity, waited: Duration, holder: Option<Site>, site: Site) {
        self.object(identity).add(waited);
        self.pairs
            .entry((identity.id(), holder.map(SiteKey), SiteKey(site)))
            .or_default()
            .add(waited);
    }

    fn merge_into(&self, into: &mut Table) {
        for (id, (info, c)) in &self.objects {
            into.objects
                .entry(*id)
                .or_insert_with(|| (info.clone(), Counts::default()))
                .1
                .merge(c);
        }
        for (k, c) in &self.pairs {
            into.pairs.entry(*k).or_default().merge(c);
        }
    }
}

type Shard = Arc<Mutex<Table>>;

/// The live threads' tables.
static SHARDS: Mutex<Vec<Shard>> = Mutex::new(Vec::new());
/// What exited threads counted. Lock order: [`SHARDS`], then this, then a shard.
static RETIRED: Mutex<Option<Table>> = Mutex::new(None);

/// The calling thread's table, registered in [`SHARDS`] until the thread exits.
struct Local(Shard);

impl Drop for Local {
    fn drop(&mut self) {
        let mut shards = lock(&SHARDS);
        shards.retain(|s| !Arc::ptr_eq(s, &self.0));
        let mine = std::mem::take(&mut *lock(&self.0));
        mine.merge_into(lock(&RETIRED).get_or_insert_with(Table::default));
    }
}

thread_local! {
    static LOCAL: Local = {
        let shard = Shard::default();
        lock(&SHARDS).push(Arc::clone(&shard));
        Local(shard)
    };
}

/// The profile's mutexes are never poisoned in practice (nothing panics while holding them).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` on the calling thread's table (on the retired one during thread-local teardown).
fn with_table(f: impl FnOnce(&mut Table)) {
    let mut f = Some(f);
    let _ = LOCAL.try_with(|l| {
        if let Some(f) = f.take() {
            f(&mut lock(&l.0));
        }
    });
    if let Some(f) = f {
        f(lock(&RETIRED).get_or_insert_with(Table::default));
    }
}

/// Counts an acquisition of the lock `identity` (the caller checked that profiling is on).
#[cold]
#[inline(never)]
pub(crate) fn acquired(identity: &Identity) {
    with_table(|t| t.object(identity).acquisitions += 1);
}

/// A contended lock acquisition in progress, timed while profiling is on.
pub(crate) struct Contention {
    start: Instant,
    holder: Option<Site>,
}

/// Starts timing a contended lock acquisition if profiling is on (one relaxed load otherwise);
/// `acquired_at` is the lock's record of where its holder acquired it.
#[inline]
pub(crate) fn contention_start(acquired_at: &AtomicPtr<u8>) -> Option<Contention> {
    if !tracking(TRACK_PROFILING) {
        return None;
    }
    let p = acquired_at.load(std::sync::atomic::Ordering::Relaxed);
    Some(Contention {
        start: Instant::now(),
        // SAFETY: only `Site::as_ptr`s are ever stored there (or null).
        holder: unsafe { Site::from_ptr(p) },
    })
}

impl Contention {
    /// The acquisition succeeded: charge it to the lock, the holder's site and `site`.
    #[cold]
    pub(crate) fn charge(self, identity: &Identity, site: &'static Location<'static>) {
        let site = crate::site::resolve(site);
        let waited = self.start.elapsed();
        with_table(|t| t.wait(identity, waited, self.holder, site));
    }
}

/// Charges the wait `r` (which just ended, woken) if profiling is on. Called by the waiting
/// thread, whose record is still published, so the object is alive. Lock waits are not charged
/// here: the lock charges the whole contended acquisition ([`contention_start`]).
#[inline]
pub(crate) fn charge(r: &Record) {
    if tracking(TRACK_PROFILING) {
        charge_slow(r);
    }
}

#[cold]
fn charge_slow(r: &Record) {
    if let Target::Object {
        holder: Some(_), ..
    } = r.target
    {
        return;
    }
    // SAFETY: called by the waiting thread during the wait `r` describes (see `charge`).
    let Some(identity) = (unsafe { r.identity() }) else {
        return;
    };
    let (now, coarse_now) = (Instant::now(), super::record::clock());
    // A part of a sliced wait is charged only from where the previous part's charge ended.
    let waited = match super::record::charge_start(r, now, coarse_now) {
        (Some(t), _) => now.saturating_duration_since(t),
        // Profiling was switched on during the wait: the coarse clock is all there is.
        (None, since) => coarse_now.saturating_sub(since),
    };
    with_table(|t| t.wait(identity, waited, r.holder_site, r.site));
}

/// Everything counted so far: the retired table plus every live thread's.
pub(crate) fn snapshot() -> Table {
    let shards = lock(&SHARDS);
    let mut all = lock(&RETIRED).clone().unwrap_or_default();
    for s in shards.iter() {
        lock(s).merge_into(&mut all);
    }
    all
}

/// Clears every counter.
pub(crate) fn reset() {
    let shards = lock(&SHARDS);
    *lock(&RETIRED) = None;
    for s in shards.iter() {
        *lock(s) = Table::default();
    }
}
