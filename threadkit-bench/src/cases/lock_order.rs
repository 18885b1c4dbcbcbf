//! The lock-order checker's costs (issue 12), built with `--features lock-order-peers` only:
//! tracing-mutex and parking_lot's `deadlock_detection` would otherwise enter every bench build
//! (the latter switches on parking_lot_core's deadlock bookkeeping for the whole binary).
//!
//! - `lock_order_off_uncontended`: the checker compiled in but disarmed (the release default),
//!   against parking_lot's `Mutex<()>`.
//! - `lock_order_armed_single` / `lock_order_armed_nested`: armed (`Report`), one lock, and A
//!   then B, against tracing-mutex's traced std mutex (backtraces off: its fastest setting) and
//!   parking_lot 0.12 with `deadlock_detection`.

use std::hint::black_box;

use threadkit::diagnostics::{set_lock_order_mode, LockOrderMode};

use crate::harness::{tight_loop, Case, Contender, Mode};

/// A contender's loop over locks made by `$new` and taken by the method calls `$take`:
/// `single` acquires and releases one lock; `nested` takes A, then B under A, and releases both.
/// Expanded in place (no call through a function pointer in the timed loop).
macro_rules! lock_loop {
    (single, $new:expr, $($take:tt)+) => {
        |n| {
            let a = $new;
            tight_loop(n, || drop(black_box(&a)$($take)+))
        }
    };
    (nested, $new:expr, $($take:tt)+) => {
        |n| {
            let (a, b) = ($new, $new);
            tight_loop(n, || {
                let _a = black_box(&a)$($take)+;
                drop(black_box(&b)$($take)+);
            })
        }
    };
}

/// A case of the armed checker (`single` or `nested` loops, see [`lock_loop!`]) against the
/// checking peers: tracing-mutex and parking_lot with `deadlock_detection`.
macro_rules! armed {
    ($shape:ident, $name:expr, $unit:expr, $mode:expr) => {
        Case::new($name, $unit, 1_000_000, $mode)
            .threadkit(Some(Contender::new(
                "threadkit Lock, checker armed",
                lock_loop!($shape, threadkit_lock(LockOrderMode::Report), .acquire()),
            )))
            .peer(Contender::new(
                "tracing-mutex Mutex",
                lock_loop!($shape, tracing_mutex::stdsync::tracing::Mutex::new(()), .lock().unwrap()),
            ))
            .peer(Contender::new(
                "parking_lot+deadlock_detection",
                lock_loop!($shape, parking_lot_dd::Mutex::new(()), .lock()),
            ))
    };
}

/// `threadkit::Lock::new()`, with the checker set to `mode` first.
fn threadkit_lock(mode: LockOrderMode) -> threadkit::Lock {
    set_lock_order_mode(mode);
    threadkit::Lock::new()
}

pub(crate) fn cases(mode: Mode) -> Vec<Case> {
    let off = Case::new(
        "lock_order_off_uncontended",
        "acquire+release",
        2_000_000,
        mode,
    )
    .threadkit(Some(Contender::new(
        "threadkit Lock, checker off",
        lock_loop!(single, threadkit_lock(LockOrderMode::Off), .acquire()),
    )))
    .peer(Contender::new(
        "parking_lot Mutex",
        lock_loop!(single, parking_lot::Mutex::new(()), .lock()),
    ));
    let single = armed!(single, "lock_order_armed_single", "acquire+release", mode);
    let nested = armed!(
        nested,
        "lock_order_armed_nested",
        "A, B, release both",
        mode
    );
    vec![off, single, nested]
}
