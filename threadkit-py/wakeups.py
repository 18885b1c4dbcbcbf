"""What a blocked main thread costs: threadkit beside CPython's threading/queue, in one run.

    python wakeups.py [SECONDS] [ROUNDS]

Each case blocks the main thread for SECONDS (default 2) in a wait that times out, and reports
the main thread's voluntary context switches (/proc/self/task/<tid>/status: how often it went
to sleep, i.e. woke up) and its own CPU time (time.thread_time) over the wait. Cases alternate
between the implementations, ROUNDS (default 3) times; the table shows every round's figures.
A wait that sleeps in the kernel until its deadline (or a signal) switches once or twice.

Then what the wakeup fd costs a main-thread wait that blocks: the two `signal.set_wakeup_fd`
calls it makes (the extension makes them through the same function object, plus one
non-blocking read of its pipe). A wait that need not block makes neither.
"""

import queue
import sys
import threading
import time

import threadkit

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3


def switches():
    with open(f"/proc/self/task/{threading.get_native_id()}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches"):
                return int(line.split()[1])
    raise RuntimeError("no voluntary_ctxt_switches in /proc")


def held(lock):
    lock.acquire()
    return lock


def get(q):
    try:
        q.get(timeout=SECONDS)
    except queue.Empty:
        pass


CASES = [
    ("Event.wait", lambda m: m.Event().wait, lambda f: f(SECONDS)),
    ("Lock.acquire", lambda m: held(m.Lock()).acquire, lambda f: f(timeout=SECONDS)),
    ("Queue.get", lambda m: m.Queue(), get),
]


def measure(make, call, mod):
    obj = make(mod)
    s0, c0, t0 = switches(), time.thread_time(), time.monotonic()
    call(obj)
    s1, c1, t1 = switches(), time.thread_time(), time.monotonic()
    return s1 - s0, (c1 - c0) * 1e3, t1 - t0


def main():
    # Warm up: the first blocking wait may start helper threads (threadkit's signal watcher).
    threadkit.Event().wait(0.01)
    threading.Event().wait(0.01)
    sides = [("threadkit", threadkit), ("threading", threading)]
    print(f"main thread blocked {SECONDS:g} s per wait; {ROUNDS} rounds, alternating")
    print(f"{'case':<14} {'impl':<10} {'voluntary switches':<22} {'CPU ms':<24} wall s")
    for name, make, call in CASES:
        rows = {side: [] for side, _ in sides}
        for _ in range(ROUNDS):
            for side, mod in sides:
                if name == "Queue.get" and side == "threading":
                    mod = queue
                rows[side].append(measure(make, call, mod))
        for side, _ in sides:
            r = rows[side]
            label = f"{name}" if side == "threadkit" else ""
            print(f"{label:<14} {side if name != 'Queue.get' or side == 'threadkit' else 'queue':<10} "
                  f"{' / '.join(str(x[0]) for x in r):<22} "
                  f"{' / '.join(f'{x[1]:.2f}' for x in r):<24} "
                  f"{' / '.join(f'{x[2]:.2f}' for x in r)}")


def per_call(fn, n=20_000):
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e6


def wakeup_fd_cost():
    import os
    import signal
    r, w = os.pipe()
    os.set_blocking(w, False)

    def pair():
        old = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        signal.set_wakeup_fd(old)

    pair_us = [per_call(pair) for _ in range(ROUNDS)]
    os.close(r)
    os.close(w)
    print("what a blocking main-thread wait adds: set_wakeup_fd(fd) + set_wakeup_fd(old), "
          "us per pair (from Python): " + " / ".join(f"{x:.2f}" for x in pair_us))


if __name__ == "__main__":
    main()
    wakeup_fd_cost()
