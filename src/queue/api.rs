//! `bounded_queue!`: the public face of `Queue`, `LifoQueue` and `PriorityQueue`, one macro so
//! that the three have the same methods with the same docs and examples. This file holds the
//! struct, `new` and the put and get calls; `api_tasks.rs` the rest.

/// Generates a bounded queue type (`Queue`, `LifoQueue`, `PriorityQueue`) over a core (the
/// lock-free [`Core`](super::core::Core) over a store, or the [`LockedCore`](super::locked_core::LockedCore)),
/// named by a type alias of one parameter: the struct, `new`, `put` and `get` and their variants, and
/// (through `queue_tasks_api!`) task accounting, shutdown, the size queries, `Default` and
/// `Debug`.
macro_rules! bounded_queue {
    (
        $(#[$attr:meta])*
        pub struct $Q:ident<T> => $Core:ident $(where T: $bound:path)?;
    ) => {
        $(#[$attr])*
        pub struct $Q<T> {
            core: $Core<T>,
        }

        $crate::identity::diagnosable!([T $(: $bound)?] $Q<T>, |q| q.core.identity());

        impl<T $(: $bound)?> $Q<T> {
            #[doc = concat!("Creates a queue that holds at most `maxsize` items; `0` means no limit.

Python's `", stringify!($Q), "(maxsize=0)`.

# Examples

```
use threadkit::queue::", stringify!($Q), ";

let q = ", stringify!($Q), "::new(2);
q.put(1).unwrap();
q.put(2).unwrap();
assert!(q.is_full());
assert!(!", stringify!($Q), "::<u8>::new(0).is_full());
```")]
            #[track_caller]
            pub fn new(maxsize: usize) -> Self {
                $Q {
                    core: <$Core<T>>::new(
                        maxsize,
                        true,
                        $crate::identity::Identity::new($crate::identity::ObjectKind::Queue, $crate::identity::caller()),
                    ),
                }
            }

            #[doc = concat!("Creates a queue of at most `maxsize` items (`0`: no limit) with a name
for [thread dumps](crate::diagnostics); an unnamed queue is shown by its creation site.

# Examples

```
use threadkit::queue::", stringify!($Q), ";

let jobs = ", stringify!($Q), "::<u32>::named(\"jobs\", 8);
assert_eq!(jobs.name(), Some(\"jobs\"));
assert_eq!(", stringify!($Q), "::<u32>::new(8).name(), None);
```")]
            #[track_caller]
            pub fn named(name: impl Into<String>, maxsize: usize) -> Self {
                $Q {
                    core: <$Core<T>>::new(
                        maxsize,
                        true,
                        $crate::identity::Identity::named(
                            $crate::identity::ObjectKind::Queue,
                            name,
                            std::panic::Location::caller(),
                        ),
                    ),
                }
            }

            #[doc = concat!("The name given with `named`, if any.

# Examples

```
assert_eq!(threadkit::queue::", stringify!($Q), "::<u8>::named(\"q\", 0).name(), Some(\"q\"));
```")]
            pub fn name(&self) -> Option<&str> {
                self.core.name()
            }

            #[doc = concat!("Puts `item` in the queue, waiting for room if it is full.

Python's `q.put(item)`. On an unbounded queue this never waits.

# Errors

[`PutError`](crate::queue::PutError) (holding the item) if the queue is shut down, or gets shut
down while this call waits for room (Python's `ShutDown`).

# Examples

```
use threadkit::queue::", stringify!($Q), ";

let q = std::sync::Arc::new(", stringify!($Q), "::new(1));
q.put(1).unwrap();
let getter = std::thread::spawn({
    let q = q.clone();
    move || q.get().unwrap()
});
q.put(2).unwrap(); // waits until the other thread took an item
assert_eq!(q.len(), 1);
# getter.join().unwrap();
```")]
            #[inline]
            #[track_caller]
            pub fn put(&self, item: T) -> Result<(), $crate::queue::PutError<T>> {
                self.core
                    .put(item, None)
                    .map_err(|(item, _)| $crate::queue::PutError(item))
            }

            #[doc = concat!("Puts `item` in the queue if there is room now, without waiting.

Python's `q.put_nowait(item)` / `q.put(item, block=False)`.

# Errors

[`TryPutError::Full`](crate::queue::TryPutError::Full) if the queue is full (Python's `Full`),
[`TryPutError::ShutDown`](crate::queue::TryPutError::ShutDown) if it is shut down; both hold the
item.

# Examples

```
use threadkit::queue::{", stringify!($Q), ", TryPutError};

let q = ", stringify!($Q), "::new(1);
assert_eq!(q.try_put(1), Ok(()));
assert_eq!(q.try_put(2), Err(TryPutError::Full(2)));
```")]
            #[doc(alias = "put_nowait")]
            #[inline]
            pub fn try_put(&self, item: T) -> Result<(), $crate::queue::TryPutError<T>> {
                self.core.try_put(item).map_err(|(item, refusal)| match refusal {
                    $crate::queue::core::Refusal::ShutDown => {
                        $crate::queue::TryPutError::ShutDown(item)
                    }
                    _ => $crate::queue::TryPutError::Full(item),
                })
            }

            #[doc = concat!("Puts `item` in the queue, waiting at most `timeout` for room.

Python's `q.put(item, timeout=t)`. A zero timeout behaves as [`try_put`](Self::try_put).

# Errors

[`PutTimeoutError::Timeout`](crate::queue::PutTimeoutError::Timeout) if the queue stayed full
(Python's `Full`), [`PutTimeoutError::ShutDown`](crate::queue::PutTimeoutError::ShutDown) if it is
or gets shut down; both hold the item.

# Examples

```
use std::time::Duration;
use threadkit::queue::", stringify!($Q), ";

let q = ", stringify!($Q), "::new(1);
q.put_timeout(1, Duration::from_millis(10)).unwrap();
let err = q.put_timeout(2, Duration::from_millis(10)).unwrap_err();
assert!(err.is_timeout());
assert_eq!(err.into_inner(), 2);
```")]
            #[track_caller]
            pub fn put_timeout(
                &self,
                item: T,
                timeout: std::time::Duration,
            ) -> Result<(), $crate::queue::PutTimeoutError<T>> {
                self.put_until(item, $crate::wait::deadline_after(timeout))
            }

            #[doc = concat!("Puts `item` in the queue, waiting for room until `deadline` at the
latest.

# Errors

As [`put_timeout`](Self::put_timeout).

# Examples

```
use std::time::{Duration, Instant};
use threadkit::queue::", stringify!($Q), ";

let q = ", stringify!($Q), "::new(1);
let deadline = Instant::now() + Duration::from_millis(10);
q.put_deadline(1, deadline).unwrap();
assert!(q.put_deadline(2, deadline).unwrap_err().is_timeout());
```")]
            #[track_caller]
            pub fn put_deadline(
                &self,
                item: T,
                deadline: std::time::Instant,
            ) -> Result<(), $crate::queue::PutTimeoutError<T>> {
                self.put_until(item, Some(deadline))
            }

            #[track_caller]
            fn put_until(
                &self,
                item: T,
                deadline: Option<std::time::Instant>,
            ) -> Result<(), $crate::queue::PutTimeoutError<T>> {
                self.core.put(item, deadline).map_err(|(item, refusal)| match refusal {
                    $crate::queue::core::Refusal::ShutDown => {
                        $crate::queue::PutTimeoutError::ShutDown(item)
                    }
                    _ => $crate::queue::PutTimeoutError::Timeout(item),
                })
            }

            #[doc = concat!("Takes the next item out of the queue, waiting for one if it is empty.

Python's `q.get()`. After a [`shutdown`](Self::shutdown) it still returns what is left, then fails.

# Errors

[`GetError`](crate::queue::GetError) if the queue is empty and shut down, also when the shutdown
happens while this call waits (Python's `ShutDown`).

# Examples

```
use threadkit::queue::", stringify!($Q), ";

let q = std::sync::Arc::new(", stringify!($Q), "::new(0));
let putter = std::thread::spawn({
    let q = q.clone();
    move || q.put(42).unwrap()
});
assert_eq!(q.get(), Ok(42)); // waits for the other thread's put
# putter.join().unwrap();
```")]
            #[inline]
            #[track_caller]
            pub fn get(&self) -> Result<T, $crate::queue::GetError> {
                self.core.get(None).map_err(|_| $crate::queue::GetError)
            }

            #[doc = concat!("Takes the next item out of the queue if there is one, without waiting.

Python's `q.get_nowait()` / `q.get(block=False)`.

# Errors

[`TryGetError::Empty`](crate::queue::TryGetError::Empty) if the queue is empty (Python's
`Empty`), [`TryGetError::ShutDown`](crate::queue::TryGetError::ShutDown) if it is empty and shut
down (Python checks this first, and so does this call).

# Examples

```
use threadkit::queue::{", stringify!($Q), ", TryGetError};

let q = ", stringify!($Q), "::new(0);
q.put(\"a\").unwrap();
assert_eq!(q.try_get(), Ok(\"a\"));
assert_eq!(q.try_get(), Err(TryGetError::Empty));
```")]
            #[doc(alias = "get_nowait")]
            #[inline]
            pub fn try_get(&self) -> Result<T, $crate::queue::TryGetError> {
                self.core.try_get().map_err(|refusal| match refusal {
                    $crate::queue::core::Refusal::ShutDown => $crate::queue::TryGetError::ShutDown,
                    _ => $crate::queue::TryGetError::Empty,
                })
            }

            #[doc = concat!("Takes the next item out of the queue, waiting at most `timeout` for one.

Python's `q.get(timeout=t)`. A zero timeout behaves as [`try_get`](Self::try_get).

# Errors

[`GetTimeoutError::Timeout`](crate::queue::GetTimeoutError::Timeout) if the queue stayed empty
(Python's `Empty`), [`GetTimeoutError::ShutDown`](crate::queue::GetTimeoutError::ShutDown) if it
is empty and shut down.

# Examples

```
use std::time::Duration;
use threadkit::queue::{GetTimeoutError, ", stringify!($Q), "};

let q = ", stringify!($Q), "::new(0);
q.put(1).unwrap();
assert_eq!(q.get_timeout(Duration::from_millis(10)), Ok(1));
assert_eq!(q.get_timeout(Duration::from_millis(10)), Err(GetTimeoutError::Timeout));
```")]
            #[track_caller]
            pub fn get_timeout(
                &self,
                timeout: std::time::Duration,
            ) -> Result<T, $crate::queue::GetTimeoutError> {
                self.get_until($crate::wait::deadline_after(timeout))
            }

            #[doc = concat!("Takes the next item out of the queue, waiting for one until `deadline`
at the latest.

# Errors

As [`get_timeout`](Self::get_timeout).

# Examples

```
use std::time::{Duration, Instant};
use threadkit::queue::", stringify!($Q), ";

let q = ", stringify!($Q), "::<u8>::new(0);
let deadline = Instant::now() + Duration::from_millis(10);
assert!(q.get_deadline(deadline).unwrap_err().is_timeout());
```")]
            #[track_caller]
            pub fn get_deadline(
                &self,
                deadline: std::time::Instant,
            ) -> Result<T, $crate::queue::GetTimeoutError> {
                self.get_until(Some(deadline))
            }

            #[track_caller]
            fn get_until(
                &self,
                deadline: Option<std::time::Instant>,
            ) -> Result<T, $crate::queue::GetTimeoutError> {
                self.core.get(deadline).map_err(|refusal| match refusal {
                    $crate::queue::core::Refusal::ShutDown => $crate::queue::GetTimeoutError::ShutDown,
                    _ => $crate::queue::GetTimeoutError::Timeout,
                })
            }
        }

        queue_tasks_api!($Q $(, $bound)?);
    };
}
