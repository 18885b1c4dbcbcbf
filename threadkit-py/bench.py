"""threadkit against CPython's own threading/queue, in one run.

    python bench.py [--quick] [--one-cpu]

Each case runs ROUNDS times, alternating the implementations, and reports the median time per
operation, the spread (min-max over rounds) and the median of the per-round ratios
threadkit/CPython (< 1 means threadkit is faster). Two-thread cases are timed by the worker
threads' own clocks. The Timer case runs each side in a fresh child process (memory).

--one-cpu pins the process to one CPU: a ping-pong then measures the primitives' code and one
context switch per hand-off, not the scheduler. On a loaded 2-core machine the two-CPU ping-pong
figures swing with whatever else runs (the same build measured 0.33x to 1.37x CPython for the
Condition ping-pong in consecutive runs; pinned, 0.74x to 0.85x).
"""

import os
import queue
import statistics
import subprocess
import sys
import threading
import time

import threadkit

QUICK = "--quick" in sys.argv
if "--one-cpu" in sys.argv:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
ROUNDS = 3 if QUICK else 7
N = 50_000 if QUICK else 200_000
PING = 2_000 if QUICK else 10_000


def lock_with(lock, n=N):
    t = time.perf_counter()
    for _ in range(n):
        with lock:
            pass
    return (time.perf_counter() - t) / n


def lock_acquire_release(lock, n=N):
    acquire, release = lock.acquire, lock.release
    t = time.perf_counter()
    for _ in range(n):
        acquire()
        release()
    return (time.perf_counter() - t) / n


def queue_put_get(q, n=N):
    put, get = q.put, q.get
    t = time.perf_counter()
    for i in range(n):
        put(i)
        get()
    return (time.perf_counter() - t) / n


