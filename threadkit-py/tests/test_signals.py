"""A blocked main thread sleeps until its wait is satisfied, its deadline, or a signal.

The main thread's waits install threadkit's pipe as Python's wakeup fd for their duration; a
watcher thread interrupts the wait when CPython writes a signal's byte there, forwards the byte
to the fd it replaced (asyncio's), and the wait puts that fd back when it ends. These tests
check each part with a witness: the thread's voluntary context switches (no periodic wake-up),
the handler's and the hook's counts, the bytes the old fd received, and the fd
`signal.set_wakeup_fd` returns afterwards.
"""

import asyncio
import os
import queue
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import unittest

import threadkit
from test_blocking import PY, wait_until_sleeping

MAIN_NATIVE_ID = threading.get_native_id()


def poke_main_when_asleep(times=1, spacing=0.0, sig=signal.SIGUSR1, until=None):
    """A thread that sends `sig` to the main thread `times` times, each once the main thread
    sleeps in the kernel (so the signal lands in a wait, not before it), `spacing` s apart;
    stops early when `until` (an Event) is set. Returns the started thread."""
    main = threading.main_thread().ident

    def run():
        for _ in range(times):
            if until is not None and until.is_set():
                return
            if not wait_until_sleeping(os.getpid(), MAIN_NATIVE_ID):
                return
            signal.pthread_kill(main, sig)
            if spacing:
                time.sleep(spacing)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


class HandlerCounting(unittest.TestCase):
    """A SIGUSR1 handler that returns, counting its calls."""

    def setUp(self):
        self.handled = []
        self.old_handler = signal.signal(signal.SIGUSR1, lambda *a: self.handled.append(1))

    def tearDown(self):
        threadkit._native._testing.set_slice_hook(None)
        signal.signal(signal.SIGUSR1, self.old_handler)


WAKEUP_CHILD = textwrap.dedent("""
    import queue, sys, threading, time
    import threadkit

    def switches():
        with open(f"/proc/self/task/{threading.get_native_id()}/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches"):
                    return int(line.split()[1])

    def held(lock):
        lock.acquire()
        return lock

    def get(q):
        try:
            q.get(timeout=T)
        except queue.Empty:
            pass

    def barrier(b):
        try:
            b.wait(T)
        except threading.BrokenBarrierError:
            pass

    T = 1.0
    CASES = {
        "Event.wait": lambda m, q: m.Event().wait(T),
        "Lock.acquire": lambda m, q: held(m.Lock()).acquire(timeout=T),
        "Queue.get": lambda m, q: get(q.Queue()),
        "Condition.wait": lambda m, q: (lambda c: (c.acquire(), c.wait(T)))(m.Condition()),
        "Semaphore.acquire": lambda m, q: m.Semaphore(0).acquire(timeout=T),
        "Barrier.wait": lambda m, q: barrier(m.Barrier(2)),
    }
    threadkit.Event().wait(0.01)  # the first wait starts the signal watcher
    for name, case in CASES.items():
        for side, m, q in (("threadkit", threadkit, threadkit), ("threading", threading, queue)):
            s0, t0 = switches(), time.monotonic()
            case(m, q)
            print(name, side, switches() - s0, round(time.monotonic() - t0, 2), flush=True)
""")


class NoPeriodicWakeUps(unittest.TestCase):
    def test_a_blocked_main_thread_sleeps_until_its_deadline(self):
        # Witness: the main thread's voluntary context switches over a 1 s wait that times
        # out. One or two when it sleeps in the kernel until the deadline (threading's, shown
        # beside); about 20 when it wakes every 50 ms to look for signals.
        out = subprocess.run([PY, "-c", WAKEUP_CHILD], capture_output=True, text=True,
                             timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr[-2000:])
        rows = [line.split() for line in out.stdout.splitlines()]
        figures = {}
        for name, side, switched, wall in rows:
            figures.setdefault(name, {})[side] = (int(switched), float(wall))
        self.assertEqual(len(figures), 6, out.stdout)
        print("\nmain thread blocked 1 s, voluntary switches threadkit / threading: "
              + ", ".join(f"{n} {f['threadkit'][0]}/{f['threading'][0]}"
                          for n, f in figures.items()), file=sys.stderr)
        for name, f in figures.items():
            switched, wall = f["threadkit"]
            self.assertGreaterEqual(wall, 0.9, name)
            # Loose for a noisy machine (a preempted GIL hand-off switches too): well below
            # the 20 of a 50 ms poll.
            self.assertLessEqual(switched, 6, f"{name}: {switched} wake-ups in {wall} s")


