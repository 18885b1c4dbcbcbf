//! Each thread's exit list: the `Local`s it has a value in, emptied when the thread ends.

use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Weak;

use super::cache::cache_clear;
use super::slot::SlotPtr;
use crate::Lock;

/// The part of a `Local` that threads' exit lists point to.
///
/// Only `T: 'static` values live here, so drop-check needs no `PhantomData<T>` (which would also
/// make it `Sync` only for `T: Sync`, while values are never shared between threads).
pub(super) struct Shared<T> {
    pub(super) slots: Lock<BTreeMap<u64, SlotPtr<T>>>,
}

impl<T> Shared<T> {
    /// Frees slots taken out of the map.
    pub(super) fn free(slots: BTreeMap<u64, SlotPtr<T>>) {
        for (_, slot) in slots {
            // SAFETY: the slot was made by `Box::into_raw` and has just left the map, which was
            // its only owner; no thread can be using it (see the callers).
            drop(unsafe { Box::from_raw(slot.0.as_ptr()) });
        }
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Normally empty: `Local::drop` has already dropped every value.
        Shared::free(std::mem::take(self.slots.get_mut()));
    }
}

/// What a thread's exit list can do with a `Local` of any `T`.
pub(super) trait ThreadExit: Send + Sync {
    /// Drops thread `ident`'s value, if it still has one. Called by that thread (or by the timer
    /// worker acting as it) after clearing its slot cache.
    fn thread_exited(&self, ident: u64);
}

impl<T: Send> ThreadExit for Shared<T> {
    fn thread_exited(&self, ident: u64) {
        let slot = self.slots.acquire().remove(&ident);
        if let Some(slot) = slot {
            // SAFETY: removed from the map under its lock, so this is now the only owner; the
            // owning thread (the caller) has cleared its cache and holds no borrow of the value
            // (it is exiting).
            drop(unsafe { Box::from_raw(slot.0.as_ptr()) });
        }
    }
}

/// An entry in a thread's exit list.
pub(super) struct ExitEntry {
    local: Weak<dyn ThreadExit>,
    ident: u64,
}

impl ExitEntry {
    fn run(self) {
        // The value's slot is about to be freed: forget every cached slot address first.
        cache_clear();
        if let Some(local) = self.local.upgrade() {
            local.thread_exited(self.ident);
        }
    }
}

crate::loom::thread_local_shim! {
    /// The `Local`s this thread has a slot in; dropping it (thread exit) drops those values.
    static THREAD_VALUES: ThreadValues = const { ThreadValues(RefCell::new(Vec::new())) };
}

pub(super) struct ThreadValues(pub(super) RefCell<Vec<ExitEntry>>);

impl Drop for ThreadValues {
    fn drop(&mut self) {
        // Under loom, thread exit does not drop values: loom destroys all of a model thread's
        // thread-locals before dropping any (so `CACHE` and the thread's identifier are gone), runs
        // these drops after `join` has returned, and may drop the model's lazy statics (the model
        // parking lot a contended `Lock` needs) first. The values stay in their `Local`s' maps
        // and are dropped with the `Local`, which the models check instead.
        #[cfg(not(loom))]
        {
            // If this destructor runs because this thread is exiting the *process* (the C
            // library destroys the exiting thread's thread-locals before it runs `atexit`
            // handlers), run threadkit's exit sequence first, while the values are intact.
            crate::thread::before_thread_teardown();
            // Threads threadkit started (and Timers) have dropped their values already, before
            // waking their joiners; this drops what is left: the values of the main thread at
            // process exit, of foreign threads, and of values created since by other
            // thread-locals' destructors. Values dropped here may touch other `Local`s; those new
            // values cannot be registered any more (this thread-local is being destroyed) and
            // live until their `Local` is dropped. A panicking `Drop` is reported, not fatal.
            while let Some(entry) = self.0.get_mut().pop() {
                let dropped = crate::thread::with_in_target(true, || {
                    panic::catch_unwind(AssertUnwindSafe(|| entry.run()))
                });
                if let Err(payload) = dropped {
                    crate::thread::report_teardown_panic(&*payload);
                }
            }
            cache_clear();
        }
    }
}

/// Drops the calling thread's value in every `Local`, as its exit does, including values that
/// those drops create in other `Local`s; a panic in a value's `Drop` is caught and handed to
/// `on_panic`, and the remaining values are still dropped. The thread may go on using `Local`s
/// afterwards (it starts afresh, as a new thread would).
///
/// Threads threadkit starts call this at the end of their body, before waking their joiners, so
/// that a returning `join` means the thread's values are gone.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn drop_thread_values(mut on_panic: impl FnMut(Box<dyn Any + Send>)) {
    loop {
        // Pop one entry at a time, without holding the list's borrow while the value drops (its
        // `Drop` may register values in other `Local`s, which pushes onto the list).
        let entry = THREAD_VALUES
            .try_with(|values| values.0.borrow_mut().pop())
            .ok()
            .flatten();
        let Some(entry) = entry else { break };
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| entry.run())) {
            on_panic(payload);
        }
    }
    cache_clear();
}

/// Records that the calling thread has a value in `local`, to drop at thread exit.
pub(super) fn register_exit(local: Weak<dyn ThreadExit>, ident: u64) {
    let _ = THREAD_VALUES.try_with(|values| {
        let mut list = values.0.borrow_mut();
        if list.len() == list.capacity() && !list.is_empty() {
            // Forget `Local`s dropped since (amortised: only when the list would grow).
            list.retain(|e| e.local.strong_count() > 0);
        }
        list.push(ExitEntry { local, ident });
    });
}

/// Takes the calling thread's exit list, leaving it empty (a [`ThreadScope`](super::ThreadScope)
/// starting).
#[cfg_attr(loom, allow(dead_code))]
pub(super) fn take_exit_list() -> Vec<ExitEntry> {
    THREAD_VALUES
        .try_with(|values| std::mem::take(&mut *values.0.borrow_mut()))
        .unwrap_or_default()
}

/// Puts back an exit list taken by [`take_exit_list`] (the scope has emptied its own).
#[cfg_attr(loom, allow(dead_code))]
pub(super) fn restore_exit_list(saved: Vec<ExitEntry>) {
    let _ = THREAD_VALUES.try_with(|values| *values.0.borrow_mut() = saved);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::Local;

    #[test]
    fn exit_list_forgets_dropped_locals() {
        for _ in 0..100 {
            let l = Local::new();
            l.set(1u8);
        }
        let len = THREAD_VALUES.with(|v| v.0.borrow().len());
        assert!(len <= 100, "{len}");
        let live = THREAD_VALUES.with(|v| {
            v.0.borrow()
                .iter()
                .filter(|e| e.local.strong_count() > 0)
                .count()
        });
        assert_eq!(live, 0);
    }
}
