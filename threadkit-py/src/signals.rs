//! How a blocked main thread learns that a signal arrived, without waking up on a timer.
//!
//! Python runs signal handlers only in the main thread, between bytecodes: a main thread
//! parked in a threadkit wait must be woken for them. CPython's C-level signal handler writes
//! the signal number to the *wakeup fd* (`signal.set_wakeup_fd`) for every signal that has a
//! Python handler. While the main thread waits, the extension's own pipe is that fd, and a
//! watcher thread ("threadkit-signal-watcher", started on the first such wait) blocks reading
//! it; for each byte it interrupts the main thread's wait (`threadkit::interrupt`), which
//! returns as if timed out, runs the handlers ([`crate::wait::after_slice`]) and waits on, with
//! the rest of its timeout, unless a handler raised (`KeyboardInterrupt`).
//!
//! The fd is ours only for the duration of one blocking main-thread wait ([`WakeupFd`]):
//! `set_wakeup_fd` returns the fd it replaces (asyncio's or trio's, while their loop runs), the
//! watcher forwards every byte to it while ours is installed, and the wait puts it back when it
//! ends, however it ends. Differences from leaving the fd alone, all documented in the README:
//! the old fd's `warn_on_full_buffer` setting becomes `True` after a wait (Python cannot read
//! it back); bytes the old fd cannot take (full buffer) are dropped silently; a handler that
//! calls `set_wakeup_fd` during the wait keeps its choice ([`WakeupFd::reclaim`]); and where
//! `set_wakeup_fd` refuses (a sub-interpreter was the first to import the extension) or the
//! watcher's pipe was closed under it (`os.closerange`), waits fall back to 50 ms slices with
//! the signal handlers run between them, as before.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use threadkit::interrupt::{self, Interrupter};

/// How long a main-thread wait sleeps before it looks for signals where it cannot be woken for
/// them (the fallback path).
pub(crate) const SIGNAL_SLICE: Duration = Duration::from_millis(50);

/// The longest single park of a main-thread wait with no deadline (re-armed after it): far
/// enough that it never wakes in practice, near enough for any `Instant`.
const FAR: Duration = Duration::from_secs(24 * 3600);

/// How long one park of a main-thread wait may last: with the wakeup fd installed (`woken`),
/// until the deadline (a signal interrupts it); without, a slice.
pub(crate) fn park_span(woken: bool) -> Duration {
    if woken {
        FAR
    } else {
        SIGNAL_SLICE
    }
}

/// Set when the wakeup fd cannot be used (no pipe, no thread, `set_wakeup_fd` refused, the
/// watcher dead): every later main-thread wait slices.
static FALLBACK: AtomicBool = AtomicBool::new(false);

/// The running watcher (null until the first main-thread wait). Leaked: the watcher thread reads
/// it for the life of the process, and a forked child, where that thread does not exist,
/// replaces it with its own ([`after_fork_in_child`]).
static WATCHER: AtomicPtr<Watcher> = AtomicPtr::new(std::ptr::null_mut());

/// `signal.set_wakeup_fd`, looked up once.
static SET_WAKEUP_FD: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

struct Watcher {
    /// Our pipe: the watcher reads `rfd`; `wfd` is the wakeup fd while a wait has it installed.
    /// Both non-blocking (CPython requires it of `wfd`; `rfd` is polled, and drained by the
    /// main thread).
    rfd: i32,
    wfd: i32,
    main: Interrupter,
    /// Taken by the watcher for each batch of bytes it reads, by the main thread to record
    /// the replaced fd and drain the pipe: a byte is forwarded to exactly the fd that was
    /// replaced. No Python code runs under it (a hook or handler could wait in threadkit and
    /// come back here): the `set_wakeup_fd` calls happen outside, and bytes read while the
    /// main thread installs the fd (`old` is [`INSTALLING`]) are kept here until it knows
    /// which fd they belong to.
    lock: Mutex<Vec<u8>>,
    /// The watcher stopped for good (our pipe was closed under us, e.g. by `os.closerange`):
    /// every later wait slices, and a wait that had the fd installed is interrupted to do so.
    dead: AtomicBool,
    /// A main-thread wait has our fd installed (written under `lock`).
    active: AtomicBool,
    /// The fd ours replaced (-1: none), which gets every byte while ours is installed (written
    /// under `lock`; atomic so that a forked child can read it without the lock).
    old: AtomicI32,
}

