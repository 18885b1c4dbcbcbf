//! The cases, one module per primitive. Each module writes the threadkit side and its peers,
//! doing the same work. (The harness still accepts a case without a threadkit side, reported as
//! "not yet measured", for a primitive still being written; every case has one now.)

mod barrier;
mod condition;
mod event;
mod local;
mod lock;
mod monitor;
mod queue;
mod rlock;
mod semaphore;
pub(crate) mod stuck;
mod thread;
pub(crate) mod timer;

use crate::harness::{Case, Mode};

/// Every case, in the order of the table; with `include_stuck`, the watchdog's self-test case
/// [`stuck`] first.
pub(crate) fn all(mode: Mode, include_stuck: bool) -> Vec<Case> {
    let mut cases = Vec::new();
    if include_stuck {
        cases.push(stuck::case(mode));
    }
    cases.extend(lock::cases(mode));
    cases.extend(rlock::cases(mode));
    cases.extend(condition::cases(mode));
    cases.extend(event::cases(mode));
    cases.extend(semaphore::cases(mode));
    cases.extend(barrier::cases(mode));
    cases.extend(thread::cases(mode));
    cases.extend(local::cases(mode));
    cases.extend(queue::cases(mode));
    cases.extend(timer::cases(mode));
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names BENCHMARKS.md, compare.csv and python/bench.py agree on.
    const CASE_NAMES: [&str; 17] = [
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
        "timers_10k",
    ];

    #[test]
    fn every_case_from_the_issue_is_here_once_per_placement() {
        let names: Vec<String> = all(Mode::Smoke, false)
            .into_iter()
            .map(|c| c.name)
            .collect();
        let mut base: Vec<&str> = names.iter().map(|n| n.split('/').next().unwrap()).collect();
        base.dedup();
        assert_eq!(base, CASE_NAMES);
        for pinned in ["condition_pingpong", "event_pingpong", "barrier_2t"] {
            for suffix in ["same_cpu", "split_cpus"] {
                assert!(names.contains(&format!("{pinned}/{suffix}")));
            }
        }
    }

    /// Every primitive is merged now: no case may fall back to "not yet measured".
    #[test]
    fn every_case_has_a_threadkit_side() {
        for case in all(Mode::Smoke, false) {
            assert!(
                case.threadkit.is_some(),
                "{} has no threadkit side",
                case.name
            );
        }
    }
}
