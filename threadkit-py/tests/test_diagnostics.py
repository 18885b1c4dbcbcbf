"""threadkit's diagnostics from Python, in the Python program's own terms.

Every object is identified by the Python line that created it, every wait and acquire by the
Python line that called it, every thread by its threading name; never a location in the
extension's Rust code. Each test's blocking steps have timeouts, and waits for another thread
to reach a state poll the dump (what the test is about), never sleep in its place.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import unittest

import threadkit

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "examples")
FILE = __file__
with open(FILE) as _f:
    _SOURCE = _f.read().splitlines()


def line_of(marker):
    """The line number of the one source line that ends with `# <marker>`."""
    hits = [i + 1 for i, text in enumerate(_SOURCE) if text.rstrip().endswith("# " + marker)]
    assert len(hits) == 1, (marker, hits)
    return hits[0]


def site(marker):
    return f"{FILE}:{line_of(marker)}"


def until(predicate, timeout=10.0, what="condition"):
    """Polls `predicate` (a look at the dump) until it returns something true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def waiting_thread(name):
    """The dump's entry for thread `name` if it is blocked in threadkit now."""
    for t in threadkit.dump().threads:
        if t["name"] == name and t["waiting"] is not None:
            return t
    return None


class SiteCache(unittest.TestCase):
    """The extension caches call sites by (code object, instruction offset). Witness: the sites
    reported for calls from two lines of one loop, run several times, and for objects created
    on two lines, are each their own line every time (a cache keyed by anything coarser, the
    code object alone, would give the second line the first's site)."""

    def test_each_line_of_a_loop_gets_its_own_site(self):
        seen = []
        for _ in range(3):
            a = threadkit._native._site()  # site cache A
            b = threadkit._native._site()  # site cache B
            seen.append((a, b))
        self.assertEqual(seen, [(site("site cache A"), site("site cache B"))] * 3)

    def test_objects_created_on_two_lines_keep_their_lines(self):
        made = []
        for _ in range(3):
            first = threadkit.Event()  # created A
            second = threadkit.Event()  # created B
            made += [first, second]
        created = []
        for i, event in enumerate(made):
            t = threading.Thread(target=event.wait, args=(10,), name=f"site-cache-{i}")
            t.start()
            try:
                w = until(lambda: waiting_thread(f"site-cache-{i}"), what="waiter blocked")
                created.append(w["waiting"]["object"]["created_at"])
            finally:
                event.set()
                t.join(10)
        self.assertEqual(created, [site("created A"), site("created B")] * 3)

    def test_a_code_object_freed_by_the_cache_may_reenter_it(self):
        # The cache keeps each entry's code object alive; an entry evicted by a new one drops
        # the last reference, and the code object's weakref callback (arbitrary Python) creates
        # a threadkit object, which looks its site up in the cache being updated. Witness: the
        # callbacks ran (the evictions happened) and every one created its Lock; before the fix
        # each raised PanicException ("already mutably borrowed").
        import gc
        import weakref

        outcomes = []

        def on_code_freed(_ref):
            try:
                threadkit.Lock()
                outcomes.append("ok")
            except BaseException as e:  # PanicException is a BaseException
                outcomes.append(f"{type(e).__name__}: {e}")

        refs = []
        for i in range(400):
            ns = {"threadkit": threadkit}
            exec(compile(f"def f{i}():\n    return threadkit.Lock()\n", f"<reentry{i}>", "exec"), ns)
            f = ns[f"f{i}"]
            f()  # caches (f.__code__, offset) -> site
            refs.append(weakref.ref(f.__code__, on_code_freed))
            del f, ns
            gc.collect()
        self.assertGreater(len(outcomes), 100)
        self.assertEqual([o for o in outcomes if o != "ok"], [])


