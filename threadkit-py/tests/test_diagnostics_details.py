"""The details of threadkit's reports and dumps from Python (the names Rust gives them), and
Thread.join in dumps and the deadlock finder (threadkit.trace_joins, on in `python -m threadkit`).

Each blocking step has a timeout; waits for another thread to reach a state poll the dump (what
the test is about) or wait on an Event, never sleep in its place.
"""

import os
import subprocess
import sys
import textwrap
import threading
import time
import unittest

import threadkit

FILE = __file__
with open(FILE) as _f:
    _SOURCE = _f.read().splitlines()


def site(marker):
    """`file:line` of the one source line that ends with `# <marker>`."""
    hits = [i + 1 for i, text in enumerate(_SOURCE) if text.rstrip().endswith("# " + marker)]
    assert len(hits) == 1, (marker, hits)
    return f"{FILE}:{hits[0]}"


def until(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def thread_named(name, dump=None):
    for t in (dump or threadkit.dump()).threads:
        if t["name"] == name:
            return t
    return None


def waiting(name):
    t = thread_named(name)
    return t if t is not None and t["waiting"] is not None else None


class Reports(unittest.TestCase):
    """Stall and PotentialDeadlock reports carry what Rust's do, as attributes."""

    def setUp(self):
        self.reports = []
        threadkit.set_report_hook(self.reports.append)

    def tearDown(self):
        threadkit.set_report_hook(None)

    def test_a_stall_report_has_the_thread_and_its_wait(self):
        event = threadkit.Event()
        t = threading.Thread(target=event.wait, args=(10,), name="stalled")  # stalled wait
        with threadkit.Watchdog(interval=0.02, stall=0.05, deadlocks=False,
                                dump_with_reports=False):
            t.start()
            report = until(lambda: next((r for r in list(self.reports) if r.kind == "stall"
                                         and r.stall.thread["name"] == "stalled"), None),
                           what="the stall report")
        event.set()
        t.join(10)
        stall = report.stall
        self.assertIsInstance(stall, threadkit.Stall)
        self.assertEqual(stall.wait["kind"], "Event")
        self.assertEqual(stall.wait["object"]["kind"], "Event")
        self.assertIsNone(stall.wait["last_signal"])  # nobody had set it
        self.assertIsNone(stall.wait["reacquiring_after"])
        self.assertIsInstance(stall.wait["seq"], int)
        self.assertGreaterEqual(stall.wait["waited"], 0.05)
        self.assertIn("stalled", str(stall))
        self.assertIsNone(report.potential_deadlock)
        self.assertIsNone(report.deadlock)

    def test_a_lock_order_report_has_the_locks_sites_and_chain(self):
        before = threadkit.lock_order_mode()
        threadkit.set_lock_order_mode("report")
        try:
            first = threadkit.Lock()  # first lock
            second = threadkit.Lock()

            def in_order():
                with first:
                    with second:  # recorded order
                        pass

            t = threading.Thread(target=in_order, name="orderer")
            t.start()
            t.join(10)
            with second:
                with first:  # inverted order
                    pass
        finally:
            threadkit.set_lock_order_mode(before)
            threadkit.reset_lock_order()
        found = [r for r in self.reports if r.kind == "potential_deadlock"]
        self.assertEqual(len(found), 1, [str(r) for r in self.reports])
        p = found[0].potential_deadlock
        self.assertIsInstance(p, threadkit.PotentialDeadlock)
        self.assertEqual(p.acquiring["created_at"], site("first lock"))
        self.assertEqual(p.site, site("inverted order"))
        self.assertIsInstance(p.timed, bool)
        self.assertEqual([h["lock"]["id"] for h in p.held], [p.closing["lock"]["id"]])
        self.assertEqual(p.chain[0]["thread"]["name"], "orderer")
        self.assertEqual(p.chain[0]["to_site"], site("recorded order"))
        self.assertEqual(p.chain[0]["from"]["id"], p.acquiring["id"])
        self.assertIsNone(found[0].stall)


class DumpDetails(unittest.TestCase):
    """last_signal, reacquiring_after and held_for in dumps."""

    def test_an_event_waiter_shows_who_last_set_it(self):
        event = threadkit.Event()
        first = threading.Thread(target=event.wait, args=(10,), name="first-waiter")
        first.start()
        until(lambda: waiting("first-waiter"), what="the first waiter")
        event.set()  # wakes the first waiter
        first.join(10)
        event.clear()
        second = threading.Thread(target=event.wait, args=(10,), name="second-waiter")
        second.start()
        t = until(lambda: waiting("second-waiter"), what="the second waiter")
        event.set()
        second.join(10)
        last = t["waiting"]["last_signal"]
        self.assertIsNotNone(last, t)
        self.assertEqual(last["thread"]["name"], threading.current_thread().name)
        self.assertGreaterEqual(last["ago"], 0.0)
        return last

    def test_an_event_waiter_shows_the_python_line_that_set_it(self):
        last = self.test_an_event_waiter_shows_who_last_set_it()
        self.assertEqual(last["site"], site("wakes the first waiter"))

    def test_a_notified_condition_waiter_shows_the_condition_it_waited_on(self):
        # Its waiters wait on an Event each and take the lock back under
        # `diagnostics::reacquiring_after`, so `reacquiring_after` names the waiter's Event.
        cond = threadkit.Condition()
        woken = []

        def waiter():
            with cond:
                woken.append(cond.wait(10))

        t = threading.Thread(target=waiter, name="cond-waiter")
        t.start()
        until(lambda: waiting("cond-waiter"), what="the condition waiter")
        with cond:
            cond.notify()
            # Notified while this thread holds the lock: it now waits to take the lock back.
            w = until(lambda: (waiting("cond-waiter") or {}).get("waiting", {})
                      .get("reacquiring_after"), timeout=2.0, what="the re-acquire")
        t.join(10)
        self.assertEqual(woken, [True])  # owed the notify
        # The Condition, as the object its waiter waited on: an Event named after it.
        self.assertTrue((w["name"] or "").startswith("Condition@"), w)

    def test_held_locks_show_held_for(self):
        before, sites = threadkit.lock_order_mode(), threadkit.holder_sites()
        threadkit.set_lock_order_mode("report")
        threadkit.set_holder_sites(True)
        rlock, lock = threadkit.RLock(), threadkit.Lock()
        release = threading.Event()
        levels = []

        def holder():
            with lock:
                with rlock, rlock, rlock:
                    levels.append(rlock._recursion_count())
                    release.wait(10)

        t = threading.Thread(target=holder, name="rlock-holder")
        try:
            t.start()
            until(lambda: levels, what="the holder")
            holding = thread_named("rlock-holder")["holding"]
        finally:
            release.set()
            t.join(10)
            threadkit.set_lock_order_mode(before)
            threadkit.set_holder_sites(sites)
        self.assertEqual(levels, [3])
        by_kind = {h["object"]["kind"]: h for h in holding}
        # An RLock nobody waits for shows without its count (1): publishing every re-entry
        # would cost the re-entrant acquire and release (threadkit.diagnostics docs).
        self.assertEqual(by_kind["RLock"]["count"], 1, holding)
        self.assertEqual(by_kind["Lock"]["count"], 1, holding)
        for h in holding:
            self.assertIsInstance(h["held_for"], float, h)
            self.assertEqual(h["contended_for"], 0.0)
            self.assertEqual(h["waiters"], 0)


class ProfileOfDroppedObjects(unittest.TestCase):
    """Locks made and dropped per request fold into one profile entry for their creation site,
    which keeps their acquisitions (not one entry per Lock ever made)."""

    def test_dropped_locks_fold_into_their_site(self):
        threadkit.reset_contention_profile()
        threadkit.set_contention_profiling(True)
        try:
            for _ in range(500):
                lock = threadkit.Lock()  # per request
                with lock:
                    pass
                del lock
            objects = threadkit.contention_profile().objects
        finally:
            threadkit.set_contention_profiling(False)
            threadkit.reset_contention_profile()
        mine = [o for o in objects if o["object"]["created_at"] == site("per request")]
        self.assertEqual(len(mine), 1, f"{len(mine)} entries for one creation site")
        self.assertEqual((mine[0]["dropped"], mine[0]["acquisitions"]), (500, 500))
        self.assertEqual(mine[0]["object"]["id"], 0)


class Joins(unittest.TestCase):
    """Thread.join, traced: shown as a join of the thread, at the join's line, and part of a
    deadlock cycle when the joined thread waits for a lock the joiner holds."""

    def setUp(self):
        self.was = threadkit.joins_traced()
        threadkit.trace_joins()

    def tearDown(self):
        threadkit.trace_joins(self.was)

    def test_a_join_cycle_is_a_deadlock_with_the_join_edge(self):
        lock = threadkit.Lock()
        started = threading.Event()
        got = []

        def target():
            started.set()
            got.append(lock.acquire(timeout=3))  # waits for the joiner's lock

        def joiner():
            with lock:
                worker = threading.Thread(target=target, name="join-target")
                worker.start()
                started.wait(10)
                worker.join(20)  # the join

        j = threading.Thread(target=joiner, name="joiner")
        j.start()
        cycles = until(lambda: waiting("join-target") and waiting("joiner")
                       and threadkit.find_deadlocks(), what="the join cycle")
        dump = threadkit.dump()
        j.join(30)
        self.assertEqual(got, [False])  # the lock was held for the whole acquire
        self.assertEqual(sorted(cycles[0].threads), ["join-target", "joiner"])
        kinds = sorted(link["kind"] for link in cycles[0].links)
        self.assertEqual(kinds, ["Join", "Lock"])
        w = thread_named("joiner", dump)["waiting"]
        self.assertEqual(w["kind"], "Join")
        self.assertEqual(w["joining"]["name"], "join-target")
        self.assertEqual(w["site"], site("the join"))
        self.assertIsNotNone(w["timeout_in"])
        self.assertIn('waiting to join "join-target"', str(dump))
        self.assertEqual(threadkit.find_deadlocks(), [])

    def test_join_keeps_its_semantics(self):
        t = threading.Thread(target=lambda: None)
        with self.assertRaises(RuntimeError):
            t.join()  # not started
        with self.assertRaises(RuntimeError):
            threading.current_thread().join()
        go = threading.Event()
        t = threading.Thread(target=go.wait, args=(10,), name="slow-target")
        t.start()
        self.assertIsNone(t.join(0.01))  # times out
        self.assertTrue(t.is_alive())
        go.set()
        self.assertIsNone(t.join(10))
        self.assertFalse(t.is_alive())
        self.assertIsNone(t.join())  # a finished thread: at once
        self.assertEqual(threading.Thread.join.__name__, "join")

    def test_trace_joins_off_restores_the_original(self):
        traced = threading.Thread.join
        threadkit.trace_joins(False)
        self.assertIsNot(threading.Thread.join, traced)
        self.assertFalse(threadkit.joins_traced())
        threadkit.trace_joins()
        self.assertTrue(threadkit.joins_traced())


PROGRAM = textwrap.dedent("""
    import threading

    lock = threading.Lock()
    started = threading.Event()

    def worker():
        started.set()
        lock.acquire(timeout=4)

    with lock:
        t = threading.Thread(target=worker, name="worker")
        t.start()
        started.wait()
        t.join(8)
""")


class MainMode(unittest.TestCase):
    """`python -m threadkit` shows a plain threading program's join cycle as a deadlock."""

    def test_a_join_cycle_in_plain_threading_code_is_reported(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            script = os.path.join(d, "joins.py")
            with open(script, "w") as f:
                f.write(PROGRAM)
            out = subprocess.run(
                [sys.executable, "-m", "threadkit", "--interval", "0.1", "--signal", "none",
                 script], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("Deadlock", out.stderr)
        self.assertIn('waiting to join "worker"', out.stderr)
        self.assertIn(f"{script}:15", out.stderr)  # the t.join(8) line


if __name__ == "__main__":
    unittest.main()
