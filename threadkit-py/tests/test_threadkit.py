"""threadkit-specific behaviour: Rust threads and Python threads sharing one primitive, the
Timer service, Python exceptions out of a priority queue's comparisons and a Barrier's action."""

import queue
import subprocess
import sys
import textwrap
import threading
import unittest
from collections import Counter

import threadkit
from threadkit import _native

testing = _native._testing


class MixedRustAndPythonThreads(unittest.TestCase):
    def test_rust_thread_holds_a_lock_python_waits(self):
        lock = threadkit.Lock()
        held, go, done = threadkit.Event(), threadkit.Event(), threadkit.Event()
        testing.spawn_lock_holder(lock, held, go, done)
        self.assertTrue(held.wait(30))
        self.assertTrue(lock.locked())
        self.assertFalse(lock.acquire(False))
        self.assertFalse(lock.acquire(timeout=0.05))
        got = []

        def python_waiter():
            ok = lock.acquire(timeout=30)
            # Witness: the Rust holder was told to let go before this acquire could succeed.
            got.append((ok, go.is_set()))

        t = threading.Thread(target=python_waiter)
        t.start()
        go.set()
        t.join(60)
        self.assertEqual(got, [(True, True)])
        self.assertTrue(done.wait(30))
        lock.release()
        self.assertFalse(lock.locked())

    def test_rust_and_python_threads_contend_on_one_lock(self):
        lock = threadkit.Lock()
        done = threadkit.Event()
        testing.spawn_lock_churn(lock, 200_000, done)
        inside = []
        overlaps = []

        def python_side():
            for _ in range(2_000):
                with lock:
                    inside.append(1)
                    if len(inside) != 1:
                        overlaps.append(len(inside))
                    inside.pop()

        threads = [threading.Thread(target=python_side) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertTrue(done.wait(120))
        self.assertEqual(overlaps, [])
        self.assertFalse(lock.locked())

    def test_rust_producer_python_consumers_exactly_once(self):
        q = threadkit.Queue(4)
        items = [object() for _ in range(3_000)]
        done = threadkit.Event()
        testing.spawn_queue_producer(q, items, done)
        got = []

        def consume(n):
            for _ in range(n):
                got.append(q.get(timeout=60))
                q.task_done()

        threads = [threading.Thread(target=consume, args=(1_000,)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertTrue(done.wait(60))
        q.join()
        self.assertEqual(Counter(map(id, got)), Counter(map(id, items)))
        self.assertTrue(q.empty())

    def test_python_producers_rust_consumer_exactly_once(self):
        q = threadkit.Queue(8)
        out = threadkit.SimpleQueue()
        done = threadkit.Event()
        testing.spawn_queue_consumer(q, 2_000, out, done)

        def produce(base):
            for i in range(1_000):
                q.put(base + i)

        threads = [threading.Thread(target=produce, args=(b,)) for b in (0, 10_000)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        q.join()  # the Rust consumer calls task_done for each item
        self.assertTrue(done.wait(60))
        received = [out.get_nowait() for _ in range(out.qsize())]
        self.assertEqual(sorted(received), list(range(1_000)) + list(range(10_000, 11_000)))


class TimerOnTheService(unittest.TestCase):
    def test_fires_once_with_args(self):
        calls = threadkit.SimpleQueue()
        t = threadkit.Timer(0.01, lambda *a, **k: calls.put((a, k)), args=[1, 2], kwargs={"x": 3})
        t.start()
        t.join(30)
        self.assertFalse(t.is_alive())
        self.assertEqual(calls.get(timeout=5), ((1, 2), {"x": 3}))
        self.assertTrue(calls.empty())
        with self.assertRaises(RuntimeError):
            t.start()

    def test_cancel_before_it_fires(self):
        fired = []
        t = threadkit.Timer(30, lambda: fired.append(1))
        t.start()
        self.assertTrue(t.is_alive())
        t.cancel()
        t.join(30)
        self.assertFalse(t.is_alive())
        self.assertEqual(fired, [])

    def test_join_before_start_raises(self):
        with self.assertRaises(RuntimeError):
            threadkit.Timer(1, print).join()

    def test_exception_goes_to_threading_excepthook(self):
        seen = threadkit.SimpleQueue()
        old = threading.excepthook
        threading.excepthook = lambda args: seen.put(args)
        try:
            t = threadkit.Timer(0, lambda: 1 / 0)
            t.name = "boom"
            t.start()
            t.join(30)
            args = seen.get(timeout=30)
        finally:
            threading.excepthook = old
        self.assertIs(args.exc_type, ZeroDivisionError)
        self.assertIs(args.thread, t)
        self.assertEqual(args.thread.name, "boom")

    def test_many_timers_fire_exactly_once(self):
        fired = threadkit.SimpleQueue()
        timers = [threadkit.Timer(0.001 * (i % 20), fired.put, args=(i,)) for i in range(500)]
        for t in timers:
            t.start()
        for t in timers[::2]:
            t.cancel()
        for t in timers:
            t.join(60)
        got = sorted(fired.get_nowait() for _ in range(fired.qsize()))
        # Every odd timer fired exactly once; an even one fired only if it beat its cancel.
        self.assertEqual([i for i in got if i % 2], list(range(1, 500, 2)))
        self.assertEqual(len(got), len(set(got)))

    def test_pending_non_daemon_timer_runs_before_exit(self):
        code = textwrap.dedent("""
            import threadkit
            threadkit.Timer(0.2, print, args=("fired",)).start()
            print("main done", flush=True)
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.split(), ["main", "done", "fired"])


    def run_exit_script(self, code):
        out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout.split()

    def test_timer_made_in_a_python_thread_is_not_a_daemon(self):
        # CPython's Timer inherits threading.current_thread().daemon: False in an ordinary
        # thread, so the process waits for it at exit.
        got = self.run_exit_script("""
            import threading, threadkit
            def worker():
                t = threadkit.Timer(0.3, print, args=("fired",))
                print("daemon" if t.daemon else "not-daemon", flush=True)
                t.start()
            threading.Thread(target=worker).start()
        """)
        self.assertEqual(got, ["not-daemon", "fired"])

    def test_timer_made_in_a_daemon_python_thread_is_a_daemon(self):
        got = self.run_exit_script("""
            import threading, threadkit
            def worker():
                print(threadkit.Timer(60, print).daemon, flush=True)
            t = threading.Thread(target=worker, daemon=True)
            t.start()
            t.join()
        """)
        self.assertEqual(got, ["True"])

    def test_timer_started_while_python_joins_threads_at_exit_runs(self):
        # Started by a thread that Python's exit sequence is joining, after threadkit's own
        # exit step ran: CPython's Timer would still run, so this one must too.
        got = self.run_exit_script("""
            import threading, time, threadkit
            def worker():
                time.sleep(0.3)  # main has returned by now
                t = threadkit.Timer(0.1, print, args=("fired",))
                t.daemon = False
                t.start()
            threading.Thread(target=worker).start()
            print("main done", flush=True)
        """)
        self.assertEqual(got, ["main", "done", "fired"])

    def test_timer_started_by_a_late_timer_runs(self):
        got = self.run_exit_script("""
            import threading, time, threadkit
            def second():
                print("second", flush=True)
            def first():
                print("first", flush=True)
                threadkit.Timer(0.1, second).start()
            def worker():
                time.sleep(0.3)
                t = threadkit.Timer(0.1, first)
                t.daemon = False
                t.start()
            threading.Thread(target=worker).start()
        """)
        self.assertEqual(got, ["first", "second"])


class PythonExceptionsThroughRust(unittest.TestCase):
    def test_priority_queue_comparison_error(self):
        q = threadkit.PriorityQueue()
        q.put(1)
        with self.assertRaises(TypeError):
            q.put("a")  # '<' not supported between str and int
        # As heapq's heappush: the item stays queued, and the queue still works.
        self.assertEqual(q.qsize(), 2)
        q2 = threadkit.PriorityQueue()
        for x in (5, 3, 4, 1, 2):
            q2.put(x)
        self.assertEqual([q2.get() for _ in range(5)], [1, 2, 3, 4, 5])

    def test_priority_queue_tuples_and_fifo_ties(self):
        q = threadkit.PriorityQueue()
        for item in [(2, "b"), (1, "z"), (2, "a"), (1, "y")]:
            q.put(item)
        self.assertEqual([q.get() for _ in range(4)], [(1, "y"), (1, "z"), (2, "a"), (2, "b")])

    def test_barrier_action_exception(self):
        b = threadkit.Barrier(2, action=lambda: 1 / 0)
        results = []

        def other():
            try:
                b.wait(30)
                results.append("passed")
            except threading.BrokenBarrierError:
                results.append("broken")
            except ZeroDivisionError:
                results.append("raised")

        t = threading.Thread(target=other)
        t.start()
        try:
            b.wait(30)
            results.append("passed")
        except threading.BrokenBarrierError:
            results.append("broken")
        except ZeroDivisionError:
            results.append("raised")
        t.join(30)
        # The leader (last to arrive) gets the action's exception, the other BrokenBarrierError.
        self.assertEqual(sorted(results), ["broken", "raised"])
        self.assertTrue(b.broken)


class Maxsize(unittest.TestCase):
    def test_queue_maxsize_can_be_assigned(self):
        # Witness: the bound the queue enforces follows the assignment (a third put is refused
        # at 2 and accepted at 3), and shrinking keeps every queued item, as in CPython.
        q = threadkit.Queue(2)
        q.put_nowait(1)
        q.put_nowait(2)
        with self.assertRaises(queue.Full):
            q.put_nowait(3)
        q.maxsize = 3
        self.assertEqual(q.maxsize, 3)
        q.put_nowait(3)
        self.assertTrue(q.full())
        q.maxsize = 1
        self.assertEqual([q.get_nowait() for _ in range(3)], [1, 2, 3])

    def test_concurrent_assignments_leave_getter_and_bound_agreeing(self):
        # Two threads assign -1 and 3 at once (PriorityQueue's setter releases the GIL). Witness,
        # each round: with 3 items queued, `full()` (the bound the queue enforces) is True
        # exactly when the getter says 3, and the getter shows one of the assigned values.
        # PriorityQueue only: LifoQueue's setter keeps the GIL, so the two cannot interleave.
        q = threadkit.PriorityQueue()
        disagreements = []
        for round in range(300):
            start = threading.Barrier(2)

            def assign(value):
                start.wait()
                q.maxsize = value

            threads = [threading.Thread(target=assign, args=(v,)) for v in (-1, 3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            for i in range(3):
                q.put_nowait(i)
            shown = q.maxsize
            self.assertIn(shown, (-1, 3))
            if (shown == 3) != q.full():
                disagreements.append((round, shown, q.full()))
            for _ in range(3):
                q.get_nowait()
        self.assertEqual(disagreements, [])

    def test_growing_maxsize_lets_a_blocked_putter_in(self):
        # Witness: the blocked put returns only after the bound grows, and its item is the one
        # queued after the first.
        for cls in (threadkit.Queue, threadkit.LifoQueue, threadkit.PriorityQueue):
            q = cls(1)
            q.put(1)
            done = threading.Event()

            def putter():
                q.put(2, timeout=30)
                done.set()

            t = threading.Thread(target=putter)
            t.start()
            self.assertFalse(done.wait(0.2))
            self.assertEqual(q.qsize(), 1)
            q.maxsize = 2
            self.assertTrue(done.wait(30))
            t.join(30)
            self.assertEqual(q.maxsize, 2)
            self.assertEqual(sorted([q.get_nowait(), q.get_nowait()]), [1, 2])
            q.maxsize = 0
            for i in range(100):
                q.put_nowait(i)
            self.assertEqual(q.qsize(), 100)


class TimeoutRules(unittest.TestCase):
    def test_lock_timeout_rules(self):
        for lock in (threadkit.Lock(), threadkit.RLock()):
            with self.assertRaises(ValueError):
                lock.acquire(False, 1)
            with self.assertRaises(ValueError):
                lock.acquire(timeout=-0.5)
            with self.assertRaises(OverflowError):
                lock.acquire(timeout=threadkit.TIMEOUT_MAX * 2)
            with self.assertRaises(ValueError):
                lock.acquire(timeout=float("nan"))
            with self.assertRaises(TypeError):
                lock.acquire(timeout=None)
            self.assertTrue(lock.acquire(False, -1))
            lock.release()

    def raised_by(self, call):
        """The exception type `call()` raises, run in a daemon thread: a call that blocks
        instead (a timeout taken as centuries) fails the test rather than hanging it."""
        got = []

        def run():
            try:
                call()
                got.append(None)
            except BaseException as e:  # PanicException is a BaseException
                got.append(type(e))

        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join(10)
        self.assertFalse(t.is_alive(), "blocked instead of raising")
        return got[0]

    def test_infinite_or_huge_timeout_is_overflow_error(self):
        # As CPython: OverflowError (not a Rust panic, not a wait of centuries) for a timeout
        # past TIMEOUT_MAX.
        for t in (float("inf"), 1e300, threadkit.TIMEOUT_MAX * 2):
            for s in (threadkit.Semaphore(0), threadkit.BoundedSemaphore(1)):
                if isinstance(s, threadkit.BoundedSemaphore):
                    s.acquire()
                with self.subTest(type(s).__name__, timeout=t):
                    self.assertIs(self.raised_by(lambda: s.acquire(timeout=t)), OverflowError)
            c = threadkit.Condition()
            calls = []

            def wait_for():
                with c:
                    c.wait_for(lambda: calls.append(1), timeout=t)

            with self.subTest("Condition.wait_for", timeout=t):
                self.assertIs(self.raised_by(wait_for), OverflowError)
                # The predicate was checked once, and the lock was released.
                self.assertEqual(calls, [1])
                self.assertTrue(c.acquire(False))
                c.release()

    def test_queue_negative_timeout(self):
        for q in (threadkit.Queue(), threadkit.SimpleQueue(), threadkit.PriorityQueue()):
            with self.assertRaises(ValueError):
                q.get(True, -1)
            with self.assertRaises(threadkit.Empty):
                q.get(False, -1)  # timeout is ignored when not blocking


if __name__ == "__main__":
    unittest.main()
