//! [`PotentialDeadlock`]: what the lock-order checker reports.

use crate::site::Site;
use std::backtrace::Backtrace;
use std::fmt;
use std::sync::Arc;

use super::held::Held;
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
///
/// Two edges are equal when everything but the backtrace is.
#[derive(Clone, Debug)]
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
    /// That thread's backtrace when it recorded the order, if
    /// [backtraces](crate::diagnostics::set_lock_order_backtraces) were on then.
    pub backtrace: Option<Arc<Backtrace>>,
}

impl PartialEq for OrderEdge {
    fn eq(&self, other: &Self) -> bool {
        self.from == other.from
            && self.to == other.to
            && self.thread == other.thread
            && self.from_site == other.from_site
            && self.to_site == other.to_site
    }
}

impl Eq for OrderEdge {}

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
            if let Some(bt) = &e.backtrace {
                writeln!(f, "      order first recorded at:")?;
                for line in bt.to_string().lines() {
                    writeln!(f, "        {line}")?;
                }
            }
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
        let step =
            |lock: &ObjectInfo, site: Site| format!("lock({}) at {}", lock.label(), at(site));
        if self.chain.len() < 2 {
            // Two threads: this one against the thread of the recorded edge.
            let other = self.chain.last();
            let left = who(&self.thread);
            let right = other.map_or_else(String::new, |e| who(&e.thread));
            let mut rows: Vec<Vec<String>> =
                vec![vec![left, right], vec!["----".into(), "----".into()]];
            rows.push(vec![
                step(&self.closing.lock, self.closing.acquired_at),
                String::new(),
            ]);
            if let Some(e) = other {
                rows.push(vec![String::new(), step(&e.from, e.from_site)]);
                rows.push(vec![String::new(), step(&e.to, e.to_site)]);
            }
            rows.push(vec![step(&self.acquiring, self.site), String::new()]);
            writeln!(f, "  possible interleaving:")?;
            table(f, &rows)?;
        } else {
            // One column per thread of the cycle: this one, then each recorded edge's thread.
            // Each takes its first lock, then each waits for its second, held by the next.
            let mut columns = vec![(
                who(&self.thread),
                step(&self.closing.lock, self.closing.acquired_at),
                step(&self.acquiring, self.site),
            )];
            columns.extend(self.chain.iter().map(|e| {
                (
                    who(&e.thread),
                    step(&e.from, e.from_site),
                    step(&e.to, e.to_site),
                )
            }));
            let n = columns.len();
            let row = |i: usize, cell: &str| -> Vec<String> {
                (0..n)
                    .map(|j| {
                        if j == i {
                            cell.to_string()
                        } else {
                            String::new()
                        }
                    })
                    .collect()
            };
            let mut rows: Vec<Vec<String>> = vec![
                columns.iter().map(|c| c.0.clone()).collect(),
                vec!["----".to_string(); n],
            ];
            rows.extend(columns.iter().enumerate().map(|(i, c)| row(i, &c.1)));
            rows.extend(
                columns
                    .iter()
                    .enumerate()
                    .skip(1)
                    .chain(std::iter::once((0, &columns[0])))
                    .map(|(i, c)| row(i, &c.2)),
            );
            writeln!(
                f,
                "  possible interleaving ({n} threads: each takes its first lock, then waits for \
                 its second, which the next one holds):"
            )?;
            table(f, &rows)?;
        }
        writeln!(f, "  *** POTENTIAL DEADLOCK (not currently blocked) ***")
    }
}

/// Writes `rows` as columns separated by ` | `, each as wide as its widest cell.
fn table(f: &mut fmt::Formatter<'_>, rows: &[Vec<String>]) -> fmt::Result {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|j| {
            rows.iter()
                .map(|r| r.get(j).map_or(0, String::len))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::from("    ");
        for (j, cell) in r.iter().enumerate() {
            if j > 0 {
                line.push_str(" | ");
            }
            if j + 1 < r.len() {
                line.push_str(&format!("{cell:w$}", w = widths[j]));
            } else {
                line.push_str(cell);
            }
        }
        writeln!(f, "{}", line.trim_end())?;
    }
    Ok(())
}
