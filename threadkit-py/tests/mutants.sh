#!/usr/bin/env bash
# Builds deliberately broken extensions and checks that tests/test_blocking.py FAILS on each
# (a test that cannot see the bug it was written for is worthless):
#   hold_gil         blocking calls keep the GIL while they wait (GilIsReleased must fail;
#                    the hang guard ends what cannot finish)
#   no_signal_check  the main thread never runs signal handlers while it waits (CtrlC must fail)
# Usage: tests/mutants.sh PYTHON   (a Python with maturin installed)
set -uo pipefail
cd "$(dirname "$0")/.."
py=${1:-python3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-../target/mutants}
status=0
for mutant in hold_gil no_signal_check; do
    case $mutant in
        hold_gil) tests=test_blocking.GilIsReleased ;;
        no_signal_check) tests=test_blocking.CtrlC.test_sigint_interrupts_every_blocking_call ;;
    esac
    venv=$CARGO_TARGET_DIR/venv-$mutant
    "$py" -m venv "$venv"
    RUSTFLAGS="--cfg threadkit_py_mutant=\"$mutant\"" "$py" -m maturin build --release -q \
        -o "$CARGO_TARGET_DIR/wheels-$mutant" >/dev/null 2>&1 || { echo "build failed"; exit 2; }
    "$venv/bin/pip" install -q --force-reinstall "$CARGO_TARGET_DIR/wheels-$mutant"/*.whl
    if timeout 600 "$venv/bin/python" tests/run.py 240 "$tests" >"$CARGO_TARGET_DIR/$mutant.log" 2>&1; then
        echo "mutant $mutant SURVIVED: $tests passed on it"
        status=1
    else
        echo "mutant $mutant caught: $(tail -1 "$CARGO_TARGET_DIR/$mutant.log")"
    fi
done
exit $status
