"""What a blocked main thread costs: threadkit beside CPython's threading/queue, in one run.

    python wakeups.py [SECONDS] [ROUNDS]

Each case blocks the main thread for SECONDS (default 2) in a wait that times out, and reports
the main thread's voluntary context switches (/proc/self/task/<tid>/status: how often it went
to sleep, i.e. woke up) and its own CPU time (time.thread_time) over the wait. Cases alternate
between the implementations, ROUNDS (default 3) times; the table shows every round's figures.
A wait that sleeps in the kernel until its deadline (or a signal) switches once or twice.

Then what the wakeup fd costs a main-thread wait that blocks: `Event().wait(1e-6)` (which
always takes the blocking path, and installs and restores the wakeup fd in the main thread)
timed in the main thread and in another thread, and the two `signal.set_wakeup_fd` calls alone.
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

    e = threadkit.Event()
    tiny = lambda: e.wait(1e-6)
    main_us, other_us, pair_us = [], [], []
    for _ in range(ROUNDS):
        main_us.append(per_call(tiny))
        out = []
        t = threading.Thread(target=lambda: out.append(per_call(tiny)))
        t.start()
        t.join()
        other_us.append(out[0])
        pair_us.append(per_call(pair))
    os.close(r)
    os.close(w)
    f = lambda xs: " / ".join(f"{x:.2f}" for x in xs)
    print(f"Event().wait(1e-6), blocking path, us per call: main thread {f(main_us)}; "
          f"another thread {f(other_us)}")
    print(f"set_wakeup_fd(fd) + set_wakeup_fd(old) from Python, us: {f(pair_us)}")


if __name__ == "__main__":
    main()
    wakeup_fd_cost()
