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

pub(crate) fn cases(mode: Mode) -> Vec<Case> {
    vec![off(mode), armed_single(mode), armed_nested(mode)]
}

fn off(mode: Mode) -> Case {
    Case::new(
        "lock_order_off_uncontended",
        "acquire+release",
        2_000_000,
        mode,
    )
    .threadkit(Some(Contender::new("threadkit Lock, checker off", |n| {
        set_lock_order_mode(LockOrderMode::Off);
        let lock = threadkit::Lock::new();
        tight_loop(n, || drop(black_box(&lock).acquire()))
    })))
    .peer(Contender::new("parking_lot Mutex", |n| {
        let lock = parking_lot::Mutex::new(());
        tight_loop(n, || drop(black_box(&lock).lock()))
    }))
}

fn armed_single(mode: Mode) -> Case {
    Case::new(
        "lock_order_armed_single",
        "acquire+release",
        1_000_000,
        mode,
    )
    .threadkit(Some(Contender::new("threadkit Lock, checker armed", |n| {
        set_lock_order_mode(LockOrderMode::Report);
        let lock = threadkit::Lock::new();
        tight_loop(n, || drop(black_box(&lock).acquire()))
    })))
    .peer(Contender::new("tracing-mutex Mutex", |n| {
        let lock = tracing_mutex::stdsync::tracing::Mutex::new(());
        tight_loop(n, || drop(black_box(&lock).lock().unwrap()))
    }))
    .peer(Contender::new("parking_lot+deadlock_detection", |n| {
        let lock = parking_lot_dd::Mutex::new(());
        tight_loop(n, || drop(black_box(&lock).lock()))
    }))
}

fn armed_nested(mode: Mode) -> Case {
    Case::new(
        "lock_order_armed_nested",
        "A, B, release both",
        1_000_000,
        mode,
    )
    .threadkit(Some(Contender::new("threadkit Lock, checker armed", |n| {
        set_lock_order_mode(LockOrderMode::Report);
        let (a, b) = (threadkit::Lock::new(), threadkit::Lock::new());
        tight_loop(n, || {
            let _a = black_box(&a).acquire();
            drop(black_box(&b).acquire());
        })
    })))
    .peer(Contender::new("tracing-mutex Mutex", |n| {
        let a = tracing_mutex::stdsync::tracing::Mutex::new(());
        let b = tracing_mutex::stdsync::tracing::Mutex::new(());
        tight_loop(n, || {
            let _a = black_box(&a).lock().unwrap();
            drop(black_box(&b).lock().unwrap());
        })
    }))
    .peer(Contender::new("parking_lot+deadlock_detection", |n| {
        let (a, b) = (
            parking_lot_dd::Mutex::new(()),
            parking_lot_dd::Mutex::new(()),
        );
        tight_loop(n, || {
            let _a = black_box(&a).lock();
            drop(black_box(&b).lock());
        })
    }))
}