class SignalGap(HandlerCounting):
    """A signal whose handler returns interrupts the main thread's wait; the handlers (and the
    test hook, `_testing.set_slice_hook`) run, then the wait goes on. What happens in that gap
    must not be lost."""

    def test_event_set_and_cleared_in_the_gap_ends_the_wait(self):
        # CPython (Lib/test/lock_tests.py test_set_and_clear): a wait returns True when the event
        # was set during it, even if cleared again before the waiter looked.
        e = threadkit.Event()
        pulses = []

        def pulse():
            if not pulses:
                pulses.append(1)
                e.set()
                e.clear()

        threadkit._native._testing.set_slice_hook(pulse)
        poke_main_when_asleep()
        self.assertTrue(e.wait(30))
        self.assertEqual((pulses, self.handled), ([1], [1]))

    def test_condition_notify_in_the_gap_ends_the_wait(self):
        c = threadkit.Condition(threadkit.Lock())
        notified = []

        def notify():
            if not notified:
                # The waiter released the lock; take it as a notifier would.
                with c:
                    notified.append(1)
                    c.notify()

        threadkit._native._testing.set_slice_hook(notify)
        poke_main_when_asleep()
        with c:
            self.assertTrue(c.wait(30))
        self.assertEqual((notified, self.handled), ([1], [1]))


class HandlerThatReturns(HandlerCounting):
    """A handler that returns lets the wait go on with the REST of its timeout, not a new one."""

    T = 1.0

    def calls(self):
        lock = threadkit.Lock()
        lock.acquire()
        b = threadkit.Barrier(2)

        def barrier():
            try:
                return b.wait(self.T)
            except threading.BrokenBarrierError:
                return "broken"

        def get():
            try:
                return threadkit.Queue().get(timeout=self.T)
            except queue.Empty:
                return "empty"

        def cond():
            c = threadkit.Condition()
            with c:
                return c.wait(self.T)

        return [
            ("Event.wait", lambda: threadkit.Event().wait(self.T), False),
            ("Lock.acquire", lambda: lock.acquire(timeout=self.T), False),
            ("Queue.get", get, "empty"),
            ("Condition.wait", cond, False),
            ("Semaphore.acquire", lambda: threadkit.Semaphore(0).acquire(timeout=self.T), False),
            ("Barrier.wait", barrier, "broken"),
        ]

    def test_signals_every_0_2_s_do_not_extend_a_1_s_timeout(self):
        # A signal every ~0.2 s for as long as the wait lasts (up to 40). A wait that restarted
        # its timeout after each would not end before they stop (~8 s); the right one ends
        # after about 1 s with several handled.
        for name, call, timed_out in self.calls():
            with self.subTest(name):
                self.handled.clear()
                done = threading.Event()
                t = poke_main_when_asleep(times=40, spacing=0.2, until=done)
                t0 = time.monotonic()
                result = call()
                wall = time.monotonic() - t0
                done.set()
                t.join()
                self.assertEqual(result, timed_out)
                self.assertGreaterEqual(len(self.handled), 2, name)
                self.assertGreaterEqual(wall, 0.9 * self.T)
                self.assertLess(wall, 5.0, f"{name}: {len(self.handled)} signals")


