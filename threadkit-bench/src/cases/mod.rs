//! The cases, one module per primitive. Each module writes the threadkit side and its peers,
//! doing the same work. (The harness still accepts a case without a threadkit side, reported as
//! "not yet measured", for a primitive still being written; every case has one now.)

mod barrier;
mod condition;
mod event;
mod local;
mod lock;
#[cfg(feature = "lock-order-peers")]
mod lock_order;
mod monitor;
mod queue;
mod queue_counter;
mod queue_locked;
mod rlock;
mod semaphore;
mod thread;
pub(crate) mod timer;

use crate::harness::{Case, Mode};

/// Every case, in the order of the table.
pub(crate) fn all(mode: Mode) -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(lock::cases(mode));
    cases.extend(rlock::cases(mode));
    cases.extend(condition::cases(mode));
    cases.extend(event::cases(mode));
    cases.extend(semaphore::cases(mode));
    cases.extend(barrier::cases(mode));
    cases.extend(thread::cases(mode));
    cases.extend(local::cases(mode));
    cases.extend(queue::cases(mode));
    cases.extend(queue_counter::cases(mode));
    cases.extend(queue_locked::cases(mode));
    cases.extend(timer::cases(mode));
    #[cfg(feature = "lock-order-peers")]
    cases.extend(lock_order::cases(mode));
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names BENCHMARKS.md, compare.csv and python/bench.py agree on.
    const CASE_NAMES: [&str; 36] = [
        "lock_uncontended",
        "lock_try_held",
        "lock_contended_2t",
        "lock_contended_4t",
        "lock_contended_8t",
        "rlock_nested",
        "condition_pingpong",
        "event_pingpong",
        "semaphore_uncontended",
        "semaphore_contended_4t",
        "barrier_2t",
        "spawn_join",
        "current_thread",
        "local_get",
        "queue_spsc",
        "queue_mpmc_4x4",
        "queue_bounded_1p4c",
        "queue_bounded_4p1c",
        "queue_unbounded_1p1c",
        "queue_unbounded_4p4c",
        "queue_unbounded_1p4c",
        "queue_unbounded_4p1c",
        "queue_handoff",
        "queue_task_done",
        "queue_1t",
        "queue_unbounded_1t",
        "queue_counter_1t",
        "queue_counter_1p1c",
        "queue_counter_4p4c",
        "lifo_1p1c",
        "priority_1p1c",
        "lifo_4p4c",
        "priority_4p4c",
        "lifo_1t",
        "priority_1t",
        "timers_10k",
    ];

    #[test]
    fn every_case_from_the_issue_is_here_once_per_placement() {
        let names: Vec<String> = all(Mode::Smoke).into_iter().map(|c| c.name).collect();
        let mut base: Vec<&str> = names
            .iter()
            .map(|n| n.split('/').next().unwrap())
            .filter(|n| !n.starts_with("lock_order_")) // --features lock-order-peers
            .collect();
        base.dedup();
        assert_eq!(base, CASE_NAMES);
        for pinned in [
            "condition_pingpong",
            "event_pingpong",
            "barrier_2t",
            "queue_spsc",
            "queue_unbounded_1p1c",
            "queue_handoff",
        ] {
            for suffix in ["same_cpu", "split_cpus"] {
                assert!(names.contains(&format!("{pinned}/{suffix}")));
            }
        }
    }

    /// Every primitive is merged now: no case may fall back to "not yet measured".
    #[test]
    fn every_case_has_a_threadkit_side() {
        for case in all(Mode::Smoke) {
            assert!(
                case.threadkit.is_some(),
                "{} has no threadkit side",
                case.name
            );
        }
    }

    /// Runs every case once with the smallest counts: each contender must complete (and pass its
    /// own checks: counters, sums). The timer case is left to the smoke run (child processes).
    #[test]
    fn every_contender_runs() {
        for mut case in all(Mode::Smoke) {
            if case.name.starts_with("timers") {
                continue;
            }
            case.trials = 1;
            case.warm_up = false;
            case.iters = case.iters.min(256);
            let r = crate::harness::run_case(&case);
            if r.skip.is_none() {
                assert_eq!(r.peers.len(), case.peers.len(), "{}", case.name);
            }
        }
    }
}
