"""A real ABBA deadlock in plain `threading` code.

"alpha" takes `accounts` then `ledger`; "beta" takes `ledger` then `accounts`. A barrier makes
sure each holds its first lock before asking for the second, so they deadlock every time.
The second acquires have a timeout so that the program ends (after 3 s) instead of hanging.

    python abba.py                    # stuck for 3 s, then "alpha timed out": why?
    python -m threadkit abba.py       # threadkit's watchdog says why, in this file's terms
"""

import threading

accounts = threading.Lock()
ledger = threading.Lock()
both_hold_one = threading.Barrier(2)


def transfer(first, second):
    with first:
        both_hold_one.wait()
        if second.acquire(timeout=3):
            second.release()
        else:
            print(threading.current_thread().name, "timed out")


alpha = threading.Thread(target=transfer, args=(accounts, ledger), name="alpha")
beta = threading.Thread(target=transfer, args=(ledger, accounts), name="beta")
alpha.start()
beta.start()
alpha.join()
beta.join()