class WakeupFdIsRestored(HandlerCounting):
    """asyncio and trio own the wakeup fd while their loop runs: a threadkit wait in the main
    thread forwards the signal bytes to it and puts it back."""

    def test_no_wakeup_fd_before_means_none_after(self):
        poke_main_when_asleep()
        self.assertFalse(threadkit.Event().wait(0.5))
        self.assertEqual(self.handled, [1])
        self.assertEqual(signal.set_wakeup_fd(-1), -1)

    def test_an_installed_fd_gets_the_bytes_and_is_put_back(self):
        mine, other = socket.socketpair()
        mine.setblocking(False)
        other.settimeout(10)  # a byte that never comes fails the test, no hang
        old = signal.set_wakeup_fd(mine.fileno())
        try:
            poke_main_when_asleep(times=2, sig=signal.SIGUSR1)
            lock = threadkit.Lock()
            lock.acquire()
            self.assertFalse(lock.acquire(timeout=1.0))
        finally:
            after = signal.set_wakeup_fd(old)
        self.assertEqual(after, mine.fileno())
        got = b""
        while len(got) < 2:
            got += other.recv(64)
        mine.close()
        other.close()
        self.assertEqual(len(self.handled), 2)
        self.assertEqual(got, bytes([signal.SIGUSR1]) * 2)

    def test_asyncio_signal_handler_runs_after_a_blocking_wait_in_a_coroutine(self):
        # loop.add_signal_handler learns of its signals only through the wakeup fd.
        async def main():
            loop = asyncio.get_running_loop()
            seen = asyncio.Event()
            loop.add_signal_handler(signal.SIGUSR2, seen.set)
            try:
                poke_main_when_asleep(sig=signal.SIGUSR2)
                # Blocking call in a coroutine: the loop is stuck meanwhile.
                self.assertFalse(threadkit.Event().wait(1.0))
                await asyncio.wait_for(seen.wait(), 10)
            finally:
                loop.remove_signal_handler(signal.SIGUSR2)

        asyncio.run(main())
        self.assertEqual(signal.set_wakeup_fd(-1), -1)

    def test_keyboard_interrupt_restores_the_fd(self):
        mine, other = socket.socketpair()
        mine.setblocking(False)
        other.settimeout(10)
        old = signal.set_wakeup_fd(mine.fileno())
        try:
            poke_main_when_asleep(sig=signal.SIGINT)
            with self.assertRaises(KeyboardInterrupt):
                threadkit.Event().wait(30)
        finally:
            after = signal.set_wakeup_fd(old)
        self.assertEqual(after, mine.fileno())
        self.assertEqual(other.recv(64), bytes([signal.SIGINT]))
        mine.close()
        other.close()


# A fork (from another thread) while the main thread waits with threadkit's fd installed: the
# child's interpreter gets its own fd back, and the child's main thread (the forking thread)
# gets a watcher of its own.
FORK_DURING_WAIT_CHILD = textwrap.dedent("""
    import faulthandler, os, signal, threading
    import threadkit
    faulthandler.dump_traceback_later(30, exit=True)
    main_waits = threadkit.Event()

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    def forker():
        while True:  # until the main thread sleeps in its wait
            with open(f"/proc/self/task/{os.getpid()}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "S":
                    break
        pid = os.fork()
        if pid == 0:
            fd = signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGALRM, interrupt)
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            try:
                threadkit.Event().wait(20)
            except KeyboardInterrupt:
                os.write(1, b"child fd %d interrupted\\n" % fd)
                os._exit(0)
            os._exit(1)
        _, status = os.waitpid(pid, 0)
        print("child exit", os.waitstatus_to_exitcode(status), flush=True)
        main_waits.set()

    t = threading.Thread(target=forker)
    t.start()
    main_waits.wait(60)
    t.join()
""")


# A signal handler forks while the main thread waits in Barrier.wait: in the child, the wait
# goes on in the (new) main thread and must be interruptible there too.
FORK_IN_HANDLER_DURING_BARRIER_CHILD = textwrap.dedent("""
    import faulthandler, os, signal, threading, time
    import threadkit
    faulthandler.dump_traceback_later(40, exit=True)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    def fork(signum, frame):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGALRM, interrupt)
            signal.setitimer(signal.ITIMER_REAL, 0.3)
            return  # back into the child's copy of the wait
        _, status = os.waitpid(pid, 0)
        print("child exit", os.waitstatus_to_exitcode(status), flush=True)
        raise KeyboardInterrupt

    signal.signal(signal.SIGUSR1, fork)
    main = threading.main_thread().ident
    threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGUSR1)).start()
    start = time.monotonic()
    try:
        threadkit.Barrier(2).wait(20)
        os._exit(3)
    except KeyboardInterrupt:
        pass
    except threading.BrokenBarrierError:
        os._exit(2)  # the child, deaf until its timeout
    if os.getpid() != int(os.environ["PARENT_PID"]):
        print("child interrupted", time.monotonic() - start < 15, flush=True)
        os._exit(0)
""")


