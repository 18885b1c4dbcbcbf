//! Forking a child that must not hang: an alarm (2 s unless asked otherwise) ends it with
//! [`HUNG`]. The driver of the fork tests, and (through a `#[path]` module) of the library's
//! own fork unit tests (`src/thread/fork/tests.rs`).

/// What a child exits with when its alarm fires: it hung.
pub(crate) const HUNG: i32 = 3;

/// Forks, runs `child` in the child with a 2 s alarm, and returns the child's exit status
/// (`HUNG` if the alarm fired; 0 if `child` returned; 1 if it panicked).
pub(crate) fn in_forked_child(child: impl FnOnce()) -> i32 {
    in_forked_child_within(2, child)
}

/// [`in_forked_child`] with an alarm of `seconds`.
pub(crate) fn in_forked_child_within(seconds: u32, child: impl FnOnce()) -> i32 {
    // SAFETY: the child calls only `child` (which allocates and makes system calls, as the
    // code under test must be able to after a fork: that is what is tested) and `_exit`; the
    // alarm handler calls only `_exit`, which is async-signal-safe.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        extern "C" fn on_alarm(_: libc::c_int) {
            // SAFETY: `_exit` is async-signal-safe.
            unsafe { libc::_exit(HUNG) };
        }
        // SAFETY: installs an async-signal-safe handler, then arms the alarm.
        unsafe {
            libc::signal(libc::SIGALRM, on_alarm as *const () as libc::sighandler_t);
            libc::alarm(seconds);
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child));
        if let Err(payload) = &result {
            // The panic hook may stay silent (threadkit's defers a target's panic to the
            // excepthook, which this `catch_unwind` pre-empts): say why the child failed.
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(not a string)");
            eprintln!("forked child panicked: {message}");
        }
        // SAFETY: `_exit` ends the child without running the parent's inherited exit handlers
        // or destructors.
        unsafe { libc::_exit(if result.is_ok() { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked; `status` is a valid out-pointer.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(rc, pid, "waitpid failed");
    assert!(
        libc::WIFEXITED(status),
        "child ended by a signal: {status:#x}"
    );
    libc::WEXITSTATUS(status)
}
