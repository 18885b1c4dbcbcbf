//! Where a call from Python comes from: the file and line of the calling Python frame (skipping
//! threadkit's own package), the calling thread's `threading` name, and running a call into
//! threadkit with that line as its call site (`threadkit::diagnostics::with_call_site`).
//! `diag.rs` builds the Python-facing diagnostics on these.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;

use pyo3::prelude::*;
use pyo3::types::PyString;
use pyo3::{ffi, intern};
use threadkit::diagnostics::{self, Diagnosable, LockOrderMode, Site};

/// The directory of the `threadkit` Python package: frames there are skipped when looking for
/// the user's line.
pub(crate) static PACKAGE_DIR: OnceLock<String> = OnceLock::new();

// Not in the limited API, but exported by every CPython this extension supports (3.11+; a
// public function of the full C API, `cpython/pyframe.h`): the frame's last instruction offset.
extern "C" {
    fn PyFrame_GetLasti(frame: *mut ffi::PyFrameObject) -> std::os::raw::c_int;
}

/// The file and line of the innermost Python frame outside threadkit's own package.
///
/// Cost (every blocking call, every object creation, every acquire while holder sites or the
/// lock-order checker are on): the frame, its code object and instruction offset through the C
/// API, and a per-thread cache keyed by `(code object, offset)`: a call made again from the
/// same place (a loop, a function called again) finds its site there, without computing the
/// line number (a walk of the code's line table) or reading `co_filename`. On a miss, the frame
/// walk of [`site_of_frames`].
pub(crate) fn python_site(py: Python<'_>) -> Option<Site> {
    // SAFETY: called with the GIL held (a `Python` token); returns a borrowed reference to the
    // current thread's frame, or null when no Python code is running.
    let frame = unsafe { ffi::PyEval_GetFrame() };
    if frame.is_null() {
        return None;
    }
    // SAFETY: a non-null borrowed reference to a live frame object, turned into an owned one.
    let frame = unsafe { Bound::from_borrowed_ptr(py, frame.cast()) };
    // SAFETY: `frame` is a frame object; the call returns a new reference to its code object.
    let code = unsafe { ffi::PyFrame_GetCode(frame.as_ptr().cast()) };
    if code.is_null() {
        return None;
    }
    // SAFETY: a new, non-null reference.
    let code = unsafe { Bound::<PyAny>::from_owned_ptr(py, code.cast()) };
    // SAFETY: `frame` is a frame object and the GIL is held.
    let lasti = unsafe { PyFrame_GetLasti(frame.as_ptr().cast()) };
    let key = (code.as_ptr() as usize, lasti);
    if let Some(site) = frame_site(key) {
        return Some(site);
    }
    let (site, innermost) = site_of_frames(py, frame)?;
    // Only a site found in this very frame depends on nothing but (code, offset): one found
    // further out depends on the caller, so it is not cached by this frame.
    if innermost {
        cache_frame_site(key, code.unbind(), site);
    }
    Some(site)
}

/// The walk from `frame` outwards to the first frame outside threadkit's package; whether that
/// was `frame` itself.
fn site_of_frames<'py>(py: Python<'py>, mut frame: Bound<'py, PyAny>) -> Option<(Site, bool)> {
    let own = PACKAGE_DIR.get();
    for depth in 0..32 {
        // SAFETY: `frame` is a frame object (from PyEval_GetFrame or a frame's f_back); the
        // call returns a new reference to its code object.
        let code = unsafe { ffi::PyFrame_GetCode(frame.as_ptr().cast()) };
        if code.is_null() {
            return None;
        }
        // SAFETY: a new, non-null reference.
        let code = unsafe { Bound::from_owned_ptr(py, code.cast()) };
        let file = code
            .getattr(intern!(py, "co_filename"))
            .ok()?
            .cast_into::<PyString>()
            .ok()?;
        let text = file.to_str().ok()?;
        if !own.is_some_and(|dir| text.starts_with(dir.as_str())) {
            // SAFETY: `frame` is a frame object and the GIL is held.
            let line = unsafe { ffi::PyFrame_GetLineNumber(frame.as_ptr().cast()) };
            return Some((cached_site(&file, text, line.max(0) as u32), depth == 0));
        }
        frame = frame.getattr(intern!(py, "f_back")).ok()?;
        if frame.is_none() {
            return None;
        }
    }
    None
}

