//! The errors of starting, joining and configuring a [`Thread`](super::Thread).

use std::fmt;

#[cfg(doc)]
use super::Thread;

/// The error returned by [`Thread::start`].
#[non_exhaustive]
pub enum StartError {
    /// The thread was started before (Python: `RuntimeError: threads can only be started once`).
    AlreadyStarted,
    /// The OS could not create the thread (Python: `RuntimeError: can't start new thread`).
    Os(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::AlreadyStarted => f.write_str("threads can only be started once"),
            StartError::Os(e) => write!(f, "can't start new thread: {e}"),
        }
    }
}

impl fmt::Debug for StartError {
    /// The variant and CPython's message, so that `main() -> Result` prints the message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::AlreadyStarted => f
                .debug_tuple("AlreadyStarted")
                .field(&self.to_string())
                .finish(),
            StartError::Os(e) => f.debug_tuple("Os").field(e).finish(),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Os(e) => Some(e),
            StartError::AlreadyStarted => None,
        }
    }
}

/// The error returned by [`Thread::join`] and its timed variants.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinError {
    /// The thread was never started.
    NotStarted,
    /// A thread cannot join itself: it would wait forever.
    CurrentThread,
    /// The thread was not started by threadkit, so there is nothing to wait for.
    Dummy,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JoinError::NotStarted => "cannot join thread before it is started",
            JoinError::CurrentThread => "cannot join current thread",
            JoinError::Dummy => "cannot join a dummy thread",
        })
    }
}

impl fmt::Debug for JoinError {
    /// The variant and CPython's message, so that `main() -> Result` prints the message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let variant = match self {
            JoinError::NotStarted => "NotStarted",
            JoinError::CurrentThread => "CurrentThread",
            JoinError::Dummy => "Dummy",
        };
        f.debug_tuple(variant).field(&self.to_string()).finish()
    }
}

impl std::error::Error for JoinError {}

/// The error returned by [`Thread::set_daemon`] once the thread has started.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DaemonError(pub(super) ());

impl fmt::Debug for DaemonError {
    /// The type and its message, so that `main() -> Result` prints what CPython would.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DaemonError")
            .field(&self.to_string())
            .finish()
    }
}

impl fmt::Display for DaemonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot set daemon status of active thread")
    }
}

impl std::error::Error for DaemonError {}
