//! One thread's value in one `Local`, and the borrow rules that guard it.
//!
//! A [`Slot`] is a `RefCell<Option<T>>` cut to what `Local` needs. The difference is what ends a
//! borrow: `RefCell`'s `Ref` re-reads the borrow count and decrements it, while a borrow here
//! stores back the count it found. Borrows of a slot are strictly nested (they live inside
//! `Local`'s methods and the closures those run, and end in reverse order, unwinding included),
//! so the count found is the count to restore, and a shared read costs one load and two stores of
//! the count, none of them after the caller's closure needs reloading (issue 15: `local_get` was
//! one memory write per read behind `thread_local::ThreadLocal`).

use std::cell::{Cell, UnsafeCell};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// The borrow count of a mutably borrowed slot.
const MUT: isize = -1;

/// One thread's value in one `Local`: empty until set or initialized.
pub(super) struct Slot<T> {
    /// 0: not borrowed; `n > 0`: `n` shared borrows; [`MUT`]: borrowed mutably.
    borrows: Cell<isize>,
    value: UnsafeCell<Option<T>>,
}

impl<T> Slot<T> {
    pub(super) const fn new() -> Self {
        Slot {
            borrows: Cell::new(0),
            value: UnsafeCell::new(None),
        }
    }

    /// A shared borrow, unless the slot is borrowed mutably.
    #[inline]
    pub(super) fn try_borrow(&self) -> Option<SlotRef<'_, Option<T>>> {
        let found = self.borrows.get();
        // One comparison for "borrowed mutably" (negative) and "too many shared borrows".
        if found as usize >= isize::MAX as usize {
            return None;
        }
        self.borrows.set(found + 1);
        Some(SlotRef {
            // SAFETY: no mutable borrow is live (the count is not `MUT`), and none can start
            // while this one lives (the count is positive until it ends).
            value: unsafe { &*self.value.get() },
            borrows: &self.borrows,
            found,
        })
    }

    /// A mutable borrow, unless the slot is borrowed at all.
    #[inline]
    pub(super) fn try_borrow_mut(&self) -> Option<SlotMut<'_, Option<T>>> {
        if self.borrows.get() != 0 {
            return None;
        }
        self.borrows.set(MUT);
        Some(SlotMut {
            // SAFETY: no other borrow is live (the count was 0), and none can start while this
            // one lives (the count is `MUT` until it ends).
            value: unsafe { &mut *self.value.get() },
            borrows: &self.borrows,
        })
    }

    /// A shared borrow of the value, if the slot holds one and is not borrowed mutably.
    ///
    /// The value is checked before the count is raised, so when the caller's use of the value
    /// cannot reach the count (an inlined `Cell::get`), the compiler sees the raise and the
    /// restore as a store of what was there and drops both: a read is then loads only.
    #[inline]
    pub(super) fn try_borrow_value(&self) -> Option<SlotRef<'_, T>> {
        let found = self.borrows.get();
        if found as usize >= isize::MAX as usize {
            return None;
        }
        // SAFETY: no mutable borrow is live (the count is not `MUT`); the shared reference made
        // here is used only while the count stays positive (below), or not at all.
        let value = unsafe { &*self.value.get() }.as_ref()?;
        self.borrows.set(found + 1);
        Some(SlotRef {
            value,
            borrows: &self.borrows,
            found,
        })
    }

    /// A mutable borrow of the value, if the slot holds one and is not borrowed at all.
    #[inline]
    pub(super) fn try_borrow_value_mut(&self) -> Option<SlotMut<'_, T>> {
        if self.borrows.get() != 0 {
            return None;
        }
        // SAFETY: no other borrow is live (the count is 0), and none can start while the
        // reference made here lives (the count is `MUT` until its guard ends).
        let value = unsafe { &mut *self.value.get() }.as_mut()?;
        self.borrows.set(MUT);
        Some(SlotMut {
            value,
            borrows: &self.borrows,
        })
    }

    /// A shared borrow; panics with [`already_borrowed`] if the slot is borrowed mutably.
    #[inline]
    #[track_caller]
    pub(super) fn borrow(&self) -> SlotRef<'_, Option<T>> {
        match self.try_borrow() {
            Some(value) => value,
            None => already_borrowed(),
        }
    }

    /// A mutable borrow; panics with [`already_borrowed`] if the slot is borrowed.
    #[inline]
    #[track_caller]
    pub(super) fn borrow_mut(&self) -> SlotMut<'_, Option<T>> {
        match self.try_borrow_mut() {
            Some(value) => value,
            None => already_borrowed(),
        }
    }
}

/// A shared borrow of a slot's value; ends by restoring the count it found.
pub(super) struct SlotRef<'a, U> {
    value: &'a U,
    borrows: &'a Cell<isize>,
    found: isize,
}

impl<U> Deref for SlotRef<'_, U> {
    type Target = U;
    #[inline]
    fn deref(&self) -> &U {
        self.value
    }
}

impl<U> Drop for SlotRef<'_, U> {
    #[inline]
    fn drop(&mut self) {
        // Borrows end in reverse order of their start, so the count is the one found plus this
        // borrow: restore it without reading it back.
        self.borrows.set(self.found);
    }
}

/// A mutable borrow of a slot's value; ends by setting the count back to 0.
pub(super) struct SlotMut<'a, U> {
    value: &'a mut U,
    borrows: &'a Cell<isize>,
}

impl<U> Deref for SlotMut<'_, U> {
    type Target = U;
    #[inline]
    fn deref(&self) -> &U {
        self.value
    }
}

impl<U> DerefMut for SlotMut<'_, U> {
    #[inline]
    fn deref_mut(&mut self) -> &mut U {
        self.value
    }
}

impl<U> Drop for SlotMut<'_, U> {
    #[inline]
    fn drop(&mut self) {
        self.borrows.set(0);
    }
}

/// A thread's value's address in a `Local`'s map. The map owns the allocation (made with
/// `Box::into_raw`); raw rather than `Box` so that moving map entries around never asserts
/// uniqueness over a slot its thread is using.
pub(super) struct SlotPtr<T>(pub(super) NonNull<Slot<T>>);

// SAFETY: a `SlotPtr` only moves between threads inside the `Local`'s map; the value it points to
// is only touched by its own thread, or dropped (by any thread, hence `T: Send`) once removed.
unsafe impl<T: Send> Send for SlotPtr<T> {}

#[cold]
#[track_caller]
pub(super) fn already_borrowed() -> ! {
    panic!(
        "threadkit::Local: this thread's value is already borrowed \
         (inside `with`/`with_mut` of the same Local, or its initializer)"
    )
}
