#!/usr/bin/env bash
# Builds deliberately broken extensions and checks that tests/test_blocking.py FAILS on each
# (a test that cannot see the bug it was written for is worthless):
#   hold_gil         blocking calls keep the GIL while they wait (GilIsReleased must fail;
#                    the hang guard ends what cannot finish)
#   no_signal_check  the main thread never runs signal handlers while it waits (CtrlC must fail)
#   no_created_site  objects keep the extension's Rust creation site (diagnostics tests must fail)
#   no_call_site     waits and acquires are recorded at the extension's Rust lines
#   no_thread_names  Python threads are not given their threading names
#   try_under_lock_order  with the lock-order checker armed, acquires still try first (and an
#                    uncontended inverted acquire is never checked)
#   no_order_error   a lock-order panic is not turned into PotentialDeadlockError
#   slice_wait       the main thread waits in 50 ms slices, as before the wakeup fd (it wakes
#                    20 times a second: NoPeriodicWakeUps must fail)
#   no_forward       the watcher does not forward signal bytes to the wakeup fd it replaced
#                    (asyncio never hears of its signals: WakeupFdIsRestored must fail)
#   no_restore       a wait leaves threadkit's fd installed as Python's wakeup fd
#   fresh_timeout    a handler that returns restarts the wait's whole timeout
#   no_fork_reset    a forked child keeps the parent's watcher pipe and installed fd
#   no_reclaim       a wait does not install its pipe again after a handler's set_wakeup_fd
#                    (the wait goes deaf, the fd the handler gave up is put back)
# Usage: tests/mutants.sh PYTHON   (a Python with maturin installed)
set -uo pipefail
cd "$(dirname "$0")/.."
py=${1:-python3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-../target/mutants}
status=0
mutants=${MUTANTS:-"hold_gil no_signal_check no_created_site no_call_site no_thread_names try_under_lock_order no_order_error slice_wait no_forward no_restore fresh_timeout no_fork_reset no_reclaim"}
for mutant in $mutants; do
    case $mutant in
        hold_gil) tests=test_blocking.GilIsReleased ;;
        no_signal_check) tests=test_blocking.CtrlC.test_sigint_interrupts_every_blocking_call ;;
        slice_wait) tests=test_signals.NoPeriodicWakeUps ;;
        no_forward | no_restore) tests=test_signals.WakeupFdIsRestored ;;
        fresh_timeout) tests=test_signals.HandlerThatReturns ;;
        no_fork_reset) tests=test_signals.Fork ;;
        no_reclaim) tests=test_signals.HandlerThatSetsTheWakeupFd ;;
        *) tests=test_diagnostics ;;
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