class Diagnostics(unittest.TestCase):
    def setUp(self):
        self.saved = (threadkit.holder_sites(), threadkit.lock_order_mode())
        threadkit.set_holder_sites(True)
        threadkit.set_lock_order_mode("off")
        threadkit.reset_lock_order()

    def tearDown(self):
        threadkit.set_report_hook(None)
        threadkit.set_holder_sites(self.saved[0])
        threadkit.set_lock_order_mode(self.saved[1])
        threadkit.reset_lock_order()

    def test_dump_names_thread_lock_creation_site_wait_line_and_holder(self):
        lock = threadkit.Lock()  # SITE:dump-create
        held = threading.Event()
        done = threading.Event()
        results = []

        def holder():
            lock.acquire()  # SITE:dump-hold
            held.set()
            done.wait(10)
            lock.release()

        def waiter():
            results.append(lock.acquire(timeout=10))  # SITE:dump-wait
            lock.release()

        h = threading.Thread(target=holder, name="holder-thread")
        h.start()
        self.assertTrue(held.wait(10))
        w = threading.Thread(target=waiter, name="waiter-thread")
        w.start()
        try:
            t = until(lambda: waiting_thread("waiter-thread"), what="waiter blocked")
            wait = t["waiting"]
            self.assertEqual(t["state"], "BLOCKED")
            self.assertIs(t["daemon"], False)  # threading's flag, not threadkit's view
            self.assertEqual(wait["kind"], "Lock")
            self.assertEqual(wait["site"], site("SITE:dump-wait"))
            self.assertEqual(wait["object"]["created_at"], site("SITE:dump-create"))
            self.assertEqual(wait["object"]["label"], "Lock@" + site("SITE:dump-create"))
            self.assertEqual(wait["holder"]["name"], "holder-thread")
            self.assertEqual(wait["holder"]["acquired_at"], site("SITE:dump-hold"))
            text = str(threadkit.dump())
            self.assertIn('"waiter-thread"', text)
            self.assertIn(f'held by "holder-thread" #{wait["holder"]["ident"]}, acquired at '
                          f'{site("SITE:dump-hold")}', text)
            self.assertNotIn(".rs:", text)
        finally:
            done.set()
            h.join(10)
            w.join(10)
        self.assertEqual(results, [True])

    def test_find_deadlocks_abba_names_threads_and_python_lines(self):
        accounts = threadkit.Lock()  # SITE:abba-accounts
        ledger = threadkit.Lock()  # SITE:abba-ledger
        both = threading.Barrier(2)
        outcome = {}

        def transfer(first, second, timeout):
            with first:  # SITE:abba-first
                both.wait(10)
                got = second.acquire(timeout=timeout)  # SITE:abba-second
                if got:
                    second.release()
                outcome[threading.current_thread().name] = got

        # alpha gives up first (releasing accounts), then beta gets accounts.
        alpha = threading.Thread(target=transfer, args=(accounts, ledger, 3), name="alpha")
        beta = threading.Thread(target=transfer, args=(ledger, accounts, 8), name="beta")
        alpha.start()
        beta.start()
        try:
            found = until(threadkit.find_deadlocks, what="the ABBA cycle")
            self.assertEqual(len(found), 1, [str(d) for d in found])
            cycle = found[0]
            self.assertEqual(sorted(cycle.threads), ["alpha", "beta"])
            for link in cycle.links:
                self.assertEqual(link["waiting_at"], site("SITE:abba-second"))
                self.assertEqual(link["held_since"], site("SITE:abba-first"))
                self.assertIn(link["object"]["created_at"],
                              {site("SITE:abba-accounts"), site("SITE:abba-ledger")})
                self.assertNotEqual(link["thread"]["name"], link["waits_for"]["name"])
            text = str(cycle)
            self.assertIn('"alpha"', text)
            self.assertIn('"beta"', text)
            self.assertIn("Lock@" + site("SITE:abba-accounts"), text)
            self.assertIn("Lock@" + site("SITE:abba-ledger"), text)
        finally:
            alpha.join(15)
            beta.join(15)
        self.assertFalse(alpha.is_alive() or beta.is_alive())
        self.assertEqual(outcome, {"alpha": False, "beta": True})
        self.assertEqual(threadkit.find_deadlocks(), [])

    def _inversion(self, expect_error):
        accounts = threadkit.Lock()  # SITE:order-accounts
        ledger = threadkit.Lock()  # SITE:order-ledger
        errors = []

        def forward():
            with accounts:
                with ledger:  # SITE:order-forward
                    pass

        def backward():
            try:
                with ledger:  # SITE:order-backward-held
                    with accounts:  # SITE:order-backward
                        pass
            except threadkit.PotentialDeadlockError as e:
                errors.append(e)

        for name, target in [("alpha", forward), ("beta", backward), ("gamma", backward)]:
            t = threading.Thread(target=target, name=name)
            t.start()
            t.join(10)
            self.assertFalse(t.is_alive())
        self.assertFalse(accounts.locked())
        self.assertFalse(ledger.locked())
        return errors

    def test_lock_order_inversion_reported_once_with_python_sites(self):
        reports = []
        threadkit.set_report_hook(reports.append)
        threadkit.set_lock_order_mode("report")
        errors = self._inversion(expect_error=False)
        self.assertEqual(errors, [])
        kinds = [r.kind for r in reports]
        self.assertEqual(kinds, ["potential_deadlock"], [str(r) for r in reports])
        text = str(reports[0])
        self.assertIn('"beta"', text)
        self.assertIn('"alpha"', text)
        self.assertIn(f"is acquiring Lock@{site('SITE:order-accounts')}", text)
        self.assertIn(f"at {site('SITE:order-backward')}", text)
        self.assertIn(f"acquired at {site('SITE:order-backward-held')}", text)
        self.assertIn(f"acquiring at {site('SITE:order-forward')}", text)
        self.assertNotIn(".rs:", text)

    def test_lock_order_panic_mode_raises_before_blocking_and_frees_the_locks(self):
        reports = []
        threadkit.set_report_hook(reports.append)
        threadkit.set_lock_order_mode("panic")
        errors = self._inversion(expect_error=True)
        # beta raises (gamma repeats a cycle already raised for: at least one error).
        self.assertGreaterEqual(len(errors), 1)
        self.assertIsInstance(errors[0], RuntimeError)
        self.assertIn(f"at {site('SITE:order-backward')}", str(errors[0]))
        self.assertEqual(reports, [])

    def test_stall_report_through_python_hook(self):
        reports = []
        threadkit.set_report_hook(reports.append)
        event = threadkit.Event()  # SITE:stall-event
        results = []
        t = threading.Thread(target=lambda: results.append(event.wait(10)),  # SITE:stall-wait
                             name="stalled")
        dog = threadkit.Watchdog(interval=0.05, stall=0.2, deadlocks=False,
                                 dump_with_reports=False)
        dog.start()
        t.start()
        try:
            until(lambda: any(r.kind == "stall" for r in list(reports)), what="a stall report")
        finally:
            event.set()
            t.join(10)
            dog.stop()
        stall = [r for r in reports if r.kind == "stall"][0]
        text = str(stall)
        self.assertIn('"stalled"', text)
        self.assertIn(f"Event@{site('SITE:stall-event')}", text)
        self.assertIn(f"at {site('SITE:stall-wait')}", text)
        self.assertEqual(results, [True])


