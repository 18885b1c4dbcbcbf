//! loom models of threadkit's primitives.
//!
//! Run them all with `.ci/loom.sh` (which sets `RUSTFLAGS="--cfg loom"`, a separate target
//! directory, and `LOOM_MAX_PREEMPTIONS=2` unless given). Under `--cfg loom` the primitives' own
//! code runs on loom's atomics and on a model of the waiting layer (`src/wait/model.rs`), so loom
//! explores every interleaving of their real steps within the preemption bound, and reports any
//! failed assertion, deadlock (a waiter never woken), or data race on a `loom::cell::UnsafeCell`.
//!
//! Layout: one file per primitive (`lock.rs`, `event.rs`, ...), each a list of small `#[test]`s
//! that call [`support::model`] (or [`support::model_fair_and_unfair`]). loom allows at most 4
//! spawned threads; keep each model to 2-3 threads and a handful of operations.
//!
//! What the models still to be written must check (second round):
//! - RLock: only the owner may release (`release` from another thread is an error and changes
//!   nothing); recursion count restored exactly; a waiter gets the lock when the count reaches 0.
//! - Condition: no lost wake-up (`notify` after the waiter released the lock always reaches it);
//!   `notify(n)` with >= n waiters wakes exactly n; the RLock depth is restored after `wait`;
//!   a waiter that times out (past deadline) never swallows a notification meant for another.
//! - Semaphore / BoundedSemaphore: never more than k inside (an `AtomicUsize` "inside" counter);
//!   no permit stranded (value > 0 with a waiter still parked at quiescence:
//!   `threadkit::__loom::parked_threads() == 0` after all joins); over-release of a bounded one is
//!   an error and leaves the value unchanged.
//! - Event: covered here (set/wait, gh-57711 set-then-clear, clear/set races, timeouts).
//! - Barrier: all parties of a generation released together (indices are a permutation of
//!   0..n); abort and reset break waiters with the error; the action runs once per generation.
//! - Queue: every item delivered exactly once, per-producer FIFO; `join` returns after the last
//!   `task_done`; a full bounded queue's `put` wakes when space frees.
//! - Timer: `cancel` racing the expiry runs the callback at most once (needs a model clock, see
//!   src/wait/model.rs: past deadlines time out at once, later ones never).
//! - Local: each model thread sees only its own value (loom's `thread_local`).
//! - Thread registry: compiled out under loom (process-wide statics); stress-tested instead.
#![cfg(loom)]

mod barrier;
mod condition;
mod event;
mod local;
mod lock;
mod queue;
mod rlock;
mod semaphore;
mod support;
