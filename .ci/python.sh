#!/usr/bin/env bash
# threadkit for Python (threadkit-py/): builds the extension through its pyproject.toml (maturin
# as the PEP 517 backend, fetched from PyPI into pip's isolated build environment), installs the
# one abi3 wheel into a fresh venv per interpreter found (3.11 required; 3.12/3.13 from pyenv when
# present), and runs the Python tests: CPython's own lock_tests.py and test_queue.py against
# threadkit's classes, the GIL-release and Ctrl-C tests, the mixed Rust/Python tests.
# Hang guard: faulthandler.dump_traceback_later in tests/run.py (dumps every thread, exits),
# and `timeout` around each run.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

pythons=()
for candidate in python3.11 "$HOME"/.pyenv/versions/3.12*/bin/python3.12 \
    "$HOME"/.pyenv/versions/3.13*/bin/python3.13; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import test.lock_tests' 2>/dev/null; then
        pythons+=("$(command -v "$candidate")")
    fi
done
if [ ${#pythons[@]} -eq 0 ]; then
    echo "no Python 3.11+ with its test package found" >&2
    exit 1
fi

out=target/python
rm -rf "$out"
mkdir -p "$out"
# The README's install command builds the same way (pip install ./threadkit-py).
"${pythons[0]}" -m pip wheel --quiet ./threadkit-py -w "$out/wheels"
echo "built $(ls "$out"/wheels) in $((SECONDS - started))s"

# The interpreters' runs go side by side: they mostly sleep (CPython's lock tests wait out
# timeouts), so together they take about as long as one.
pids=()
for py in "${pythons[@]}"; do
    ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    venv="$out/venv-$ver"
    "$py" -m venv "$venv"
    "$venv/bin/pip" install --quiet --no-index --find-links "$out/wheels" threadkit
    timeout 900 "$venv/bin/python" threadkit-py/tests/run.py 600 >"$out/tests-$ver.log" 2>&1 &
    pids+=("$ver:$!")
done
status=0
for entry in "${pids[@]}"; do
    ver=${entry%%:*}
    echo "--- Python $ver"
    if ! wait "${entry#*:}"; then
        status=1
        cat "$out/tests-$ver.log"
    else
        grep -E "^(SIGINT|main thread blocked|python [0-9])" "$out/tests-$ver.log" || true
        tail -1 "$out/tests-$ver.log"
    fi
done
echo "threadkit-py step: $((SECONDS - started))s"
exit $status
