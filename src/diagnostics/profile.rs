//! The contention profile: who waited on what, and whose critical section kept them waiting.
//!
//! Off by default; [`set_contention_profiling`] switches it at run time. While it is on:
//! - every [`Lock`](crate::Lock) and [`RLock`](crate::RLock) acquisition is counted (an RLock's
//!   re-entries by its owner are not: they take nothing);
//! - an acquisition that found the lock held is a *contended* acquisition, charged with the
//!   time it took (spinning and parking) to the lock, and to the site where the holder had
//!   acquired the lock when it began. That is Go's insight (charge the delay to the holder's
//!   critical section), with the acquire site standing in for Go's unlock stack: threadkit
//!   cannot walk stacks, and the acquire site names the critical section just as well;
//! - every other wait that parks and is woken (Event, Semaphore, Condition, Barrier, queue,
//!   join) is charged to its object when it ends. Semaphore acquisitions that did not wait are
//!   not counted.
//!
//! Off, it costs nothing an uncontended acquire does not already do: the acquire makes one
//! relaxed load of a word of tracking switches (holder sites, this profile) in any case. On, an
//! acquisition costs a thread-local lookup, an uncontended mutex and a hash-map update (each
//! thread counts into its own table), and a contended one two clock reads more.

use crate::site::Site;
use std::fmt;
use std::time::Duration;

use crate::identity::{ObjectInfo, ObjectKind};
use crate::wait::profile::{self, Counts};
use crate::wait::record::{set_tracking, tracking, TRACK_PROFILING};

/// Switches the contention profile on or off (default off). Counters are kept when switched
/// off; [`reset_contention_profile`] clears them.
///
/// # Examples
///
/// ```
/// threadkit::diagnostics::set_contention_profiling(true);
/// threadkit::diagnostics::set_contention_profiling(false);
/// ```
pub fn set_contention_profiling(on: bool) {
    set_tracking(TRACK_PROFILING, on);
}

/// Whether the contention profile is on.
///
/// # Examples
///
/// ```
/// assert!(!threadkit::diagnostics::contention_profiling());
/// ```
pub fn contention_profiling() -> bool {
    tracking(TRACK_PROFILING)
}

/// Clears the contention profile's counters.
///
/// # Examples
///
/// ```
/// threadkit::diagnostics::reset_contention_profile();
/// assert!(threadkit::diagnostics::contention_profile().objects.is_empty());
/// ```
pub fn reset_contention_profile() {
    profile::reset();
}

/// Counters for one group of waits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WaitStats {
    /// For a lock: contended acquisitions (the lock was held: the acquire spun or parked, and
    /// got it). For anything else: waits that parked and were woken.
    pub waits: u64,
    /// Their total duration.
    pub total: Duration,
    /// The longest.
    pub max: Duration,
}

impl From<&Counts> for WaitStats {
    fn from(c: &Counts) -> Self {
        WaitStats {
            waits: c.waits,
            total: c.total,
            max: c.max,
        }
    }
}

impl WaitStats {
    fn add(&mut self, o: &WaitStats) {
        self.waits += o.waits;
        self.total += o.total;
        self.max = self.max.max(o.max);
    }
}

/// Waits charged to one call site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteStats {
    /// The site (`None`: the holder's site was unknown, or the object has no holder).
    pub site: Option<Site>,
    /// What was charged to it.
    pub stats: WaitStats,
}

/// One object's contention, or that of every dropped object created at one site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectContention {
    /// The object. For a group of dropped objects (`dropped > 0`): their kind and creation
    /// site, their name if they all had the same one, and id 0.
    pub object: ObjectInfo,
    /// 0 for a live object; for a group of dropped objects, how many it sums (see
    /// [`ContentionProfile`]).
    pub dropped: u64,
    /// How many times it was acquired while the profile was on (Lock and RLock; 0 for the
    /// others, whose waits alone are counted).
    pub acquisitions: u64,
    /// Every contended acquisition of it (or wait on it).
    pub stats: WaitStats,
    /// By the holder's acquire site (the critical section that kept waiters out), most delay
    /// first.
    pub holder_sites: Vec<SiteStats>,
    /// By the waiters' call sites, most delay first.
    pub waiter_sites: Vec<SiteStats>,
    /// By (holder's site, waiter's site): the frames of the folded output.
    pub pairs: Vec<(SiteStats, Site)>,
}

/// A snapshot of the contention profile, most delayed object first.
///
/// `Display` prints a table; [`folded`](Self::folded) the text flame-graph tools read.
///
/// # Dropped objects
///
/// A live object has an entry of its own. When a profiled object is dropped, its counters move
/// into one entry per (kind, creation site) of dropped objects ([`ObjectContention::dropped`]
/// says how many it sums): a profile taken later still shows every wait and acquisition since
/// the last [`reset_contention_profile`], charged to the site that created the objects, and the
/// profile's memory stays bounded by the live objects and the creation sites, however many
/// objects a long-running program creates and drops (a Lock per request). This is how Go's and
/// Abseil's mutex profiles see it: by call site, never by object address. A live object and the
/// dropped ones of its site are separate entries.
///
/// # Examples
///
/// ```
/// use threadkit::diagnostics::{contention_profile, set_contention_profiling};
/// use threadkit::Lock;
///
/// set_contention_profiling(true);
/// for _ in 0..3 {
///     let per_request = Lock::new(); // one creation site
///     drop(per_request.acquire());
/// }
/// set_contention_profiling(false);
/// let profile = contention_profile();
/// let group = profile.objects.iter().find(|o| o.dropped > 0).unwrap();
/// assert_eq!((group.dropped, group.acquisitions), (3, 3));
/// assert_eq!(group.object.id, 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContentionProfile {
    /// Every live object acquired or waited on while the profile was on, and one entry per
    /// creation site of such objects since dropped.
    pub objects: Vec<ObjectContention>,
}

