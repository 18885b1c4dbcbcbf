#!/usr/bin/env python3
"""The CPython column of threadkit-bench: the same cases, timed with `threading` and `queue`.

    python3 threadkit-bench/python/bench.py [--mode full|quick|smoke] [--out FILE] [FILTER...]

Writes `case,python_ns,min_ns,max_ns,trials,iters,peak_rss_kib,late_p99_ns` (median and spread of
the trials, in nanoseconds per operation; for timers_10k also peak RSS and p99 firing lateness) to FILE (default: target/threadkit-bench/python.csv) and prints a
table. `cargo run --release -p threadkit-bench -- --python` runs it and shows the column beside
threadkit's figures. Counts are smaller than the Rust side's (CPython is 5-100x slower); the
figures are per operation, so they compare all the same.

Each operation is written the cheapest way a Python user would: bound methods hoisted out of the
loop and `acquire()`/`release()` calls where the Rust side takes and drops a guard (`with lock:`
costs about twice as much); `with lock:` where a body runs under the lock. The loop itself costs
~11 ns per iteration on the reference machine and is included.
"""

import argparse
import os
import queue
import resource
import statistics
import subprocess
import sys
import threading
import time

now = time.perf_counter_ns

MODES = {
    # mode: (divisor of the full counts, trials)
    "full": (1, 7),
    "quick": (5, 5),
    "smoke": (500, 2),
}

PLACEMENTS = ("same_cpu", "split_cpus")


# ----- helpers ------------------------------------------------------------------------------------


def allowed_cpus():
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:
        return []


CPUS = allowed_cpus()


def cpus_for(placement):
    """(cpu of the calling thread, cpu of the other thread), or None if unavailable."""
    if placement == "same_cpu" and CPUS:
        return CPUS[0], CPUS[0]
    if placement == "split_cpus" and len(CPUS) >= 2:
        return CPUS[0], CPUS[1]
    return None


def two_threads(placement, main_side, other_side):
    """Runs main_side here and other_side on a second thread, both pinned per placement and
    released together; the time is the threads' own, from the first start to the last end."""
    a, b = cpus_for(placement)
    start = threading.Barrier(2)
    spans = []

    def other():
        os.sched_setaffinity(0, {b})  # pid 0: the calling thread only
        start.wait()
        t0 = now()
        other_side()
        spans.append((t0, now()))

    before = os.sched_getaffinity(0)
    t = threading.Thread(target=other)
    t.start()
    os.sched_setaffinity(0, {a})
    try:
        start.wait()
        t0 = now()
        main_side()
        spans.append((t0, now()))
    finally:
        os.sched_setaffinity(0, before)
    t.join()
    return span(spans)


def span(spans):
    """From the first start to the last end of (start, end) pairs taken by the threads."""
    return max(e for _, e in spans) - min(s for s, _ in spans)


def contended(threads, n, body):
    """`threads` threads each run body(n // threads), released together; the time is the
    workers' own, from the first one's start to the last one's end (the main thread may not run
    again until they are done, so its clock would say nothing about when the work began)."""
    per_thread = n // threads
    start = threading.Barrier(threads)
    spans = []

    def worker():
        start.wait()
        t0 = now()
        body(per_thread)
        spans.append((t0, now()))

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return span(spans)


# ----- cases: each takes n and returns elapsed ns for n operations -----------------------------------


def lock_uncontended(n):
    lock = threading.Lock()
    acquire, release = lock.acquire, lock.release
    t0 = now()
    for _ in range(n):
        acquire()
        release()
    return now() - t0


def lock_try_held(n):
    lock = threading.Lock()
    lock.acquire()
    acquire = lock.acquire
    t0 = now()
    for _ in range(n):
        acquire(False)
    elapsed = now() - t0
    assert not acquire(False)
    return elapsed


def lock_contended(threads):
    def case(n):
        lock = threading.Lock()
        count = [0]

        def body(k):
            for _ in range(k):
                with lock:
                    count[0] += 1

        elapsed = contended(threads, n, body)
        assert count[0] == n // threads * threads, "lost increments"
        return elapsed

    return case


def rlock_nested(n):
    lock = threading.RLock()
    lock.acquire()
    acquire, release = lock.acquire, lock.release
    t0 = now()
    for _ in range(n):
        acquire()
        release()
    elapsed = now() - t0
    lock.release()
    return elapsed


def condition_pingpong(placement):
    def case(n):
        cond = threading.Condition(threading.Lock())
        turn = [False]  # True: the other thread's move

        def main_side():
            for _ in range(n):
                with cond:
                    turn[0] = True
                    cond.notify()
                    while turn[0]:
                        cond.wait()

        def other_side():
            for _ in range(n):
                with cond:
                    while not turn[0]:
                        cond.wait()
                    turn[0] = False
                    cond.notify()

        return two_threads(placement, main_side, other_side)

    return case


