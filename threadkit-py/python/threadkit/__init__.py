"""threadkit: Python's threading and queue primitives, backed by the threadkit Rust library.

Drop-in replacements::

    from threadkit import Lock, RLock, Condition, Semaphore, BoundedSemaphore, Event, Barrier, Timer
    from threadkit import Queue, LifoQueue, PriorityQueue, SimpleQueue

The exceptions are the standard library's own (threading.BrokenBarrierError, queue.Empty,
queue.Full, queue.ShutDown where the interpreter has it), so existing ``except`` clauses work.

Diagnostics, in your program's own terms (objects by the Python line that created them, waits
and acquires by the Python line that called them, threads by their ``threading`` names)::

    print(threadkit.dump())            # every thread: what it waits on, who holds it
    threadkit.find_deadlocks()         # cycles of threads blocked on each other now
    threadkit.Watchdog(stall=5).start()  # reports deadlocks and stalls as they happen
    threadkit.set_lock_order_mode("report")  # or "panic": raise PotentialDeadlockError
    threadkit.set_contention_profiling(True); print(threadkit.contention_profile())
    threadkit.trace_joins()            # threading.Thread.join shown in dumps and deadlocks

``python -m threadkit script.py`` runs an unmodified program with all of this installed.
"""

import atexit as _atexit
import os as _os

import queue as _queue
import threading as _threading

from . import _native
from ._native import (
    ContentionProfile,
    Deadlock,
    PotentialDeadlock,
    PotentialDeadlockError,
    Report,
    Stall,
    ThreadDump,
    Watchdog,
    contention_profile,
    contention_profiling,
    dump,
    dump_later,
    dump_on_signal,
    find_deadlocks,
    holder_sites,
    lock_order_mode,
    reset_contention_profile,
    reset_lock_order,
    set_contention_profiling,
    set_holder_sites,
    set_lock_order_mode,
    set_report_hook,
)
from ._native import (
    TIMEOUT_MAX,
    Barrier,
    BoundedSemaphore,
    Condition,
    Event,
    LifoQueue,
    Lock,
    PriorityQueue,
    Queue,
    RLock,
    Semaphore,
    ShutDown,
    SimpleQueue,
    Timer,
)

from ._joins import joins_traced, trace_joins

BrokenBarrierError = _threading.BrokenBarrierError
Empty = _queue.Empty
Full = _queue.Full
ThreadError = RuntimeError

__all__ = [
    "TIMEOUT_MAX", "Barrier", "BoundedSemaphore", "BrokenBarrierError", "Condition", "Empty",
    "Event", "Full", "LifoQueue", "Lock", "PriorityQueue", "Queue", "RLock", "Semaphore",
    "ShutDown", "SimpleQueue", "ThreadError", "Timer",
    # diagnostics
    "ContentionProfile", "Deadlock", "PotentialDeadlock", "PotentialDeadlockError", "Report",
    "Stall", "ThreadDump", "Watchdog",
    "contention_profile", "contention_profiling", "dump", "dump_later", "dump_on_signal",
    "find_deadlocks", "holder_sites", "lock_order_mode", "reset_contention_profile",
    "reset_lock_order", "set_contention_profiling", "set_holder_sites", "set_lock_order_mode",
    "set_report_hook", "trace_joins", "joins_traced",
]

# Frames in this package are not the user's: the extension skips them when it looks for the
# Python line that created an object or called a blocking method.
_native._set_package_dir(_os.path.dirname(_os.path.abspath(__file__)) + _os.sep)

# Non-daemon Timers run on threadkit's service, which Python's exit does not know about: join
# them in threading's own exit sequence, before the interpreter finalizes (as Python joins a
# pending threading.Timer).
_threading._register_atexit(_native._shutdown)
# threadkit's exit step above runs at the start of threading._shutdown, before Python joins its
# non-daemon threads: a non-daemon Timer one of them starts after that is joined here (atexit
# runs after threading._shutdown), as CPython's exit would join such a threading.Timer.
_atexit.register(_native._join_late_timers)

# After os.fork() from any thread, the forking thread is the child's main thread: the one whose
# blocking calls look for signals (Ctrl-C).
if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_native._after_fork_in_child)

# Watchdogs and a Python report hook stop before the interpreter finalizes (a report must not
# try to take the GIL after that).
_threading._register_atexit(_native._stop_watchdogs)
