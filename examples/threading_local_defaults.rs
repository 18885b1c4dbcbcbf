//! threading_local_defaults.py: a `Local` with an initializer gives every thread the same
//! starting value; the initializer runs once in each thread, on its first access, for the same
//! `Local` object (note the address).
//!
//! Python output (the random values and the order of the last lines vary):
//! ```text
//! (MainThread) Initializing <__main__.MyLocal object at 0x100514390>
//! (MainThread) value=1000
//! (Thread-1  ) Initializing <__main__.MyLocal object at 0x100514390>
//! (Thread-1  ) value=1000
//! (Thread-2  ) Initializing <__main__.MyLocal object at 0x100514390>
//! (Thread-1  ) value=81
//! (Thread-2  ) value=1000
//! (Thread-2  ) value=54
//! ```

use log::debug;
use threadkit::{Local, Thread};

/// The per-thread attributes (Python: the subclass of `threading.local`).
struct MyLocal {
    value: i32,
}

impl MyLocal {
    fn new(value: i32) -> Self {
        debug!("Initializing <MyLocal object at {:p}>", &LOCAL_DATA);
        MyLocal { value }
    }
}

static LOCAL_DATA: Local<MyLocal> = Local::with_init(|| MyLocal::new(1000));

fn show_value(data: &Local<MyLocal>) {
    data.with(|data| debug!("value={}", data.value));
}

fn worker(data: &Local<MyLocal>) {
    show_value(data);
    data.with_mut(|data| data.value = fastrand::i32(1..=100));
    show_value(data);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    threadkit::logging::basic_config(log::LevelFilter::Debug, "(%(threadName)-10s) %(message)s")?;

    let local_data = &LOCAL_DATA;
    show_value(local_data);

    for _ in 0..2 {
        let t = Thread::new(move || worker(local_data));
        t.start()?;
    }
    Ok(())
}