class Fork(unittest.TestCase):
    def test_fork_in_a_handler_during_a_barrier_wait(self):
        code = "import os; os.environ['PARENT_PID'] = str(os.getpid())\n"
        out = subprocess.run([PY, "-c", code + FORK_IN_HANDLER_DURING_BARRIER_CHILD],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.stdout.splitlines(), ["child interrupted True", "child exit 0"],
                         out.stderr[-2000:])
        self.assertEqual(out.returncode, 0, out.stderr[-2000:])

    def test_fork_while_the_main_thread_waits(self):
        out = subprocess.run([PY, "-c", FORK_DURING_WAIT_CHILD], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr[-2000:])
        self.assertEqual(out.stdout.splitlines(), ["child fd -1 interrupted", "child exit 0"],
                         out.stderr[-2000:])


class Stop(Exception):
    pass


class HandlerThatSetsTheWakeupFd(unittest.TestCase):
    """A signal handler that calls `signal.set_wakeup_fd` during a wait (asyncio's loop closing
    in a handler, say): its choice stands, as without threadkit, and the wait stays wakeable."""

    def setUp(self):
        self.calls = []

        def give_up(*a):
            self.calls.append(signal.set_wakeup_fd(-1))

        self.old_handler = signal.signal(signal.SIGUSR1, give_up)

        def stop(*a):
            raise Stop

        # Not SIGINT: a KeyboardInterrupt that comes late (a deaf wait) must not end the run.
        self.old_usr2 = signal.signal(signal.SIGUSR2, stop)

    def tearDown(self):
        signal.signal(signal.SIGUSR1, self.old_handler)
        signal.signal(signal.SIGUSR2, self.old_usr2)
        signal.set_wakeup_fd(-1)

    def poke_then_stop(self):
        """From another thread, once the main thread sleeps: SIGUSR1 (its handler gives the
        wakeup fd up), then, once it sleeps again, SIGUSR2 (its handler raises Stop)."""
        main = threading.main_thread().ident

        def poke():
            wait_until_sleeping(os.getpid(), MAIN_NATIVE_ID)
            signal.pthread_kill(main, signal.SIGUSR1)
            deadline = time.monotonic() + 10
            while not self.calls and time.monotonic() < deadline:
                time.sleep(0.01)
            wait_until_sleeping(os.getpid(), MAIN_NATIVE_ID)
            signal.pthread_kill(main, signal.SIGUSR2)

        threading.Thread(target=poke, daemon=True).start()

    def test_a_later_signal_still_interrupts_the_wait(self):
        self.poke_then_stop()
        start = time.monotonic()
        with self.assertRaises(Stop):
            threadkit.Event().wait(40)
        # Deaf, the wait would have lasted its 40 s (then run the handler).
        self.assertLess(time.monotonic() - start, 25)
        self.assertEqual(len(self.calls), 1)
        self.assertEqual(signal.set_wakeup_fd(-1), -1)

    def test_a_later_signal_still_interrupts_a_barrier_wait(self):
        self.poke_then_stop()
        barrier = threadkit.Barrier(2)
        start = time.monotonic()
        with self.assertRaises(Stop):
            barrier.wait(40)
        self.assertLess(time.monotonic() - start, 25)
        self.assertEqual(len(self.calls), 1)
        self.assertFalse(barrier.broken)
        self.assertEqual(barrier.n_waiting, 0)
        self.assertEqual(signal.set_wakeup_fd(-1), -1)

    def test_the_fd_it_gave_up_is_not_put_back_nor_written(self):
        mine, other = socket.socketpair()
        mine.setblocking(False)
        other.setblocking(False)
        signal.set_wakeup_fd(mine.fileno())
        try:
            poke_main_when_asleep()
            self.assertFalse(threadkit.Event().wait(1.0))
            self.assertEqual(len(self.calls), 1)
            # The wait ended with the handler's choice (none), not the fd it gave up.
            self.assertEqual(signal.set_wakeup_fd(-1), -1)
            got = other.recv(64)  # the byte of the signal that ran the handler
            self.assertEqual(got, bytes([signal.SIGUSR1]))
            signal.signal(signal.SIGUSR1, lambda *a: None)
            signal.raise_signal(signal.SIGUSR1)
            with self.assertRaises(BlockingIOError):
                other.recv(64)
        finally:
            mine.close()
            other.close()


