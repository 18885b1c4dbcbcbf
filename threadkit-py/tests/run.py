"""Runs the Python tests of threadkit under a hang guard.

    python tests/run.py [HANG_SECONDS] [unittest names...]

faulthandler dumps every thread's stack and exits the process if the run takes longer than
HANG_SECONDS (default 600): a deadlock fails the run with a traceback instead of hanging CI.
Prints "N passed, N failed" (and skipped / expected failures) as the closing line.
"""

import faulthandler
import os
import signal
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
args = sys.argv[1:]
hang = float(args.pop(0)) if args and args[0].replace(".", "").isdigit() else 600.0
faulthandler.enable()
# A run started in the background by a shell without job control (CI runs the interpreters side
# by side) begins with SIGINT and SIGQUIT ignored, and an ignored signal stays ignored in every
# child: the Ctrl-C and thread-dump tests signal children. Take the defaults back, so that this
# process and its children start as from a terminal.
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGQUIT, signal.SIG_DFL)
faulthandler.dump_traceback_later(hang, exit=True)

sys.path.insert(0, here)
loader = unittest.TestLoader()
if args:
    suite = loader.loadTestsFromNames(args)
else:
    suite = loader.discover(here, pattern="test_*.py", top_level_dir=here)
result = unittest.TextTestRunner(verbosity=2).run(suite)
faulthandler.cancel_dump_traceback_later()

def base_id(test):
    # A failing subTest is reported on its own; count the test it belongs to once.
    return getattr(test, "test_case", test).id()


failed = len({base_id(t) for t, _ in result.failures + result.errors}
             | {base_id(t) for t in result.unexpectedSuccesses})
passed = result.testsRun - failed - len(result.skipped) - len(result.expectedFailures)
print(f"python {sys.version.split()[0]}: expected failures (listed gaps): "
      f"{len(result.expectedFailures)}; skipped: {len(result.skipped)}")
for test, reason in result.skipped:
    print(f"  skipped {test.id()}: {reason}")
print(f"{passed} passed, {failed} failed, {len(result.skipped)} skipped")
sys.exit(0 if failed == 0 else 1)
