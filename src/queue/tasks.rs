//! The task accounting of [`Core`]: `unfinished_tasks`, `task_done`, `join`, and the tasks a
//! refused put or an immediate shutdown forgets (the protocol: `core.rs`).

use std::time::Instant;

use super::core::{Core, MASK};
use super::error::TaskDoneError;
use super::store::Store;
use crate::loom::sync::atomic::Ordering;
use crate::wait::WaitKind;

impl<S: Store> Core<S> {
    /// Tasks put and not finished. Reads `finished` before the puts (`begun` and the
    /// store's count): they only grow and are never behind `finished`, so the difference cannot
    /// go negative.
    #[inline]
    pub(crate) fn unfinished_tasks(&self) -> usize {
        let finished = self.finished.load(Ordering::SeqCst);
        self.unfinished_given(finished)
    }

    /// Unfinished tasks, `finished` already read: the puts the store counted (the ring's) and
    /// those counted in `begun` (into any other store), less `finished`, modulo 2^62.
    #[inline]
    fn unfinished_given(&self, finished: usize) -> usize {
        let begun = self.puts.begun.load(Ordering::SeqCst) >> 2;
        let puts = begun.wrapping_add(self.store.flagged_puts());
        puts.wrapping_sub(finished) & MASK
    }

    /// `task_done`: one unfinished task fewer; wakes the joiners when none is left.
    pub(crate) fn task_done(&self) -> Result<(), TaskDoneError> {
        if self.finish(1) == 0 {
            return Err(TaskDoneError(()));
        }
        Ok(())
    }

    /// Whether the store's gets so far (a lower bound, read from the consumers' words) cover
    /// `done + n` finished tasks: then at least `n` tasks are unfinished (every get took a
    /// put's item), and the producers' words need not be read. `done` may be ahead of the gets
    /// (Python lets `task_done` run for items still queued): the difference then wraps, and a
    /// value in the upper half of the count range is taken for that (a queue never holds 2^61
    /// items, nor 2^29 on a 32-bit target).
    #[inline]
    fn gets_cover(&self, done: usize, n: usize) -> bool {
        // Mutant (loom only): the bound checked against the gets, the wrap not looked for.
        let limit = if cfg!(all(loom, threadkit_mutant = "queue_gets_cover_wrapped")) {
            usize::MAX
        } else {
            MASK >> 1
        };
        match self.store.gets() {
            Some(gets) => {
                let ahead = gets.wrapping_sub(done) & MASK;
                ahead >= n && ahead < limit
            }
            None => false,
        }
    }

    /// Finishes up to `n` unfinished tasks (never below zero); returns how many it finished and
    /// wakes the joiners if none is left.
    ///
    /// The usual `task_done`, after the `get` of its item, reads only consumer-side words: the
    /// store's gets ([`gets_cover`](Self::gets_cover)) for its bound, and the joiners' count
    /// before it reads the puts (only when someone waits in `join`). A joiner raises its count
    /// before it reads `finished` and the puts (both `SeqCst`, with the `task_done`'s update of
    /// `finished` before its read of the count): either the `task_done` sees the joiner and
    /// wakes it if no task is left, or the joiner sees the update.
    fn finish(&self, n: usize) -> usize {
        let mut done = self.finished.load(Ordering::SeqCst);
        loop {
            // The puts only grow, so "this many are unfinished" stays true until `finished`
            // moves.
            let now = if self.gets_cover(done, n) {
                n
            } else {
                n.min(self.unfinished_given(done))
            };
            if now == 0 {
                return 0;
            }
            // Mutant (loom only): the joiners' count read before `finished` is updated.
            #[cfg(all(loom, threadkit_mutant = "queue_join_count_first"))]
            let joiners_before = self.config.joiners.load(Ordering::SeqCst);
            match self.finished.compare_exchange_weak(
                done,
                done.wrapping_add(now),
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                #[cfg(all(loom, threadkit_mutant = "queue_join_count_first"))]
                Ok(_) => {
                    if joiners_before != 0 && self.unfinished_given(done.wrapping_add(now)) == 0 {
                        self.wake_joiners_if(|| true);
                    }
                    return now;
                }
                #[cfg(not(all(loom, threadkit_mutant = "queue_join_count_first")))]
                Ok(_) => {
                    // Mutant (loom only): wake the joiners at every task done, not at zero.
                    self.wake_joiners_if(|| {
                        cfg!(all(loom, threadkit_mutant = "queue_join_trusts_wake"))
                            || self.unfinished_given(done.wrapping_add(now)) == 0
                    });
                    return now;
                }
                Err(seen) => done = seen,
            }
        }
    }

    /// `join`: waits until no task is unfinished, or until `deadline`; returns whether none is.
    #[track_caller]
    pub(crate) fn join(&self, deadline: Option<Instant>) -> bool {
        loop {
            if self.unfinished_tasks() == 0 {
                return true;
            }
            let timed_out = self.park_on(
                WaitKind::QueueJoin,
                &self.config.joiners,
                || self.unfinished_tasks() != 0,
                deadline,
            );
            if timed_out {
                return self.unfinished_tasks() == 0;
            }
            // Mutant (loom only): a woken joiner trusts its wake-up.
            if cfg!(all(loom, threadkit_mutant = "queue_join_trusts_wake")) {
                return true;
            }
        }
    }

    /// Takes `n` off the unfinished tasks, stopping at zero, and wakes the joiners if none is
    /// left (a refused put, the items an immediate shutdown dropped).
    pub(super) fn forget_tasks(&self, n: usize) {
        if n != 0 && self.config.track_tasks {
            self.finish(n);
        }
    }
}
