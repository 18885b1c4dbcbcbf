//! The per-thread slot cache: `Local` id → address of the calling thread's slot in it.

use std::cell::Cell;
use std::ptr;
// A process-wide counter: a std atomic in every build (see `NEXT_ID`).
use std::sync::atomic::{AtomicU64, Ordering};

/// The next `Local` id (0 means "no id yet"); ids are never reused, so a stale cache entry for a
/// dropped `Local` can never match a live one.
///
/// A process-wide counter: a std atomic in every build (loom's are not `const` and must not
/// outlive a model execution). Ids only need to be unique, which a `Relaxed` increment gives.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Entries in the per-thread slot cache (a power of two).
pub(super) const CACHE_SIZE: usize = 16;

/// An empty cache entry: no `Local` has id 0.
#[allow(clippy::declare_interior_mutable_const)] // only used to initialise the array below
const EMPTY_ENTRY: Cell<(u64, *const ())> = Cell::new((0, ptr::null()));

/// A fresh `Local` id.
pub(super) fn fresh_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

// Through the loom shim: under `--cfg loom` every model thread has its own cache and exit list
// (loom runs them all on one OS thread) and loom drops the exit list when the model thread ends.
crate::loom::thread_local_shim! {
    /// `Local` id → address of this thread's slot in it. `const`-initialised and without a
    /// destructor, so it is a plain thread-local load and usable during thread teardown.
    static CACHE: [Cell<(u64, *const ())>; CACHE_SIZE] = const { [EMPTY_ENTRY; CACHE_SIZE] };
}

#[inline]
pub(super) fn cache_lookup(id: u64) -> *const () {
    CACHE.with(|cache| {
        let (key, slot) = cache[id as usize & (CACHE_SIZE - 1)].get();
        if key == id {
            slot
        } else {
            ptr::null()
        }
    })
}

pub(super) fn cache_store(id: u64, slot: *const ()) {
    CACHE.with(|cache| cache[id as usize & (CACHE_SIZE - 1)].set((id, slot)));
}

pub(super) fn cache_clear() {
    CACHE.with(|cache| cache.iter().for_each(|e| e.set((0, ptr::null()))));
}
