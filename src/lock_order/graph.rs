//! The global order graph: a node per registered lock (by id), an edge `a → b` for "some thread
//! acquired b while holding a", with who did it first and where. Kept acyclic: an edge that would
//! close a cycle is reported instead of added.

use crate::site::Site;
use std::backtrace::Backtrace;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use super::report::OrderEdge;
use crate::diagnostics::{ObjectInfo, ThreadRef};

/// The first acquisition that recorded an edge.
struct EdgeInfo {
    thread: ThreadRef,
    from_site: Site,
    to_site: Site,
    /// Captured when the edge was recorded, if backtraces were on.
    backtrace: Option<Arc<Backtrace>>,
}

struct Node {
    info: ObjectInfo,
    out: BTreeMap<u64, EdgeInfo>,
    ins: BTreeSet<u64>,
}

struct Graph {
    nodes: BTreeMap<u64, Node>,
    /// The cycles already reported, each as its node ids rotated to start at the smallest.
    reported: BTreeSet<Vec<u64>>,
}

/// The checker's own lock: a leaf (nothing else is taken under it, no user code runs under it).
static GRAPH: Mutex<Graph> = Mutex::new(Graph {
    nodes: BTreeMap::new(),
    reported: BTreeSet::new(),
});

fn graph() -> MutexGuard<'static, Graph> {
    GRAPH.lock().unwrap_or_else(|e| e.into_inner())
}

/// The thread registry's `pthread_atfork` handlers' part (`src/thread/fork.rs`): the graph is
/// locked across the `fork`, so that a child never inherits it locked by a thread it does not
/// have (its first armed acquire of a new lock would wait for ever) or half-updated. A leaf:
/// taking it last in the prepare handler waits only for a holder that waits for nothing.
#[cfg(unix)]
pub(crate) mod fork {
    use std::cell::RefCell;
    use std::sync::MutexGuard;

    use super::{graph, Graph};

    thread_local! {
        /// The graph's guard, from the prepare handler to the parent or child handler.
        static HELD: RefCell<Option<MutexGuard<'static, Graph>>> = const { RefCell::new(None) };
    }

    /// Prepare handler: locks the graph.
    pub(crate) fn before() {
        let guard = graph();
        // `try_with`: a fork from this thread's thread-local teardown keeps nothing (the guard is
        // dropped at once), rather than panicking in an `extern "C"` handler.
        let _ = HELD.try_with(|h| *h.borrow_mut() = Some(guard));
    }

    /// Parent and child handler: unlocks it (std's unlock is an atomic swap and at most a futex
    /// wake with nobody to wake, in the child).
    pub(crate) fn after() {
        drop(HELD.try_with(|h| h.borrow_mut().take()));
    }
}

/// What [`add_edge`] found.
pub(super) enum Added {
    /// The edge is in the graph now (it was, or it has just been added).
    Known,
    /// The edge would close a cycle: the recorded chain from the new lock back to the held one,
    /// and whether this cycle is reported for the first time.
    Cycle(Vec<OrderEdge>, bool),
}

/// Adds the node for a lock seen for the first time.
pub(super) fn register(id: u64, info: ObjectInfo) {
    graph().nodes.entry(id).or_insert_with(|| Node {
        info,
        out: BTreeMap::new(),
        ins: BTreeSet::new(),
    });
}

/// Records `from → to` (acquired `to` at `to_site` while holding `from`, acquired at
/// `from_site`), unless it closes a cycle. In panic mode a cycle is not remembered as reported,
/// so each inverted acquire panics. With `capture`, a new edge gets the calling thread's
/// backtrace (only a new one: the cost is paid once per edge).
pub(super) fn add_edge(
    from: u64,
    to: u64,
    thread: &ThreadRef,
    from_site: Site,
    to_site: Site,
    panic_mode: bool,
    capture: bool,
) -> Added {
    let mut g = graph();
    if !g.nodes.contains_key(&from) || !g.nodes.contains_key(&to) {
        return Added::Known; // a node that left the graph (a lock dropped while held)
    }
    if g.nodes[&from].out.contains_key(&to) {
        return Added::Known;
    }
    if let Some(path) = g.path(to, from) {
        let chain = path
            .windows(2)
            .map(|w| {
                let (a, b) = (&g.nodes[&w[0]], &g.nodes[&w[1]]);
                let e = &a.out[&w[1]];
                OrderEdge {
                    from: a.info.clone(),
                    to: b.info.clone(),
                    thread: e.thread.clone(),
                    from_site: e.from_site,
                    to_site: e.to_site,
                    backtrace: e.backtrace.clone(),
                }
            })
            .collect();
        // The cycle's nodes are the path `to … from` (the new edge `from → to` closes it).
        let mut key = path;
        let min = key
            .iter()
            .enumerate()
            .min_by_key(|(_, id)| **id)
            .map_or(0, |(i, _)| i);
        key.rotate_left(min);
        let fresh = panic_mode || g.reported.insert(key);
        return Added::Cycle(chain, fresh);
    }
    let edge = EdgeInfo {
        thread: thread.clone(),
        from_site,
        to_site,
        backtrace: capture.then(|| Arc::new(Backtrace::force_capture())),
    };
    if let Some(n) = g.nodes.get_mut(&from) {
        n.out.insert(to, edge);
    }
    if let Some(n) = g.nodes.get_mut(&to) {
        n.ins.insert(from);
    }
    Added::Known
}

impl Graph {
    /// A shortest path of recorded edges `start → … → goal`, as node ids, if any.
    fn path(&self, start: u64, goal: u64) -> Option<Vec<u64>> {
        let mut parent: BTreeMap<u64, u64> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        parent.insert(start, start);
        while let Some(n) = queue.pop_front() {
            if n == goal {
                let mut path = vec![goal];
                let mut at = goal;
                while at != start {
                    at = parent[&at];
                    path.push(at);
                }
                path.reverse();
                return Some(path);
            }
            for &next in self
                .nodes
                .get(&n)
                .map(|n| n.out.keys())
                .into_iter()
                .flatten()
            {
                if let std::collections::btree_map::Entry::Vacant(v) = parent.entry(next) {
                    v.insert(n);
                    queue.push_back(next);
                }
            }
        }
        None
    }
}

/// Removes a dropped lock's node and its edges.
#[cfg_attr(not(feature = "lock-order"), allow(dead_code))] // called by `Identity`'s `Drop`
pub(super) fn forget(id: u64) {
    let mut g = graph();
    let Some(node) = g.nodes.remove(&id) else {
        return;
    };
    for from in node.ins {
        if let Some(n) = g.nodes.get_mut(&from) {
            n.out.remove(&id);
        }
    }
    for to in node.out.keys() {
        if let Some(n) = g.nodes.get_mut(to) {
            n.ins.remove(&id);
        }
    }
}

/// Forgets every edge and reported cycle (the nodes stay: their locks are alive).
pub(super) fn reset() {
    let mut g = graph();
    for n in g.nodes.values_mut() {
        n.out.clear();
        n.ins.clear();
    }
    g.reported.clear();
}

/// The description of a registered lock.
pub(super) fn info(id: u64) -> Option<ObjectInfo> {
    graph().nodes.get(&id).map(|n| n.info.clone())
}
