//! [`PotentialDeadlock`]: what the lock-order checker reports.

use crate::site::Site;
use std::fmt;

use super::Held;
use crate::diagnostics::{ObjectInfo, ThreadRef};

/// A lock a thread holds, and where it acquired it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderedLock {
    /// The lock.
    pub lock: ObjectInfo,
    /// Where the thread acquired it.
    pub acquired_at: Site,
}

/// One recorded order `from → to`: the first thread that acquired `to` while holding `from`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderEdge {
    /// The lock held.
    pub from: ObjectInfo,
    /// The lock acquired while holding it.
    pub to: ObjectInfo,
    /// The thread that did it first.
    pub thread: ThreadRef,
    /// Where that thread had acquired `from`.
    pub from_site: Site,
    /// Where it acquired `to`.
    pub to_site: Site,
}

/// A lock-order inversion: the acquisition in progress would close a cycle in the recorded
/// order of locks, so threads taking them in these orders at the same time could deadlock.
///
/// *Potential*: no thread is blocked (that is a [`Deadlock`](crate::diagnostics::Deadlock), from
/// the deadlock finder). Reported once per cycle through the
/// [report hook](crate::diagnostics::set_report_hook), or as a panic in
/// [`LockOrderMode::Panic`](crate::diagnostics::LockOrderMode::Panic).
///
/// # Examples
///
/// ```
/// use threadkit::diagnostics::{self, LockOrderMode, Report};
/// use threadkit::Lock;
/// use std::sync::{Arc, Mutex};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = Arc::clone(&seen);
/// diagnostics::set_report_hook(move |r: &Report| {
///     if let Report::PotentialDeadlock(p) = r {
///         sink.lock().unwrap().push(p.clone());
///     }
/// });
/// diagnostics::set_lock_order_mode(LockOrderMode::Report);
/// let (a, b) = (Lock::named("a"), Lock::named("b"));
/// {
///     let _a = a.acquire();
///     let _b = b.acquire();
/// }
/// {
///     let _b = b.acquire();
///     let _a = a.acquire(); // inverts a → b: reported, then acquired
/// }
/// let seen = seen.lock().unwrap();
/// assert_eq!(seen.len(), 1);
/// assert_eq!(seen[0].acquiring.name.as_deref(), Some("a"));
/// assert_eq!(seen[0].chain[0].from.name.as_deref(), Some("a"));
/// diagnostics::reset_report_hook();
/// ```
#[derive(Clone, Debug)]
pub struct PotentialDeadlock {
    /// The thread acquiring.
    pub thread: ThreadRef,
    /// The lock it is acquiring.
    pub acquiring: ObjectInfo,
    /// Where it is acquiring it.
    pub site: Site,
    /// Whether the acquire is timed (it would give up rather than hang forever).
    pub timed: bool,
    /// Every lock the thread holds, oldest first.
    pub held: Vec<OrderedLock>,
    /// The held lock whose order with `acquiring` closes the cycle.
    pub closing: OrderedLock,
    /// The recorded orders `acquiring → … → closing.lock`, each with its first thread and sites.
    pub chain: Vec<OrderEdge>,
}

/// Assembles the report (with no checker lock held: node infos are read one at a time).
pub(super) fn build(
    thread: &ThreadRef,
    identity: &crate::identity::Identity,
    site: Site,
    held: &[Held],
    closing: u64,
    chain: Vec<OrderEdge>,
    timed: bool,
) -> PotentialDeadlock {
    let acquiring = identity.describe();
    let held: Vec<OrderedLock> = held
        .iter()
        .filter_map(|h| {
            super::graph::info(h.id).map(|lock| OrderedLock {
                lock,
                acquired_at: h.site,
            })
        })
        .collect();
    let closing = held
        .iter()
        .rev()
        .find(|h| h.lock.id == closing)
        .cloned()
        .unwrap_or_else(|| OrderedLock {
            lock: chain
                .last()
                .map_or_else(|| acquiring.clone(), |e| e.to.clone()),
            acquired_at: site,
        });
    PotentialDeadlock {
        thread: thread.clone(),
        acquiring,
        site,
        timed,
        held,
        closing,
        chain,
    }
}

fn at(site: Site) -> String {
    format!("{}:{}", site.file(), site.line())
}

fn who(t: &ThreadRef) -> String {
    format!("\"{}\" #{}", t.name, t.ident)
}

impl fmt::Display for PotentialDeadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "PotentialDeadlock (lock-order inversion{}; no thread is blocked now):",
            if self.timed { ", timed acquire" } else { "" }
        )?;
        writeln!(
            f,
            "  {} is acquiring {} at {}",
            who(&self.thread),
            self.acquiring,
            at(self.site)
        )?;
        writeln!(f, "  while holding:")?;
        for h in &self.held {
            writeln!(f, "    {}, acquired at {}", h.lock, at(h.acquired_at))?;
        }
        writeln!(f, "  but the recorded order is:")?;
        for e in &self.chain {
            writeln!(
                f,
                "    {} -> {}: first by {}, holding the first (acquired at {}), acquiring at {}",
                e.from.label(),
                e.to.label(),
                who(&e.thread),
                at(e.from_site),
                at(e.to_site)
            )?;
        }
        let mut names: Vec<String> = self
            .chain
            .first()
            .map(|e| e.from.label())
            .into_iter()
            .collect();
        names.extend(self.chain.iter().map(|e| e.to.label()));
        names.push(self.acquiring.label());
        writeln!(f, "  cycle: {}", names.join(" -> "))?;
        // The two-column scenario: this thread against the thread of the last recorded edge
        // (the one that holds what it must wait for in the chain).
        let other = self.chain.last();
        let left = who(&self.thread);
        let right = other.map_or_else(String::new, |e| who(&e.thread));
        let step =
            |lock: &ObjectInfo, site: Site| format!("lock({}) at {}", lock.label(), at(site));
        let mut rows: Vec<(String, String)> = vec![(left, right), ("----".into(), "----".into())];
        rows.push((
            step(&self.closing.lock, self.closing.acquired_at),
            String::new(),
        ));
        if let Some(e) = other {
            rows.push((String::new(), step(&e.from, e.from_site)));
            rows.push((String::new(), step(&e.to, e.to_site)));
        }
        rows.push((step(&self.acquiring, self.site), String::new()));
        let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        writeln!(f, "  possible interleaving:")?;
        for (l, r) in rows {
            let gap = if r.is_empty() { "" } else { " " };
            writeln!(f, "    {l:width$} |{gap}{r}")?;
        }
        writeln!(f, "  *** POTENTIAL DEADLOCK (not currently blocked) ***")
    }
}
