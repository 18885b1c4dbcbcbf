//! Unit tests only: a pause at the two moments a started thread is not in the registry's map,
//! so that a test can fork there (`src/thread/fork/tests.rs`): between `start()`'s claim and the
//! thread's entry in the registry (on the starting thread), and between the thread's leaving
//! the registry and its `STOPPED` store (on the exiting thread).

use std::cell::RefCell;

type Hook = Box<dyn FnOnce()>;

thread_local! {
    /// What the calling thread runs at the next of those moments it reaches.
    static AT_GAP: RefCell<Option<Hook>> = const { RefCell::new(None) };
}

/// Runs `f` on the calling thread at the next moment it reaches where its record (if it is
/// exiting) or the record it starts (if it is starting one) is not in the registry's map.
pub(crate) fn at_next_gap(f: impl FnOnce() + 'static) {
    AT_GAP.with(|hook| *hook.borrow_mut() = Some(Box::new(f)));
}

/// Such a moment: runs the hook [`at_next_gap`] left, if any. (`try_with`: a foreign thread's
/// record is marked stopped from a thread-local destructor, maybe after this one's.)
pub(super) fn gap() {
    let hook = AT_GAP.try_with(|h| h.borrow_mut().take()).ok().flatten();
    if let Some(hook) = hook {
        hook();
    }
}
