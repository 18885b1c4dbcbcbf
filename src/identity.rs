//! Object identity for diagnostics: what kind of primitive an object is, a never-reused id, an
//! optional name, and the site that created it.
//!
//! Every threadkit primitive embeds one [`Identity`]. It is what a thread dump, the deadlock
//! finder and the contention profile print for the object: `Lock "accounts" #12` when the object
//! was named, `Lock@src/bank.rs:42 #12` (its creation site, captured with `#[track_caller]`)
//! when not. Addresses are never used: memory is reused, ids are not.
//!
//! Ids are assigned lazily, the first time diagnostics need one (a thread parks on the object, a
//! dump describes it, a profile charges it), so `const fn new()` stays `const`. A `static`'s
//! identity is therefore its creation site (the `Lock::new()` in the static's initializer), plus
//! an id drawn the first time it is needed; the id is then stable for the life of the program.
//!
//! The kind lives in the top byte of the id word and the name is behind a thin pointer, so an
//! `Identity` is three words: 24 bytes.

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Arc;

use crate::site::Site;

/// The next id to hand out. A std atomic in every build: ids only need to be unique.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The id bits of the id word; the top byte holds the [`ObjectKind`], bit 55 whether the
/// lock-order checker has a node for the object (so that dropping it removes the node), bit 54
/// whether a semaphore opted in to lock-order checking, bit 53 whether the contention profile
/// has an entry for it (so that dropping it folds the entry into its site's).
const ID_MASK: u64 = (1 << 53) - 1;
/// The contention profile has counted this object (`src/wait/profile.rs`).
const PROFILED: u64 = 1 << 53;
/// The lock-order checker has registered this object (`src/lock_order`).
const IN_ORDER_GRAPH: u64 = 1 << 55;
/// A semaphore used as a lock: the lock-order checker tracks it (`with_lock_order`).
const TRACKED_AS_LOCK: u64 = 1 << 54;
const KIND_SHIFT: u32 = 56;

/// What kind of primitive an object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ObjectKind {
    /// [`crate::Lock`].
    Lock,
    /// [`crate::RLock`].
    RLock,
    /// [`crate::Condition`].
    Condition,
    /// [`crate::Semaphore`].
    Semaphore,
    /// [`crate::BoundedSemaphore`].
    BoundedSemaphore,
    /// [`crate::Event`].
    Event,
    /// [`crate::Barrier`].
    Barrier,
    /// A queue of [`crate::queue`].
    Queue,
    /// A [`crate::Timer`].
    Timer,
}

impl ObjectKind {
    const ALL: [ObjectKind; 9] = [
        ObjectKind::Lock,
        ObjectKind::RLock,
        ObjectKind::Condition,
        ObjectKind::Semaphore,
        ObjectKind::BoundedSemaphore,
        ObjectKind::Event,
        ObjectKind::Barrier,
        ObjectKind::Queue,
        ObjectKind::Timer,
    ];

    /// The type's name, as printed in dumps (`"Lock"`, `"RLock"`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::diagnostics::ObjectKind;
    /// assert_eq!(ObjectKind::RLock.as_str(), "RLock");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Lock => "Lock",
            ObjectKind::RLock => "RLock",
            ObjectKind::Condition => "Condition",
            ObjectKind::Semaphore => "Semaphore",
            ObjectKind::BoundedSemaphore => "BoundedSemaphore",
            ObjectKind::Event => "Event",
            ObjectKind::Barrier => "Barrier",
            ObjectKind::Queue => "Queue",
            ObjectKind::Timer => "Timer",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The caller's location, from a `const fn` with `#[track_caller]` (the primitives' `new()`).
///
/// `Location::caller()` is usable in `const` only since Rust 1.79; with an older compiler
/// (`build.rs` sets `threadkit_no_const_caller`) objects have no creation site, and dumps show
/// them by kind and id alone.
#[track_caller]
#[inline]
pub(crate) const fn caller() -> Option<&'static Location<'static>> {
    #[cfg(not(threadkit_no_const_caller))]
    #[allow(clippy::incompatible_msrv)] // gated on the compiler's version by build.rs
    let site = Some(Location::caller());
    #[cfg(threadkit_no_const_caller)]
    let site = None;
    site
}

/// The identity header embedded in every primitive.
// `pub` in a private module, not `pub(crate)`: it appears in a sealed public trait's hidden
// method, which Rust before 1.74 (the MSRV is 1.71) rejects for a crate-private type (E0446).
#[allow(unreachable_pub)]
pub struct Identity {
    /// `kind << 56 | id`; the id bits are 0 until the first [`id`](Self::id) call.
    word: AtomicU64,
    /// The creation site ([`Site::as_ptr`]; null: unknown). Atomic so that a binding can
    /// replace it with its caller's site right after construction ([`Diagnosable`]).
    site: AtomicPtr<u8>,
    /// Boxed twice so that the field is one word: names are read only by diagnostics.
    #[allow(clippy::box_collection)]
    name: Option<Box<String>>,
}

