"""threading.Thread.join in threadkit's dumps and deadlock finder (see trace_joins)."""

import functools as _functools
import threading as _threading

from . import _native

# The originals while joins are traced (None: not traced).
_original = None


def trace_joins(on=True):
    """Shows each ``threading.Thread.join`` in ``threadkit.dump()`` and the deadlock finder.

    CPython's ``Thread.join`` waits in C, where threadkit cannot see it. Traced, a thread
    blocked in ``t.join()`` on another Python thread appears in a dump as
    ``waiting to join "<t's name>" #N at app.py:LINE`` (the line of the ``join`` call, with the
    timeout left when one was given), and the deadlock finder and watchdog follow the join: a
    thread that holds a threadkit lock and joins a thread waiting for that lock is a deadlock
    cycle, reported as one. ``python -m threadkit`` turns it on.

    How: ``Thread.join`` is wrapped so that the original join runs with the wait published,
    and ``Thread._bootstrap_inner`` so that each thread started from now on registers with
    threadkit under its name before it runs (a join of a thread started earlier is shown if
    that thread has used threadkit). The original join does all the waiting: its timeout, its
    errors (joining the current thread or one not started: RuntimeError) and Ctrl-C in the main
    thread behave as without threadkit. Cost: a few microseconds per join of a live thread.

    ``trace_joins(False)`` puts the originals back.
    """
    global _original
    Thread = _threading.Thread
    if on and _original is None:
        join, bootstrap = Thread.join, Thread._bootstrap_inner

        @_functools.wraps(join)
        def traced_join(self, timeout=None):
            # Nothing to wait for (or an error to raise): the original alone, unpublished, so
            # that no dump or deadlock check ever sees a thread joining itself.
            if self is _threading.current_thread() or not self.is_alive():
                return join(self, timeout)
            return _native._join(self, timeout, join, getattr(self, "_threadkit_ident", None))

        @_functools.wraps(bootstrap)
        def traced_bootstrap(self):
            try:
                self._threadkit_ident = _native._register_thread(self.name)
            except Exception:  # never keep a thread from starting
                pass
            return bootstrap(self)

        _original = (join, bootstrap)
        Thread.join = traced_join
        Thread._bootstrap_inner = traced_bootstrap
    elif not on and _original is not None:
        Thread.join, Thread._bootstrap_inner = _original
        _original = None


def joins_traced():
    """Whether ``trace_joins`` is on."""
    return _original is not None
