"""python -m threadkit [options] script.py [args...]   (or: -m module [args...])

Runs an unmodified Python program with threadkit's primitives in place of threading's, and
threadkit's diagnostics installed:

- a watchdog that reports each deadlock (threads blocked on each other's locks) once, with the
  threads' names, the locks' Python creation sites and the Python lines of the acquires,
  followed by a full thread dump; and, with --stall S, every thread blocked longer than S s;
- lock-order checking (--lock-order report|panic|off; default report): an acquire that inverts
  an order seen before is reported before it blocks, or raises PotentialDeadlockError (panic);
- a thread dump on SIGQUIT (kill -QUIT <pid>, or Ctrl-\\ in a terminal), and with
  --dump-after T a dump T seconds after the start (for platforms or setups without the signal);
- holder sites: "held by <thread>, acquired at app.py:40";
- traced joins (threadkit.trace_joins): a thread blocked in Thread.join shows in dumps as
  "waiting to join <thread>" at the join's line, and a join that closes a cycle (the joined
  thread waits for a lock the joiner holds) is reported as a deadlock.

What is patched, before the program's first line runs (so its imports see threadkit's classes):
threading.Lock, RLock, Condition, Semaphore, BoundedSemaphore, Event, Barrier, Timer; with
--queue also queue.Queue, LifoQueue, PriorityQueue, SimpleQueue. What is not: _thread's
allocate_lock/LockType/RLock (used by the interpreter itself, importlib, and Thread's own
join/start bookkeeping; Thread.join is shown through trace_joins instead); objects created before the
program starts; names a module bound with `from threading import Lock` before the program
started. queue's classes are left alone by default because programs subclass queue.Queue and
override _init/_put/_get, which threadkit's Queue does not call; the standard queue.Queue then
runs on the patched threading.Lock/Condition, so its waits are still in the dumps (at
queue.py's lines).
"""

import argparse
import os
import queue as _queue
import runpy
import signal
import sys
import threading as _threading

import threadkit

THREADING = ["Lock", "RLock", "Condition", "Semaphore", "BoundedSemaphore", "Event", "Barrier",
             "Timer"]
QUEUE = ["Queue", "LifoQueue", "PriorityQueue", "SimpleQueue"]


def install(queues=False):
    """Puts threadkit's classes in place of threading's (and queue's); returns what it patched."""
    patched = []
    for name in THREADING:
        setattr(_threading, name, getattr(threadkit, name))
        patched.append("threading." + name)
    if queues:
        for name in QUEUE:
            setattr(_queue, name, getattr(threadkit, name))
            patched.append("queue." + name)
    return patched


# threadkit's options that take a value (as "--opt V"; "--opt=V" is one word).
VALUED = {"--stall", "--lock-order", "--dump-after", "--interval", "--signal"}


def split(argv):
    """Splits the command line where the program starts, as the interpreter does: threadkit's
    options, then `-m module` or the script, then the program's own arguments (never parsed as
    threadkit's, even if they look like them). Returns (options, module or None, program args)."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return argv[:i], None, argv[i + 1:]
        if a == "-m":
            return argv[:i], (argv[i + 1] if i + 1 < len(argv) else ""), argv[i + 2:]
        if a.startswith("-m") and not a.startswith("--"):
            return argv[:i], a[2:], argv[i + 1:]
        if a == "-" or not a.startswith("-"):
            return argv[:i], None, argv[i:]
        i += 2 if a in VALUED else 1
    return argv, None, []


def parse(argv):
    own, module, rest = split(argv)
    p = argparse.ArgumentParser(
        prog="python -m threadkit", allow_abbrev=False,
        description="Run a Python program with threadkit's primitives and diagnostics.",
        usage="python -m threadkit [options] (script.py | -m module) [args...]")
    p.add_argument("--stall", type=float, metavar="S",
                   help="report threads blocked in threadkit longer than S seconds")
    p.add_argument("--lock-order", choices=["report", "panic", "off"], default="report",
                   help="lock-order checking: report (default), panic (raise "
                        "PotentialDeadlockError before the inverted acquire blocks), off")
    p.add_argument("--dump-after", type=float, metavar="T",
                   help="print a thread dump T seconds after the start")
    p.add_argument("--repeat", action="store_true", help="with --dump-after: every T seconds")
    p.add_argument("--interval", type=float, default=0.5, metavar="S",
                   help="how often the watchdog looks for deadlocks and stalls (default 0.5)")
    p.add_argument("--signal", default="SIGQUIT", metavar="NAME",
                   help="signal that prints a dump (default SIGQUIT; 'none' to disable)")
    p.add_argument("--queue", action="store_true",
                   help="also replace queue.Queue/LifoQueue/PriorityQueue/SimpleQueue")
    p.add_argument("--no-watchdog", action="store_true", help="no deadlock watchdog")
    p.add_argument("-m", dest="module", metavar="module",
                   help="run a module as a script (what follows it is the module's)")
    opts = p.parse_args(own)
    opts.module, opts.args = module, rest
    if module == "":
        p.error("argument -m: expected one argument")
    if opts.module is None and not opts.args:
        p.error("a script (or -m module) is required")
    return opts


def main(argv=None):
    opts = parse(sys.argv[1:] if argv is None else argv)
    install(opts.queue)
    threadkit.trace_joins()
    threadkit.set_holder_sites(True)
    threadkit.set_lock_order_mode(opts.lock_order)
    keep = []
    if opts.signal.lower() != "none":
        signum = getattr(signal, opts.signal.upper(), None)
        if signum is None:
            print(f"threadkit: no signal {opts.signal} here; use --dump-after", file=sys.stderr)
        else:
            try:
                keep.append(threadkit.dump_on_signal(int(signum)))
            except (OSError, ValueError) as e:
                print(f"threadkit: no dump on {opts.signal}: {e}; use --dump-after",
                      file=sys.stderr)
    if not opts.no_watchdog or opts.stall is not None or opts.dump_after is not None:
        dog = threadkit.Watchdog(interval=opts.interval, stall=opts.stall,
                                 dump_after=opts.dump_after, repeat=opts.repeat,
                                 deadlocks=not opts.no_watchdog)
        dog.start()
        # Left running through the exit (it watches the wait for non-daemon threads too).
        keep.append(dog)
    globals()["_keep"] = keep
    if opts.module is not None:
        sys.argv = [opts.module] + opts.args
        runpy.run_module(opts.module, run_name="__main__", alter_sys=True)
    else:
        script = opts.args[0]
        sys.argv = list(opts.args)
        sys.path[0] = os.path.dirname(os.path.abspath(script))
        runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