def queue_two_threads(q, n=N // 2):
    """Producer and consumer threads; time from the consumer's clock (first get to last)."""
    times = []

    def consume():
        q.get()
        t = time.perf_counter()
        for _ in range(n - 1):
            q.get()
        times.append((time.perf_counter() - t) / (n - 1))

    c = threading.Thread(target=consume)
    c.start()
    for i in range(n):
        q.put(i)
    c.join()
    return times[0]


def create(factory, n=N):
    """Object creation, from one line of a function (a call site seen before: the common case of
    a function that creates a lock each time it runs)."""
    t = time.perf_counter()
    for _ in range(n):
        factory()
    return (time.perf_counter() - t) / n


def event_ping_pong(mod, n=PING, clock=time.perf_counter):
    a, b = mod.Event(), mod.Event()
    times = []

    def pong():
        for _ in range(n):
            a.wait()
            a.clear()
            b.set()

    t = threading.Thread(target=pong)
    t.start()
    start = clock()
    for _ in range(n):
        a.set()
        b.wait()
        b.clear()
    times.append((clock() - start) / n)
    t.join()
    return times[0]


def condition_ping_pong(mod, n=PING, clock=time.perf_counter):
    cond = mod.Condition(mod.Lock())
    turn = [0]

    def player(me, out):
        start = clock()
        for _ in range(n):
            with cond:
                while turn[0] != me:
                    cond.wait()
                turn[0] = 1 - me
                cond.notify()
        out.append((clock() - start) / n)

    out = []
    t = threading.Thread(target=player, args=(1, []))
    t.start()
    player(0, out)
    t.join()
    return out[0]


CASES = [
    ("Lock: with lock", lambda: lock_with(threading.Lock()), lambda: lock_with(threadkit.Lock())),
    ("Lock: acquire(); release()", lambda: lock_acquire_release(threading.Lock()),
     lambda: lock_acquire_release(threadkit.Lock())),
    ("RLock: with lock", lambda: lock_with(threading.RLock()), lambda: lock_with(threadkit.RLock())),
    ("RLock: acquire(); release()", lambda: lock_acquire_release(threading.RLock()),
     lambda: lock_acquire_release(threadkit.RLock())),
    ("Event ping-pong (round trip)", lambda: event_ping_pong(threading),
     lambda: event_ping_pong(threadkit)),
    ("Condition ping-pong (per turn)", lambda: condition_ping_pong(threading),
     lambda: condition_ping_pong(threadkit)),
    # CPU time of the whole process (both threads) per turn: less at the scheduler's mercy
    # than the wall-clock time on a loaded machine.
    ("Event ping-pong, process CPU per round trip",
     lambda: event_ping_pong(threading, clock=time.process_time),
     lambda: event_ping_pong(threadkit, clock=time.process_time)),
    ("Condition ping-pong, process CPU per turn",
     lambda: condition_ping_pong(threading, clock=time.process_time),
     lambda: condition_ping_pong(threadkit, clock=time.process_time)),
    ("Lock() creation", lambda: create(threading.Lock), lambda: create(threadkit.Lock)),
    ("RLock() creation", lambda: create(threading.RLock), lambda: create(threadkit.RLock)),
    ("Event() creation", lambda: create(threading.Event), lambda: create(threadkit.Event)),
    ("Condition() creation", lambda: create(threading.Condition),
     lambda: create(threadkit.Condition)),
    ("Queue put+get, one thread", lambda: queue_put_get(queue.Queue()),
     lambda: queue_put_get(threadkit.Queue())),
    ("Queue put+get vs queue.SimpleQueue (C)", lambda: queue_put_get(queue.SimpleQueue()),
     lambda: queue_put_get(threadkit.Queue())),
    ("SimpleQueue put+get, one thread", lambda: queue_put_get(queue.SimpleQueue()),
     lambda: queue_put_get(threadkit.SimpleQueue())),
    ("PriorityQueue put+get, one thread", lambda: queue_put_get(queue.PriorityQueue()),
     lambda: queue_put_get(threadkit.PriorityQueue())),
    ("Queue producer->consumer (2 threads, per item)", lambda: queue_two_threads(queue.Queue()),
     lambda: queue_two_threads(threadkit.Queue())),
    ("SimpleQueue producer->consumer (2 threads)", lambda: queue_two_threads(queue.SimpleQueue()),
     lambda: queue_two_threads(threadkit.SimpleQueue())),
]

TIMERS_CHILD = """
import sys, time, threading
import threadkit
mod = threading if sys.argv[1] == "threading" else threadkit
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0
n = int(sys.argv[2])
fn = lambda: None
before = rss()
t0 = time.perf_counter()
timers = [mod.Timer(3600, fn) for _ in range(n)]
for t in timers:
    t.start()
started = time.perf_counter() - t0
after = rss()
nthreads = int(open("/proc/self/status").read().split("Threads:")[1].split()[0])
t0 = time.perf_counter()
for t in timers:
    t.cancel()
for t in timers:
    t.join()
stopped = time.perf_counter() - t0
print(started, after - before, nthreads, stopped)
"""


def timers(n):
    out = {}
    for side in ("threading", "threadkit"):
        r = subprocess.run([sys.executable, "-c", TIMERS_CHILD, side, str(n)],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            out[side] = None
            print(f"  {side} Timer case failed: {r.stderr.strip()[-300:]}")
            continue
        started, mem, nthreads, stopped = r.stdout.split()
        out[side] = (float(started), int(mem), int(nthreads), float(stopped))
    return out


def fmt(s):
    return f"{s * 1e9:,.0f} ns" if s < 1e-5 else f"{s * 1e6:,.1f} us"


def main():
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs "
          f"({len(os.sched_getaffinity(0))} usable), {ROUNDS} rounds, N={N}, ping-pong {PING}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print()
    print("| case | CPython | threadkit | threadkit/CPython (median, range) |")
    print("|---|---|---|---|")
    for name, cpy, tk in CASES:
        a, b, ratios = [], [], []
        for _ in range(ROUNDS):
            x, y = cpy(), tk()
            a.append(x)
            b.append(y)
            ratios.append(y / x)
        print(f"| {name} | {fmt(statistics.median(a))} ({fmt(min(a))}-{fmt(max(a))}) "
              f"| {fmt(statistics.median(b))} ({fmt(min(b))}-{fmt(max(b))}) "
              f"| {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) |",
              flush=True)
    n = 2_000 if QUICK else 10_000
    res = timers(n)
    print()
    print(f"{n:,} pending Timers (interval 1 h), created and started, then cancelled and joined:")
    print()
    print("| | start all | RSS growth | OS threads | cancel+join all |")
    print("|---|---|---|---|---|")
    for side, v in res.items():
        if v:
            print(f"| {side}.Timer | {v[0]:.3f} s | {v[1] / 2**20:.1f} MiB | {v[2]} "
                  f"| {v[3]:.3f} s |")


if __name__ == "__main__":
    main()
