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
//! it back); bytes the old fd cannot take (full buffer) are dropped silently; and where
//! `set_wakeup_fd` refuses (a sub-interpreter, a non-Unix platform) the wait falls back to
//! 50 ms slices with the signal handlers run between them, as before.

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

/// Takes the calling thread's interrupt (see `threadkit::interrupt::take`).
pub(crate) fn take_interrupt() -> bool {
    interrupt::take()
}

/// Set when the wakeup fd cannot be used (no pipe, no thread, `set_wakeup_fd` refused): every
/// later main-thread wait slices.
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
    /// Taken by the watcher for each batch of bytes it reads, by the main thread to install
    /// and restore the fd: a byte is forwarded to exactly the fd that was replaced.
    lock: Mutex<()>,
    /// A main-thread wait has our fd installed (written under `lock`).
    active: AtomicBool,
    /// The fd ours replaced (-1: none), which gets every byte while ours is installed (written
    /// under `lock`; atomic so that a forked child can read it without the lock).
    old: AtomicI32,
}

fn locked(w: &Watcher) -> std::sync::MutexGuard<'_, ()> {
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
        lock: Mutex::new(()),
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
            return;
        }
        if !WATCHER
            .load(Ordering::Acquire)
            .eq(&(w as *const Watcher as *mut Watcher))
        {
            // Unreachable in practice (a forked child has no copy of this thread).
            return;
        }
        let _locked = locked(w);
        // The main thread may have drained the pipe since the poll: EAGAIN, poll again.
        let n = read_some(w.rfd, &mut buf);
        if n == 0 {
            continue;
        }
        let old = w.old.load(Ordering::Relaxed);
        if old >= 0 && !cfg!(threadkit_py_mutant = "no_forward") {
            forward(old, &buf[..n]);
        }
        if w.active.load(Ordering::Relaxed) {
            w.main.interrupt();
        }
    }
}

/// Reads what `fd` (non-blocking) has, up to `buf`'s length; 0 if nothing.
fn read_some(fd: i32, buf: &mut [u8]) -> usize {
    loop {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return n as usize;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 0;
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
        let Some(watcher) = watcher() else {
            FALLBACK.store(true, Ordering::Relaxed);
            return Ok(None);
        };
        let locked = locked(watcher);
        let guard = if watcher.active.load(Ordering::Relaxed) {
            WakeupFd {
                watcher,
                nested: true,
            }
        } else {
            let set = set_wakeup_fd(py)?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("warn_on_full_buffer", false)?;
            match set
                .call(py, (watcher.wfd,), Some(&kwargs))
                .and_then(|old| old.extract::<i32>(py))
            {
                Ok(old) => {
                    let old = if old == watcher.wfd { -1 } else { old };
                    watcher.old.store(old, Ordering::Relaxed);
                    watcher.active.store(true, Ordering::Relaxed);
                }
                Err(e) if e.is_instance_of::<PyValueError>(py) => {
                    // Not the main thread of the main interpreter, as Python sees it.
                    FALLBACK.store(true, Ordering::Relaxed);
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
            WakeupFd {
                watcher,
                nested: false,
            }
        };
        drop(locked);
        if !guard.nested {
            interrupt::take();
        }
        py.check_signals()?;
        Ok(Some(guard))
    }

    /// Whether the fd is still installed and watched (false in a child forked during the wait:
    /// the caller installs it again).
    pub(crate) fn is_current(&self) -> bool {
        std::ptr::eq(WATCHER.load(Ordering::Acquire), self.watcher)
    }
}

impl Drop for WakeupFd {
    fn drop(&mut self) {
        if self.nested || !self.is_current() || cfg!(threadkit_py_mutant = "no_restore") {
            return;
        }
        Python::attach(|py| {
            let w = self.watcher;
            let locked = locked(w);
            let old = w.old.load(Ordering::Relaxed);
            let restored = set_wakeup_fd(py).and_then(|set| set.call1(py, (old,)).map(drop));
            if let Err(e) = restored {
                // The old fd went bad meanwhile (closed): leave none rather than ours.
                e.write_unraisable(py, None);
                if let Ok(set) = set_wakeup_fd(py) {
                    let _ = set.call1(py, (-1,));
                }
            }
            // Bytes the watcher has not read yet belong to the replaced fd.
            let mut buf = [0u8; 64];
            loop {
                let n = read_some(w.rfd, &mut buf);
                if n == 0 {
                    break;
                }
                if old >= 0 {
                    forward(old, &buf[..n]);
                }
            }
            w.active.store(false, Ordering::Relaxed);
            w.old.store(-1, Ordering::Relaxed);
            drop(locked);
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
            let _ = set.call1(py, (w.old.load(Ordering::Relaxed),));
        }
    }
    // SAFETY: the child's copies of the old pipe; nothing in the child uses them any more.
    unsafe {
        libc::close(w.rfd);
        libc::close(w.wfd);
    }
}