impl Identity {
    /// An unnamed object of `kind` created at `site`.
    pub(crate) const fn new(kind: ObjectKind, site: Option<&'static Location<'static>>) -> Self {
        let site = match site {
            Some(loc) => Site::from_location(loc).as_ptr(),
            None => std::ptr::null_mut(),
        };
        Identity {
            word: AtomicU64::new((kind as u64) << KIND_SHIFT),
            site: AtomicPtr::new(site),
            name: None,
        }
    }

    /// A named object of `kind` created at `site`.
    pub(crate) fn named(
        kind: ObjectKind,
        name: impl Into<String>,
        site: &'static Location<'static>,
    ) -> Self {
        Identity {
            word: AtomicU64::new((kind as u64) << KIND_SHIFT),
            site: AtomicPtr::new(Site::from_location(site).as_ptr()),
            name: Some(Box::new(name.into())),
        }
    }

    /// The object's kind.
    pub(crate) fn kind(&self) -> ObjectKind {
        let k = (self.word.load(Ordering::Relaxed) >> KIND_SHIFT) as usize;
        ObjectKind::ALL[k]
    }

    /// The object's id, drawn from the process-wide counter on first call.
    pub(crate) fn id(&self) -> u64 {
        let word = self.word.load(Ordering::Relaxed);
        if word & ID_MASK != 0 {
            return word & ID_MASK;
        }
        let fresh = NEXT_ID.fetch_add(1, Ordering::Relaxed) & ID_MASK;
        match self
            .word
            .compare_exchange(word, word | fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh,
            // Another thread assigned one first; that one stands (a counter value is wasted).
            Err(now) => now & ID_MASK,
        }
    }

    /// The object's id and whether the lock-order checker has registered it (one load once the
    /// id is drawn).
    #[inline]
    pub(crate) fn order_id(&self) -> (u64, bool) {
        let word = self.word.load(Ordering::Relaxed);
        if word & ID_MASK != 0 {
            (word & ID_MASK, word & IN_ORDER_GRAPH != 0)
        } else {
            (self.id(), false)
        }
    }

    /// Whether a semaphore opted in to lock-order checking (one relaxed load).
    #[inline]
    pub(crate) fn tracked_as_lock(&self) -> bool {
        self.word.load(Ordering::Relaxed) & TRACKED_AS_LOCK != 0
    }

    /// Opts the object in to lock-order checking (a semaphore used as a lock).
    pub(crate) fn track_as_lock(&mut self) {
        *self.word.get_mut() |= TRACKED_AS_LOCK;
    }

    /// The object's id if the lock-order checker has registered it (one load, no call).
    #[inline]
    pub(crate) fn registered_order_id(&self) -> Option<u64> {
        let word = self.word.load(Ordering::Relaxed);
        (word & IN_ORDER_GRAPH != 0).then_some(word & ID_MASK)
    }

    /// Marks the object as registered with the lock-order checker.
    pub(crate) fn set_in_order_graph(&self) {
        self.word.fetch_or(IN_ORDER_GRAPH, Ordering::Relaxed);
    }

    /// Marks the object as counted by the contention profile: its drop tells the profile.
    pub(crate) fn set_profiled(&self) {
        self.word.fetch_or(PROFILED, Ordering::Relaxed);
    }

    /// The name given at construction, if any.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref().map(String::as_str)
    }

    /// The creation site.
    pub(crate) fn site(&self) -> Option<Site> {
        // SAFETY: `site` only ever holds null or a `Site::as_ptr`.
        unsafe { Site::from_ptr(self.site.load(Ordering::Relaxed)) }
    }

    /// Replaces the creation site (a binding's caller's site).
    pub(crate) fn set_site(&self, site: Site) {
        self.site.store(site.as_ptr(), Ordering::Relaxed);
    }

    /// An owned description, for snapshots.
    pub(crate) fn describe(&self) -> ObjectInfo {
        ObjectInfo {
            kind: self.kind(),
            id: self.id(),
            name: self.name().map(Arc::from),
            created_at: self.site(),
        }
    }
}

/// A threadkit primitive that diagnostics identify: Lock, RLock, Condition, Semaphore,
/// BoundedSemaphore, Event, Barrier and the queues.
///
/// For language bindings: [`set_created_at`](Self::set_created_at) replaces the Rust location
/// of the constructor call (inside the binding) with the binding's caller's site, so that an
/// unnamed object created from Python prints as `Lock@app.py:12`. Sealed: implemented by
/// threadkit's primitives only.
///
/// # Examples
///
/// ```
/// use threadkit::diagnostics::{Diagnosable, Site};
/// use threadkit::Lock;
///
/// let lock = Lock::new();
/// lock.set_created_at(Site::foreign("app.py", 12));
/// assert_eq!(lock.object_info().label(), "Lock@app.py:12");
/// ```
pub trait Diagnosable: sealed::HasIdentity {
    /// The object's kind, id, name and creation site, as diagnostics print it.
    fn object_info(&self) -> ObjectInfo {
        self.identity().describe()
    }

