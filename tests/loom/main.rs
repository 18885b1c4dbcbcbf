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
//! What each file checks:
//! - `lock.rs`: mutual exclusion (2 and 3 threads), release from another thread, racing
//!   releases, `try_acquire`, timed-out acquires leave other waiters wakeable.
//! - `rlock.rs`: recursion with mutual exclusion (3 threads, 2 levels each); a non-owner's
//!   `release` is an error and changes nothing; a waiter gets the lock only at count 0.
//! - `condition.rs`: no lost wake-up (predicate loop); `notify(1)` with two parked waiters wakes
//!   exactly one (the other stays parked); the RLock depth is restored after `wait`; a waiter
//!   that times out never swallows a notification (notifications sent = `true`s returned).
//! - `semaphore.rs`: never more than k inside (k = 1, 2; 3 threads); `release(2)` wakes two;
//!   `release(1)` twice wakes two parked acquirers one by one; bounded over-release rejected
//!   with the value unchanged (racing releases, racing an acquirer); a timed-out acquirer
//!   strands no permit.
//! - `event.rs`: set/wait, gh-57711 set-then-clear, clear/set races, timeouts.
//! - `barrier.rs`: 3 parties released together, indices a permutation, one leader; 2 cycles with
//!   an action (once per cycle, before release); abort and reset break waiters, reset repairs;
//!   a timed-out waiter and the leader agree on the outcome (the straggler path).
//! - `queue.rs`: 2 producers / 1 consumer through `Queue::new(1)`: each item once, per-producer
//!   order; `join` returns only after `task_done`; shutdown wakes a blocked getter and putter;
//!   witnesses: get owed a put, blocked put owed a get, join owed every task_done, a put racing
//!   a shutdown refused or delivered (over the locked FIFO store; see the file's header), also
//!   when the put has no putting flag (a put from a thread-local destructor); the same models
//!   over `LifoQueue` (the lock-based core of `LifoQueue`/`PriorityQueue`).
//! - `interrupt.rs`: an interrupt (`threadkit::interrupt`) ends a timed Semaphore, Lock, Event,
//!   Condition and Queue wait as a timeout, racing the primitive's own wake-up: an empty-handed
//!   return is owed the interrupt, a full one the wake-up, nothing lost (the permit, the lock,
//!   the item, the notify that counted the waiter); with no wake-up coming the interrupt alone
//!   ends each wait (a lost interrupt is a deadlock); an interrupt already taken never ends a
//!   later wait; a Barrier's check runs on an interrupt and the wait goes on.
//! - `local.rs`: values per thread (3 threads, racing first accesses); every value dropped
//!   exactly once with the `Local` (loom leaves exit-time drops to the `Local`, see
//!   `ThreadValues::drop`).
//!
//! Not modelled: Timer (needs a model clock: src/wait/model.rs times out past deadlines at once
//! and never times out later ones) and the thread registry (process-wide statics, compiled out
//! under loom); both are stress-tested instead. Semaphore's "timed out while parked" branch
//! needs a real clock too (a past deadline gives up before parking).
#![cfg(loom)]

mod barrier;
mod condition;
mod event;
mod interrupt;
mod local;
mod lock;
mod queue;
mod rlock;
mod semaphore;
mod support;
