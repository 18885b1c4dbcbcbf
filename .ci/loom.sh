#!/usr/bin/env bash
# Runs threadkit's loom models (tests/loom/): every primitive's real code over every interleaving
# within a preemption bound, on loom's atomics and the model waiting layer (src/wait/model.rs).
#
#   .ci/loom.sh                         all models, LOOM_MAX_PREEMPTIONS=2 (CI)
#   LOOM_MAX_PREEMPTIONS=3 .ci/loom.sh  deeper (several times slower)
#   .ci/loom.sh lock::                  only the models whose name contains "lock::"
#   .ci/loom.sh --mutants               build deliberately broken waiting layers and check that
#                                       the models FAIL on each (proves they can see the bug):
#                                       lost wake-ups (skip_validate, always_last) and wake-ups
#                                       that end a wait begun after them (stale_wakeup); a plain
#                                       Semaphore fast path that takes a permit from zero
#                                       (semaphore_take_from_zero) or keeps the unit it took
#                                       below zero (semaphore_keep_debt), or a value() that
#                                       reads a below-zero word unclamped
#                                       (semaphore_value_unclamped); a resized Queue that does
#                                       not wait for puts in flight into its old store
#                                       (queue_resize_no_retire) or does not count the old
#                                       store's items against the new bound
#                                       (queue_resize_ring_uncounted); one whose set_maxsize
#                                       (queue_resize_set_no_retire) or whose put into the new
#                                       store (queue_resize_put_no_retire) skips that wait, whose
#                                       get takes from the new store before the old one is
#                                       retired (queue_resize_get_unordered), whose flagless put
#                                       goes uncounted between its two words
#                                       (queue_resize_unslotted_swapped), or a scan for puts in
#                                       flight blind to puts into the new store
#                                       (queue_scan_exact); an interrupt lost when
#                                       it races the park (interrupt_lost) or one already
#                                       taken that still ends a later wait (interrupt_stale),
#                                       the flag read after the primitive's validate
#                                       (interrupt_after_validate), no late timed_out after an
#                                       interrupt (interrupt_no_timed_out); a bounded Queue's
#                                       ring whose push ignores the flags in its tail
#                                       (ring_flag_unchecked), whose put count takes a lap for
#                                       one slot more than it has (ring_count_off_by_one), which
#                                       publishes a stored item with a Relaxed stamp
#                                       (ring_stamp_relaxed), whose pop answers "empty"
#                                       while a claimed item is on its way
#                                       (ring_pop_skips_claims), or a ring queue taken as
#                                       resized from `begun` before its ring refuses puts
#                                       (ring_resized_from_begun); an unbounded Queue's chain
#                                       of rings whose pop (chain_pop_stops_at_seal) or
#                                       is_empty (chain_empty_stops_at_seal) stops at a sealed
#                                       ring, whose put count leaves out the rings before the
#                                       last (chain_base_ignored), or whose flags reach only the
#                                       ring the producers' hint points to
#                                       (chain_flag_hint_only), or whose put refused by a
#                                       sealed ring's flag leaves rings after it open
#                                       (chain_refusal_unhelped); a task_done whose bound,
#                                       checked against the gets, misses their wrap when
#                                       tasks done run ahead of them (queue_gets_cover_wrapped);
#                                       a lock-based queue's waiter that sleeps after its spin
#                                       without looking again (queue_locked_spin_unchecked);
#                                       a task_done that reads the joiners' count before it
#                                       updates `finished` (queue_join_count_first); a
#                                       thread dump's note of the last waker read without
#                                       its sequence lock's fences (last_signal_reader_unfenced,
#                                       last_signal_writer_unfenced); a lock-based queue's
#                                       set_maxsize that leaves the putters it lets in asleep
#                                       (locked_resize_unwoken)
#
# Uses its own target directory so `--cfg loom` builds never invalidate the normal ones.
set -euo pipefail
cd "$(dirname "$0")/.."