# The old wakeup fd is closed by a handler during a wait: putting it back fails, and the
# error goes to sys.unraisablehook, a hook that waits (contended) on a threadkit lock in the
# main thread. No lock of the extension may be held while Python code runs.
UNRAISABLE_HOOK_WAITS_CHILD = textwrap.dedent("""
    import faulthandler, os, signal, sys, threading
    import threadkit
    faulthandler.dump_traceback_later(20, exit=True)
    r, w = os.pipe()
    os.set_blocking(w, False)
    signal.set_wakeup_fd(w)
    signal.signal(signal.SIGUSR1, lambda *a: (os.close(w), os.close(r)))
    lock = threadkit.Lock()

    def hook(u):
        print("hook:", u.exc_type.__name__, flush=True)
        held = threadkit.Event()
        release = threadkit.Event()
        def holder():
            with lock:
                held.set()
                release.wait(5)
        t = threading.Thread(target=holder)
        t.start()
        held.wait()
        threading.Timer(0.2, release.set).start()
        lock.acquire()  # contended, in the main thread
        lock.release()
        t.join()
        print("hook: acquired", flush=True)

    sys.unraisablehook = hook
    main = threading.main_thread().ident
    def poke():
        import time
        time.sleep(0.3)
        signal.pthread_kill(main, signal.SIGUSR1)
    threading.Thread(target=poke, daemon=True).start()
    threadkit.Event().wait(1)
    print("done", flush=True)
""")

# A daemonizing program closes every fd it does not know (os.closerange) while the main
# thread waits, then opens a pipe that gets the numbers of threadkit's. The watcher must stop
# (not spin, not read the new pipe), and the wait must still be interrupted by signals.
CLOSERANGE_CHILD = textwrap.dedent("""
    import faulthandler, os, signal, threading, time
    import threadkit
    faulthandler.dump_traceback_later(40, exit=True)
    lock = threadkit.Lock()
    lock.acquire()
    lock.acquire(timeout=0.05)  # starts the watcher
    def interrupt(*a):
        raise KeyboardInterrupt
    signal.signal(signal.SIGUSR1, interrupt)
    main = threading.main_thread().ident
    native = threading.get_native_id()
    result = {}
    def closer():
        while True:  # until the main thread sleeps in its wait
            with open(f"/proc/self/task/{native}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "S":
                    break
            time.sleep(0.01)
        os.closerange(3, 64)
        c0 = time.process_time()
        time.sleep(0.5)  # nobody should run meanwhile: the main thread waits
        result["cpu"] = time.process_time() - c0 < 0.25
        r, w = os.pipe()
        os.write(w, b"payload")
        time.sleep(0.3)
        os.set_blocking(r, False)
        try:
            result["read"] = os.read(r, 100)
        except BlockingIOError:
            result["read"] = b""
        signal.pthread_kill(main, signal.SIGUSR1)
    t = threading.Thread(target=closer, daemon=True)
    t.start()
    start = time.monotonic()
    try:
        lock.acquire(timeout=30)
        print("not interrupted", flush=True)
    except KeyboardInterrupt:
        print("interrupted", time.monotonic() - start < 20, flush=True)
    t.join()
    print("pipe read", result["read"], "cpu after close", result["cpu"], flush=True)
    c0 = time.process_time()
    time.sleep(1.0)
    print("idle cpu", time.process_time() - c0 < 0.5, flush=True)
""")


class NoLockHeldForPython(unittest.TestCase):
    def test_unraisable_hook_that_waits_in_the_main_thread(self):
        out = subprocess.run([PY, "-c", UNRAISABLE_HOOK_WAITS_CHILD], capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.stdout.splitlines(), ["hook: OSError", "hook: acquired", "done"],
                         out.stderr[-2000:])
        self.assertEqual(out.returncode, 0, out.stderr[-2000:])


class PipeClosedUnderTheWatcher(unittest.TestCase):
    def test_closerange_during_a_wait(self):
        out = subprocess.run([PY, "-c", CLOSERANGE_CHILD], capture_output=True, text=True,
                             timeout=90)
        self.assertEqual(out.stdout.splitlines(),
                         ["interrupted True", "pipe read b'payload' cpu after close True",
                          "idle cpu True"],
                         out.stderr[-2000:])
        self.assertEqual(out.returncode, 0, out.stderr[-2000:])


if __name__ == "__main__":
    unittest.main()
