//! Under `--cfg loom` the lock-order checker is compiled out (it reports through diagnostics,
//! which loom builds leave out): the hooks the primitives call are never armed.

use std::panic::Location;

use crate::identity::Identity;

#[inline(always)]
pub(crate) fn armed() -> bool {
    false
}

#[inline(always)]
pub(crate) fn armed_in(_: u8) -> bool {
    false
}

pub(crate) fn ordered_acquire(
    _: &Identity,
    _: &'static Location<'static>,
    _: bool,
    fast: impl Fn() -> bool,
    slow: impl Fn() -> bool,
) -> bool {
    fast() || slow()
}

pub(crate) fn acquired(_: &Identity, _: &'static Location<'static>) {}

pub(crate) fn releasing(_: &Identity, _: Option<u64>, _: u64) {}

pub(crate) fn check_before(_: &Identity, _: &'static Location<'static>, _: bool) {}

pub(crate) fn releasing_unowned(_: &Identity) {}
