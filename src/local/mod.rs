//! [`Local`]: Python's `threading.local`, per-object thread-local data.
//!
//! # Design
//!
//! Each `Local` owns a map from thread identifier ([`get_ident`](crate::get_ident), never reused)
//! to a heap slot holding that thread's value. A thread reaches its own slot through a small
//! direct-mapped cache in a `const` thread-local (`Local` id → slot address), so a repeated access
//! is a thread-local load, a compare and a borrow count (`slot.rs`); only the first access of a thread (or
//! a cache collision) takes the `Local`'s lock.
//!
//! Lifetimes follow Python: when a thread first gets a slot in a `Local`, it records a weak
//! reference to that `Local` in a per-thread exit list. A thread threadkit started empties the
//! list (dropping its value from every `Local` still alive) at the end of its body, before it is
//! marked finished, so a returning `join` means its values are gone; for other threads, and for
//! what is left, the list's destructor (thread exit) does it. Dropping a `Local` drops
//! every thread's value at once. Since a value may therefore be dropped by another thread, `T`
//! must be `Send` (as for the `thread_local` crate). Values never move between threads otherwise:
//! only the owning thread ever gets a reference to its value, and only inside a closure, so no
//! reference can outlive the thread's ownership of the value.
//!
//! A timer worker (see `crate::timer`) runs each Timer's function as that Timer's thread; it wraps
//! the call in a [`ThreadScope`], which gives the Timer a fresh exit list and cache and, when the
//! function returns, drops the Timer's values as a thread exit would.

mod cache;
mod exit;
mod scope;
mod slot;

use std::collections::BTreeMap;
use std::fmt;
use std::panic::UnwindSafe;
use std::ptr::NonNull;
use std::sync::{Arc, OnceLock, Weak};

use crate::loom::sync::atomic::{AtomicU64, Ordering};
use crate::thread::ident;
use crate::Lock;
use cache::{cache_lookup, cache_store, fresh_id};
use exit::{register_exit, Shared, ThreadExit};
use slot::{Slot, SlotMut, SlotPtr, SlotRef};

// Used by thread start and the Timer service, which `--cfg loom` builds leave out (the
// models run on loom's threads).
#[cfg_attr(loom, allow(unused_imports))]
pub(crate) use exit::drop_thread_values;
#[cfg_attr(loom, allow(unused_imports))]
pub(crate) use scope::ThreadScope;

