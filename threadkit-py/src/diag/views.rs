//! The Python views of what diagnostics report: thread dumps, deadlocks, stalls, lock-order
//! reports. Dicts for the nested parts (a thread, a wait, an object), with the keys named as
//! the Rust fields are (`threadkit::diagnostics`); classes with documented attributes for the
//! reports themselves.

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use threadkit::diagnostics::{self, Deadlock, PotentialDeadlock, Report, Site, Stall, ThreadDump};

/// The object, how long the wait has lasted and how long until it times out: what a wait and a
/// deadlock's link both carry.
pub(crate) fn set_wait_items(
    py: Python<'_>,
    d: &Bound<'_, PyDict>,
    object: Option<&diagnostics::ObjectInfo>,
    waited: Duration,
    timeout_in: Option<Duration>,
) -> PyResult<()> {
    d.set_item("object", object.map(|o| object_dict(py, o)).transpose()?)?;
    d.set_item("waited", waited.as_secs_f64())?;
    d.set_item("timeout_in", timeout_in.map(|t| t.as_secs_f64()))
}

/// Where a held lock was acquired and how many times (a holder of a wait, a thread's holding).
fn set_held_items(d: &Bound<'_, PyDict>, acquired_at: Option<Site>, count: usize) -> PyResult<()> {
    d.set_item("acquired_at", site_str(acquired_at))?;
    d.set_item("count", count)
}

fn thread_dict<'py>(py: Python<'py>, t: &diagnostics::ThreadRef) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("ident", t.ident)?;
    d.set_item("name", &*t.name)?;
    Ok(d)
}

pub(crate) fn site_str(s: Option<Site>) -> Option<String> {
    s.map(|s| s.to_string())
}

pub(crate) fn object_dict<'py>(
    py: Python<'py>,
    o: &diagnostics::ObjectInfo,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("kind", o.kind.as_str())?;
    d.set_item("id", o.id)?;
    d.set_item("name", o.name.as_deref())?;
    d.set_item("created_at", site_str(o.created_at))?;
    d.set_item("label", o.label())?;
    Ok(d)
}

fn wait_dict<'py>(py: Python<'py>, w: &diagnostics::WaitInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("kind", format!("{:?}", w.kind))?;
    set_wait_items(py, &d, w.object.as_ref(), w.waited, w.timeout_in)?;
    let holder = match &w.holder {
        Some(h) => {
            let hd = thread_dict(py, &h.thread)?;
            set_held_items(&hd, h.acquired_at, h.count)?;
            Some(hd)
        }
        None => None,
    };
    d.set_item("holder", holder)?;
    d.set_item(
        "joining",
        w.joining.as_ref().map(|t| thread_dict(py, t)).transpose()?,
    )?;
    d.set_item("status", w.status.as_deref())?;
    d.set_item("site", w.site.to_string())?;
    d.set_item(
        "reacquiring_after",
        w.reacquiring_after
            .as_ref()
            .map(|o| object_dict(py, o))
            .transpose()?,
    )?;
    let last = match &w.last_signal {
        Some(l) => {
            let ld = PyDict::new(py);
            ld.set_item("thread", thread_dict(py, &l.thread)?)?;
            ld.set_item("site", l.site.to_string())?;
            ld.set_item("ago", l.ago.as_secs_f64())?;
            Some(ld)
        }
        None => None,
    };
    d.set_item("last_signal", last)?;
    d.set_item("seq", w.seq)?;
    Ok(d)
}

/// A lock a thread holds, as a dict.
fn held_dict<'py>(py: Python<'py>, h: &diagnostics::HeldInfo) -> PyResult<Bound<'py, PyDict>> {
    let hd = PyDict::new(py);
    hd.set_item("object", object_dict(py, &h.object)?)?;
    set_held_items(&hd, h.acquired_at, h.count)?;
    hd.set_item("held_for", h.held_for.map(|d| d.as_secs_f64()))?;
    hd.set_item("contended_for", h.contended_for.as_secs_f64())?;
    hd.set_item("waiters", h.waiters)?;
    Ok(hd)
}