/// A per-thread direct-mapped cache: `(code object address, instruction offset) -> site`. Each
/// entry keeps its code object alive, so the address it is keyed by is not reused by another
/// code object while the entry stands.
///
/// So each thread keeps up to `FRAME_CACHE` (128) code objects alive until their entries are
/// evicted or the thread exits: their finalisation (weakref callbacks, `co_extra` frees) and
/// the release of what they hold (constants) are delayed until then.
///
/// Dropping an evicted code object may run arbitrary Python (a weakref callback, a `co_extra`
/// free function) that creates or waits on a threadkit object and so comes back here: the
/// cache is never borrowed while a Python object is dropped (the evicted entry is dropped after
/// the borrow ends), and a busy cache is a miss (`try_borrow`), never a panic.
const FRAME_CACHE: usize = 128;

type FrameKey = (usize, i32);
type FrameEntry = Option<(FrameKey, Py<PyAny>, Site)>;

thread_local! {
    static FRAME_SITES: std::cell::RefCell<Vec<FrameEntry>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn frame_slot((code, lasti): FrameKey) -> usize {
    ((code >> 4) ^ (lasti as usize).wrapping_mul(0x9E37_79B9)) % FRAME_CACHE
}

fn frame_site(key: FrameKey) -> Option<Site> {
    FRAME_SITES
        .try_with(|c| match c.try_borrow().ok()?.get(frame_slot(key)) {
            Some(Some((k, _, site))) if *k == key => Some(*site),
            _ => None,
        })
        .ok()
        .flatten()
}

/// Caches `site` for `key` (called with the GIL held). The entry it replaces is dropped after
/// the cache's borrow ends, since dropping its code object may run Python that re-enters the
/// cache; a busy cache (re-entered from such Python) caches nothing.
fn cache_frame_site(key: FrameKey, code: Py<PyAny>, site: Site) {
    let evicted = FRAME_SITES.try_with(|c| {
        let Ok(mut c) = c.try_borrow_mut() else {
            return Some((key, code, site));
        };
        if c.len() < FRAME_CACHE {
            c.resize_with(FRAME_CACHE, || None);
        }
        c[frame_slot(key)].replace((key, code, site))
    });
    // The borrow has ended: dropping the evicted (or uncached) code object may run Python.
    drop(evicted);
}

/// Per-thread cache of recent sites: `(filename object, line) -> site`. Each entry keeps its
/// filename string alive, so the address it is keyed by cannot be reused by another string.
const SITE_CACHE: usize = 64;

type SiteEntry = Option<(usize, u32, Py<PyString>, Site)>;

thread_local! {
    static SITES: std::cell::RefCell<Vec<SiteEntry>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn cached_site(file: &Bound<'_, PyString>, text: &str, line: u32) -> Site {
    let key = file.as_ptr() as usize;
    let slot = (key >> 4).wrapping_mul(31).wrapping_add(line as usize) % SITE_CACHE;
    let hit = SITES
        .try_with(|c| match c.try_borrow().ok()?.get(slot) {
            Some(Some((k, l, _, site))) if *k == key && *l == line => Some(*site),
            _ => None,
        })
        .ok()
        .flatten();
    if let Some(site) = hit {
        return site;
    }
    let site = Site::foreign(text, line);
    // As for the frame cache: a busy cache caches nothing, and the evicted entry is dropped
    // after the borrow ends.
    let evicted = SITES.try_with(|c| {
        let mut c = c.try_borrow_mut().ok()?;
        if c.len() < SITE_CACHE {
            c.resize_with(SITE_CACHE, || None);
        }
        c[slot].replace((key, line, file.clone().unbind(), site))
    });
    drop(evicted);
    site
}

thread_local! {
    /// Whether this thread's `threading` name has been given to threadkit.
    static NAMED: Cell<bool> = const { Cell::new(false) };
}

/// Registers the calling Python thread with threadkit under its `threading` name (once per
/// thread; a later rename shows in dumps taken with `threadkit.dump()`, which refreshes names).
pub(crate) fn name_thread(py: Python<'_>) {
    if cfg!(threadkit_py_mutant = "no_thread_names") {
        return;
    }
    if NAMED.with(|n| n.replace(true)) {
        return;
    }
    let name = py
        .import("threading")
        .and_then(|t| t.call_method0("current_thread"))
        .and_then(|t| t.getattr("name"))
        .and_then(|n| n.extract::<String>());
    if let Ok(name) = name {
        let me = threadkit::current_thread();
        if *me.name() != *name {
            me.set_name(name);
        }
    }
}

/// The calling Python line, with the thread registered under its Python name: what a call
/// into threadkit that will be recorded runs with.
pub(crate) fn enter(py: Python<'_>) -> Option<Site> {
    name_thread(py);
    python_site(py)
}

/// Whether every acquire of a lock records a site: holder sites on, or the lock-order checker
/// armed (`python -m threadkit` turns both on). Off, the uncontended acquire pays two relaxed
/// loads and looks at no Python frame.
#[inline]
pub(crate) fn tracking() -> bool {
    diagnostics::holder_sites() || lock_order_armed()
}

/// Whether the lock-order checker is armed: then acquires must go through the blocking path,
/// where the order is checked (a non-blocking try is never checked).
#[inline]
pub(crate) fn lock_order_armed() -> bool {
    diagnostics::lock_order_mode() != LockOrderMode::Off
}

/// Runs `f` with `site` as threadkit's call site (nothing when `None`).
#[inline]
pub(crate) fn with_site<R>(site: Option<Site>, f: impl FnOnce() -> R) -> R {
    if cfg!(threadkit_py_mutant = "no_call_site") {
        return f();
    }
    match site {
        Some(s) => diagnostics::with_call_site(s, f),
        None => f(),
    }
}

thread_local! {
    /// Inside [`checked`]: a lock-order panic here becomes an exception, so the panic hook must
    /// not print it.
    static CHECKING: Cell<bool> = const { Cell::new(false) };
}

/// Whether a panic message is the lock-order checker's (mode 'panic').
fn is_lock_order_panic(text: &str) -> bool {
    text.starts_with("PotentialDeadlock")
}

/// Wraps the process's panic hook so that the lock-order panics [`checked`] turns into
/// `PotentialDeadlockError` are not also printed as Rust panics; every other panic goes to the
/// previous hook.
pub(crate) fn quiet_lock_order_panics() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let checking = CHECKING.try_with(Cell::get).unwrap_or(false);
        let payload = info.payload();
        let text = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        if checking && text.is_some_and(is_lock_order_panic) {
            return;
        }
        previous(info);
    }));
}

/// Runs a blocking attempt, turning a lock-order panic (mode 'panic') into the error it stands
/// for; any other panic goes on unwinding.
pub(crate) fn checked<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = CHECKING.try_with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(CHECKING.try_with(|c| c.replace(true)).unwrap_or(false));
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Ok(r),
        Err(payload) => {
            let text = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()));
            match text {
                Some(t)
                    if is_lock_order_panic(&t) && !cfg!(threadkit_py_mutant = "no_order_error") =>
                {
                    Err(t)
                }
                _ => panic::resume_unwind(payload),
            }
        }
    }
}

/// Gives a primitive created from Python its Python creation site.
pub(crate) fn created<T: Diagnosable>(py: Python<'_>, obj: &T) -> Option<Site> {
    if cfg!(threadkit_py_mutant = "no_created_site") {
        return None;
    }
    let site = python_site(py);
    if let Some(s) = site {
        obj.set_created_at(s);
    }
    site
}