/// Data that every thread sees its own copy of: Python's `threading.local`.
///
/// Each thread that uses a `Local` has its own value in it, invisible to every other thread. A
/// `Local` made with [`new`](Self::new) starts with no value in any thread (Python: the
/// attribute is missing until set in that thread); one made with
/// [`with_init`](Self::with_init) creates each thread's value on that thread's first access by
/// calling the initializer (Python: a subclass whose `__init__` runs once in each thread that
/// touches the object, the creating thread included, as soon as it touches it).
///
/// Values are reached through closures ([`with`](Self::with), [`with_mut`](Self::with_mut)) or
/// copied out and in ([`get`](Self::get), [`set`](Self::set), [`take`](Self::take),
/// [`replace`](Self::replace)), so no reference to a thread's value can leave that thread.
///
/// A thread's value is dropped when the thread exits (for a [`Timer`](crate::Timer), when its
/// function returns), and every remaining value when the `Local` is dropped. Thread
/// identifiers are never reused, so a new thread never sees a value left by a finished one.
///
/// In detail:
/// - A thread threadkit started drops its values when its function returns (or panics), before
///   it counts as finished: once any `join` of it returns (timed or not, through
///   [`Thread`](crate::Thread) or [`JoinHandle`](crate::JoinHandle)), its values are gone,
///   including values that their `Drop`s put into other `Local`s.
/// - A panic in a value's `Drop` is handed to the [excepthook](crate::set_excepthook) with the
///   thread, and the thread's other values are still dropped (Python reports an exception in
///   `__del__` and goes on).
/// - The main thread's values are dropped when the process exits, after the exit sequence
///   (`register_atexit` callbacks, waiting for non-daemon threads; see
///   [`shutdown`](crate::shutdown)), as are those of a threadkit thread that calls
///   `std::process::exit`.
/// - Threads threadkit did not start drop their values in their thread-local teardown.
/// - A value created after that, while the thread is being torn down (by another
///   thread-local's destructor), lives until its `Local` is dropped.
///
/// # Differences from Python
///
/// - One value of type `T` per thread instead of a per-thread attribute dictionary: use a struct
///   for several attributes, and `Local<T>` with [`new`](Self::new) plus [`get`](Self::get)
///   (`None` when unset) for Python's "no attribute yet".
/// - The initializer is a closure given at construction (`Local::with_init(|| MyLocal::new(1000))`)
///   rather than a subclass `__init__` re-run with remembered arguments. It runs when a thread
///   accesses the `Local` and has no value: on its first access, and again after
///   [`take`](Self::take). [`set`](Self::set) and [`replace`](Self::replace) store a value
///   without running it. A panicking initializer leaves the thread without a value; the next
///   access tries again (Python: `__init__` raising makes that access raise, and the next one
///   retries).
/// - `T` must be `Send` because the thread that drops the `Local` drops every thread's value.
/// - Borrowing follows `RefCell` rules per thread: [`with_mut`](Self::with_mut),
///   [`set`](Self::set), [`take`](Self::take) and [`replace`](Self::replace) panic if the same
///   thread is inside [`with`](Self::with) or `with_mut` of the same `Local`.
///
/// # Unwind safety
///
/// A `Local` in a `static` is not captured by closures, so `catch_unwind` accepts any closure
/// that uses one. An owned `Local<T>` is [`UnwindSafe`](std::panic::UnwindSafe) when `T` is.
/// A borrowed one is not [`RefUnwindSafe`](std::panic::RefUnwindSafe), for the reason `RefCell`
/// is not: a [`with_mut`](Self::with_mut) cut short by a panic leaves the thread's value as it was
/// at the panic, and nothing marks it. Wrap the closure in
/// [`AssertUnwindSafe`](std::panic::AssertUnwindSafe) when that cannot matter.
///
/// ```
/// use std::panic::catch_unwind;
/// use threadkit::Local;
///
/// static COUNT: Local<u32> = Local::new();
/// let r = catch_unwind(|| {
///     COUNT.set(1);
///     panic!("boom");
/// });
/// assert!(r.is_err());
/// assert_eq!(COUNT.get(), Some(1));
/// ```
///
/// ```compile_fail
/// let local = threadkit::Local::<u32>::new();
/// let _ = std::panic::catch_unwind(|| local.with_mut(|v| *v += 1));
/// ```
///
/// # Size
///
/// 32 bytes on 64-bit targets with the default initializer type, plus, once used, one shared
/// allocation and one slot (a borrow count and an `Option<T>`, and a map entry) per thread holding a value.
///
/// # Memory ordering
///
/// A value is only ever seen by its own thread, so there is nothing to order; dropping values of
/// other threads happens after those threads' last access (they can no longer reach the `Local`).
///
/// # Examples
///
/// ```
/// use threadkit::Local;
///
/// static DATA: Local<i32> = Local::new();
///
/// assert_eq!(DATA.get(), None);
/// DATA.set(1000);
/// assert_eq!(DATA.get(), Some(1000));
/// threadkit::spawn(|| {
///     assert_eq!(DATA.get(), None); // each thread has its own value
///     DATA.set(7);
/// })
/// .join()
/// .unwrap();
/// assert_eq!(DATA.get(), Some(1000));
/// ```
pub struct Local<T: Send + 'static, F = fn() -> T> {
    /// This `Local`'s cache key; 0 until the first access.
    id: AtomicU64,
    init: Option<F>,
    shared: OnceLock<Arc<Shared<T>>>,
}

/// Under loom the shared part is made by the constructor: `std::sync::OnceLock` synchronises
/// invisibly to loom, which would then report the other threads' first use of the `Lock` inside
/// as unordered with its creation. (Racing first accesses are std's `OnceLock`'s business.)
#[cfg(loom)]
fn loom_shared<T>() -> OnceLock<Arc<Shared<T>>> {
    OnceLock::from(Arc::new(Shared {
        slots: Lock::with_value(BTreeMap::new()),
    }))
}

impl<T: Send + 'static> Local<T> {
    /// A `Local` with no initializer: no thread has a value until it sets one (Python's
    /// `threading.local()`).
    ///
    /// # Examples
    ///
    /// ```
    /// static DATA: threadkit::Local<String> = threadkit::Local::new();
    /// assert!(!DATA.has_value());
    /// ```
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Local {
            id: AtomicU64::new(0),
            init: None,
            shared: OnceLock::new(),
        }
    }

    /// A `Local` with no initializer (loom build).
    #[cfg(loom)]
    pub fn new() -> Self {
        Local {
            id: AtomicU64::new(0),
            init: None,
            shared: loom_shared(),
        }
    }
}