fn link_dict<'py>(py: Python<'py>, l: &diagnostics::DeadlockLink) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("thread", thread_dict(py, &l.thread)?)?;
    d.set_item("kind", format!("{:?}", l.kind))?;
    set_wait_items(py, &d, l.object.as_ref(), l.waited, l.timeout_in)?;
    d.set_item("waiting_at", l.waiting_at.to_string())?;
    d.set_item("waits_for", thread_dict(py, &l.waits_for)?)?;
    d.set_item("held_since", site_str(l.held_since))?;
    d.set_item(
        "reacquiring_after",
        l.reacquiring_after
            .as_ref()
            .map(|o| object_dict(py, o))
            .transpose()?,
    )?;
    d.set_item("seq", l.seq)?;
    Ok(d)
}

/// One deadlock: threads each waiting for something the next holds. `str()` is the report.
#[pyclass(module = "threadkit", name = "Deadlock", frozen)]
pub(crate) struct PyDeadlock {
    pub(super) inner: Deadlock,
}

#[pymethods]
impl PyDeadlock {
    /// The links of the cycle, as dicts (thread, kind, object, waiting_at, waits_for,
    /// held_since, waited, timeout_in, reacquiring_after, seq).
    #[getter]
    fn links<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items: PyResult<Vec<_>> = self.inner.links.iter().map(|l| link_dict(py, l)).collect();
        PyList::new(py, items?)
    }

    /// The names of the threads in the cycle, in order.
    #[getter]
    fn threads(&self) -> Vec<String> {
        self.inner
            .links
            .iter()
            .map(|l| l.thread.name.to_string())
            .collect()
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!("<threadkit.Deadlock of {} threads>", self.inner.links.len())
    }
}

/// A thread dump: `str()` is the text; `threads` and `deadlocks` give structured access.
#[pyclass(module = "threadkit", name = "ThreadDump", frozen)]
pub(crate) struct PyThreadDump {
    pub(super) inner: ThreadDump,
}

#[pymethods]
impl PyThreadDump {
    /// One dict per thread: ident, name, native_id, daemon, state, waiting, holding.
    ///
    /// `waiting` is None or a dict: kind, object, waited and timeout_in (seconds), holder (a
    /// thread dict with acquired_at and count), joining (a thread dict, for a join),
    /// status, site (the Python line of the call), reacquiring_after (the Condition, for a
    /// waiter taking its lock back), last_signal (for an Event or Condition: who last woke its
    /// waiters, a dict of thread, site and ago in seconds; None: nobody yet) and seq (the same
    /// thread with the same seq in two dumps is one wait). `holding` lists dicts: object,
    /// acquired_at, count (an RLock's recursion count), held_for (seconds, or None when not
    /// recorded), contended_for (seconds the longest waiter has waited) and waiters.
    #[getter]
    fn threads<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for t in &self.inner.threads {
            let d = thread_dict(py, &t.thread)?;
            d.set_item("native_id", t.native_id)?;
            d.set_item("daemon", t.daemon)?;
            d.set_item("state", t.state.as_str())?;
            d.set_item(
                "waiting",
                t.waiting.as_ref().map(|w| wait_dict(py, w)).transpose()?,
            )?;
            let holding = PyList::empty(py);
            for h in &t.holding {
                holding.append(held_dict(py, h)?)?;
            }
            d.set_item("holding", holding)?;
            list.append(d)?;
        }
        Ok(list)
    }

    /// The deadlocks found at the same moment.
    #[getter]
    fn deadlocks(&self) -> Vec<PyDeadlock> {
        self.inner
            .deadlocks
            .iter()
            .map(|d| PyDeadlock { inner: d.clone() })
            .collect()
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "<threadkit.ThreadDump of {} threads>",
            self.inner.threads.len()
        )
    }
}

/// What the watchdog or the lock-order checker reports; `kind` is "deadlock", "stall",
/// "potential_deadlock" or "dump"; `str()` is the text the default hook prints.
#[pyclass(module = "threadkit", name = "Report", frozen)]
pub(crate) struct PyReport {
    pub(super) inner: Report,
}

