"""Blocking calls release the GIL, and Ctrl-C (SIGINT) interrupts them in the main thread.

Ctrl-C tests run a child process whose main thread blocks; the parent waits until that thread
sleeps in the kernel, sends SIGINT and times the KeyboardInterrupt (the signal wakes the wait:
test_signals.py checks how, and that nothing else does). The witness that the call
was really blocked (and not merely about to block) is the thread's 'S' state in /proc.
"""

import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
import unittest

import threadkit

PY = sys.executable


# Each case: (name, setup code, the blocking call). The call must block forever in the main thread.
BLOCKING_CALLS = [
    ("Lock.acquire", "x = threadkit.Lock(); x.acquire()", "x.acquire()"),
    ("Lock.acquire(timeout)", "x = threadkit.Lock(); x.acquire()", "x.acquire(timeout=60)"),
    ("RLock.acquire", "x = threadkit.RLock(); hold_in_thread(x)", "x.acquire()"),
    ("Condition.wait", "x = threadkit.Condition(); x.acquire()", "x.wait()"),
    ("Condition.wait_for", "x = threadkit.Condition(); x.acquire()", "x.wait_for(lambda: False)"),
    ("Semaphore.acquire", "x = threadkit.Semaphore(0)", "x.acquire()"),
    ("Event.wait", "x = threadkit.Event()", "x.wait()"),
    ("Event.wait(timeout)", "x = threadkit.Event()", "x.wait(60)"),
    ("Queue.get", "x = threadkit.Queue()", "x.get()"),
    ("Queue.get(timeout)", "x = threadkit.Queue()", "x.get(timeout=60)"),
    ("Queue.put (full)", "x = threadkit.Queue(1); x.put(1)", "x.put(2)"),
    ("Queue.join", "x = threadkit.Queue(); x.put(1)", "x.join()"),
    ("LifoQueue.get", "x = threadkit.LifoQueue()", "x.get()"),
    ("PriorityQueue.get", "x = threadkit.PriorityQueue()", "x.get()"),
    ("SimpleQueue.get", "x = threadkit.SimpleQueue()", "x.get()"),
    ("Timer.join", "x = threadkit.Timer(60, print); x.daemon = True; x.start()", "x.join()"),
    ("Barrier.wait", "x = threadkit.Barrier(2)", "x.wait()"),
    ("Barrier.wait(timeout)", "x = threadkit.Barrier(2)", "x.wait(60)"),
]

CHILD = textwrap.dedent("""
    import sys, threading, time
    import threadkit

    def hold_in_thread(lock):
        got = threading.Event()
        def run():
            lock.acquire()
            got.set()
            threading.Event().wait()
        threading.Thread(target=run, daemon=True).start()
        got.wait()

    {setup}
    print("ready", flush=True)
    try:
        {call}
    except KeyboardInterrupt:
        print("KeyboardInterrupt" + {after}, flush=True)
        sys.exit(0)
    print("returned", flush=True)
    sys.exit(1)
""")


def read_line(child, timeout=10.0):
    """The child's next line, or '' if it prints none within `timeout` (no hang on a bug)."""
    ready, _, _ = select.select([child.stdout], [], [], timeout)
    return child.stdout.readline().strip() if ready else ""


def thread_state(pid, tid):
    try:
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "?"


def wait_until_sleeping(pid, tid=None, timeout=10.0):
    """Waits until thread `tid` (default: the main thread) of process `pid` has slept in the
    kernel on several looks in a row."""
    tid = pid if tid is None else tid
    deadline = time.monotonic() + timeout
    in_a_row = 0
    while time.monotonic() < deadline:
        in_a_row = in_a_row + 1 if thread_state(pid, tid) == "S" else 0
        if in_a_row >= 5:
            return True
        time.sleep(0.005)
    return False


