#!/usr/bin/env bash
# Runs threadkit's loom models (tests/loom/): every primitive's real code over every interleaving
# within a preemption bound, on loom's atomics and the model waiting layer (src/wait/model.rs).
#
#   .ci/loom.sh                         all models, LOOM_MAX_PREEMPTIONS=2 (CI)
#   LOOM_MAX_PREEMPTIONS=3 .ci/loom.sh  deeper (several times slower)
#   .ci/loom.sh lock::                  only the models whose name contains "lock::"
#   .ci/loom.sh --mutants               build deliberately broken waiting layers and check that
#                                       the models FAIL on each (proves they can see the bug)
#
# Uses its own target directory so `--cfg loom` builds never invalidate the normal ones.
set -euo pipefail
cd "$(dirname "$0")/.."

export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"

if [[ "${1:-}" == "--mutants" ]]; then
    shift
    status=0
    for mutant in skip_validate always_last; do
        echo "== mutant $mutant: the models must fail =="
        # A deadlock found by loom aborts the test process (SIGABRT), so judge the exit status.
        if RUSTFLAGS="--cfg loom --cfg threadkit_mutant=\"$mutant\"" \
            cargo test --release --features loom --target-dir target/loom-mutant --test loom "$@" \
            -- --test-threads=1 >"target/loom-mutant-$mutant.log" 2>&1; then
            echo "!! mutant $mutant survived: the models did not notice (log: target/loom-mutant-$mutant.log)"
            status=1
        else
            caught_by=$(grep -E '^test .* \.\.\. *$' "target/loom-mutant-$mutant.log" | tail -1 || true)
            echo "ok: mutant $mutant caught by: ${caught_by:-a failing build or test} ($(grep -m1 -oE 'deadlock|assertion' "target/loom-mutant-$mutant.log" || echo failure))"
        fi
    done
    exit $status
fi

RUSTFLAGS="--cfg loom" exec cargo test --release --features loom --target-dir target/loom --test loom "$@"
