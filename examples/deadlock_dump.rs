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

fn transfer(name: &str, first: Arc<Lock>, second: Arc<Lock>, both: Arc<Barrier>) -> bool {
    let _held = first.acquire();
    println!("{name}: holding {}", first.name().unwrap_or("?"));
    both.wait().expect("both threads hold their first lock");
    let got = second.acquire_timeout(Duration::from_secs(3));
    println!(
        "{name}: {} {}",
        if got.is_some() { "got" } else { "gave up on" },
        second.name().unwrap_or("?")
    );
    got.is_some()
}

fn main() {
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
            .spawn(move || transfer("alpha", a, l, b))
            .unwrap()
    };
    let beta = {
        let (a, l, b) = (accounts.clone(), ledger.clone(), both.clone());
        Builder::new()
            .name("beta")
            .spawn(move || transfer("beta", l, a, b))
            .unwrap()
    };
    let a = alpha.join().unwrap();
    let b = beta.join().unwrap();
    watchdog.stop();
    println!("done: alpha got ledger: {a}, beta got accounts: {b}");
}