#[pymethods]
impl PyReport {
    #[getter]
    fn kind(&self) -> &'static str {
        match &self.inner {
            Report::Deadlock(_) => "deadlock",
            Report::Stall(_) => "stall",
            Report::PotentialDeadlock(_) => "potential_deadlock",
            Report::Dump(_) => "dump",
            _ => "other",
        }
    }

    /// The deadlock, for a "deadlock" report.
    #[getter]
    fn deadlock(&self) -> Option<PyDeadlock> {
        match &self.inner {
            Report::Deadlock(d) => Some(PyDeadlock { inner: d.clone() }),
            _ => None,
        }
    }

    /// The dump, for a "dump" report.
    #[getter]
    fn dump(&self) -> Option<PyThreadDump> {
        match &self.inner {
            Report::Dump(d) => Some(PyThreadDump { inner: d.clone() }),
            _ => None,
        }
    }

    /// The stall, for a "stall" report (a `threadkit.Stall`).
    #[getter]
    fn stall(&self) -> Option<PyStall> {
        match &self.inner {
            Report::Stall(s) => Some(PyStall { inner: s.clone() }),
            _ => None,
        }
    }

    /// The lock-order report, for a "potential_deadlock" report (a
    /// `threadkit.PotentialDeadlock`).
    #[getter]
    fn potential_deadlock(&self) -> Option<PyPotentialDeadlock> {
        match &self.inner {
            Report::PotentialDeadlock(p) => Some(PyPotentialDeadlock { inner: p.clone() }),
            _ => None,
        }
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!("<threadkit.Report {}>", self.kind())
    }
}

/// A thread blocked longer than the watchdog's stall threshold. `str()` is the report.
#[pyclass(module = "threadkit", name = "Stall", frozen)]
pub(crate) struct PyStall {
    inner: Stall,
}

#[pymethods]
impl PyStall {
    /// The blocked thread: a dict of ident and name.
    #[getter]
    fn thread<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        thread_dict(py, &self.inner.thread)
    }

    /// Its wait, a dict as a dump's `waiting` (kind, object, holder, site, waited, ...).
    #[getter]
    fn wait<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        wait_dict(py, &self.inner.wait)
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!("<threadkit.Stall of {:?}>", &*self.inner.thread.name)
    }
}

/// A lock-order inversion: no thread is blocked, but the orders seen could deadlock. `str()` is
/// the report.
#[pyclass(module = "threadkit", name = "PotentialDeadlock", frozen)]
pub(crate) struct PyPotentialDeadlock {
    inner: PotentialDeadlock,
}

/// A held lock of a lock-order report: {lock, acquired_at}.
fn ordered_dict<'py>(
    py: Python<'py>,
    o: &diagnostics::OrderedLock,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("lock", object_dict(py, &o.lock)?)?;
    d.set_item("acquired_at", o.acquired_at.to_string())?;
    Ok(d)
}

#[pymethods]
impl PyPotentialDeadlock {
    /// The thread acquiring: a dict of ident and name.
    #[getter]
    fn thread<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        thread_dict(py, &self.inner.thread)
    }

    /// The lock it is acquiring (an object dict).
    #[getter]
    fn acquiring<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        object_dict(py, &self.inner.acquiring)
    }

    /// Where it is acquiring it (the Python line).
    #[getter]
    fn site(&self) -> String {
        self.inner.site.to_string()
    }

    /// Whether the acquire is timed (it would give up rather than hang for ever).
    #[getter]
    fn timed(&self) -> bool {
        self.inner.timed
    }

    /// Every lock the thread holds, oldest first: dicts of lock and acquired_at.
    #[getter]
    fn held<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items: PyResult<Vec<_>> = self
            .inner
            .held
            .iter()
            .map(|o| ordered_dict(py, o))
            .collect();
        PyList::new(py, items?)
    }

    /// The held lock whose order with `acquiring` closes the cycle (lock, acquired_at).
    #[getter]
    fn closing<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        ordered_dict(py, &self.inner.closing)
    }

    /// The recorded orders acquiring -> ... -> closing's lock, each a dict: from, to (object
    /// dicts), thread (the first thread that took them in that order), from_site, to_site.
    #[getter]
    fn chain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for e in &self.inner.chain {
            let d = PyDict::new(py);
            d.set_item("from", object_dict(py, &e.from)?)?;
            d.set_item("to", object_dict(py, &e.to)?)?;
            d.set_item("thread", thread_dict(py, &e.thread)?)?;
            d.set_item("from_site", e.from_site.to_string())?;
            d.set_item("to_site", e.to_site.to_string())?;
            list.append(d)?;
        }
        Ok(list)
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "<threadkit.PotentialDeadlock acquiring {}>",
            self.inner.acquiring.label()
        )
    }
}

/// Registers the classes.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyThreadDump>()?;
    m.add_class::<PyDeadlock>()?;
    m.add_class::<PyReport>()?;
    m.add_class::<PyStall>()?;
    m.add_class::<PyPotentialDeadlock>()?;
    Ok(())
}
