//! threading_subclass_args.py: a thread type with its own constructor and fields, reached from
//! `run`.
//!
//! Python output:
//! ```text
//! (Thread-1  ) running with (0,) and {'a': 'A', 'b': 'B'}
//! (Thread-2  ) running with (1,) and {'a': 'A', 'b': 'B'}
//! (Thread-3  ) running with (2,) and {'a': 'A', 'b': 'B'}
//! (Thread-4  ) running with (3,) and {'a': 'A', 'b': 'B'}
//! (Thread-5  ) running with (4,) and {'a': 'A', 'b': 'B'}
//! ```

use std::collections::BTreeMap;

use log::debug;
use threadkit::{Run, Thread};

struct MyThreadWithArgs {
    args: (i32,),
    kwargs: BTreeMap<&'static str, &'static str>,
}

impl MyThreadWithArgs {
    /// Python's `MyThreadWithArgs(args=..., kwargs=...)`: the new, unstarted thread.
    fn thread(args: (i32,), kwargs: BTreeMap<&'static str, &'static str>) -> Thread {
        Thread::new(MyThreadWithArgs { args, kwargs })
    }
}

impl Run for MyThreadWithArgs {
    type Output = ();

    fn run(self) {
        let kwargs: Vec<String> = self
            .kwargs
            .iter()
            .map(|(k, v)| format!("'{k}': '{v}'"))
            .collect();
        debug!(
            "running with ({},) and {{{}}}",
            self.args.0,
            kwargs.join(", ")
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    threadkit::logging::basic_config(log::LevelFilter::Debug, "(%(threadName)-10s) %(message)s")?;

    for i in 0..5 {
        let kwargs = BTreeMap::from([("a", "A"), ("b", "B")]);
        let t = MyThreadWithArgs::thread((i,), kwargs);
        t.start()?;
    }
    Ok(())
}
