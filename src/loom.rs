//! The one place that knows about loom.
//!
//! Every primitive imports its atomics from here, never from `std::sync::atomic` directly, so that
//! `RUSTFLAGS="--cfg loom"` swaps them for loom's model-checked ones (tokio's `src/loom`,
//! crossbeam's `primitive` module). The waiting layer (`crate::wait`) does the same for parking.

#[cfg(not(loom))]
pub(crate) mod sync {
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{
            AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering,
        };
    }
}

#[cfg(loom)]
pub(crate) mod sync {
    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{
            AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering,
        };
    }
}
