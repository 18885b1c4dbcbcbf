//! A real ABBA deadlock, diagnosed: thread "alpha" holds `accounts` and wants `ledger`; thread
//! "beta" holds `ledger` and wants `accounts`. A watchdog started at the top of `main` sees the
//! cycle and prints the deadlock report and a thread dump to stderr, naming both threads, both
//! locks and the four call sites. The acquires have a 3-second timeout, so the program then
//! recovers and exits 0: run it and read what a hang looks like.
//!
//! ```text
//! cargo run --example deadlock_dump
//! ```

use std::sync::Arc;
use std::time::Duration;

use threadkit::diagnostics::Watchdog;
use threadkit::{Barrier, Builder, Lock};

/// Alpha's job: takes `accounts`, then `ledger`.
fn transfer(accounts: &Lock, ledger: &Lock, both: &Barrier) -> bool {
    let _accounts = accounts.acquire();
    println!("alpha: holding accounts");
    both.wait().expect("both threads hold their first lock");
    let ledger = ledger.acquire_timeout(Duration::from_secs(3));
    println!(
        "alpha: ledger {}",
        if ledger.is_some() {
            "acquired"
        } else {
            "timed out"
        }
    );
    ledger.is_some()
}

/// Beta's job: takes `ledger`, then `accounts`: the opposite order.
fn audit(accounts: &Lock, ledger: &Lock, both: &Barrier) -> bool {
    let _ledger = ledger.acquire();
    println!("beta: holding ledger");
    both.wait().expect("both threads hold their first lock");
    let accounts = accounts.acquire_timeout(Duration::from_secs(3));
    println!(
        "beta: accounts {}",
        if accounts.is_some() {
            "acquired"
        } else {
            "timed out"
        }
    );
    accounts.is_some()
}

fn main() {
    // Record where each lock's holder acquired it (on by default only in debug builds).
    threadkit::diagnostics::set_holder_sites(true);
    // Checks every 100 ms; reports each new cycle once, followed by a full dump.
    let watchdog = Watchdog::new()
        .interval(Duration::from_millis(100))
        .start()
        .expect("watchdog thread");

    let accounts = Arc::new(Lock::named("accounts"));
    let ledger = Arc::new(Lock::named("ledger"));
    let both = Arc::new(Barrier::named("both-holding", 2));

    let alpha = {
        let (a, l, b) = (accounts.clone(), ledger.clone(), both.clone());
        Builder::new()
            .name("alpha")
            .spawn(move || transfer(&a, &l, &b))
            .unwrap()
    };
    let beta = {
        let (a, l, b) = (accounts.clone(), ledger.clone(), both.clone());
        Builder::new()
            .name("beta")
            .spawn(move || audit(&a, &l, &b))
            .unwrap()
    };
    let a = alpha.join().unwrap();
    let b = beta.join().unwrap();
    watchdog.stop();
    // One of them may get its second lock once the other times out and releases; never both
    // while the other held it.
    assert!(!(a && b));
    println!("done: the timeouts broke the deadlock");
}
