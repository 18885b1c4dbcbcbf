//! The contention profile: four workers share one named lock; one of them keeps it far longer
//! than the others. The profile charges the waiting to the *holder's* critical section (where
//! the long holder acquired the lock), prints the table, and writes the folded stacks a flame
//! graph is drawn from:
//!
//! ```text
//! cargo run --release --example contention_profile
//! inferno-flamegraph < target/contention.folded > target/contention.svg   # cargo install inferno
//! ```

use std::sync::Arc;
use std::time::Duration;

use threadkit::diagnostics;
use threadkit::{Builder, Lock};

fn main() {
    diagnostics::set_holder_sites(true);
    diagnostics::set_contention_profiling(true);
    let books = Arc::new(Lock::named_with_value("books", 0u64));

    let workers: Vec<_> = (0..4)
        .map(|i| {
            let books = Arc::clone(&books);
            Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    for _ in 0..20 {
                        if i == 0 {
                            // The slow path through the books: a long critical section.
                            let mut b = books.acquire();
                            std::thread::sleep(Duration::from_millis(5));
                            *b += 1;
                        } else {
                            *books.acquire() += 1;
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    }
                })
                .unwrap()
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    diagnostics::set_contention_profiling(false);

    let profile = diagnostics::contention_profile();
    print!("{profile}");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/contention.folded");
    match std::fs::write(&path, profile.folded()) {
        Ok(()) => println!("folded stacks: {}", path.display()),
        Err(e) => println!("could not write {}: {e}", path.display()),
    }
    assert_eq!(*books.acquire(), 80);
}
