"""A lock-order inversion that does not hang this time: "alpha" takes `accounts` then
`ledger` and finishes; only then does "beta" take `ledger` then `accounts`. Nothing blocks, but
the two orders together can deadlock (see abba.py).

    python -m threadkit lock_order.py                     # reports the inversion, runs on
    python -m threadkit --lock-order panic lock_order.py  # beta raises PotentialDeadlockError
"""

import threading

accounts = threading.Lock()
ledger = threading.Lock()


def alpha_work():
    with accounts:
        with ledger:
            pass


def beta_work():
    with ledger:
        with accounts:
            pass


alpha = threading.Thread(target=alpha_work, name="alpha")
alpha.start()
alpha.join()
beta = threading.Thread(target=beta_work, name="beta")
beta.start()
beta.join()