def event_pingpong(placement):
    def case(n):
        ping, pong = threading.Event(), threading.Event()

        def main_side():
            for _ in range(n):
                ping.set()
                pong.wait()
                pong.clear()

        def other_side():
            for _ in range(n):
                ping.wait()
                ping.clear()
                pong.set()

        return two_threads(placement, main_side, other_side)

    return case


def semaphore_uncontended(n):
    sem = threading.Semaphore(1)
    acquire, release = sem.acquire, sem.release
    t0 = now()
    for _ in range(n):
        acquire()
        release()
    return now() - t0


def semaphore_contended_4t(n):
    sem = threading.Semaphore(2)

    def body(k):
        acquire, release = sem.acquire, sem.release
        for _ in range(k):
            acquire()
            release()

    return contended(4, n, body)


def barrier_2t(placement):
    def case(n):
        barrier = threading.Barrier(2)

        def rounds():
            wait = barrier.wait
            for _ in range(n):
                wait()

        return two_threads(placement, rounds, rounds)

    return case


def spawn_join(n):
    def empty():
        pass

    Thread = threading.Thread
    t0 = now()
    for _ in range(n):
        t = Thread(target=empty)
        t.start()
        t.join()
    return now() - t0


def current_thread(n):
    current = threading.current_thread
    t0 = now()
    for _ in range(n):
        current()
    return now() - t0


def local_get(n):
    local = threading.local()
    local.value = 1
    t0 = now()
    for _ in range(n):
        local.value
    return now() - t0


def queue_spsc(n):
    q = queue.Queue(1024)
    total = [0]

    def consume():
        get = q.get
        s = 0
        for _ in range(n):
            s += get()
        total[0] = s

    def produce():
        put = q.put
        for i in range(n):
            put(i)

    elapsed = two_threads_free(consume, produce)
    assert total[0] == n * (n - 1) // 2, "lost items"
    return elapsed


def two_threads_free(main_side, other_side):
    """Unpinned two_threads, timed by both threads' own clocks."""
    start = threading.Barrier(2)
    spans = []

    def other():
        start.wait()
        t0 = now()
        other_side()
        spans.append((t0, now()))

    t = threading.Thread(target=other)
    t.start()
    start.wait()
    t0 = now()
    main_side()
    spans.append((t0, now()))
    t.join()
    return span(spans)


