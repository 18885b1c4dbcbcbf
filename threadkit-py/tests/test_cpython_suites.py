"""CPython's own conformance suites, unmodified, run against threadkit's classes.

The test classes come from the interpreter's ``test`` package (Lib/test/lock_tests.py and
Lib/test/test_queue.py); only the type under test is set, exactly as CPython's test_threading.py
sets it for ``threading``'s own classes. Gaps are listed in GAPS with the reason (a test listed
there is expected to fail: if it starts to pass, unittest reports an unexpected success).
"""

import functools
import queue
import sys
import types
import unittest

from test import lock_tests, test_queue

import threadkit

# test name -> why threadkit cannot pass it (each is marked expectedFailure below).
GAPS = {
    # `with evt._cond:` -- threading.Event is built on a Condition over a Lock and the test checks
    # that private attribute; threadkit's Event is a single atomic word with no Condition.
    "EventTests.test_at_fork_reinit": "checks threading.Event's private _cond attribute",
    # The pure-Python queue.Queue lets a subclass override _put/_get (the storage hooks);
    # threadkit's queue keeps its storage in Rust, so the overrides are never called.
    "FailingQueueTest.test_failing_queue":
        "subclass hooks _put/_get are a pure-Python implementation detail",
}


def _mark_gaps(cls):
    for name in dir(cls):
        key = f"{cls.__name__}.{name}"
        if key in GAPS:
            # A wrapper is marked, not the inherited function: expectedFailure flags the function
            # object itself, which the other classes of the same mixin share.
            test = getattr(cls, name)

            @functools.wraps(test)
            def gap(self, test=test):
                return test(self)

            setattr(cls, name, unittest.expectedFailure(gap))
    return cls


# --- threading: Lib/test/lock_tests.py, as Lib/test/test_threading.py runs it ---------------

@_mark_gaps
class LockTests(lock_tests.LockTests):
    locktype = staticmethod(threadkit.Lock)


@_mark_gaps
class RLockTests(lock_tests.RLockTests):
    locktype = staticmethod(threadkit.RLock)


@_mark_gaps
class EventTests(lock_tests.EventTests):
    eventtype = staticmethod(threadkit.Event)


@_mark_gaps
class ConditionAsRLockTests(lock_tests.RLockTests):
    # Condition uses an RLock by default and exports its API (CPython's own class, same skip).
    locktype = staticmethod(threadkit.Condition)

    def test_recursion_count(self):
        self.skipTest("Condition does not expose _recursion_count() (CPython skips it too)")


@_mark_gaps
class ConditionTests(lock_tests.ConditionTests):
    condtype = staticmethod(threadkit.Condition)


@_mark_gaps
class SemaphoreTests(lock_tests.SemaphoreTests):
    semtype = staticmethod(threadkit.Semaphore)


@_mark_gaps
class BoundedSemaphoreTests(lock_tests.BoundedSemaphoreTests):
    semtype = staticmethod(threadkit.BoundedSemaphore)


@_mark_gaps
class BarrierTests(lock_tests.BarrierTests):
    barriertype = staticmethod(threadkit.Barrier)


# --- queue: Lib/test/test_queue.py over a namespace of threadkit's queue classes -------------

tk_queue = types.SimpleNamespace(
    Queue=threadkit.Queue,
    LifoQueue=threadkit.LifoQueue,
    PriorityQueue=threadkit.PriorityQueue,
    SimpleQueue=threadkit.SimpleQueue,
    Empty=queue.Empty,
    Full=queue.Full,
    ShutDown=threadkit.ShutDown,
)


@_mark_gaps
class QueueTest(test_queue.QueueTest, unittest.TestCase):
    queue = tk_queue


@_mark_gaps
class LifoQueueTest(test_queue.LifoQueueTest, unittest.TestCase):
    queue = tk_queue


@_mark_gaps
class PriorityQueueTest(test_queue.PriorityQueueTest, unittest.TestCase):
    queue = tk_queue


@_mark_gaps
class FailingQueueTest(test_queue.FailingQueueTest, unittest.TestCase):
    queue = tk_queue


@_mark_gaps
class SimpleQueueTest(test_queue.CSimpleQueueTest):
    # CSimpleQueueTest takes self.queue.SimpleQueue: here threadkit's.
    queue = tk_queue


class ExceptionsAreTheStandardLibrarysOwn(unittest.TestCase):
    def test_identity(self):
        import threading
        self.assertIs(threadkit.BrokenBarrierError, threading.BrokenBarrierError)
        self.assertIs(threadkit.Empty, queue.Empty)
        self.assertIs(threadkit.Full, queue.Full)
        if hasattr(queue, "ShutDown"):
            self.assertIs(threadkit.ShutDown, queue.ShutDown)
        self.assertEqual(threadkit.TIMEOUT_MAX, threading.TIMEOUT_MAX)


if __name__ == "__main__":
    unittest.main()
