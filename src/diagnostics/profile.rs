//! The contention profile: who waited on what, and whose critical section kept them waiting.
//!
//! Off by default; [`set_contention_profiling`] switches it at run time. Only waits that park
//! are counted (the uncontended paths never look at the switch), and each is charged when it
//! ends, woken: to the object, and, for a Lock or RLock, to the site where the holder had
//! acquired the lock when the wait began. That is Go's insight (charge the delay to the holder's
//! critical section), with the acquire site standing in for Go's unlock stack: threadkit cannot
//! walk stacks, and the acquire site names the critical section just as well.

use crate::site::Site;
use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::identity::ObjectInfo;
use crate::wait::profile::{Counts, TABLE};
use crate::wait::record::PROFILING;

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
    PROFILING.store(on, Ordering::Relaxed);
}

/// Whether the contention profile is on.
///
/// # Examples
///
/// ```
/// assert!(!threadkit::diagnostics::contention_profiling());
/// ```
pub fn contention_profiling() -> bool {
    PROFILING.load(Ordering::Relaxed)
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
    *TABLE.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Counters for one group of waits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WaitStats {
    /// Waits that parked and were woken (contended acquisitions, for a lock).
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

/// One object's contention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectContention {
    /// The object.
    pub object: ObjectInfo,
    /// Every wait on it.
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContentionProfile {
    /// Every object that had a contended wait.
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
    let guard = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(table) = &*guard else {
        return ContentionProfile::default();
    };
    let mut objects: Vec<ObjectContention> = table
        .objects
        .iter()
        .map(|(&id, (info, counts))| {
            let mut holder_sites: Vec<SiteStats> = Vec::new();
            let mut waiter_sites: Vec<SiteStats> = Vec::new();
            let mut pairs = Vec::new();
            for ((oid, holder, waiter), c) in &table.pairs {
                if *oid != id {
                    continue;
                }
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
                object: info.clone(),
                stats: WaitStats::from(counts),
                holder_sites,
                waiter_sites,
                pairs,
            }
        })
        .collect();
    objects.sort_by_key(|x| std::cmp::Reverse(x.stats.total));
    ContentionProfile { objects }
}

fn merge(list: &mut Vec<SiteStats>, site: Option<Site>, s: &WaitStats) {
    match list.iter_mut().find(|x| x.site == site) {
        Some(x) => x.stats.add(s),
        None => list.push(SiteStats { site, stats: *s }),
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
                let label = o.object.to_string().replace(';', ",");
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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "threadkit contention profile ({} objects)",
            self.objects.len()
        )?;
        for o in &self.objects {
            writeln!(
                f,
                "{}: {} contended waits, total {}, max {}",
                o.object,
                o.stats.waits,
                super::format::secs(o.stats.total),
                super::format::secs(o.stats.max)
            )?;
            for h in &o.holder_sites {
                match h.site {
                    Some(site) => writeln!(
                        f,
                        "    held at {}: kept {} waiters out for {} in all",
                        super::format::site(site),
                        h.stats.waits,
                        super::format::secs(h.stats.total)
                    )?,
                    None => writeln!(f, "    (no holder site: not a lock, or holder sites off)")?,
                }
            }
        }
        Ok(())
    }
}