impl<T: Send + 'static, F: Fn() -> T> Local<T, F> {
    /// A `Local` whose value is created by `init` in each thread, on that thread's first access
    /// (Python: a `threading.local` subclass with an `__init__`).
    ///
    /// With a function or a closure that captures nothing, the type is `Local<T>` and can be a
    /// `static`; a capturing closure gives a `Local<T, F>` with the closure's type.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use threadkit::Local;
    ///
    /// static COUNTER: Local<Cell<u32>> = Local::with_init(|| Cell::new(100));
    ///
    /// COUNTER.with(|c| c.set(c.get() + 1));
    /// assert_eq!(COUNTER.with(Cell::get), 101);
    /// threadkit::spawn(|| assert_eq!(COUNTER.with(Cell::get), 100)).join().unwrap();
    ///
    /// let start = 5;
    /// let captured = Local::with_init(move || start * 2);
    /// assert_eq!(captured.get(), Some(10));
    /// ```
    #[cfg(not(loom))]
    pub const fn with_init(init: F) -> Self {
        Local {
            id: AtomicU64::new(0),
            init: Some(init),
            shared: OnceLock::new(),
        }
    }

    /// A `Local` with a per-thread initializer (loom build).
    #[cfg(loom)]
    pub fn with_init(init: F) -> Self {
        Local {
            id: AtomicU64::new(0),
            init: Some(init),
            shared: loom_shared(),
        }
    }

    /// Runs `f` with a reference to the calling thread's value, creating it with the initializer
    /// first if the thread has none.
    ///
    /// # Panics
    ///
    /// If the thread has no value and the `Local` has no initializer (Python: `AttributeError`;
    /// use [`get`](Self::get) or [`has_value`](Self::has_value) to check first); if the calling
    /// thread is inside [`with_mut`](Self::with_mut) of this `Local` or its initializer; and if
    /// `f` or the initializer panics.
    ///
    /// # Examples
    ///
    /// ```
    /// let names = threadkit::Local::with_init(|| vec!["a".to_string()]);
    /// assert_eq!(names.with(|v| v.len()), 1);
    /// ```
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let slot = self.slot();
        // The fast path ends the borrow itself (no borrow merged in from the slow path), so that
        // with an inlined `f` that cannot reach the borrow count the compiler drops its raise and
        // restore (see `slot.rs`).
        if let Some(value) = slot.try_borrow_value() {
            return f(&value);
        }
        f(&self.borrow_slow(slot))
    }

    /// Runs `f` with a mutable reference to the calling thread's value, creating it with the
    /// initializer first if the thread has none (Python: assigning an attribute).
    ///
    /// # Panics
    ///
    /// As [`with`](Self::with), and also if the calling thread is inside `with` of this `Local`.
    ///
    /// # Examples
    ///
    /// ```
    /// let total = threadkit::Local::with_init(|| 0u64);
    /// total.with_mut(|t| *t += 5);
    /// total.with_mut(|t| *t += 5);
    /// assert_eq!(total.get(), Some(10));
    /// ```
    #[inline]
    pub fn with_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let slot = self.slot();
        // As in `with`.
        if let Some(mut value) = slot.try_borrow_value_mut() {
            return f(&mut value);
        }
        f(&mut self.borrow_mut_slow(slot))
    }

    /// A clone of the calling thread's value, created with the initializer first if the thread
    /// has none; `None` if it has none and there is no initializer.
    ///
    /// # Panics
    ///
    /// If the calling thread is inside [`with_mut`](Self::with_mut) of this `Local`, or if the
    /// initializer panics.
    ///
    /// # Examples
    ///
    /// ```
    /// let data = threadkit::Local::new();
    /// assert_eq!(data.get(), None);
    /// data.set(3);
    /// assert_eq!(data.get(), Some(3));
    /// ```
    #[inline]
    pub fn get(&self) -> Option<T>
    where
        T: Clone,
    {
        let slot = self.slot();
        if let Some(value) = slot.try_borrow_value() {
            return Some(T::clone(&value));
        }
        // Empty (or borrowed mutably: `borrow` panics with the borrow error).
        if self.init.is_none() && slot.borrow().is_none() {
            return None;
        }
        Some(T::clone(&self.borrow_slow(slot)))
    }

    /// Stores `value` as the calling thread's value, dropping the previous one. The initializer
    /// does not run.
    ///
    /// # Panics
    ///
    /// If the calling thread is inside [`with`](Self::with) or [`with_mut`](Self::with_mut) of
    /// this `Local`.
    ///
    /// # Examples
    ///
    /// ```
    /// let data = threadkit::Local::new();
    /// data.set(String::from("x"));
    /// assert_eq!(data.get().as_deref(), Some("x"));
    /// ```
    pub fn set(&self, value: T) {
        drop(self.replace(value));
    }

    /// Stores `value` as the calling thread's value and returns the previous one, if any. The
    /// initializer does not run.
    ///
    /// # Panics
    ///
    /// As [`set`](Self::set).
    ///
    /// # Examples
    ///
    /// ```
    /// let data = threadkit::Local::new();
    /// assert_eq!(data.replace(1), None);
    /// assert_eq!(data.replace(2), Some(1));
    /// ```
    pub fn replace(&self, value: T) -> Option<T> {
        let slot = self.slot();
        let old = slot.borrow_mut().replace(value);
        old
    }

    /// Removes and returns the calling thread's value (Python: `del` of the attribute). With an
    /// initializer, the next access creates a new value.
    ///
    /// # Panics
    ///
    /// As [`set`](Self::set).
    ///
    /// # Examples
    ///
    /// ```
    /// let data = threadkit::Local::with_init(|| 1);
    /// assert_eq!(data.take(), None); // nothing was created yet
    /// data.with_mut(|v| *v = 2);
    /// assert_eq!(data.take(), Some(2));
    /// assert_eq!(data.get(), Some(1)); // initialized again
    /// ```
    pub fn take(&self) -> Option<T> {
        let slot = self.existing_slot()?;
        let old = slot.borrow_mut().take();
        old
    }

    /// Whether the calling thread has a value, without running the initializer (Python's
    /// `hasattr`).
    ///
    /// # Examples
    ///
    /// ```
    /// let data = threadkit::Local::with_init(|| 0);
    /// assert!(!data.has_value());
    /// data.with(|_| ());
    /// assert!(data.has_value());
    /// ```
    pub fn has_value(&self) -> bool {
        self.existing_slot()
            .is_some_and(|slot| slot.try_borrow().map_or(true, |v| v.is_some()))
    }

    /// The calling thread's slot, created (empty) if needed.
    #[inline]
    fn slot(&self) -> &Slot<T> {
        let slot = cache_lookup(self.id.load(Ordering::Relaxed)).cast::<Slot<T>>();
        if slot.is_null() {
            return self.slot_slow(true).expect("created");
        }
        // SAFETY: the cache maps this `Local`'s id (unique for the process's lifetime) to the
        // calling thread's slot in it. The slot is freed only by this thread's exit (which clears
        // the cache first) or when the `Local` is dropped (impossible while `&self` lives).
        unsafe { &*slot }
    }

    /// The calling thread's slot if it has one.
    fn existing_slot(&self) -> Option<&Slot<T>> {
        let slot = cache_lookup(self.id.load(Ordering::Relaxed)).cast::<Slot<T>>();
        if slot.is_null() {
            return self.slot_slow(false);
        }
        // SAFETY: as in `slot`.
        Some(unsafe { &*slot })
    }

    #[cold]
    fn slot_slow(&self, create: bool) -> Option<&Slot<T>> {
        let id = self.id();
        let shared = self.shared.get_or_init(|| {
            Arc::new(Shared {
                slots: Lock::with_value(BTreeMap::new()),
            })
        });
        let me = ident::current();
        let (slot, created) = {
            let mut slots = shared.slots.acquire();
            match slots.get(&me) {
                Some(slot) => (slot.0, false),
                None if create => {
                    let slot = NonNull::from(Box::leak(Box::new(Slot::new())));
                    slots.insert(me, SlotPtr(slot));
                    (slot, true)
                }
                None => return None,
            }
        };
        if created {
            let weak: Weak<dyn ThreadExit> = Arc::downgrade(shared) as Weak<Shared<T>>;
            register_exit(weak, me);
        }
        cache_store(id, slot.as_ptr().cast_const().cast());
        // SAFETY: the slot belongs to the calling thread and stays allocated while `&self` lives
        // and the thread has not exited (see `slot`).
        Some(unsafe { slot.as_ref() })
    }

    /// This `Local`'s id, assigned on first use.
    fn id(&self) -> u64 {
        let id = self.id.load(Ordering::Relaxed);
        if id != 0 {
            return id;
        }
        let fresh = fresh_id();
        match self
            .id
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh,
            Err(winner) => winner,
        }
    }

    /// A shared borrow of the value when the slot is empty (initializes it) or borrowed
    /// mutably (panics).
    #[cold]
    fn borrow_slow<'a>(&self, slot: &'a Slot<T>) -> SlotRef<'a, T> {
        drop(slot.borrow());
        self.initialize(slot);
        slot.try_borrow_value().expect("initialized")
    }

    /// A mutable borrow of the value when the slot is empty (initializes it) or borrowed
    /// (panics).
    #[cold]
    fn borrow_mut_slow<'a>(&self, slot: &'a Slot<T>) -> SlotMut<'a, T> {
        drop(slot.borrow_mut());
        self.initialize(slot);
        slot.try_borrow_value_mut().expect("initialized")
    }

    /// Runs the initializer for an empty slot. The slot stays mutably borrowed meanwhile, so
    /// the initializer cannot reach this `Local` in this thread; if it panics, the slot stays
    /// empty and the next access tries again.
    #[cold]
    fn initialize(&self, slot: &Slot<T>) {
        let Some(init) = &self.init else {
            panic!("threadkit::Local: no value in this thread and no initializer");
        };
        let mut value = slot.borrow_mut();
        if value.is_none() {
            *value = Some(init());
        }
    }
}