/// `Watcher::old` while the main thread is between its `set_wakeup_fd` call and recording
/// what it returned: the watcher keeps the bytes it reads for the main thread to forward.
const INSTALLING: i32 = -2;

fn locked(w: &Watcher) -> std::sync::MutexGuard<'_, Vec<u8>> {
    crate::diag::locked(&w.lock)
}

/// The watcher, started from the main thread on first use (`None`: cannot be, fall back).
#[cfg(unix)]
fn watcher() -> Option<&'static Watcher> {
    let p = WATCHER.load(Ordering::Acquire);
    if !p.is_null() {
        // SAFETY: non-null pointers in WATCHER come from Box::leak and are never freed.
        return Some(unsafe { &*p });
    }
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return None;
    }
    let w: &'static Watcher = Box::leak(Box::new(Watcher {
        rfd: fds[0],
        wfd: fds[1],
        main: Interrupter::current(),
        lock: Mutex::new(Vec::new()),
        dead: AtomicBool::new(false),
        active: AtomicBool::new(false),
        old: AtomicI32::new(-1),
    }));
    // The watcher blocks every signal, so none is delivered to it (it has no use for them);
    // blocked here, around the spawn, so that it is born with the mask.
    // SAFETY: sigset_t is plain data; sigfillset and pthread_sigmask get valid pointers.
    let spawned = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut before: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut before);
        let spawned = std::thread::Builder::new()
            .name("threadkit-signal-watcher".into())
            .spawn(move || watch(w));
        libc::pthread_sigmask(libc::SIG_SETMASK, &before, std::ptr::null_mut());
        spawned
    };
    if spawned.is_err() {
        // SAFETY: our own fds, used by nobody else.
        unsafe {
            libc::close(w.rfd);
            libc::close(w.wfd);
        }
        return None;
    }
    WATCHER.store(w as *const Watcher as *mut Watcher, Ordering::Release);
    Some(w)
}

#[cfg(not(unix))]
fn watcher() -> Option<&'static Watcher> {
    None
}

/// The watcher thread: waits for bytes, forwards them to the replaced fd and interrupts the
/// main thread's wait.
#[cfg(unix)]
fn watch(w: &'static Watcher) {
    let mut buf = [0u8; 64];
    loop {
        let mut pfd = libc::pollfd {
            fd: w.rfd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, -1) };
        if r < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return die(w);
        }
        if pfd.revents & (libc::POLLNVAL | libc::POLLERR) != 0 {
            // Our fd was closed under us (POLLNVAL): never poll or read that number again
            // (it may be reused by a pipe that is none of ours).
            return die(w);
        }
        if !WATCHER
            .load(Ordering::Acquire)
            .eq(&(w as *const Watcher as *mut Watcher))
        {
            // Unreachable in practice (a forked child has no copy of this thread).
            return;
        }
        let mut stash = locked(w);
        // The main thread may have drained the pipe since the poll: EAGAIN, poll again.
        let Some(n) = read_some(w.rfd, &mut buf) else {
            // End of file (our write end closed under us) or EBADF: as POLLNVAL.
            drop(stash);
            return die(w);
        };
        if n == 0 {
            continue;
        }
        let old = w.old.load(Ordering::Relaxed);
        if old == INSTALLING {
            stash.extend_from_slice(&buf[..n]);
        } else if old >= 0 && !cfg!(threadkit_py_mutant = "no_forward") {
            forward(old, &buf[..n]);
        }
        if w.active.load(Ordering::Relaxed) {
            w.main.interrupt();
        }
    }
}

/// The watcher cannot go on (its pipe is gone): marks it dead, so that waits slice from now
/// on, and interrupts a wait that relies on it.
#[cfg(unix)]
fn die(w: &Watcher) {
    w.dead.store(true, Ordering::SeqCst);
    if w.active.load(Ordering::SeqCst) {
        w.main.interrupt();
    }
}

/// Reads what `fd` (non-blocking) has, up to `buf`'s length: `Some(0)` if nothing now
/// (EAGAIN), `None` at end of file or on any other error (the fd is not ours any more).
fn read_some(fd: i32, buf: &mut [u8]) -> Option<usize> {
    loop {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            return Some(n as usize);
        }
        if n == 0 {
            return None;
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return Some(0),
            _ => return None,
        }
    }
}

