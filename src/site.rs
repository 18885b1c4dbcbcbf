//! [`Site`]: a place in the program that diagnostics print, either a Rust source location
//! (`#[track_caller]`) or a location in another language's source supplied by a binding (the
//! Python extension passes `app.py:12`).
//!
//! A `Site` is one word: a pointer to a `std::panic::Location`, or, tagged with the low bit, to
//! an interned foreign location. Foreign locations are interned (one leaked entry per distinct
//! file and line, ever), so memory is bounded by the number of distinct sites in the program.
//!
//! A binding makes its caller's sites appear in everything diagnostics report by running the
//! blocking call inside [`with_call_site`]: the waiting layer publishes that site as the wait's
//! call site, and Lock/RLock record it as the holder's acquire site and as the lock-order
//! checker's site. The thread-local is read only where a site is being recorded anyway (a wait
//! that parks, an acquire with holder sites on or the lock-order checker armed): the
//! uncontended Rust path never reads it.

// Foreign sites are set through the `diagnostics` module, which `--cfg loom` builds leave out.
#![cfg_attr(loom, allow(dead_code, unreachable_pub))]

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::Mutex;

/// An interned foreign location. Aligned to 8 so that the low bit of a pointer to it is free.
#[repr(align(8))]
struct Foreign {
    file: &'static str,
    line: u32,
}

/// Interned foreign sites: file → line → site.
static INTERNED: Mutex<BTreeMap<&'static str, BTreeMap<u32, Site>>> = Mutex::new(BTreeMap::new());

/// A place in the program: a Rust source location, or one supplied by a foreign caller (a
/// language binding) with [`Site::foreign`].
///
/// Diagnostics print it as `file:line`. Two sites are equal when their file, line and column
/// are (a foreign site has no column).
///
/// # Examples
///
/// ```
/// use threadkit::diagnostics::Site;
///
/// let here = Site::caller();
/// assert_eq!(here.file(), file!());
/// assert!(!here.is_foreign());
///
/// let py = Site::foreign("app.py", 12);
/// assert_eq!(py.to_string(), "app.py:12");
/// assert_eq!(py, Site::foreign("app.py", 12)); // interned: the same entry
/// assert_eq!(py.location(), None);
/// ```
///
/// # Differences from Python
///
/// Python has no such type: a traceback's frames carry file and line. A `Site` is one frame's
/// file and line, without the function name or the source text.
#[derive(Clone, Copy)]
pub struct Site(NonNull<u8>);

// SAFETY: a Site points to immutable data that lives for the whole program (a `'static`
// `Location`, or a leaked, never-modified `Foreign`).
unsafe impl Send for Site {}
// SAFETY: as for `Send`.
unsafe impl Sync for Site {}

impl Site {
    /// The Rust source location `loc`.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::diagnostics::Site;
    /// let site = Site::from_location(std::panic::Location::caller());
    /// assert_eq!(site.file(), file!());
    /// ```
    pub const fn from_location(loc: &'static Location<'static>) -> Site {
        let p = loc as *const Location<'static> as *mut u8;
        // SAFETY: a reference is never null.
        Site(unsafe { NonNull::new_unchecked(p) })
    }

    /// The location of the caller (`#[track_caller]`), as `Location::caller()`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(threadkit::diagnostics::Site::caller().line(), line!());
    /// ```
    #[track_caller]
    #[inline]
    pub fn caller() -> Site {
        Site::from_location(Location::caller())
    }

