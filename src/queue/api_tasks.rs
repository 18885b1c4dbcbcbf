//! `queue_tasks_api!`: the second half of the public face of `Queue`, `LifoQueue` and
//! `PriorityQueue` (see `api.rs`): task accounting, shutdown, the size queries, `Default` and
//! `Debug`.

/// The methods of a bounded queue type besides `new`, `put` and `get` (used by
/// `bounded_queue!`).
macro_rules! queue_tasks_api {
    ($Q:ident $(, $bound:path)?) => {
        impl<T $(: $bound)?> $Q<T> {
            #[doc = concat!("Marks one item taken with `get` as processed.

Python's `q.task_done()`. Each [`put`](Self::put) adds an unfinished task and each `task_done`
removes one; [`join`](Self::join) returns when none is left. It keeps working after a shutdown,
for the items taken before it.

# Differences from Python

Python counts tasks under the queue's mutex, so a `task_done` called once too often always
fails at that call. Here a `put` counts its task just before its item is stored: an extra
`task_done` that lands while a `put` is in flight succeeds against that put's task (and may let
[`join`](Self::join) return just before the item arrives), and the error comes later, at
another `task_done`. A program that calls `task_done` once per item taken never sees this.

# Errors

[`TaskDoneError`](crate::queue::TaskDoneError) if there is no unfinished task (Python's
`ValueError: task_done() called too many times`); nothing changes.

# Examples

```
use threadkit::queue::", stringify!($Q), ";

let q = ", stringify!($Q), "::new(0);
q.put(1).unwrap();
q.get().unwrap();
assert!(q.task_done().is_ok());
assert!(q.task_done().is_err());
```")]
            #[inline]
            pub fn task_done(&self) -> Result<(), $crate::queue::TaskDoneError> {
                self.core.task_done()
            }

            #[doc = concat!("A guard that calls [`task_done`](Self::task_done) when it is dropped:
Python's `try: ... finally: q.task_done()`.

Take one right after a successful `get`, and the task counts as done however the work ends, even
if it panics, so a [`join`](Self::join) elsewhere does not wait forever.
[`TaskDone::done`](crate::queue::TaskDone::done) ends it early and reports the error.

# Panics

Dropping the guard panics (unless the thread is already panicking) if there was no unfinished
task left to mark done: the caller also called `task_done` for the same item.

# Examples

```
use threadkit::queue::", stringify!($Q), ";

let q = ", stringify!($Q), "::new(0);
q.put(1).unwrap();
let job = q.get().unwrap();
let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    let _done = q.task_guard();
    assert_eq!(job, 2, \"the job fails\");
}));
assert!(outcome.is_err());
assert_eq!(q.unfinished_tasks(), 0); // join() would not hang
```")]
            pub fn task_guard(&self) -> $crate::queue::TaskDone<'_> {
                $crate::queue::TaskDone::new(&self.core)
            }

            #[doc = concat!("Waits until every item put has been marked done with
[`task_done`](Self::task_done).

Python's `q.join()`. Returns at once if no task is unfinished; may be called any number of
times, from any number of threads. A [`shutdown_immediate`](Self::shutdown_immediate) counts the
items it drops as done, so it releases joiners unless items already taken are still unfinished.

# Examples

```
use threadkit::queue::", stringify!($Q), ";

let q = std::sync::Arc::new(", stringify!($Q), "::new(0));
q.put(1).unwrap();
let worker = std::thread::spawn({
    let q = q.clone();
    move || {
        q.get().unwrap();
        q.task_done().unwrap();
    }
});
q.join();
assert_eq!(q.unfinished_tasks(), 0);
# worker.join().unwrap();
```")]
            #[track_caller]
            pub fn join(&self) {
                self.core.join(None);
            }

            #[doc = concat!("Waits at most `timeout` for every item put to be marked done; returns
whether they all are.

Not in Python, whose `join()` takes no timeout.

# Examples

```
use std::time::Duration;
use threadkit::queue::", stringify!($Q), ";

let q = ", stringify!($Q), "::new(0);
q.put(1).unwrap();
assert!(!q.join_timeout(Duration::from_millis(10)));
q.get().unwrap();
q.task_done().unwrap();
assert!(q.join_timeout(Duration::from_millis(10)));
```")]
            #[track_caller]
            pub fn join_timeout(&self, timeout: std::time::Duration) -> bool {
                self.core.join($crate::wait::deadline_after(timeout))
            }

            #[doc = concat!("Waits until `deadline` at the latest for every item put to be marked
done; returns whether they all are.

# Examples

```
use std::time::{Duration, Instant};
use threadkit::queue::", stringify!($Q), ";

let q = ", stringify!($Q), "::<u8>::new(0);
assert!(q.join_deadline(Instant::now() + Duration::from_millis(10)));
```")]
            #[track_caller]
            pub fn join_deadline(&self, deadline: std::time::Instant) -> bool {
                self.core.join(Some(deadline))
            }

            #[doc = concat!("Shuts the queue down: Python 3.13's `q.shutdown()`.

From now on [`put`](Self::put) and its variants fail, and threads blocked in them wake up with
the shut-down error. `get` and its variants keep returning the items still queued; once it is
empty they fail instead of waiting, and threads blocked in them wake up with the error. Calling it
again, or calling [`shutdown_immediate`](Self::shutdown_immediate) afterwards, is allowed.

# Examples

```
use threadkit::queue::{GetError, ", stringify!($Q), "};

let q = ", stringify!($Q), "::new(0);
q.put(1).unwrap();
q.shutdown();
assert!(q.is_shutdown());
assert!(q.put(2).is_err());
assert_eq!(q.get(), Ok(1));
assert_eq!(q.get(), Err(GetError));
```")]
            pub fn shutdown(&self) {
                self.core.shutdown(false);
            }

            #[doc = concat!("Shuts the queue down and drops everything still queued: Python 3.13's
`q.shutdown(immediate=True)`.

As [`shutdown`](Self::shutdown), and in addition the queued items are removed (and dropped, after
the queue's locks are released), each counting as a finished task, so that [`join`](Self::join)
returns unless items already taken with `get` are still waiting for their
[`task_done`](Self::task_done).

# Examples

```
use threadkit::queue::{TryGetError, ", stringify!($Q), "};

let q = ", stringify!($Q), "::new(0);
q.put(1).unwrap();
q.put(2).unwrap();
q.shutdown_immediate();
assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
assert_eq!(q.unfinished_tasks(), 0);
q.join(); // returns at once
```")]
            pub fn shutdown_immediate(&self) {
                self.core.shutdown(true);
            }
        }

        impl<T $(: $bound)?> $Q<T> {
            #[doc = concat!("The number of items in the queue: Python's `q.qsize()`.

Like Python's, the answer may be stale by the time the caller looks at it.

# Examples

```
let q = threadkit::queue::", stringify!($Q), "::new(0);
q.put('x').unwrap();
assert_eq!(q.len(), 1);
```")]
            #[doc(alias = "qsize")]
            #[inline]
            pub fn len(&self) -> usize {
                self.core.len()
            }

            #[doc = concat!("Whether the queue holds no item: Python's `q.empty()`.

# Examples

```
let q = threadkit::queue::", stringify!($Q), "::new(0);
assert!(q.is_empty());
q.put(1).unwrap();
assert!(!q.is_empty());
```")]
            #[doc(alias = "empty")]
            #[inline]
            pub fn is_empty(&self) -> bool {
                self.core.len() == 0
            }

            #[doc = concat!("Whether the queue holds `maxsize` items (never, for an unbounded
queue): Python's `q.full()`.

# Examples

```
let q = threadkit::queue::", stringify!($Q), "::new(1);
assert!(!q.is_full());
q.put(1).unwrap();
assert!(q.is_full());
```")]
            #[doc(alias = "full")]
            #[inline]
            pub fn is_full(&self) -> bool {
                self.core.is_full()
            }

            #[doc = concat!("The most items the queue holds; `0` means unbounded. Python's
`q.maxsize`.

# Examples

```
assert_eq!(threadkit::queue::", stringify!($Q), "::<u8>::new(5).maxsize(), 5);
```")]
            #[inline]
            pub fn maxsize(&self) -> usize {
                self.core.maxsize()
            }

            #[doc = concat!("Items put and not yet marked done with [`task_done`](Self::task_done):
Python's `q.unfinished_tasks`.

# Examples

```
let q = threadkit::queue::", stringify!($Q), "::new(0);
q.put(1).unwrap();
q.get().unwrap();
assert_eq!(q.unfinished_tasks(), 1);
```")]
            #[inline]
            pub fn unfinished_tasks(&self) -> usize {
                self.core.unfinished_tasks()
            }

            #[doc = concat!("Whether [`shutdown`](Self::shutdown) has been called: Python's
`q.is_shutdown`.

# Examples

```
let q = threadkit::queue::", stringify!($Q), "::<u8>::new(0);
assert!(!q.is_shutdown());
q.shutdown();
assert!(q.is_shutdown());
```")]
            #[inline]
            pub fn is_shutdown(&self) -> bool {
                self.core.is_shutdown()
            }
        }

        impl<T $(: $bound)?> Default for $Q<T> {
            /// An unbounded queue.
            fn default() -> Self {
                Self::new(0)
            }
        }

        impl<T $(: $bound)?> std::fmt::Debug for $Q<T> {
            /// Shows the kind, the length, `maxsize`, the unfinished tasks and whether the queue
            /// is shut down (CPython's repr shows only the class); not the items.
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.core.debug(stringify!($Q), f)
            }
        }
    };
}