/// Reads everything our pipe holds now and forwards it to `to` (none if negative).
fn drain(w: &Watcher, to: i32) {
    if w.dead.load(Ordering::SeqCst) {
        // The numbers may belong to someone else now.
        return;
    }
    let mut buf = [0u8; 64];
    while let Some(n @ 1..) = read_some(w.rfd, &mut buf) {
        if to >= 0 {
            forward(to, &buf[..n]);
        }
    }
}

/// Writes `bytes` to the replaced wakeup fd as CPython's handler would have (non-blocking; a
/// full buffer drops them, as CPython does with `warn_on_full_buffer=False`).
fn forward(fd: i32, bytes: &[u8]) {
    // SAFETY: `bytes` is valid for its length; a bad fd is an error return, nothing more.
    unsafe {
        libc::write(fd, bytes.as_ptr().cast(), bytes.len());
    }
}

/// Our pipe installed as Python's wakeup fd for one main-thread wait; dropping it puts the
/// replaced fd back (with the GIL, which the main thread holds outside its parks).
pub(crate) struct WakeupFd {
    watcher: &'static Watcher,
    /// A wait inside a signal handler run by another wait: the outer one owns the fd.
    nested: bool,
}

impl WakeupFd {
    /// Installs the wakeup fd, starting the watcher on first use; `None` where it cannot (the
    /// caller slices instead). Then clears a stale interrupt and runs the handlers of signals
    /// that arrived before the fd was ours (their bytes went elsewhere): from here on, every
    /// signal with a Python handler wakes the wait.
    ///
    /// # Errors
    ///
    /// What a signal handler raises (`KeyboardInterrupt`); the fd is restored first.
    pub(crate) fn install(py: Python<'_>) -> PyResult<Option<WakeupFd>> {
        if FALLBACK.load(Ordering::Relaxed) || cfg!(threadkit_py_mutant = "slice_wait") {
            return Ok(None);
        }
        // Looked up (`import signal` on first use) before any lock is taken: Python code that
        // runs here may wait in threadkit.
        let set = set_wakeup_fd(py)?;
        let Some(watcher) = watcher() else {
            FALLBACK.store(true, Ordering::Relaxed);
            return Ok(None);
        };
        if watcher.dead.load(Ordering::SeqCst) {
            FALLBACK.store(true, Ordering::Relaxed);
            return Ok(None);
        }
        // Only the main thread writes `active` and `old`.
        let nested = watcher.active.load(Ordering::Relaxed);
        if !nested {
            watcher.old.store(INSTALLING, Ordering::Relaxed);
            let replaced = set_fd(py, set, watcher.wfd);
            let mut stash = locked(watcher);
            let pending = std::mem::take(&mut *stash);
            match replaced {
                Ok(old) => {
                    let old = if old == watcher.wfd { -1 } else { old };
                    watcher.old.store(old, Ordering::Relaxed);
                    watcher.active.store(true, Ordering::Relaxed);
                    // Bytes the watcher read before `old` was known belong to it.
                    if old >= 0 && !pending.is_empty() {
                        forward(old, &pending);
                    }
                    drop(stash);
                }
                Err(e) => {
                    watcher.old.store(-1, Ordering::Relaxed);
                    drop(stash);
                    if e.is_instance_of::<PyValueError>(py) {
                        // Not the main thread of the main interpreter, as Python sees it.
                        FALLBACK.store(true, Ordering::Relaxed);
                        return Ok(None);
                    }
                    return Err(e);
                }
            }
        }
        let guard = WakeupFd { watcher, nested };
        if !guard.nested {
            interrupt::take();
        }
        py.check_signals()?;
        while guard.reclaim(py)? {
            py.check_signals()?;
        }
        Ok(Some(guard))
    }

    /// Whether the fd is still installed and watched (false in a child forked during the wait:
    /// the caller installs it again).
    pub(crate) fn is_current(&self) -> bool {
        std::ptr::eq(WATCHER.load(Ordering::Acquire), self.watcher)
    }

    /// Whether the watcher stopped for good (its pipe was closed under it): the caller drops
    /// this and slices.
    pub(crate) fn is_dead(&self) -> bool {
        self.watcher.dead.load(Ordering::SeqCst)
    }