export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
# The models build with --release for speed, but keep arithmetic overflow checks: an overflow
# in a racing path (a release adding to a word an acquirer has taken below zero) is a bug the
# models must report, as a debug build would.
export CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true

if [[ "${1:-}" == "--mutants" ]]; then
    shift
    status=0
    # Each mutant, and the models that must catch it: "" = the whole suite must fail somewhere;
    # otherwise every listed model must fail on its own (a witness model that can't see the bug
    # it was written for is worthless).
    declare -A must_catch=(
        [skip_validate]=""
        [always_last]=""
        [queue_wake_early]=""
        [queue_no_flight_wait]=""
        [queue_join_trusts_wake]=""
        [semaphore_take_from_zero]="semaphore::acquire_consume_acquire_again_is_owed_a_release semaphore::below_zero_acquirers_are_each_owed_a_release"
        [semaphore_keep_debt]="semaphore::below_zero_acquirers_are_each_owed_a_release"
        [semaphore_value_unclamped]="semaphore::below_zero_acquirers_are_each_owed_a_release"
        [queue_locked_unlock_early]="queue::lifo::get_returns_only_what_was_put"
        [queue_flag_late]="queue::fifo::unringed_put_racing_shutdown_is_refused_or_delivered"
        [queue_unslotted_uncounted]="queue::fifo::flagless_put_racing_shutdown_is_refused_or_delivered"
        [queue_resize_no_retire]="queue::fifo::resize_racing_puts_keeps_each_producers_order queue::fifo::resize_bound_counts_what_the_old_store_holds"
        [queue_resize_ring_uncounted]="queue::fifo::resize_bound_counts_what_the_old_store_holds"
        [queue_resize_set_no_retire]="queue::fifo::new_bound_in_force_when_set_maxsize_returns"
        [queue_resize_put_no_retire]="queue::fifo::resize_in_a_third_thread_keeps_the_getters_order"
        [queue_resize_get_unordered]="queue::fifo::resize_in_a_third_thread_keeps_the_getters_order"
        [queue_scan_exact]="queue::fifo::resized_put_racing_shutdown_is_refused_or_delivered"
        [queue_resize_unslotted_swapped]="queue::fifo::resized_flagless_put_racing_shutdown_is_refused_or_delivered"
        [interrupt_lost]="interrupt::only_the_interrupt_ends_a_semaphore_acquire interrupt::only_the_interrupt_ends_a_lock_acquire interrupt::only_the_interrupt_ends_an_event_wait interrupt::only_the_interrupt_ends_a_condition_wait interrupt::only_the_interrupt_ends_a_queue_get interrupt::only_the_interrupt_ends_a_lifo_get"
        [interrupt_after_validate]="interrupt::only_the_interrupt_ends_a_condition_wait"
        [interrupt_no_timed_out]="interrupt::only_the_interrupt_ends_a_condition_wait"
        [interrupt_stale]="interrupt::taken_interrupt_never_ends_a_later_wait interrupt::barrier_check_runs_on_interrupt_and_the_wait_goes_on"
        [lock_wake_unmarked]="lock::release_then_wake_leaves_the_other_sleeper_wakeable"
        [lock_handoff_unchecked]="lock::barger_in_the_release_window_is_excluded"
        [queue_locked_lowered_twice]="lock::locked_queue_second_put_wakes_the_second_sleeping_getter"
        [ring_flag_unchecked]="queue::fifo::ring_put_racing_shutdown_is_refused_or_delivered queue::fifo::ring_put_racing_immediate_shutdown_leaves_nothing"
        [ring_count_off_by_one]="queue::fifo::ring_unfinished_tasks_cover_what_a_getter_holds"
        [ring_stamp_relaxed]="queue::fifo::get_returns_only_what_was_put queue::fifo::ring_put_racing_shutdown_is_refused_or_delivered"
        [ring_pop_skips_claims]="queue::fifo::ring_put_racing_shutdown_is_refused_or_delivered"
        [ring_resized_from_begun]="queue::fifo::raised_bound_wakes_a_blocked_putter"
        [chain_pop_stops_at_seal]="queue::fifo::chain_get_follows_the_growth queue::fifo::chain_growth_racing_shutdown_leaves_no_ring_open"
        [chain_empty_stops_at_seal]="queue::fifo::chain_get_follows_the_growth"
        [chain_base_ignored]="queue::fifo::chain_get_follows_the_growth"
        [chain_flag_hint_only]="queue::fifo::chain_growth_racing_shutdown_leaves_no_ring_open"
        [queue_locked_spin_unchecked]="queue::lifo::get_returns_only_what_was_put queue::lifo::blocked_put_returns_only_for_room"
        [ring_empty_reads_stamps]="queue::fifo::blocked_put_returns_only_for_room"
        [queue_join_count_first]="queue::fifo::join_returns_after_task_done queue::fifo::join_returns_only_when_every_task_is_done"
        [queue_gets_cover_wrapped]="queue::fifo::task_done_past_the_gets_stops_at_the_puts"
        [chain_refusal_unhelped]="queue::fifo::chain_put_refused_for_shutdown_stays_refused queue::fifo::chain_resize_refusal_keeps_the_producers_order"
        [last_signal_reader_unfenced]="lib:wait::last_signal::loom_models::a_read_note_is_whole_and_the_last_is_a_written_one"
        [last_signal_writer_unfenced]="lib:wait::last_signal::loom_models::a_read_note_is_whole_and_the_last_is_a_written_one"
        [locked_resize_unwoken]="queue::lifo::raised_bound_wakes_a_blocked_putter"
        [stale_wakeup]="event::wait_consume_wait_again_is_owed_a_set event::ping_pong_turns_are_owed condition::wait_consume_wait_again_is_owed_a_notify barrier::second_cycle_wait_is_owed_its_arrivals"
    )
    mutants=(skip_validate always_last stale_wakeup queue_wake_early queue_no_flight_wait queue_join_trusts_wake queue_locked_unlock_early queue_flag_late queue_unslotted_uncounted semaphore_take_from_zero semaphore_keep_debt semaphore_value_unclamped queue_resize_no_retire queue_resize_ring_uncounted queue_resize_set_no_retire queue_resize_put_no_retire queue_resize_get_unordered queue_scan_exact queue_resize_unslotted_swapped interrupt_lost interrupt_stale interrupt_after_validate interrupt_no_timed_out ring_flag_unchecked ring_count_off_by_one ring_stamp_relaxed ring_pop_skips_claims ring_resized_from_begun lock_wake_unmarked lock_handoff_unchecked queue_locked_lowered_twice chain_pop_stops_at_seal chain_empty_stops_at_seal chain_base_ignored chain_flag_hint_only chain_refusal_unhelped queue_gets_cover_wrapped queue_locked_spin_unchecked queue_join_count_first ring_empty_reads_stamps last_signal_reader_unfenced last_signal_writer_unfenced locked_resize_unwoken)
    # MUTANTS="a b" runs only those.
    [ -n "${MUTANTS:-}" ] && read -r -a mutants <<<"$MUTANTS"
    for mutant in "${mutants[@]}"; do
        echo "== mutant $mutant: the models must fail =="
        filters=(${must_catch[$mutant]})
        [ ${#filters[@]} -eq 0 ] && filters=("")
        for filter in "${filters[@]}"; do
            log="target/loom-mutant-$mutant${filter:+-${filter//:/_}}.log"
            # A deadlock found by loom aborts the test process (SIGABRT), so judge the exit status.
            # A model in the library (`lib:` before its path) runs from the library's tests.
            suite=(--test loom)
            if [[ $filter == lib:* ]]; then
                suite=(--lib)
                filter=${filter#lib:}
            fi
            if RUSTFLAGS="--cfg loom --cfg threadkit_mutant=\"$mutant\"" \
                cargo test --release --features loom --target-dir target/loom-mutant "${suite[@]}" "$@" \
                -- --test-threads=1 ${filter:+--exact "$filter"} >"$log" 2>&1; then
                echo "!! mutant $mutant survived${filter:+ $filter}: the models did not notice (log: $log)"
                status=1
            else
                caught_by=$(grep -E '^test .* \.\.\. *(FAILED)?$' "$log" | tail -1 || true)
                echo "ok: mutant $mutant caught by: ${caught_by:-a failing build or test} ($(grep -m1 -oE 'deadlock|assertion|panicked' "$log" || echo failure))"
            fi
        done
    done
    exit $status
fi

# The models run in two processes of one test thread each, side by side, rather than in one
# process of two test threads: loom gives every model thread of every execution a fresh mmap'd
# stack, and each munmap in a process with two busy threads costs a TLB shoot-down on the other
# CPU. Measured here: the slowest model took 187 s beside another in one process (sys time
# above user time), 58 s alone in its own.
export RUSTFLAGS="--cfg loom"
# (Captured, then printed: `tee /dev/stderr` would reopen, and so truncate, a log file that
# stderr points to.)
if ! build=$(cargo test --release --features loom --target-dir target/loom --test loom --no-run 2>&1); then
    echo "$build"
    exit 1
fi
echo "$build"
bin=$(sed -n 's/^ *Executable .*(\(.*\))$/\1/p' <<<"$build")
[ -x "$bin" ] || { echo "loom.sh: no test binary found"; exit 1; }
if [ $# -gt 0 ]; then
    "$bin" "$@"
    exit
fi
# The slowest models first (measured alone: ~60, ~50, ~20, ~6 s ...), dealt out in turn, then
# the rest in turn, so that the two processes end at about the same time.
slowest=(
    queue::fifo::chain_resize_refusal_keeps_the_producers_order
    queue::fifo::two_producers_one_consumer_size_one_nothing_lost
    interrupt::an_interrupted_waiter_strands_no_release_for_another
    lock::barger_in_the_release_window_is_excluded
    event::clear_set_race_loses_no_waiter
    queue::lifo::two_producers_one_consumer_size_one_nothing_lost
    queue::fifo::resize_in_a_third_thread_keeps_the_getters_order
    queue::fifo::chain_put_refused_for_shutdown_stays_refused
)
mapfile -t all < <("$bin" --list --format terse | sed -n 's/: test$//p')
rest=()
for name in "${all[@]}"; do
    [[ " ${slowest[*]} " == *" $name "* ]] || rest+=("$name")
done
halves=("" "")
i=0
for name in "${slowest[@]}" "${rest[@]}"; do
    halves[i % 2]+=" $name"
    i=$((i + 1))
done
pids=()
for h in 0 1; do
    # shellcheck disable=SC2086 # the names are one word each
    "$bin" --test-threads=1 --exact ${halves[h]} >"target/loom-half-$h.log" 2>&1 &
    pids+=($!)
done
status=0
for h in 0 1; do
    wait "${pids[h]}" || status=1
    cat "target/loom-half-$h.log"
done
ran=$(cat target/loom-half-{0,1}.log | grep -cE '^test .* \.\.\. ok$' || true)
echo "loom: $ran of ${#all[@]} models passed in two processes"
[ "$ran" -eq "${#all[@]}" ] || status=1
# The Timer lifecycle's and the last waker's note models live beside their private state
# (src/timer/state.rs, src/wait/last_signal.rs).
cargo test --release --features loom --target-dir target/loom --lib -- timer::state wait::last_signal || status=1
# Every other target builds under `--cfg loom` too (the files that use the thread API, which is
# compiled out, say `#![cfg(not(loom))]`): a check, so that a new test file cannot break it.
cargo clippy --features loom --tests --target-dir target/loom -- -D warnings || status=1
exit $status