class CtrlC(unittest.TestCase):
    latencies = {}

    def run_case(self, setup, call, after='""', expect="KeyboardInterrupt"):
        code = CHILD.format(setup=setup, call=call, after=after)
        child = subprocess.Popen([PY, "-c", code], stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(read_line(child), "ready")
            self.assertTrue(wait_until_sleeping(child.pid), "the call never blocked")
            # Still blocked: it has not printed anything or exited.
            self.assertIsNone(child.poll())
            sent = time.monotonic()
            child.send_signal(signal.SIGINT)
            line = read_line(child)
            latency = time.monotonic() - sent
            self.assertEqual(line, expect)
            self.assertEqual(child.wait(timeout=30), 0)
            return latency
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()

    def test_sigint_interrupts_every_blocking_call(self):
        for name, setup, call in BLOCKING_CALLS:
            with self.subTest(name):
                latency = self.run_case(setup, call)
                type(self).latencies[name] = latency
                # A few ms expected (the signal wakes the wait); loose bound for a noisy 2-core
                # machine.
                self.assertLess(latency, 1.0, name)

    @classmethod
    def tearDownClass(cls):
        if cls.latencies:
            worst = max(cls.latencies.values())
            print(f"\nSIGINT -> KeyboardInterrupt latency over {len(cls.latencies)} calls: "
                  f"median {sorted(cls.latencies.values())[len(cls.latencies) // 2] * 1e3:.0f} ms, "
                  f"max {worst * 1e3:.0f} ms", file=sys.stderr)

    def test_interrupted_condition_wait_holds_the_lock_again(self):
        # CPython's Condition.wait re-acquires the lock however the wait ends.
        for lock in ("threadkit.Lock()", "threadkit.RLock()", "threading.Lock()"):
            with self.subTest(lock):
                self.run_case(f"x = threadkit.Condition({lock}); x.acquire()",
                              "x.wait()", after='" owned=%s" % x._is_owned()',
                              expect="KeyboardInterrupt owned=True")

    def test_handler_that_returns_lets_the_wait_go_on(self):
        code = textwrap.dedent("""
            import signal, threading, sys
            import threadkit
            hits = []
            signal.signal(signal.SIGUSR1, lambda *a: hits.append(1))
            lock = threadkit.Lock(); lock.acquire()
            def later():
                # released only after the parent's SIGUSR1 was handled
                while not hits:
                    threading.Event().wait(0.01)
                lock.release()
            print("ready", flush=True)
            threading.Thread(target=later).start()
            got = lock.acquire(timeout=30)
            print("acquired", got, len(hits), flush=True)
        """)
        child = subprocess.Popen([PY, "-c", code], stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(read_line(child), "ready")
            self.assertTrue(wait_until_sleeping(child.pid))
            child.send_signal(signal.SIGUSR1)
            self.assertEqual(read_line(child), "acquired True 1")
            self.assertEqual(child.wait(timeout=30), 0)
        finally:
            if child.poll() is None:
                child.kill()

    def test_a_sleeping_main_thread_costs_almost_no_cpu(self):
        code = textwrap.dedent("""
            import resource, time, threadkit
            e = threadkit.Event()
            r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.monotonic()
            e.wait(2.0)
            r1 = resource.getrusage(resource.RUSAGE_SELF); t1 = time.monotonic()
            cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
            print(cpu, t1 - t0)
        """)
        out = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=60)
        cpu, wall = map(float, out.stdout.split())
        print(f"\nmain thread blocked {wall:.2f} s in Event.wait: {cpu * 1e3:.1f} ms CPU",
              file=sys.stderr)
        # A busy loop would burn ~wall seconds; even a 50 ms poll (40 wake-ups) costs well under
        # 0.1 s. The wake-ups themselves: test_signals.NoPeriodicWakeUps.
        self.assertLess(cpu, 0.25 * wall)


# Ctrl-C in a main thread waiting at a barrier, with another party waiting there too. What
# CPython's Barrier.wait does (checked by running the same code on threading.Barrier): the
# KeyboardInterrupt ends the main thread's wait and takes its arrival back (`finally:
# self._count -= 1`); the barrier is not broken, the other party goes on waiting, and two more
# arrivals complete the cycle.
BARRIER_CTRL_C_CHILD = textwrap.dedent("""
    import faulthandler, sys, threading, time
    import threadkit
    faulthandler.dump_traceback_later(30, exit=True)
    b = {module}.Barrier(3)
    indices = []
    def party():
        try:
            indices.append(b.wait(30))
        except threading.BrokenBarrierError:
            indices.append("broken")
    first = threading.Thread(target=party)
    first.start()
    while b.n_waiting < 1:
        time.sleep(0.001)
    print("ready", flush=True)
    try:
        b.wait()
        print("returned", flush=True)
    except KeyboardInterrupt:
        print("KeyboardInterrupt", b.broken, b.n_waiting, first.is_alive(), flush=True)
    second = threading.Thread(target=party)
    second.start()
    indices.append(b.wait(30))
    first.join()
    second.join()
    print("cycle", sorted(indices, key=str), b.broken, flush=True)
""")

# A signal whose handler returns, delivered while the main thread waits at a barrier: the wait
# goes on and passes with the other party (no withdrawal, no break).
BARRIER_HANDLER_CHILD = textwrap.dedent("""
    import faulthandler, signal, sys, threading
    import threadkit
    faulthandler.dump_traceback_later(30, exit=True)
    hits = []
    signal.signal(signal.SIGUSR1, lambda *a: hits.append(1))
    b = threadkit.Barrier(2)
    def later():
        # arrives only after the parent's SIGUSR1 was handled
        while not hits:
            threading.Event().wait(0.01)
        later.index = b.wait(30)
    t = threading.Thread(target=later)
    print("ready", flush=True)
    t.start()
    mine = b.wait(30)
    t.join()
    print("passed", sorted([mine, later.index]), len(hits), b.broken, b.n_waiting, flush=True)
""")


class BarrierCtrlC(unittest.TestCase):
    def interrupt_child(self, module):
        code = BARRIER_CTRL_C_CHILD.format(module=module)
        child = subprocess.Popen([PY, "-c", code], stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(read_line(child), "ready")
            self.assertTrue(wait_until_sleeping(child.pid), "the wait never blocked")
            child.send_signal(signal.SIGINT)
            interrupted = read_line(child)
            cycle = read_line(child, 40)
            self.assertEqual(child.wait(timeout=30), 0)
            return interrupted, cycle
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()

    def test_ctrl_c_takes_the_main_threads_arrival_back_as_cpython_does(self):
        expected = ("KeyboardInterrupt False 1 True", "cycle [0, 1, 2] False")
        # The reference: CPython's own Barrier, in the same child.
        self.assertEqual(self.interrupt_child("threading"), expected)
        self.assertEqual(self.interrupt_child("threadkit"), expected)

    def test_a_handler_that_returns_does_not_end_the_barrier_wait(self):
        child = subprocess.Popen([PY, "-c", BARRIER_HANDLER_CHILD], stdout=subprocess.PIPE,
                                 text=True)
        try:
            self.assertEqual(read_line(child), "ready")
            self.assertTrue(wait_until_sleeping(child.pid))
            child.send_signal(signal.SIGUSR1)
            self.assertEqual(read_line(child), "passed [0, 1] 1 False 0")
            self.assertEqual(child.wait(timeout=30), 0)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()


# A main-thread wait may be several parks (a signal interrupts one, the handlers run, it parks
# again; on the fallback path, 50 ms slices); diagnostics must still see one wait, from its
# start. The default report hook (stderr, no GIL): a Python hook would hold the GIL while the
# main thread needs it between two parks, and a watchdog sweep in that gap sees it not blocked.
STALL_CHILD = textwrap.dedent("""
    import faulthandler, threading
    import threadkit
    faulthandler.dump_traceback_later(30, exit=True)
    dog = threadkit.Watchdog(interval=0.1, stall=0.5, dump_with_reports=False)
    dog.start()
    try:
        threadkit.{call}
    except threading.BrokenBarrierError:
        pass
    dog.stop()
""")


class MainThreadWaitIsOneWait(unittest.TestCase):
    def test_dump_shows_the_whole_wait_and_its_real_timeout(self):
        # Witness: the main thread's published wait is older than 0.3 s although a signal (whose
        # handler returns) interrupts it every ~10 ms, and its timeout is the caller's (30 s),
        # not the end of one park.
        e = threadkit.Event()
        main = threading.get_native_id()
        seen = []
        handled = []
        old = signal.signal(signal.SIGUSR1, lambda *a: handled.append(1))

        def look():
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not seen:
                signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)
                for t in threadkit.dump().threads:
                    w = t.get("waiting")
                    if t["native_id"] == main and w and w["waited"] >= 0.3:
                        seen.append(w)
                time.sleep(0.01)
            e.set()

        try:
            threading.Thread(target=look).start()
            self.assertTrue(e.wait(30))
        finally:
            signal.signal(signal.SIGUSR1, old)
        self.assertTrue(seen, "the main thread's wait never looked older than 0.3 s")
        self.assertGreater(len(handled), 5)
        self.assertGreater(seen[0]["timeout_in"], 10)
        self.assertEqual(seen[0]["kind"], "Event")

    def test_stall_watchdog_reports_a_main_thread_wait_once(self):
        for call in ("Event().wait(1.5)", "Barrier(2).wait(1.5)"):
            with self.subTest(call):
                code = STALL_CHILD.format(call=call)
                out = subprocess.run([PY, "-c", code], capture_output=True, text=True,
                                     timeout=60)
                stalls = [line for line in out.stderr.splitlines() if "Stall" in line]
                self.assertEqual(len(stalls), 1, out.stderr[-2000:])
                self.assertIn('"MainThread"', stalls[0])


# What happens while a signal interrupts the main thread's wait: test_signals.SignalGap.


class GilIsReleased(unittest.TestCase):
    """While one Python thread blocks, another runs Python code.

    The blocked thread waits with a timeout of BLOCK seconds. If the call held the GIL, the main
    thread could not run a single bytecode until that timeout, so the waiter would have returned
    (timed out) before the main thread counted to N: the witness is that it is still blocked.
    """

    BLOCK = 5.0
    N = 200_000

    def check(self, make_blocker, release):
        started = threading.Event()
        finished = []
        tid = []

        def waiter():
            tid.append(threading.get_native_id())
            started.set()
            finished.append(make_blocker())

        t = threading.Thread(target=waiter)
        t.start()
        started.wait()
        # Asleep in the kernel on five looks 5 ms apart, while this thread sleeps without the
        # GIL in between: the waiter is in its blocking call, not waiting for the GIL.
        self.assertTrue(wait_until_sleeping(os.getpid(), tid[0]), "the waiter never blocked")
        # Python work in this thread while the waiter blocks.
        count = 0
        for _ in range(self.N):
            count += 1
        self.assertEqual(finished, [], "the waiter returned while it should still be blocked")
        release()
        t.join(self.BLOCK * 2)
        self.assertFalse(t.is_alive())
        self.assertEqual(count, self.N)
        return finished[0]

    def test_lock_acquire(self):
        lock = threadkit.Lock()
        lock.acquire()
        self.assertTrue(self.check(lambda: lock.acquire(timeout=self.BLOCK), lock.release))

    def test_rlock_acquire(self):
        lock = threadkit.RLock()
        lock.acquire()
        self.assertTrue(self.check(lambda: lock.acquire(timeout=self.BLOCK), lock.release))

    def test_event_wait(self):
        e = threadkit.Event()
        self.assertTrue(self.check(lambda: e.wait(self.BLOCK), e.set))

    def test_condition_wait(self):
        c = threadkit.Condition()
        flag = []

        def block():
            with c:
                return c.wait_for(lambda: flag, self.BLOCK)

        def release():
            with c:
                flag.append(1)
                c.notify()

        self.assertEqual(self.check(block, release), [1])

    def test_semaphore_acquire(self):
        s = threadkit.Semaphore(0)
        self.assertTrue(self.check(lambda: s.acquire(timeout=self.BLOCK), s.release))

    def test_queue_get(self):
        for cls in (threadkit.Queue, threadkit.LifoQueue, threadkit.PriorityQueue):
            with self.subTest(cls.__name__):
                q = cls()
                self.assertEqual(self.check(lambda: q.get(timeout=self.BLOCK),
                                            lambda: q.put(7)), 7)

    def test_queue_put_full(self):
        q = threadkit.Queue(1)
        q.put(0)
        self.check(lambda: q.put(1, timeout=self.BLOCK), q.get)
        self.assertEqual(q.get_nowait(), 1)

    def test_simple_queue_get(self):
        q = threadkit.SimpleQueue()
        self.assertEqual(self.check(lambda: q.get(timeout=self.BLOCK), lambda: q.put(5)), 5)

    def test_barrier_wait(self):
        b = threadkit.Barrier(2)
        self.assertIn(self.check(lambda: b.wait(self.BLOCK), lambda: b.wait()), (0, 1))


# A Barrier's action runs under the barrier's internal lock and needs the GIL; abort()/reset()
# take that lock. If they held the GIL while waiting for it, the process would hang.
BARRIER_ACTION_CHILD = textwrap.dedent("""
    import faulthandler, sys, threading, time
    import threadkit
    faulthandler.dump_traceback_later(10, exit=True)
    in_action = threading.Event()
    actions = []
    def action():
        actions.append(1)
        in_action.set()
        time.sleep(0.2)  # releases the GIL, then needs it back
    b = threadkit.Barrier(2, action=action)
    outcomes = []
    def party():
        try:
            b.wait()
            outcomes.append("passed")
        except threading.BrokenBarrierError:
            outcomes.append("broken")
    ts = [threading.Thread(target=party) for _ in range(2)]
    for t in ts:
        t.start()
    assert in_action.wait(10)
    b.{call}()
    for t in ts:
        t.join()
    print("done", len(actions), len(outcomes), flush=True)
""")


class BarrierCallsDuringTheAction(unittest.TestCase):
    def run_child(self, call):
        code = BARRIER_ACTION_CHILD.format(call=call)
        try:
            out = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            self.fail(f"Barrier.{call}() during the action hung")
        self.assertEqual(out.returncode, 0, out.stderr[-2000:])
        # The action ran once, and each party came out of wait() once.
        self.assertEqual(out.stdout.split(), ["done", "1", "2"])

    def test_abort_while_the_action_waits_for_the_gil(self):
        self.run_child("abort")

    def test_reset_while_the_action_waits_for_the_gil(self):
        self.run_child("reset")


# os.fork() from a non-main thread: in the child, the forking thread is the main thread (CPython
# runs signal handlers there), so its blocking calls must see a signal's exception.
FORK_CHILD = textwrap.dedent("""
    import faulthandler, os, signal, threading
    import threadkit

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    def forker():
        pid = os.fork()
        if pid == 0:
            faulthandler.dump_traceback_later(10, exit=True)
            signal.signal(signal.SIGALRM, interrupt)
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            try:
                threadkit.Event().wait()
            except KeyboardInterrupt:
                os.write(1, b"interrupted\\n")
                os._exit(0)
            os._exit(1)
        _, status = os.waitpid(pid, 0)
        print("child exit", os.waitstatus_to_exitcode(status), flush=True)

    t = threading.Thread(target=forker)
    t.start()
    t.join()
""")


class ForkFromAThread(unittest.TestCase):
    def test_the_forking_thread_is_the_childs_main_thread(self):
        out = subprocess.run([PY, "-c", FORK_CHILD], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr[-2000:])
        self.assertEqual(out.stdout.split(), ["interrupted", "child", "exit", "0"],
                         out.stderr[-2000:])


if __name__ == "__main__":
    unittest.main()
