#!/usr/bin/env bash
# Runs the unit tests and the stress/fault tests under Miri (undefined behaviour, data races,
# leaks, with threads), on the nightly toolchain. Skips, with a message, when Miri cannot be
# installed.
#
#   .ci/miri.sh            one seed over everything and, beside it, seed 1 over the fast part
#   MIRI_SEEDS=0..32 .ci/miri.sh   more seeds for the second pass
#
# Flags:
# - `-Zmiri-permissive-provenance`, not `-Zmiri-strict-provenance`: parking_lot_core 0.9 (the
#   real waiting backend) keeps its queue pointers in an AtomicUsize (word_lock.rs), which strict
#   provenance rejects. threadkit's own code does no integer-to-pointer casts.
# - Skipped under Miri, each with its reason in the test (`#[cfg_attr(miri, ignore = ...)]`):
#   the 2,000-thread test, the real-time timeout tests and the 3,000-timer unit test. Stress tests
#   run with smaller sizes (see `size()` in tests/stress.rs and tests/stress_primitives.rs).
#   Under Miri threadkit does not register `atexit` (Miri does not implement it), so non-daemon
#   threads are not joined at exit there.
# - The queue's per-thread putting flags (src/queue/putting.rs, unsafe) run in the `--lib` passes:
#   `queue::putting::tests` (thread exit, puts from thread-local destructors with and without the
#   slot, slots apart) plus every Queue unit test; about 1.6 s per seed under Miri here.
# - The Timer tests run in a pass of their own with `-Zmiri-ignore-leaks`: the timer service and
#   its workers are process-lifetime threads by design, which Miri otherwise reports as "the main
#   thread terminated without waiting for all remaining threads". Everything else keeps the leak
#   check.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup component add --toolchain nightly miri rust-src >/dev/null 2>&1; then
    echo "miri.sh: SKIPPED: cannot install the nightly miri/rust-src components (offline or no nightly)"
    exit 0
fi
cargo +nightly miri setup >/dev/null

base="-Zmiri-permissive-provenance"
targets=(--lib --test stress --test stress_primitives)
# Miri interprets a program on one OS thread: the pass over another seed and the Timer pass
# (below) run in the background, on the other core, beside the seed-0 pass; their output follows.
cargo +nightly miri test "${targets[@]}" --no-run

# Other scheduler seeds find interleavings one seed misses; skip the slowest tests here.
# One extra seed in CI (seed 1) keeps the whole CI run well under 30 minutes on 2 cores; more by
# hand (MIRI_SEEDS=1..8 runs seeds 1 to 7, one per core at a time). The seed-0 passes run with the
# lock-order checker armed (debug builds arm it), so the checker itself is covered there; this
# pass looks for other interleavings of the primitives and disarms it (THREADKIT_LOCK_ORDER=off,
# forwarded into the interpreted program) so its time goes to the primitives. Tests that
# exercise the checker set its mode themselves (this pass passed with the checker off, rc=0,
# before it was committed).
seeds="${MIRI_SEEDS:-1..2}"
seeds_log=target/miri-seeds.log
# The background job: the other seeds' pass, then the Timer tests (seed 0, in a pass of their own
# with leaks not checked). Measured wall times here: seed 0's unit tests ~170 s and stress tests
# ~95 s in the foreground; seed 1 ~115 s and the Timer tests ~110 s behind it in the background.
(
    echo "== Miri, seeds $seeds: the fast tests (lock-order checker off) =="
    THREADKIT_LOCK_ORDER=off \
        MIRIFLAGS="$base -Zmiri-many-seeds=$seeds -Zmiri-env-forward=THREADKIT_LOCK_ORDER" \
        cargo +nightly miri test "${targets[@]}" \
        -- --skip counter_under_contention --skip contended_counts_stay_exact --skip timer
    echo "== Miri, seed 0: Timer tests (the timer service outlives main: leaks not checked) =="
    MIRIFLAGS="$base -Zmiri-seed=0 -Zmiri-ignore-leaks" \
        cargo +nightly miri test "${targets[@]}" -- timer
) >"$seeds_log" 2>&1 &
seeds_pid=$!
trap 'kill "$seeds_pid" 2>/dev/null || true' EXIT

echo "== Miri, seed 0: unit tests and stress/fault tests (leak-checked; Timer tests apart) =="
MIRIFLAGS="$base -Zmiri-seed=0" cargo +nightly miri test "${targets[@]}" -- --skip timer

echo "== the background job (ran beside the pass above): other seeds, then the Timer tests =="
seeds_status=0
wait "$seeds_pid" || seeds_status=$?
cat "$seeds_log"
exit "$seeds_status"