    /// A site in another language's source, `file:line` (a Python binding passes the file and
    /// line of the Python code that called it). Interned: calling it again with the same file
    /// and line returns the same site, and allocates only the first time.
    ///
    /// # Examples
    ///
    /// ```
    /// let site = threadkit::diagnostics::Site::foreign("/srv/app/bank.py", 42);
    /// assert_eq!((site.file(), site.line()), ("/srv/app/bank.py", 42));
    /// assert!(site.is_foreign());
    /// ```
    pub fn foreign(file: &str, line: u32) -> Site {
        let mut map = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(site) = map.get(file).and_then(|lines| lines.get(&line)) {
            return *site;
        }
        let file: &'static str = match map.get_key_value(file) {
            Some((k, _)) => k,
            None => Box::leak(file.to_owned().into_boxed_str()),
        };
        let entry: &'static Foreign = Box::leak(Box::new(Foreign { file, line }));
        let p = (entry as *const Foreign as *mut u8).wrapping_add(1);
        // SAFETY: one past the start of a live allocation of 8 bytes or more is not null.
        let site = Site(unsafe { NonNull::new_unchecked(p) });
        map.entry(file).or_default().insert(line, site);
        site
    }

    /// Whether it came from [`Site::foreign`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!threadkit::diagnostics::Site::caller().is_foreign());
    /// ```
    #[inline]
    pub fn is_foreign(&self) -> bool {
        self.0.as_ptr() as usize & 1 != 0
    }

    /// The Rust location, for a site that is one.
    ///
    /// # Examples
    ///
    /// ```
    /// let loc = std::panic::Location::caller();
    /// assert_eq!(threadkit::diagnostics::Site::from_location(loc).location(), Some(loc));
    /// ```
    pub fn location(&self) -> Option<&'static Location<'static>> {
        if self.is_foreign() {
            None
        } else {
            // SAFETY: untagged sites are made only from `&'static Location`s.
            Some(unsafe { &*(self.0.as_ptr() as *const Location<'static>) })
        }
    }

    fn foreign_entry(&self) -> Option<&'static Foreign> {
        if self.is_foreign() {
            // SAFETY: tagged sites point one byte into a leaked `Foreign` (see `foreign`).
            Some(unsafe { &*(self.0.as_ptr().wrapping_sub(1) as *const Foreign) })
        } else {
            None
        }
    }

    /// The source file.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(threadkit::diagnostics::Site::foreign("a.py", 1).file(), "a.py");
    /// ```
    pub fn file(&self) -> &'static str {
        match self.foreign_entry() {
            Some(f) => f.file,
            None => self.location().map_or("", |l| l.file()),
        }
    }

    /// The line number (1-based).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(threadkit::diagnostics::Site::foreign("a.py", 7).line(), 7);
    /// ```
    pub fn line(&self) -> u32 {
        match self.foreign_entry() {
            Some(f) => f.line,
            None => self.location().map_or(0, |l| l.line()),
        }
    }

    /// The column of a Rust location; `None` for a foreign site.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(threadkit::diagnostics::Site::foreign("a.py", 7).column(), None);
    /// ```
    pub fn column(&self) -> Option<u32> {
        self.location().map(|l| l.column())
    }

    /// The word stored in an atomic (a Lock's holder site, an identity's creation site).
    #[inline]
    pub(crate) const fn as_ptr(self) -> *mut u8 {
        self.0.as_ptr()
    }

    /// The site stored as [`as_ptr`](Self::as_ptr), or `None` for null.
    ///
    /// # Safety
    /// `p` must be null or have come from [`as_ptr`](Self::as_ptr).
    #[inline]
    pub(crate) unsafe fn from_ptr(p: *mut u8) -> Option<Site> {
        NonNull::new(p).map(Site)
    }
}

impl From<&'static Location<'static>> for Site {
    fn from(loc: &'static Location<'static>) -> Site {
        Site::from_location(loc)
    }
}

impl PartialEq for Site {
    fn eq(&self, other: &Site) -> bool {
        self.0 == other.0
            || (self.line() == other.line()
                && self.column() == other.column()
                && self.file() == other.file())
    }
}

impl Eq for Site {}

impl Hash for Site {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.file().hash(state);
        self.line().hash(state);
        self.column().hash(state);
    }
}

impl PartialEq<&Location<'_>> for Site {
    fn eq(&self, other: &&Location<'_>) -> bool {
        self.location().is_some_and(|l| {
            (l.file(), l.line(), l.column()) == (other.file(), other.line(), other.column())
        })
    }
}