class Arguments(unittest.TestCase):
    """What CPython raises for the same mistakes, and hooks that replace themselves."""

    def test_huge_times_overflow_and_negative_times_are_value_errors(self):
        for bad in (1e300, float("inf")):
            with self.assertRaises(OverflowError):
                threadkit.Watchdog(interval=bad)
            with self.assertRaises(OverflowError):
                threadkit.dump_later(bad)
        for bad in (-1.0, float("nan")):
            with self.assertRaises(ValueError):
                threadkit.Watchdog(interval=bad)

    @unittest.skipUnless(hasattr(signal, "SIGKILL"), "Unix only")
    def test_dump_on_signal_raises_what_signal_signal_raises(self):
        with self.assertRaises(OSError):
            signal.signal(signal.SIGKILL, lambda *a: None)
        with self.assertRaises(OSError):
            threadkit.dump_on_signal(signal.SIGKILL)
        with self.assertRaises(ValueError):
            signal.signal(1000, lambda *a: None)
        with self.assertRaises(ValueError):
            threadkit.dump_on_signal(1000)

    def test_a_hook_whose_finalizer_sets_a_hook_does_not_deadlock(self):
        # Witness: the replacement made from inside __del__ is the hook in force afterwards.
        # (On the old code the __del__ ran under the hook's mutex and blocked for ever: run in a
        # child with a timeout.)
        child = textwrap.dedent("""\
            import threadkit
            class Hook:
                def __call__(self, report):
                    pass
                def __del__(self):
                    threadkit.set_report_hook(print)
            threadkit.set_report_hook(Hook())
            threadkit.set_report_hook(None)
            print("replaced", flush=True)
            """)
        r = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("replaced", r.stdout)


