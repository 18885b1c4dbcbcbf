//! TEMPORARY stand-in for `threadkit::interrupt` (branch intr-core) with its API: a flag per
//! thread and no way to wake a parked thread, so waits keep their slices while it is in use
//! ([`WAKES_PARKED`] is false). Removed when the real API lands.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Whether an interrupt ends a parked wait at once (the real API) or only sets the flag.
pub(crate) const WAKES_PARKED: bool = false;

thread_local! {
    static FLAG: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

fn flag() -> Arc<AtomicBool> {
    FLAG.with(|f| Arc::clone(f.borrow_mut().get_or_insert_with(Default::default)))
}

#[derive(Clone)]
pub(crate) struct Interrupter(Arc<AtomicBool>);

impl Interrupter {
    pub(crate) fn current() -> Interrupter {
        Interrupter(flag())
    }
    pub(crate) fn interrupt(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

pub(crate) fn take() -> bool {
    flag().swap(false, Ordering::SeqCst)
}
