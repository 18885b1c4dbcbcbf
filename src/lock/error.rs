//! [`ReleaseError`]: Python's `RuntimeError: release unlocked lock`.

use std::fmt;

/// The error returned by [`Lock::release`](crate::Lock::release) when the lock is not locked.
///
/// Python raises `RuntimeError: release unlocked lock`.
///
/// # Examples
///
/// ```
/// let err = threadkit::Lock::new().release().unwrap_err();
/// assert_eq!(err.to_string(), "release unlocked lock");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReleaseError(pub(super) ());

impl fmt::Debug for ReleaseError {
    /// `ReleaseError("release unlocked lock")`, so that `main() -> Result` prints the message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ReleaseError")
            .field(&self.to_string())
            .finish()
    }
}

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("release unlocked lock")
    }
}

impl std::error::Error for ReleaseError {}
