//! The actual-deadlock finder: cycles in the wait-for graph, re-validated.
//!
//! Edges come from the published wait records: a thread waiting for a Lock or RLock (including
//! a Condition waiter taking its lock back) points to the lock's holder; a thread joining
//! another points to it. Each thread has at most one outgoing edge (it is blocked in one call),
//! so cycles are found by following pointers, O(threads), as HotSpot does.
//!
//! A cycle found in one snapshot is kept only if a second snapshot, taken after, shows every
//! thread of it still in the *same* wait (same sequence number) with the same edge: each member
//! was blocked through both snapshots, so nobody could have released anything in between, and
//! the cycle was real at the second one. A timed wait in a cycle is still a deadlock until its
//! timeout expires; it is reported with its time left.

use crate::site::Site;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use super::snapshot::{blocked_threads, Blocked, Names, ThreadRef};
use crate::identity::ObjectInfo;
use crate::wait::WaitKind;

/// One thread's step in a deadlock cycle: it waits for something the next thread holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadlockLink {
    /// The waiting thread.
    pub thread: ThreadRef,
    /// Its blocking call.
    pub kind: WaitKind,
    /// The lock it waits for (`None` for a join).
    pub object: Option<ObjectInfo>,
    /// For a Condition waiter taking the lock back after its wait: the Condition.
    pub reacquiring_after: Option<ObjectInfo>,
    /// Where it called the blocking method.
    pub waiting_at: Site,
    /// How long it has waited.
    pub waited: Duration,
    /// Time left before the wait times out; `None`: never.
    pub timeout_in: Option<Duration>,
    /// The thread it waits for: the lock's holder, or the thread it joins.
    pub waits_for: ThreadRef,
    /// Where that thread acquired the lock (`None` for a join).
    pub held_since: Option<Site>,
    /// The wait's sequence number ([`WaitInfo::seq`](super::WaitInfo::seq)).
    pub seq: u64,
}

/// A set of threads each blocked waiting for the next: a cycle in the wait-for graph.
///
/// `Display` prints one link per line, naming threads, objects and call sites.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deadlock {
    /// The cycle, starting from the thread with the smallest identifier.
    pub links: Vec<DeadlockLink>,
}

impl Deadlock {
    /// The identifiers of the threads in the cycle, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(threadkit::diagnostics::find_deadlocks().is_empty());
    /// ```
    pub fn threads(&self) -> Vec<u64> {
        self.links.iter().map(|l| l.thread.ident).collect()
    }

    /// What identifies this cycle across checks: each member's thread and wait sequence.
    pub(crate) fn key(&self) -> BTreeSet<(u64, u64)> {
        self.links.iter().map(|l| (l.thread.ident, l.seq)).collect()
    }
}

impl fmt::Display for Deadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.links.len();
        writeln!(
            f,
            "Deadlock (cycle of {n} thread{}):",
            if n == 1 { "" } else { "s" }
        )?;
        for l in &self.links {
            write!(f, "  \"{}\" #{} ", l.thread.name, l.thread.ident)?;
            match (&l.object, &l.reacquiring_after) {
                (Some(o), Some(c)) => write!(f, "waits to re-acquire {o} after waiting on {c}")?,
                (Some(o), None) => write!(f, "waits {} {o}", l.kind.phrase())?,
                (None, _) => write!(
                    f,
                    "waits to join \"{}\" #{}",
                    l.waits_for.name, l.waits_for.ident
                )?,
            }
            write!(f, " at {}", super::format::site(l.waiting_at))?;
            write!(f, " (for {}", super::format::secs(l.waited))?;
            if let Some(left) = l.timeout_in {
                write!(f, ", timeout in {}", super::format::secs(left))?;
            }
            writeln!(f, ")")?;
            if l.object.is_some() {
                write!(
                    f,
                    "      held by \"{}\" #{}",
                    l.waits_for.name, l.waits_for.ident
                )?;
                if let Some(at) = l.held_since {
                    write!(f, ", acquired at {}", super::format::site(at))?;
                }
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

/// The cycles of one snapshot, as lists of waiter identifiers.
fn cycles(by_ident: &BTreeMap<u64, &Blocked>) -> Vec<Vec<u64>> {
    let mut done: BTreeSet<u64> = BTreeSet::new();
    let mut found = Vec::new();
    for &start in by_ident.keys() {
        if done.contains(&start) {
            continue;
        }
        let mut path: Vec<u64> = Vec::new();
        let mut on_path: BTreeMap<u64, usize> = BTreeMap::new();
        let mut at = start;
        loop {
            if let Some(&i) = on_path.get(&at) {
                let mut cycle = path[i..].to_vec();
                let min = cycle
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, &t)| t)
                    .map(|(i, _)| i);
                cycle.rotate_left(min.unwrap_or(0));
                found.push(cycle);
                break;
            }
            if done.contains(&at) {
                break;
            }
            let Some(next) = by_ident.get(&at).and_then(|b| b.waits_for) else {
                break;
            };
            on_path.insert(at, path.len());
            path.push(at);
            at = next;
        }
        done.extend(path);
    }
    found
}

/// Finds the threads deadlocked right now; see the module docs of
/// [`diagnostics`](crate::diagnostics).
pub(crate) fn find() -> Vec<Deadlock> {
    let first = blocked_threads(Instant::now());
    let index: BTreeMap<u64, &Blocked> = first.iter().map(|b| (b.ident, b)).collect();
    let candidates = cycles(&index);
    if candidates.is_empty() {
        return Vec::new();
    }
    // Re-validate against a second snapshot.
    let second = blocked_threads(Instant::now());
    let again: BTreeMap<u64, &Blocked> = second.iter().map(|b| (b.ident, b)).collect();
    let mut names = Names::load();
    names.label(&second);
    let mut out = Vec::new();
    for cycle in candidates {
        let still = cycle.iter().all(|t| match (index.get(t), again.get(t)) {
            (Some(a), Some(b)) => a.wait.seq == b.wait.seq && a.waits_for == b.waits_for,
            _ => false,
        });
        if !still {
            continue;
        }
        let links = cycle
            .iter()
            .map(|t| {
                let b = again[t];
                let target = b.waits_for.unwrap_or(0);
                DeadlockLink {
                    thread: names.thread(*t),
                    kind: b.wait.kind,
                    object: b.wait.object.clone(),
                    reacquiring_after: b.wait.reacquiring_after.clone(),
                    waiting_at: b.wait.site,
                    waited: b.wait.waited,
                    timeout_in: b.wait.timeout_in,
                    waits_for: names.thread(target),
                    held_since: b.holder_site,
                    seq: b.wait.seq,
                }
            })
            .collect();
        out.push(Deadlock { links });
    }
    out
}
