//! The contention profile's counters, charged by the waiting layer when a wait ends.
//!
//! Off by default ([`record::PROFILING`]); when off, the only cost is one relaxed load after a
//! thread wakes from a park. When on, a woken waiter charges the time it slept to the object it
//! waited on and, for a Lock or RLock, to the site where the holder had acquired it when the
//! wait began: the critical section that kept it waiting (Go's "charge the delay to the holder"
//! idea, with the acquire site standing in for the unlock stack). `src/diagnostics/profile.rs`
//! reads and formats them.

use crate::site::Site;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

use super::record::{Record, PROFILING};
use crate::identity::ObjectInfo;

/// Per object: contended acquisitions (completed waits), total and longest wait.
#[derive(Clone, Debug, Default)]
pub(crate) struct Counts {
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
}

/// The counters: by object id, and by (object id, holder's acquire site, waiter's call site).
#[derive(Default)]
pub(crate) struct Table {
    pub(crate) objects: HashMap<u64, (ObjectInfo, Counts)>,
    pub(crate) pairs: HashMap<(u64, Option<SiteKey>, SiteKey), Counts>,
}

/// A `Location` compared by value (file, line, column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SiteKey(pub(crate) Site);

pub(crate) static TABLE: Mutex<Option<Table>> = Mutex::new(None);

/// Charges the wait `r` (which just ended, woken) if profiling is on. Called by the waiting
/// thread, whose record is still published, so the object is alive.
#[inline]
pub(crate) fn charge(r: &Record) {
    if PROFILING.load(Ordering::Relaxed) {
        charge_slow(r);
    }
}

#[cold]
fn charge_slow(r: &Record) {
    // SAFETY: called by the waiting thread during the wait `r` describes (see `charge`).
    let Some(identity) = (unsafe { r.identity() }) else {
        return;
    };
    let waited = match r.precise_since {
        Some(t) => t.elapsed(),
        // Profiling was switched on during the wait: the coarse clock is all there is.
        None => super::record::clock().saturating_sub(r.since),
    };
    let info = identity.describe();
    let id = info.id;
    let mut table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    let table = table.get_or_insert_with(Table::default);
    table
        .objects
        .entry(id)
        .or_insert_with(|| (info, Counts::default()))
        .1
        .add(waited);
    table
        .pairs
        .entry((id, r.holder_site.map(SiteKey), SiteKey(r.site)))
        .or_default()
        .add(waited);
}
