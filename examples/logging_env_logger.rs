//! The `log` facade with `env_logger`, each line carrying threadkit's thread name, which follows a
//! rename (std's own thread name is fixed when the OS thread starts).
//!
//! Output:
//! ```text
//! (MainThread) starting the worker
//! (worker    ) Starting
//! (renamed   ) Exiting under a new name
//! (MainThread) done
//! ```

use std::io::Write;

use log::info;
use threadkit::{current_thread, Builder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::new()
        .filter_level(log::LevelFilter::Info)
        .format(|buf, record| writeln!(buf, "({:<10}) {}", current_thread().name(), record.args()))
        .init();

    info!("starting the worker");
    let h = Builder::new().name("worker").spawn(|| {
        info!("Starting");
        current_thread().set_name("renamed");
        info!("Exiting under a new name");
    })?;
    if h.join().is_err() {
        return Err("the worker panicked".into());
    }
    info!("done");
    Ok(())
}