impl fmt::Display for Site {
    /// `file:line`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file(), self.line())
    }
}

impl fmt::Debug for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column() {
            Some(c) => write!(f, "{}:{}:{c}", self.file(), self.line()),
            None => write!(f, "{}:{}", self.file(), self.line()),
        }
    }
}

thread_local! {
    /// The call site a binding set around the blocking call in progress ([`with_call_site`]).
    static CALL_SITE: Cell<Option<Site>> = const { Cell::new(None) };
}

/// Runs `f` with `site` as the calling thread's call site for everything threadkit records
/// while it runs: the wait a blocking call publishes (dumps, deadlock reports, stalls), where a
/// Lock or RLock acquired in `f` was acquired (holder sites), the lock-order checker's sites,
/// and the contention profile's sites. For language bindings, whose users should see their own
/// source lines, never the binding's Rust code. Nests: the previous site is restored when `f`
/// returns or panics.
///
/// Cost: only where a site is recorded anyway (a wait that parks; an acquire with
/// [holder sites](crate::diagnostics::set_holder_sites) on or the lock-order checker armed)
/// does threadkit read it; the uncontended path of a Rust caller never does.
///
/// # Examples
///
/// ```
/// use threadkit::diagnostics::{self, Site};
/// use threadkit::Lock;
/// use std::time::Duration;
///
/// let lock = Lock::new();
/// let _held = lock.acquire();
/// // A binding acquires on behalf of `app.py` line 12; a dump taken meanwhile says so.
/// let got = diagnostics::with_call_site(Site::foreign("app.py", 12), || {
///     lock.acquire_timeout(Duration::from_millis(1)).is_some()
/// });
/// assert!(!got);
/// ```
pub fn with_call_site<R>(site: Site, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Site>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = CALL_SITE.try_with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CALL_SITE.try_with(|c| c.replace(Some(site))).ok().flatten());
    f()
}

/// The site set by [`with_call_site`] on this thread, if any.
#[inline]
pub(crate) fn call_site() -> Option<Site> {
    CALL_SITE.try_with(|c| c.get()).ok().flatten()
}

/// `site`, unless a binding has set a call site for this thread ([`with_call_site`]).
#[inline]
pub(crate) fn resolve(site: &'static Location<'static>) -> Site {
    call_site().unwrap_or(Site::from_location(site))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn one_word_and_tagged() {
        assert_eq!(
            std::mem::size_of::<Option<Site>>(),
            std::mem::size_of::<usize>()
        );
        let r = Site::caller();
        let f = Site::foreign("x.py", 3);
        assert!(!r.is_foreign() && f.is_foreign());
        assert_eq!(r.file(), file!());
        assert_eq!((f.file(), f.line(), f.column()), ("x.py", 3, None));
        // SAFETY: from as_ptr.
        assert_eq!(unsafe { Site::from_ptr(f.as_ptr()) }, Some(f));
        // SAFETY: null is allowed.
        assert_eq!(unsafe { Site::from_ptr(std::ptr::null_mut()) }, None);
    }

    #[test]
    fn interned() {
        let a = Site::foreign("y.py", 1);
        let b = Site::foreign(&String::from("y.py"), 1);
        assert_eq!(a.as_ptr(), b.as_ptr());
        assert_ne!(a, Site::foreign("y.py", 2));
        assert_eq!(Site::foreign("y.py", 2).file().as_ptr(), a.file().as_ptr());
    }

    #[test]
    fn call_site_nests_and_restores() {
        let here = Location::caller();
        assert_eq!(resolve(here), Site::from_location(here));
        let outer = Site::foreign("o.py", 1);
        let inner = Site::foreign("i.py", 2);
        with_call_site(outer, || {
            assert_eq!(resolve(here), outer);
            let r = std::panic::catch_unwind(|| with_call_site(inner, || panic!("x")));
            assert!(r.is_err());
            assert_eq!(call_site(), Some(outer));
        });
        assert_eq!(call_site(), None);
    }
}