impl<T: Send + 'static, F> Drop for Local<T, F> {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.get_mut() {
            // No thread can be using a value: they would need `&self`. Threads exiting right now
            // may hold the shared part; each removes only its own slot, under the lock.
            let slots = std::mem::take(&mut *shared.slots.acquire());
            Shared::free(slots);
        }
    }
}

// Owned, a `Local` takes its values with it: after a panic nothing can reach them, so it is
// unwind safe when its values and initializer are (the `Lock` inside is what makes the compiler
// refuse it). Borrowed, it is not (see "Unwind safety" above).
impl<T: Send + UnwindSafe + 'static, F: UnwindSafe> UnwindSafe for Local<T, F> {}

impl<T: Send + Default + 'static> Default for Local<T> {
    /// A `Local` whose initializer is `T::default`.
    ///
    /// # Examples
    ///
    /// ```
    /// let l: threadkit::Local<Vec<u8>> = Default::default();
    /// assert_eq!(l.get(), Some(vec![]));
    /// ```
    fn default() -> Self {
        Local::with_init(T::default)
    }
}

impl<T: Send + fmt::Debug + 'static, F: Fn() -> T> fmt::Debug for Local<T, F> {
    /// Shows the calling thread's value without running the initializer:
    /// `Local { value: Some(5) }`, `Local { value: None }`, or `Local { value: <borrowed> }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Borrowed;
        impl fmt::Debug for Borrowed {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("<borrowed>")
            }
        }
        let mut d = f.debug_struct("Local");
        match self.existing_slot().map(Slot::try_borrow) {
            None => d.field("value", &None::<T>),
            Some(Some(value)) => d.field("value", &*value),
            Some(None) => d.field("value", &Borrowed),
        };
        d.finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn cache_collisions_still_find_the_right_slot() {
        // More Locals than cache entries, accessed round-robin: every lookup collides.
        let locals: Vec<Local<usize>> = (0..cache::CACHE_SIZE * 3).map(|_| Local::new()).collect();
        for (i, l) in locals.iter().enumerate() {
            l.set(i);
        }
        for _ in 0..3 {
            for (i, l) in locals.iter().enumerate() {
                assert_eq!(l.get(), Some(i));
            }
        }
    }

    #[test]
    fn scope_gives_a_fresh_thread_and_drops_its_values() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct Counted;
        impl Drop for Counted {
            fn drop(&mut self) {
                DROPS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let l: Local<Counted> = Local::new();
        l.set(Counted);
        // Pretend to be another thread (what a timer worker does with `act_as`).
        let own = ident::current();
        let scope = ThreadScope::enter();
        ident::set_current(ident::allocate());
        assert!(!l.has_value());
        l.set(Counted);
        assert!(l.has_value());
        scope.finish().unwrap();
        assert_eq!(DROPS.load(std::sync::atomic::Ordering::SeqCst), 1);
        ident::set_current(own);
        assert!(l.has_value());
        drop(l);
        assert_eq!(DROPS.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn size() {
        assert_eq!(std::mem::size_of::<Local<u64>>(), 32);
    }
}
