#!/usr/bin/env bash
# Instructions (Ir), memory reads (Dr) and writes (Dw) per operation of one contender of one
# case, under callgrind: exact, so usable on a noisy machine (BENCHMARKS.md, "Method").
#
#   threadkit-bench/per-op-counts.sh CASE LABEL      e.g.  rlock_nested threadkit
#
# The contender runs alone (--in-process --contender LABEL) with the --quick counts and with the
# --smoke counts; (total(quick) - total(smoke)) / (ops(quick) - ops(smoke)) is the cost of one
# operation, the fixture and the process start-up cancelling out. Needs valgrind.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 CASE LABEL" >&2; exit 2; }
case_name=$1 label=$2
cd "$(dirname "$0")/.."
# BIN=path measures an already built binary (e.g. one kept from before a change) as it is.
if [ -z "${BIN:-}" ]; then
    cargo build --release -q -p threadkit-bench
fi
bin=${BIN:-target/release/threadkit-bench}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# mode -> "Ir Dr Dw ops"
totals() {
    local mode=$1 runs
    valgrind --tool=callgrind --cache-sim=yes --callgrind-out-file="$work/$mode.cg" \
        "$bin" --in-process "--$mode" --contender "$label" --out "$work/$mode" "$case_name" \
        >/dev/null 2>&1
    # The contenders that ran, as "label<TAB>iters<TAB>trials" lines (a real CSV reader: a label
    # may hold a comma, "parking_lot M+C, notify under lock").
    local ran
    ran=$(python3 -c 'import csv, sys
for r in csv.DictReader(open(sys.argv[1])): print(r["contender"], r["iters"], r["trials"], sep="\t")' \
        "$work/$mode/details.csv")
    [ -n "$ran" ] || { echo "no contender of $case_name matches $label" >&2; exit 1; }
    # One contender, or the counts of several would be added up as one's.
    if [ "$(printf '%s\n' "$ran" | wc -l)" -ne 1 ]; then
        echo "$label names more than one contender of $case_name:" $(cut -f1 <<<"$ran") >&2
        exit 1
    fi
    local iters trials
    iters=$(cut -f2 <<<"$ran")
    trials=$(cut -f3 <<<"$ran")
    runs=$((trials + 1)) # the warm-up run
    echo "$(awk '/^summary:/ { print $2, $3, $4 }' "$work/$mode.cg") $((iters * runs))"
}

quick=$(totals quick) # a failure stops the script here (set -e), not in the here-string
smoke=$(totals smoke)
read -r qi qr qw qn <<<"$quick"
read -r si sr sw sn <<<"$smoke"
n=$((qn - sn))
awk -v c="$case_name" -v l="$label" -v n="$n" \
    -v i=$((qi - si)) -v r=$((qr - sr)) -v w=$((qw - sw)) \
    'BEGIN { printf "%-16s %-14s Ir/op %6.2f  Dr/op %5.2f  Dw/op %5.2f  (%d ops)\n", c, l, i / n, r / n, w / n, n }'