    /// After signal handlers ran: makes our pipe the wakeup fd again if a handler replaced it
    /// (`signal.set_wakeup_fd`), so that the wait stays wakeable. The handler's choice is what
    /// the wait puts back when it ends, and what gets the bytes meanwhile (nothing, if it gave
    /// the fd up), as if the wait were not there. Returns whether a handler had replaced it
    /// (signals that arrived meanwhile went to the handler's fd: the caller runs the handlers
    /// again).
    ///
    /// # Errors
    ///
    /// What `set_wakeup_fd` raises (nothing in practice: our fd is valid).
    pub(crate) fn reclaim(&self, py: Python<'_>) -> PyResult<bool> {
        if self.nested
            || !self.is_current()
            || self.is_dead()
            || cfg!(threadkit_py_mutant = "no_reclaim")
        {
            return Ok(false);
        }
        let w = self.watcher;
        let set = set_wakeup_fd(py)?;
        let replaced = set_fd(py, set, w.wfd)?;
        if replaced == w.wfd {
            return Ok(false);
        }
        let _stash = locked(w);
        w.old.store(replaced, Ordering::Relaxed);
        Ok(true)
    }
}

/// `signal.set_wakeup_fd(fd, warn_on_full_buffer=False)`: the fd it replaces.
fn set_fd(py: Python<'_>, set: &Py<PyAny>, fd: i32) -> PyResult<i32> {
    let kwargs = PyDict::new(py);
    kwargs.set_item("warn_on_full_buffer", false)?;
    set.call(py, (fd,), Some(&kwargs))?.extract::<i32>(py)
}

impl Drop for WakeupFd {
    fn drop(&mut self) {
        if self.nested || !self.is_current() || cfg!(threadkit_py_mutant = "no_restore") {
            return;
        }
        Python::attach(|py| {
            let w = self.watcher;
            let old = w.old.load(Ordering::Relaxed);
            // No lock held here: `set_wakeup_fd` and `sys.unraisablehook` are Python code.
            let mut failed = None;
            let mut to = old;
            match set_wakeup_fd(py).and_then(|set| Ok((set, set.call1(py, (old,))?))) {
                Ok((set, replaced)) => match replaced.extract::<i32>(py) {
                    Ok(fd) if fd != w.wfd => {
                        // A handler replaced our fd after the wait's last look (then raised):
                        // its choice stands, and the old fd gets nothing more.
                        to = -1;
                        if let Err(e) = set.call1(py, (fd,)) {
                            failed = Some(e);
                            let _ = set.call1(py, (-1,));
                        }
                    }
                    _ => {}
                },
                Err(e) => {
                    // The old fd went bad meanwhile (closed): leave none rather than ours.
                    failed = Some(e);
                    to = -1;
                    if let Ok(set) = set_wakeup_fd(py) {
                        let _ = set.call1(py, (-1,));
                    }
                }
            }
            let locked = locked(w);
            // Bytes the watcher has not read yet belong to the replaced fd.
            drain(w, to);
            w.active.store(false, Ordering::Relaxed);
            w.old.store(-1, Ordering::Relaxed);
            drop(locked);
            if let Some(e) = failed {
                e.write_unraisable(py, None);
            }
            // An interrupt raised for this wait after its last look must not end the thread's
            // next timed wait early.
            interrupt::take();
        });
    }
}

fn set_wakeup_fd(py: Python<'_>) -> PyResult<&Py<PyAny>> {
    SET_WAKEUP_FD.get_or_try_init(py, || {
        Ok(py.import("signal")?.getattr("set_wakeup_fd")?.unbind())
    })
}

/// In a forked child: the watcher thread is not there, and its pipe is shared with the
/// parent's. Forget it (a child's first main-thread wait starts its own), and if the fork
/// happened while the parent's main thread had our fd installed, give the child's interpreter
/// back the fd it replaced.
pub(crate) fn after_fork_in_child(py: Python<'_>) {
    if cfg!(threadkit_py_mutant = "no_fork_reset") {
        return;
    }
    let p = WATCHER.swap(std::ptr::null_mut(), Ordering::AcqRel);
    if p.is_null() {
        return;
    }
    // SAFETY: non-null pointers in WATCHER come from Box::leak and are never freed.
    let w = unsafe { &*p };
    // The lock may have been held by the parent's watcher at the fork: read without it (the
    // threads that write these do not exist in the child).
    if w.active.load(Ordering::Relaxed) {
        if let Ok(set) = set_wakeup_fd(py) {
            let old = w.old.load(Ordering::Relaxed).max(-1);
            if set.call1(py, (old,)).is_err() {
                // Never leave the fd we are about to close installed.
                let _ = set.call1(py, (-1,));
            }
        }
    }
    // SAFETY: the child's copies of the old pipe; nothing in the child uses them any more.
    unsafe {
        libc::close(w.rfd);
        libc::close(w.wfd);
    }
}