/// The contention profile so far.
///
/// # Examples
///
/// ```
/// let profile = threadkit::diagnostics::contention_profile();
/// println!("{profile}");
/// ```
pub fn contention_profile() -> ContentionProfile {
    let table = profile::snapshot();
    let mut objects: Vec<ObjectContention> = table
        .objects
        .into_values()
        .map(|e| {
            let mut holder_sites: Vec<SiteStats> = Vec::new();
            let mut waiter_sites: Vec<SiteStats> = Vec::new();
            let mut pairs = Vec::new();
            for ((holder, waiter), c) in &e.pairs {
                let s = WaitStats::from(c);
                merge(&mut holder_sites, holder.map(|k| k.0), &s);
                merge(&mut waiter_sites, Some(waiter.0), &s);
                pairs.push((
                    SiteStats {
                        site: holder.map(|k| k.0),
                        stats: s,
                    },
                    waiter.0,
                ));
            }
            holder_sites.sort_by_key(|x| std::cmp::Reverse(x.stats.total));
            waiter_sites.sort_by_key(|x| std::cmp::Reverse(x.stats.total));
            pairs.sort_by_key(|x| std::cmp::Reverse(x.0.stats.total));
            ObjectContention {
                object: e.info,
                dropped: e.dropped,
                acquisitions: e.counts.acquisitions,
                stats: WaitStats::from(&e.counts),
                holder_sites,
                waiter_sites,
                pairs,
            }
        })
        .collect();
    objects.sort_by_key(|x| {
        (
            std::cmp::Reverse(x.stats.total),
            std::cmp::Reverse(x.acquisitions),
        )
    });
    ContentionProfile { objects }
}

fn merge(list: &mut Vec<SiteStats>, site: Option<Site>, s: &WaitStats) {
    match list.iter_mut().find(|x| x.site == site) {
        Some(x) => x.stats.add(s),
        None => list.push(SiteStats { site, stats: *s }),
    }
}

impl ObjectContention {
    /// `Lock "accounts" #3`, or for a group of dropped objects `Lock@src/bank.rs:40 (12
    /// dropped)`.
    fn label(&self) -> String {
        if self.dropped > 0 {
            format!("{} ({} dropped)", self.object.label(), self.dropped)
        } else {
            self.object.to_string()
        }
    }
}

impl ContentionProfile {
    /// The profile in the "folded stacks" format that flame-graph tools read
    /// (`inferno-flamegraph`, Brendan Gregg's `flamegraph.pl`): one line per (object, holder's
    /// site, waiter's site) with the microseconds waited, e.g.
    /// `Lock "accounts" #3;held at src/bank.rs:40;waited at src/bank.rs:71 51234`.
    ///
    /// Draw it with `inferno-flamegraph < profile.folded > contention.svg`.
    ///
    /// # Examples
    ///
    /// ```
    /// let folded = threadkit::diagnostics::contention_profile().folded();
    /// assert!(folded.lines().all(|l| l.rsplit_once(' ').is_some()));
    /// ```
    pub fn folded(&self) -> String {
        let mut out = String::new();
        for o in &self.objects {
            for (holder, waiter) in &o.pairs {
                let held = match holder.site {
                    Some(s) => format!("held at {}", super::format::site(s)),
                    None => "holder unknown".to_string(),
                };
                let label = o.label().replace(';', ",");
                out.push_str(&format!(
                    "{label};{held};waited at {} {}\n",
                    super::format::site(waiter),
                    holder.stats.total.as_micros()
                ));
            }
        }
        out
    }
}

impl fmt::Display for ContentionProfile {
    /// One line per object that was waited on or has a name, most delay first, with the
    /// holders' sites under each lock; unnamed objects that nobody waited for (threadkit's own
    /// per-thread locks among them) are summed up in a last line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "threadkit contention profile ({} objects)",
            self.objects.len()
        )?;
        let (mut quiet, mut quiet_acquisitions) = (0, 0);
        for o in &self.objects {
            if o.stats.waits == 0 && o.object.name.is_none() {
                quiet += 1;
                quiet_acquisitions += o.acquisitions;
                continue;
            }
            let is_lock = matches!(o.object.kind, ObjectKind::Lock | ObjectKind::RLock);
            if is_lock {
                write!(
                    f,
                    "{}: {} acquisitions, {} contended",
                    o.label(),
                    o.acquisitions,
                    o.stats.waits
                )?;
            } else {
                write!(f, "{}: {} waits", o.label(), o.stats.waits)?;
            }
            writeln!(
                f,
                ", waited {} in all, at most {}",
                super::format::secs(o.stats.total),
                super::format::secs(o.stats.max)
            )?;
            if !is_lock {
                continue;
            }
            for h in &o.holder_sites {
                match h.site {
                    Some(site) => writeln!(
                        f,
                        "    held at {}: kept {} waiters out for {} in all",
                        super::format::site(site),
                        h.stats.waits,
                        super::format::secs(h.stats.total)
                    )?,
                    None => writeln!(
                        f,
                        "    held at an unknown site: kept {} waiters out for {} in all",
                        h.stats.waits,
                        super::format::secs(h.stats.total)
                    )?,
                }
            }
        }
        if quiet != 0 {
            writeln!(
                f,
                "(and {quiet} unnamed objects nobody waited for: {quiet_acquisitions} acquisitions)"
            )?;
        }
        Ok(())
    }
}
