//! A deadlock caught before it ever happens: thread "alpha" takes `accounts` then `ledger` and
//! finishes; only then does thread "beta" take `ledger` then `accounts`. The threads never
//! overlap, so nothing can hang, but the two orders could deadlock on a less lucky day. The
//! lock-order checker reports the inversion at beta's second acquire, naming both locks, both
//! threads and the four call sites, and the program exits 0.
//!
//! ```text
//! cargo run --example lock_order
//! THREADKIT_LOCK_ORDER=panic cargo run --example lock_order   # beta's inverted acquire panics
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use threadkit::diagnostics::{self, LockOrderMode, Report};
use threadkit::{Builder, Lock};

/// Alpha's job: `accounts`, then `ledger`.
fn transfer(accounts: &Lock, ledger: &Lock) {
    let _accounts = accounts.acquire();
    let _ledger = ledger.acquire();
    println!("alpha: transferred (accounts, then ledger)");
}

/// Beta's job: `ledger`, then `accounts`: the opposite order.
fn audit(accounts: &Lock, ledger: &Lock) {
    let _ledger = ledger.acquire();
    let _accounts = accounts.acquire();
    println!("beta: audited (ledger, then accounts)");
}

fn main() {
    // Armed by default in debug builds only; THREADKIT_LOCK_ORDER=off|report|panic overrides.
    if std::env::var_os("THREADKIT_LOCK_ORDER").is_none() {
        diagnostics::set_lock_order_mode(LockOrderMode::Report);
    }
    // The report goes through the same hook as the watchdog's (default: stderr); print it on
    // stdout here, and count it.
    let reported = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&reported);
    diagnostics::set_report_hook(move |r: &Report| {
        if let Report::PotentialDeadlock(_) = r {
            count.fetch_add(1, Ordering::SeqCst);
        }
        print!("{r}");
    });

    let accounts = Arc::new(Lock::named("accounts"));
    let ledger = Arc::new(Lock::named("ledger"));
    for (name, job) in [("alpha", transfer as fn(&Lock, &Lock)), ("beta", audit)] {
        let (a, l) = (Arc::clone(&accounts), Arc::clone(&ledger));
        Builder::new()
            .name(name)
            .spawn(move || job(&a, &l))
            .expect("thread")
            .join()
            .expect("no panic");
    }
    assert!(
        diagnostics::find_deadlocks().is_empty(),
        "nothing is blocked"
    );
    println!(
        "done: {} potential deadlock reported, nothing hung",
        reported.load(Ordering::SeqCst)
    );
}