class CommandLine(unittest.TestCase):
    def test_python_m_threadkit_reports_the_abba_example(self):
        script = os.path.join(EXAMPLES, "abba.py")
        r = subprocess.run([sys.executable, "-m", "threadkit", script],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        err = r.stderr
        self.assertIn("Deadlock (cycle of 2 threads)", err)
        self.assertEqual(err.count("threadkit: Deadlock (cycle of 2 threads)"), 1, err)
        self.assertIn('"alpha"', err)
        self.assertIn('"beta"', err)
        self.assertIn("Lock@" + script + ":13", err)
        self.assertIn("Lock@" + script + ":14", err)
        self.assertIn(f"at {script}:21", err)
        self.assertIn(f"acquired at {script}:19", err)
        self.assertNotIn(".rs:", err)
        self.assertIn("timed out", r.stdout)

    def test_the_programs_own_options_are_left_to_it(self):
        # Witness: the module sees exactly the arguments after its name, even ones that are
        # threadkit's option names, and threadkit's options before it still apply.
        mod = "_tk_argv_probe"
        path = os.path.join(HERE, mod + ".py")
        with open(path, "w") as f:
            f.write("import sys, threading, threadkit\n"
                    "print(repr(sys.argv[1:]), threading.Lock is threadkit.Lock)\n")
        try:
            for head in (["-m", mod], ["-m" + mod]):
                r = subprocess.run(
                    [sys.executable, "-m", "threadkit", "--stall", "5"] + head +
                    ["-x", "--stall", "3", "8000"],
                    capture_output=True, text=True, timeout=120, cwd=HERE)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout.strip(), "['-x', '--stall', '3', '8000'] True")
            r = subprocess.run([sys.executable, "-m", "threadkit", path, "--queue", "-m", "x"],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.strip(), "['--queue', '-m', 'x'] True")
        finally:
            os.remove(path)

    @unittest.skipUnless(hasattr(signal, "SIGKILL"), "Unix only")
    def test_an_unusable_dump_signal_is_one_line_not_a_traceback(self):
        path = os.path.join(HERE, "_tk_noop.py")
        with open(path, "w") as f:
            f.write("print('ran')\n")
        try:
            r = subprocess.run([sys.executable, "-m", "threadkit", "--signal", "SIGKILL", path],
                               capture_output=True, text=True, timeout=120)
        finally:
            os.remove(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "ran")
        self.assertNotIn("Traceback", r.stderr)
        self.assertIn("threadkit: no dump on SIGKILL", r.stderr)

    def test_sigquit_prints_the_dump_from_a_child(self):
        child = textwrap.dedent("""\
            import sys, threading, time
            import threadkit
            threadkit.dump_on_signal()
            lock = threadkit.Lock()
            lock.acquire()
            t = threading.Thread(target=lambda: lock.acquire(timeout=60), name="stuck")
            t.start()
            deadline = time.monotonic() + 20
            while not any(x["name"] == "stuck" and x["waiting"]
                          for x in threadkit.dump().threads):
                assert time.monotonic() < deadline
                time.sleep(0.005)
            print("ready", flush=True)
            sys.stdin.readline()
            lock.release()
            t.join(60)
            """)
        path = os.path.join(HERE, "_sigquit_child.py")
        with open(path, "w") as f:
            f.write(child)
        p = subprocess.Popen([sys.executable, path], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        seen = threading.Event()

        def read():
            for line in p.stderr:
                lines.append(line)
                if "waiting to acquire Lock@" in line:
                    seen.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            self.assertEqual(p.stdout.readline().strip(), "ready")
            p.send_signal(signal.SIGQUIT)
            self.assertTrue(seen.wait(20), "".join(lines))
            p.stdin.write("\n")
            p.stdin.flush()
            self.assertEqual(p.wait(60), 0)
        finally:
            if p.poll() is None:
                p.kill()
            p.wait(10)
            os.unlink(path)
        reader.join(10)
        text = "".join(lines)
        self.assertIn("threadkit thread dump", text)
        self.assertIn('"stuck"', text)
        self.assertIn(f"waiting to acquire Lock@{path}:4", text)
        self.assertIn(f"at {path}:6", text)
        self.assertIn('held by "MainThread"', text)


if __name__ == "__main__":
    unittest.main()
