//! The contention profile: four workers share one named lock; one of them keeps it far longer
//! than the others. The profile counts every acquisition, charges the waiting to the *holder's*
//! critical section (where the long holder acquired the lock), prints the table, and draws the
//! flame graph of the waits: `target/contention.svg` (with the `inferno` crate), from the folded
//! stacks it also writes to `target/contention.folded`.
//!
//! ```text
//! cargo run --release --example contention_profile
//! ```
//!
//! The folded file is what any flame-graph tool reads: `inferno-flamegraph < contention.folded`
//! (`cargo install inferno`) or Brendan Gregg's `flamegraph.pl` draw the same picture.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use threadkit::diagnostics;
use threadkit::{Builder, Lock};

fn main() {
    // Profiling also records where each holder acquired a lock (the sites it charges).
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
    let books_profile = profile
        .objects
        .iter()
        .find(|o| o.object.name.as_deref() == Some("books"))
        .expect("the lock was acquired while profiling");
    assert_eq!(books_profile.acquisitions, 80);

    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let folded = profile.folded();
    let folded_path = target.join("contention.folded");
    match std::fs::write(&folded_path, &folded) {
        Ok(()) => println!("folded stacks: {}", folded_path.display()),
        Err(e) => println!("could not write {}: {e}", folded_path.display()),
    }
    let mut options = inferno::flamegraph::Options::default();
    options.title =
        "threadkit contention: time waited, by lock, holder's site, waiter's site".into();
    options.count_name = "µs".into();
    let mut svg = Vec::new();
    // No contended wait at all (a very quiet machine) leaves nothing to draw.
    match inferno::flamegraph::from_lines(&mut options, folded.lines(), &mut svg) {
        Ok(()) => {
            let svg_path = target.join("contention.svg");
            match std::fs::write(&svg_path, &svg) {
                Ok(()) => println!("flame graph: {}", svg_path.display()),
                Err(e) => println!("could not write {}: {e}", svg_path.display()),
            }
        }
        Err(e) => println!("no flame graph: {e}"),
    }
    assert_eq!(*books.acquire(), 80);
}
