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
//!
//! Memory stays bounded by the live objects and the creation sites: an object the profile has
//! counted is marked in its identity, and its drop queues its id ([`dropped`]); the queued
//! objects' entries are folded, [`FOLD_BATCH`] at a time and before every snapshot, into one
//! entry per (kind, creation site) of dropped objects, which keeps their totals. An object the
//! profile never counted pays nothing at its drop beyond the test of a bit its identity's drop
//! makes anyway.

use crate::site::Site;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::atomic::AtomicPtr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::record::{tracking, Record, Target, TRACK_PROFILING};
use crate::identity::{Identity, ObjectInfo, ObjectKind};

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

/// The key of a (holder's acquire site, waiter's call site) pair of one object.
pub(crate) type PairKey = (Option<SiteKey>, SiteKey);

/// What a table entry counts for: a live object (by id), or every dropped object of one kind
/// created at one site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Live(u64),
    Dropped(ObjectKind, Option<SiteKey>),
}

/// One entry: the object (for a dropped group: the site's, with id 0), its counters, and its
/// waits by (holder's site, waiter's site).
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) info: ObjectInfo,
    pub(crate) counts: Counts,
    /// How many dropped objects a `Key::Dropped` entry sums (0 for a live object).
    pub(crate) dropped: u64,
    pub(crate) pairs: HashMap<PairKey, Counts>,
}

impl Entry {
    fn new(info: ObjectInfo) -> Entry {
        Entry {
            info,
            counts: Counts::default(),
            dropped: 0,
            pairs: HashMap::new(),
        }
    }

    fn merge(&mut self, o: &Entry) {
        self.counts.merge(&o.counts);
        self.dropped += o.dropped;
        // A group of dropped objects keeps a name only while they all had the same one.
        if self.info.name != o.info.name {
            self.info.name = None;
        }
        for (k, c) in &o.pairs {
            self.pairs.entry(*k).or_default().merge(c);
        }
    }
}

/// The counters, by live object, and by creation site for dropped objects.
#[derive(Clone, Default)]
pub(crate) struct Table {
    pub(crate) objects: HashMap<Key, Entry>,
}

impl Table {
    fn object(&mut self, identity: &Identity) -> &mut Entry {
        self.objects
            .entry(Key::Live(identity.id()))
            .or_insert_with(|| {
                // Its drop will fold this entry into its site's (`dropped`).
                identity.set_profiled();
                Entry::new(identity.describe())
            })
    }

    fn wait(&mut self, identity: &Identity, waited: Duration, holder: Option<Site>, site: Site) {
        let e = self.object(identity);
        e.counts.add(waited);
        e.pairs
            .entry((holder.map(SiteKey), SiteKey(site)))
            .or_default()
            .add(waited);
    }

    fn merge_into(&self, into: &mut Table) {
        for (k, e) in &self.objects {
            match into.objects.get_mut(k) {
                Some(x) => x.merge(e),
                None => {
                    into.objects.insert(*k, e.clone());
                }
            }
        }
    }

    /// Adds the counters of a dropped object to its creation site's group.
    fn add_dropped(&mut self, mut e: Entry) {
        let key = Key::Dropped(e.info.kind, e.info.created_at.map(SiteKey));
        e.info.id = 0;
        e.dropped = 1;
        match self.objects.get_mut(&key) {
            Some(x) => x.merge(&e),
            None => {
                self.objects.insert(key, e);
            }
        }
    }
}

type Shard = Arc<Mutex<Table>>;

/// The live threads' tables.
static SHARDS: Mutex<Vec<Shard>> = Mutex::new(Vec::new());
/// What exited threads counted, and the groups of dropped objects. Lock order: [`SHARDS`], then
/// this, then a shard.
static RETIRED: Mutex<Option<Table>> = Mutex::new(None);
/// Ids of profiled objects dropped since the last fold (taken alone, never with another lock).
static DROPPED: Mutex<Vec<u64>> = Mutex::new(Vec::new());
/// How many dropped objects wait to be folded before a drop folds them: the cost of a fold (a
/// look at every thread's table) is shared by that many drops.
const FOLD_BATCH: usize = 64;

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
    with_table(|t| t.object(identity).counts.acquisitions += 1);
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
    // SAFETY: called by the waiting thread during the wait `r` describes (see `charge`).
    let target = unsafe { r.target() };
    if let Target::Object {
        holder: Some(_), ..
    } = target
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

/// A profiled object was dropped (`Identity`'s `Drop`): its entries will be folded into its
/// creation site's group, in batches of [`FOLD_BATCH`] (and before every snapshot).
#[cold]
pub(crate) fn dropped(id: u64) {
    let batch = {
        let mut d = lock(&DROPPED);
        d.push(id);
        if d.len() < FOLD_BATCH {
            return;
        }
        std::mem::take(&mut *d)
    };
    fold(&batch);
}

/// Moves the entries of the dropped objects `ids` out of every table into their sites' groups
/// (in the retired table). Each object is counted once however many threads' tables had it.
fn fold(ids: &[u64]) {
    if ids.is_empty() {
        return;
    }
    let shards = lock(&SHARDS);
    let mut retired = lock(&RETIRED);
    let retired = retired.get_or_insert_with(Table::default);
    let mut gone: HashMap<u64, Entry> = HashMap::new();
    let mut take = |t: &mut Table| {
        for &id in ids {
            if let Some(e) = t.objects.remove(&Key::Live(id)) {
                match gone.get_mut(&id) {
                    Some(x) => x.merge(&e),
                    None => {
                        gone.insert(id, e);
                    }
                }
            }
        }
    };
    take(retired);
    for s in shards.iter() {
        take(&mut lock(s));
    }
    for (_, e) in gone {
        retired.add_dropped(e);
    }
}

/// Folds every dropped object not folded yet.
fn fold_pending() {
    let pending = std::mem::take(&mut *lock(&DROPPED));
    fold(&pending);
}

/// Everything counted so far: the retired table plus every live thread's.
pub(crate) fn snapshot() -> Table {
    fold_pending();
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
    lock(&DROPPED).clear();
    for s in shards.iter() {
        *lock(s) = Table::default();
    }
}
