"""threadkit: Python's threading and queue primitives, backed by the threadkit Rust library.

Drop-in replacements::

    from threadkit import Lock, RLock, Condition, Semaphore, BoundedSemaphore, Event, Barrier, Timer
    from threadkit import Queue, LifoQueue, PriorityQueue, SimpleQueue

The exceptions are the standard library's own (threading.BrokenBarrierError, queue.Empty,
queue.Full, queue.ShutDown where the interpreter has it), so existing ``except`` clauses work.
"""

import atexit as _atexit
import os as _os
import queue as _queue
import threading as _threading

from . import _native
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

BrokenBarrierError = _threading.BrokenBarrierError
Empty = _queue.Empty
Full = _queue.Full
ThreadError = RuntimeError

__all__ = [
    "TIMEOUT_MAX", "Barrier", "BoundedSemaphore", "BrokenBarrierError", "Condition", "Empty",
    "Event", "Full", "LifoQueue", "Lock", "PriorityQueue", "Queue", "RLock", "Semaphore",
    "ShutDown", "SimpleQueue", "ThreadError", "Timer",
]

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
