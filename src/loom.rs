//! The one place (with `crate::wait`) that knows about loom.
//!
//! Every primitive imports its atomics from here, never from `std::sync::atomic` directly, so that
//! `RUSTFLAGS="--cfg loom"` swaps them for loom's model-checked ones (tokio's `src/loom`,
//! crossbeam's `primitive` module). The waiting layer (`crate::wait`) does the same for parking,
//! and `thread_local_shim!` for per-thread state: loom runs every model
//! thread as a coroutine on one OS thread, so a `std` thread-local would be shared by all of them.
//!
//! Rules for code under `cfg(loom)`:
//! - loom's atomics have no `const fn new`, so constructors come in pairs: a `#[cfg(not(loom))]
//!   pub const fn` and a `#[cfg(loom)] pub fn` (see `Lock::new`).
//! - loom's atomics must not outlive one model execution, so a process-wide `static` (an
//!   identifier counter, a setting) keeps a `std` atomic in both builds; it is then invisible to
//!   loom, which is only right for values no primitive's correctness depends on.
//! - What loom cannot model (the thread registry, `atexit`, the excepthook, logging) is compiled
//!   out under `cfg(loom)`; see `src/lib.rs`.

#[cfg(not(loom))]
pub(crate) mod sync {
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{
            fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering,
        };
    }
}

#[cfg(loom)]
pub(crate) mod sync {
    #[allow(unused_imports)] // the users of some are compiled out under loom
    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{
            fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering,
        };
    }
}

/// `UnsafeCell` with loom's access API (`with` / `with_mut` take a closure over the raw
/// pointer), so that loom can check every access for races under `cfg(loom)`; in normal builds a
/// thin wrapper over `std::cell::UnsafeCell` that compiles to the plain pointer access.
#[cfg(not(loom))]
pub(crate) mod cell {
    /// `std::cell::UnsafeCell` behind loom's access API.
    #[derive(Debug, Default)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        /// Runs `f` with a pointer for reading.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Runs `f` with a pointer for writing.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

#[cfg(loom)]
pub(crate) mod cell {
    pub(crate) use loom::cell::UnsafeCell;
}

/// Nothing in normal builds; a `SeqCst` fence under `cfg(loom)`.
///
/// loom models `SeqCst` loads, stores and read-modify-writes as `AcqRel` (loom's README,
/// "Unsupported features"; tokio-rs/loom#180), so it explores store-buffering outcomes that real
/// `SeqCst` accesses forbid, and reports lost wake-ups in code that is correct: the Dekker-style
/// "raise my waiter count, then re-check the state" against "change the state, then read the
/// waiter count" of the queues (`src/queue/mod.rs`). loom does model `fence(SeqCst)`, so the
/// queues call this between the two `SeqCst` accesses of each side; in normal builds the
/// accesses themselves give that order and this compiles to nothing.
#[inline(always)]
pub(crate) fn seq_cst_fence_for_loom() {
    #[cfg(loom)]
    loom::sync::atomic::fence(loom::sync::atomic::Ordering::SeqCst);
}

/// `std::thread::yield_now` in normal builds; loom's under `cfg(loom)`, so that a model thread
/// waiting for another (a queue waiting for a put in flight) lets loom run it.
#[inline]
pub(crate) fn yield_now() {
    #[cfg(not(loom))]
    std::thread::yield_now();
    #[cfg(loom)]
    loom::thread::yield_now();
}

/// `std::thread_local!` in normal builds; loom's per-model-thread version under `cfg(loom)`.
///
/// Takes one declaration with a `const { .. }` initializer (the form std makes cheapest); under
/// loom the `const` is dropped, since loom initialises lazily:
///
/// ```text
/// crate::loom::thread_local_shim! {
///     /// Docs.
///     static SLOT: Cell<u64> = const { Cell::new(0) };
/// }
/// ```
macro_rules! thread_local_shim {
    ($(#[$attr:meta])* static $name:ident: $t:ty = const { $init:expr };) => {
        #[cfg(not(loom))]
        std::thread_local! {
            $(#[$attr])* static $name: $t = const { $init };
        }
        #[cfg(loom)]
        loom::thread_local! {
            $(#[$attr])* static $name: $t = $init;
        }
    };
}
pub(crate) use thread_local_shim;