def queue_mpmc_4x4(n):
    q = queue.Queue(1024)
    per_thread = n // 4
    sums = []
    spans = []
    start = threading.Barrier(8)

    def produce():
        put = q.put
        start.wait()
        t0 = now()
        for i in range(per_thread):
            put(i)
        spans.append((t0, now()))

    def consume():
        get = q.get
        start.wait()
        t0 = now()
        s = 0
        for _ in range(per_thread):
            s += get()
        spans.append((t0, now()))
        sums.append(s)

    threads = [threading.Thread(target=produce) for _ in range(4)]
    threads += [threading.Thread(target=consume) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(sums) == 4 * per_thread * (per_thread - 1) // 2, "lost items"
    return span(spans)


# ----- timers: one child process per trial, for its peak RSS -----------------------------------------


CHILD_FLAG = "--child-timers"
TIMER_DELAY_MS = {"full": 2000, "quick": 1000, "smoke": 50}
# CPython with thousands of pending Timers can take minutes to fire them all (GIL contention);
# a trial that runs past this is reported as missing rather than holding the run hostage.
TIMER_TRIAL_LIMIT_S = 120


def interval_ns(i, delay_ns):
    """Timer i's interval: delay plus up to half a delay, in a scrambled order (the Rust side's
    `interval` in src/cases/timer.rs, same integer formula)."""
    frac = (i * 0x9E3779B9) & 0xFFFFFFFF  # of 2**32
    return delay_ns + (((delay_ns // 2) * frac) >> 32)


def timers_child(n, delay_ms):
    """Starts n Timers, waits for all; prints schedule ns, peak RSS KiB, p99 lateness ns."""
    late = [None] * n

    def callback(i, due):
        late[i] = max(0, now() - due)

    delay_ns = delay_ms * 1_000_000
    t0 = now()
    timers = []
    for i in range(n):
        interval = interval_ns(i, delay_ns)
        due = now() + interval
        t = threading.Timer(interval / 1e9, callback, args=(i, due))
        t.start()
        timers.append(t)
    scheduled = now() - t0
    for t in timers:
        t.join()
    missing = late.count(None)
    assert missing == 0, f"{missing} of {n} timers did not fire"
    late.sort()
    p99 = late[max(0, -(-len(late) * 99 // 100) - 1)]
    print(scheduled, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, p99)


def timers_10k(mode):
    def case(n):
        out = subprocess.run(
            [sys.executable, __file__, CHILD_FLAG, str(n), str(TIMER_DELAY_MS[mode])],
            capture_output=True,
            text=True,
            check=True,
            timeout=TIMER_TRIAL_LIMIT_S,
        )
        ns, rss, p99 = out.stdout.split()
        return int(ns), int(rss), int(p99)

    return case


# ----- the table -------------------------------------------------------------------------------------


def all_cases(mode):
    """(name, full count per trial, fn, skip reason) in the order of the Rust table."""
    cases = [
        ("lock_uncontended", 500_000, lock_uncontended),
        ("lock_try_held", 500_000, lock_try_held),
        ("lock_contended_2t", 200_000, lock_contended(2)),
        ("lock_contended_4t", 200_000, lock_contended(4)),
        ("lock_contended_8t", 200_000, lock_contended(8)),
        ("rlock_nested", 500_000, rlock_nested),
    ]
    for name, make, rounds in (
        ("condition_pingpong", condition_pingpong, 5_000),
        ("event_pingpong", event_pingpong, 5_000),
    ):
        cases += [(f"{name}/{p}", rounds, make(p)) for p in PLACEMENTS]
    cases += [
        ("semaphore_uncontended", 500_000, semaphore_uncontended),
        ("semaphore_contended_4t", 100_000, semaphore_contended_4t),
    ]
    cases += [(f"barrier_2t/{p}", 5_000, barrier_2t(p)) for p in PLACEMENTS]
    cases += [
        ("spawn_join", 2_000, spawn_join),
        ("current_thread", 500_000, current_thread),
        ("local_get", 1_000_000, local_get),
        ("queue_spsc", 200_000, queue_spsc),
        ("queue_mpmc_4x4", 200_000, queue_mpmc_4x4),
        ("timers_10k", 10_000, timers_10k(mode)),
    ]
    out = []
    for name, full, fn in cases:
        placement = name.split("/")[1] if "/" in name else None
        skip = None
        if placement and cpus_for(placement) is None:
            skip = f"{placement}: not enough allowed CPUs (or no sched_setaffinity)"
        out.append((name, full, fn, skip))
    return out


def run_case(name, iters, fn, trials, warm_up):
    if warm_up:
        fn(iters)
    ns, rss, late = [], [], []
    for _ in range(trials):
        r = fn(iters)
        if isinstance(r, tuple):
            r, kib, p99 = r
            rss.append(kib)
            late.append(p99)
        ns.append(r / iters)
    ns.sort()
    return {
        "case": name,
        "python_ns": statistics.median(ns),
        "min_ns": ns[0],
        "max_ns": ns[-1],
        "trials": len(ns),
        "iters": iters,
        "peak_rss_kib": int(statistics.median_low(rss)) if rss else "",
        "late_p99_ns": int(statistics.median_low(late)) if late else "",
    }


def fmt_ns(ns):
    if ns < 1e3:
        return f"{ns:.1f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns / 1e6:.2f} ms"


def main(argv):
    if argv[:1] == [CHILD_FLAG]:
        timers_child(int(argv[1]), int(argv[2]))
        return 0
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=MODES, default="full")
    parser.add_argument(
        "--out", default=os.path.join(here, "..", "..", "target", "threadkit-bench", "python.csv")
    )
    parser.add_argument("filters", nargs="*", help="run only cases whose name contains one")
    args = parser.parse_args(argv)
    divisor, trials = MODES[args.mode]

    print(f"CPython {sys.version.split()[0]} ({args.mode} run), CPUs allowed: {CPUS}", file=sys.stderr)
    rows = []
    for name, full, fn, skip in all_cases(args.mode):
        if args.filters and not any(f in name for f in args.filters):
            continue
        if skip:
            print(f"{name:<30} skipped: {skip}", file=sys.stderr)
            continue
        timers = name.startswith("timers")
        if timers:
            iters = 200 if args.mode == "smoke" else full
            case_trials = {"full": 5, "quick": 3, "smoke": 1}[args.mode]
        else:
            iters = max(full // divisor, 64)
            iters -= iters % 8  # the contended cases split the count over 2, 4 or 8 threads
            case_trials = trials
        t0 = time.monotonic()
        try:
            row = run_case(name, iters, fn, case_trials, warm_up=not timers)
        except subprocess.TimeoutExpired:
            print(f"{name:<30} gave up after {TIMER_TRIAL_LIMIT_S} s", file=sys.stderr)
            continue
        rows.append(row)
        print(
            f"{name:<30} {time.monotonic() - t0:6.1f} s  {fmt_ns(row['python_ns'])} "
            f"[{fmt_ns(row['min_ns'])}–{fmt_ns(row['max_ns'])}]",
            file=sys.stderr,
        )

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fields = [
        "case", "python_ns", "min_ns", "max_ns", "trials", "iters", "peak_rss_kib", "late_p99_ns"
    ]
    with open(args.out, "w") as f:
        f.write(",".join(fields) + "\n")
        for row in rows:
            cells = [row[k] for k in fields]
            f.write(
                ",".join(f"{c:.3f}" if isinstance(c, float) else str(c) for c in cells) + "\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