    /// Replaces the creation site. Meant to be called right after construction, before the
    /// object is shared: a report made meanwhile shows the old site.
    fn set_created_at(&self, site: Site) {
        self.identity().set_site(site);
    }
}

// The method returns the crate-private `Identity`: the trait is unnameable outside the crate.
pub(crate) mod sealed {
    /// Access to an object's identity (sealed: not implementable outside threadkit).
    pub trait HasIdentity {
        /// The identity header.
        fn identity(&self) -> &super::Identity;
    }
}

/// Implements [`Diagnosable`] for a primitive whose identity `$get` returns.
macro_rules! diagnosable {
    ([$($g:tt)*] $T:ty, |$s:ident| $get:expr) => {
        impl<$($g)*> $crate::identity::sealed::HasIdentity for $T {
            fn identity(&self) -> &$crate::identity::Identity {
                let $s = self;
                $get
            }
        }
        impl<$($g)*> $crate::identity::Diagnosable for $T {}
    };
}
pub(crate) use diagnosable;

/// A dropped lock leaves the lock-order graph (its id is never reused, so nothing else can
/// inherit its edges), and a dropped object's contention-profile entry is folded into its
/// creation site's. An object neither knows pays one test of a plain load.
impl Drop for Identity {
    #[inline]
    fn drop(&mut self) {
        let word = *self.word.get_mut();
        if word & (IN_ORDER_GRAPH | PROFILED) != 0 {
            forget(word);
        }
    }
}

/// The slow part of `Identity`'s drop: an object the lock-order graph or the profile knows.
#[cold]
#[inline(never)]
fn forget(word: u64) {
    #[cfg(all(feature = "lock-order", not(loom)))]
    if word & IN_ORDER_GRAPH != 0 {
        crate::lock_order::forget(word & ID_MASK);
    }
    if word & PROFILED != 0 {
        crate::wait::profile::dropped(word & ID_MASK);
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.describe(), f)
    }
}

/// Which object: kind, id, name and creation site, as diagnostics print it.
///
/// `Display` gives `Lock "accounts" #12` for a named object and `Lock@src/bank.rs:42 #12` for
/// an unnamed one.
///
/// # Examples
///
/// ```
/// use threadkit::{diagnostics, Lock};
/// use std::time::Duration;
///
/// let lock = Lock::named("accounts");
/// let _held = lock.acquire();
/// // The holder appears in a dump of this thread's state once someone waits for it.
/// assert!(lock.acquire_timeout(Duration::from_millis(1)).is_none());
/// let text = diagnostics::dump().to_string();
/// assert!(text.contains("MainThread"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectInfo {
    /// The kind of primitive.
    pub kind: ObjectKind,
    /// Never reused within the process.
    pub id: u64,
    /// The name given at construction (`Lock::named`), if any.
    pub name: Option<Arc<str>>,
    /// Where the object was created: the `#[track_caller]` location of its constructor, or the
    /// foreign site a binding set ([`Diagnosable::set_created_at`]). `None` only for an object
    /// made by a `const fn new()` compiled with Rust older than 1.79, which cannot tell.
    pub created_at: Option<Site>,
}

impl ObjectInfo {
    /// `Lock "accounts"` or `Lock@src/bank.rs:42`: the label without the id.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::Lock::named("accounts");
    /// # let _ = &lock;
    /// ```
    pub fn label(&self) -> String {
        match (&self.name, self.created_at) {
            (Some(name), _) => format!("{} {:?}", self.kind, name),
            (None, Some(at)) => format!("{}@{at}", self.kind),
            (None, None) => self.kind.to_string(),
        }
    }
}

impl fmt::Display for ObjectInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} #{}", self.label(), self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_words() {
        assert_eq!(std::mem::size_of::<Identity>(), 24);
    }

    #[test]
    fn ids_are_lazy_unique_and_keep_the_kind() {
        static S: Identity = Identity::new(ObjectKind::Barrier, caller());
        let a = Identity::new(ObjectKind::Lock, caller());
        let b = Identity::named(ObjectKind::RLock, "b", Location::caller());
        assert_eq!(a.word.load(Ordering::Relaxed) & ID_MASK, 0);
        let (ia, ib, is) = (a.id(), b.id(), S.id());
        assert!(ia != ib && ib != is && ia != is);
        assert_eq!(a.id(), ia);
        assert_eq!(S.id(), is);
        assert_eq!(a.kind(), ObjectKind::Lock);
        assert_eq!(b.kind(), ObjectKind::RLock);
        assert_eq!(S.kind(), ObjectKind::Barrier);
        assert_eq!(b.describe().label(), "RLock \"b\"");
        assert!(a.describe().label().starts_with("Lock@src/identity.rs:"));
        a.set_site(Site::foreign("t.py", 9));
        assert_eq!(a.describe().label(), "Lock@t.py:9");
    }
}
