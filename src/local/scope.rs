//! [`ThreadScope`]: code that runs as a thread of its own as far as `Local` can tell.

use std::any::Any;

use super::cache::cache_clear;
use super::exit::{drop_thread_values, restore_exit_list, take_exit_list, ExitEntry};

/// Makes the code run until [`finish`](Self::finish) a thread of its own as far as [`Local`](super::Local) can
/// tell: it starts with no values, and its values are dropped at `finish`, as at a thread exit.
/// The caller must also present a fresh identifier (`Thread::act_as` does), since values are
/// keyed by it.
#[cfg_attr(loom, allow(dead_code))] // its user, the timer service, is compiled out under loom
pub(crate) struct ThreadScope {
    saved: Option<Vec<ExitEntry>>,
}

#[cfg_attr(loom, allow(dead_code))]
impl ThreadScope {
    pub(crate) fn enter() -> Self {
        cache_clear();
        let saved = take_exit_list();
        ThreadScope { saved: Some(saved) }
    }

    /// Ends the scope: drops its values (a panic in a value's `Drop` is caught; the first is
    /// returned after all values are dropped) and restores the thread's own.
    pub(crate) fn finish(mut self) -> Result<(), Box<dyn Any + Send>> {
        self.end()
    }

    fn end(&mut self) -> Result<(), Box<dyn Any + Send>> {
        let Some(saved) = self.saved.take() else {
            return Ok(());
        };
        let mut outcome = Ok(());
        drop_thread_values(|payload| {
            if outcome.is_ok() {
                outcome = Err(payload);
            }
        });
        restore_exit_list(saved);
        outcome
    }
}

impl Drop for ThreadScope {
    fn drop(&mut self) {
        let _ = self.end();
    }
}
